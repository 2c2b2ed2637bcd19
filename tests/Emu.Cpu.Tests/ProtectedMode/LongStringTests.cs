using Emu.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.ProtectedMode;

/// <summary>
/// Repeated string instructions longer than <see cref="Strings.RepChunk"/> elements yield to
/// the run loop part way (EIP stays on them) and restart where they stopped; the code after
/// them runs only once they are done, on both engines.
/// </summary>
public class LongStringTests
{
    private const uint At = 0x1000;
    private const uint Src = 0x10_0000;
    private const uint Dst = 0x20_0000;
    private const int Length = 3 * Strings.RepChunk + 123;

    [Theory, OnEveryEngine]
    public void ALongRepMovsbCopiesEverythingBeforeTheNextInstruction(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        var data = new byte[Length];
        for (int i = 0; i < data.Length; i++) data[i] = (byte)(i * 7 + (i >> 9));
        t.WriteBytes(Src, data);
        t.RunToHalt(At, a =>
        {
            a.mov(esi, Src);
            a.mov(edi, Dst);
            a.mov(ecx, Length);
            a.rep.movsb();
            a.mov(ebx, ecx);
            a.movzx(edx, __byte_ptr[Dst + Length - 1]);
        });
        var copy = new byte[Length];
        t.Physical.ReadBytes(Dst, copy);
        Assert.Equal(data, copy);
        Assert.Equal(0u, t.Cpu.Ebx);
        Assert.Equal((uint)data[^1], t.Cpu.Edx);
        Assert.Equal(Src + Length, t.Cpu.Esi);
        // Each yield retires the instruction once more: 3 setup MOVs, 4 passes of REP MOVSB, MOV, MOVZX, HLT.
        Assert.Equal(3 + 4 + 3, t.Cpu.InstructionCount);
    }

    [Theory, OnEveryEngine]
    public void ALongRepLodsbThatStoresNothingStillYieldsAndRestarts(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.WriteBytes(Src + Length - 1, 0x5A);
        t.RunToHalt(At, a =>
        {
            a.mov(esi, Src);
            a.mov(ecx, Length);
            a.rep.lodsb();
            a.mov(ebx, ecx);
        });
        Assert.Equal(0u, t.Cpu.Ebx);
        Assert.Equal(0x5Au, t.Cpu.Eax & 0xFF);
    }

    [Theory, OnEveryEngine]
    public void ALongRepeScasbStopsAtTheFirstMismatchPastAYield(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        const int mismatchAt = 2 * Strings.RepChunk + 5;
        t.WriteBytes(Dst + mismatchAt, 1);
        t.RunToHalt(At, a =>
        {
            a.mov(edi, Dst);
            a.mov(ecx, Length);
            a.xor(eax, eax);
            a.repe.scasb();
            a.mov(ebx, ecx);
        });
        Assert.Equal((uint)(Length - mismatchAt - 1), t.Cpu.Ebx);
        Assert.Equal(Dst + mismatchAt + 1, t.Cpu.Edi);
        Assert.False(t.Cpu.ZF);
    }
}
