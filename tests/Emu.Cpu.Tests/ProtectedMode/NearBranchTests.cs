using Emu.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.ProtectedMode;

/// <summary>Near branches in flat 32-bit code: through registers and memory, LOOPcc and JECXZ, in hot loops.</summary>
public class NearBranchTests
{
    private const uint At = 0x1000;
    private const uint Table = 0x2000;

    [Theory, OnEveryEngine]
    public void CallsAndJumpsThroughRegistersAndMemory(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        const uint f = 0x3000, g = 0x3100, h = 0x3200, back = 0x3300;
        t.Load(f, a => { a.add(esi, 1); a.ret(); });
        t.Load(g, a => { a.add(esi, 10); a.ret(); });
        t.Load(h, a => { a.add(esi, 100); a.jmp(__dword_ptr[Table + 8]); });
        t.Write32(Table, g);
        t.Write32(Table + 4, h);
        t.Load(back, a =>
        {
            var top = a.CreateLabel();
            a.dec(edi);
            a.jz(top);
            a.mov(eax, At + 7);                  // the loop's top: after xor esi,esi (2) and mov edi,50 (5)
            a.jmp(eax);
            a.Label(ref top);
            a.hlt();
        });
        t.Write32(Table + 8, back);
        t.Load(At, a =>
        {
            a.xor(esi, esi);
            a.mov(edi, 50);
            a.mov(eax, f);                      // At+7: the loop's top
            a.call(eax);                        // +1
            a.call(__dword_ptr[Table]);         // +10
            a.mov(ebx, Table + 4);
            a.jmp(__dword_ptr[ebx]);            // +100, then back through [Table+8]
        });
        Assert.Equal(StopReason.Halted, t.Run(At));
        Assert.Equal(50u * 111, t.Cpu.Esi);
        Assert.Equal(0x80000u, t.Cpu.Esp);
    }

    [Theory, OnEveryEngine]
    public void LoopeLoopneAndJecxzInAHotLoop(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        for (uint i = 0; i < 64; i++) t.WriteBytes(Table + i, (byte)(i < 40 ? 7 : 9));
        t.RunToHalt(At, a =>
        {
            var scan = a.CreateLabel();
            var find = a.CreateLabel();
            var empty = a.CreateLabel();
            var done = a.CreateLabel();
            // LOOPE: count the leading 7s (ECX counts down from 64).
            a.mov(esi, Table - 1);
            a.mov(ecx, 64);
            a.Label(ref scan);
            a.inc(esi);
            a.cmp(__byte_ptr[esi], 7);
            a.loope(scan);
            a.mov(edx, esi);                     // the first 9, at Table+40
            // LOOPNE: find the first 9 from the start.
            a.mov(esi, Table - 1);
            a.mov(ecx, 64);
            a.Label(ref find);
            a.inc(esi);
            a.cmp(__byte_ptr[esi], 9);
            a.loopne(find);
            a.mov(ebx, ecx);
            // JECXZ with ECX = 0 jumps; with CX = 0 but ECX not, it does not.
            a.xor(ecx, ecx);
            a.jecxz(empty);
            a.mov(eax, 1);
            a.jmp(done);
            a.Label(ref empty);
            a.mov(ecx, 0x1_0000);
            a.jecxz(done);
            a.mov(eax, 2);
            a.Label(ref done);
        });
        Assert.Equal(Table + 40, t.Cpu.Edx);
        Assert.Equal(Table + 40, t.Cpu.Esi);
        Assert.Equal(64u - 41, t.Cpu.Ebx);
        Assert.Equal(2u, t.Cpu.Eax);
    }
}
