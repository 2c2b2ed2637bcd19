using Emu.TestSupport;
using Emu.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.SystemTests; // (not ".System": it would hide the System namespace in this project)

/// <summary>
/// A read-modify-write memory operand (INC [m], ADD [m],r, XCHG, XADD, CMPXCHG, BTS, SHLD, ARPL)
/// is translated once, for writing: its read and its write reach the same physical memory even
/// when the guest changed the mapping without INVLPG and a stale translation for reading is
/// still cached (Intel SDM Vol. 3, 4.10.4.3: the TLB may keep it until invalidated).
/// </summary>
public class ReadModifyWriteTranslationTests
{
    [Theory, OnEveryEngine]
    public void TheReadAndTheWriteGoThroughOneTranslation(string engine)
    {
        // Linear 5000h maps to physical 6000h (holding 100) and is read, so the read side caches
        // that; it is remapped to 7000h with no INVLPG and written (300), so the write side
        // caches 7000h; then it is incremented. Found by the instruction fuzzer: the interpreter
        // read through its stale read translation (6000h) and wrote 101 to 7000h, where compiled
        // code, which reads and writes through the write side, wrote 301.
        const uint Pd = 0x10_0000, Pt = 0x10_1000;
        using var t = TestCpu.Flat32(engine);
        t.Write32(Pd, Pt | 3);
        for (uint i = 0; i < 1024; i++) t.Write32(Pt + i * 4, (i << 12) | 3);
        t.Write32(Pt + 5 * 4, 0x6003);
        t.Write32(0x6000, 100);
        t.Write32(0x7000, 200);
        t.Load(0x1000, a =>
        {
            a.mov(eax, __dword_ptr[0x5000]);
            a.mov(__dword_ptr[Pt + 5 * 4], 0x7003);
            a.mov(__dword_ptr[0x5000], 300);
            a.inc(__dword_ptr[0x5000]);
            a.hlt();
        });
        t.Cpu.WriteCr3(Pd);
        t.Cpu.WriteCr0(t.Cpu.Cr0 | Cr0Bits.PG);
        Assert.Equal(StopReason.Halted, t.Run(0x1000));
        Assert.Equal(100u, t.Cpu.Eax);
        Assert.Equal(301u, t.Read32(0x7000));
        Assert.Equal(100u, t.Read32(0x6000));
    }
}
