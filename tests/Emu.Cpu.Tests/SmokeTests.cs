using Emu.TestSupport;
using Emu.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests;

public class SmokeTests
{
    [Theory, OnEveryEngine]
    public void SumLoopComputesTriangularNumber(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.RunToHalt(0x1000, a =>
        {
            var loop = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, 100);
            a.Label(ref loop);
            a.add(eax, ecx);
            a.dec(ecx);
            a.jnz(loop);
        });
        Assert.Equal(5050u, t.Cpu.Eax);
        Assert.Equal(0u, t.Cpu.Ecx);
        Assert.True(t.Cpu.ZF);
    }

    [Theory, OnEveryEngine]
    public void CallAndReturnThroughTheStack(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.RunToHalt(0x1000, a =>
        {
            var f = a.CreateLabel();
            var done = a.CreateLabel();
            a.mov(eax, 7);
            a.call(f);
            a.jmp(done);
            a.Label(ref f);
            a.imul(eax, eax, 6);
            a.ret();
            a.Label(ref done);
        });
        Assert.Equal(42u, t.Cpu.Eax);
        Assert.Equal(0x80000u, t.Cpu.Esp);
    }
}
