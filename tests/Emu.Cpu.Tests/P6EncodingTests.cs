using Emu.TestSupport;

namespace Emu.Cpu.Tests;

/// <summary>Encodings that later CPUs gave new meanings and a P6 runs as it always did.</summary>
public class P6EncodingTests
{
    [Theory, OnEveryEngine]
    public void RepBsfAndRepBsrRunAsBsfAndBsr(string engine)
    {
        // F3 0F BC / F3 0F BD: TZCNT and LZCNT on CPUs with BMI1/LZCNT, BSF and BSR on a P6
        // (Linux's __ffs is "rep; bsf"). With a zero source BSF leaves the destination and
        // sets ZF, where TZCNT would write 32 and set CF.
        using var t = TestCpu.Flat32(engine);
        t.WriteBytes(0x1000,
            0xB8, 0x00, 0x01, 0x00, 0x00,  // mov eax, 100h
            0xF3, 0x0F, 0xBC, 0xD8,        // rep bsf ebx, eax  -> 8
            0xF3, 0x0F, 0xBD, 0xC8,        // rep bsr ecx, eax  -> 8
            0xBA, 0x55, 0x00, 0x00, 0x00,  // mov edx, 55h
            0x31, 0xF6,                    // xor esi, esi
            0xF3, 0x0F, 0xBC, 0xD6,        // rep bsf edx, esi  -> edx unchanged, ZF=1
            0xF4);                         // hlt
        Assert.Equal(Emu.X86.StopReason.Halted, t.Run(0x1000));
        Assert.Equal(8u, t.Cpu.Ebx);
        Assert.Equal(8u, t.Cpu.Ecx);
        Assert.Equal(0x55u, t.Cpu.Edx);
        Assert.True((t.Cpu.GetEflags() & Emu.X86.Flags.ZF) != 0);
    }
}
