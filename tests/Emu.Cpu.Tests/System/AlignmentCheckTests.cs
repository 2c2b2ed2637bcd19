using Emu.Memory;
using Emu.TestSupport;
using Emu.X86;
using static Iced.Intel.AssemblerRegisters;
using X86Cpu = Emu.X86.Cpu;

namespace Emu.Cpu.Tests.SystemTests;

/// <summary>#AC: a misaligned data access at CPL 3 with CR0.AM and EFLAGS.AC set (Intel SDM Vol. 3, 6.15, interrupt 17).</summary>
public class AlignmentCheckTests
{
    private static TestCpu AtCpl3(bool am, bool ac)
    {
        var t = TestCpu.Flat32();
        X86Cpu c = t.Cpu;
        const uint common = SegmentCache.RightsP | SegmentCache.RightsS | SegmentCache.RightsDB | SegmentCache.RightsG | (3u << 5);
        for (int s = 0; s < 6; s++) c.Seg[s].Load(0x23, 0, 0xFFFF_FFFF, common | 3);
        c.Seg[SegReg.CS].Load(0x1B, 0, 0xFFFF_FFFF, common | 0xB);
        if (am) c.WriteCr0(c.Cr0 | Cr0Bits.AM);
        c.SetEflags(ac ? c.GetEflags() | Flags.AC : c.GetEflags() & ~Flags.AC);
        c.UpdateModes();
        return t;
    }

    [Fact]
    public void AMisalignedUserAccessRaisesAcWithErrorCodeZero()
    {
        using var t = AtCpl3(am: true, ac: true);
        t.Load(0x1000, a => { a.mov(ebx, 0x20000); a.mov(eax, __dword_ptr[ebx]); a.mov(ecx, __dword_ptr[ebx + 2]); a.hlt(); });
        Assert.Equal(StopReason.UnhandledException, t.Run(0x1000));
        Assert.Equal(ExceptionVectors.AC, t.Cpu.LastFault!.Value.Vector);
        Assert.Equal(0u, t.Cpu.LastFault.Value.ErrorCode);
        Assert.Equal(0x1007u, t.Cpu.Eip); // the second MOV faults, before it changes ECX
        Assert.Equal(0u, t.Cpu.Ecx);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void WithoutBothAmAndAcNothingIsChecked(bool am, bool ac)
    {
        using var t = AtCpl3(am, ac);
        t.Write32(0x20002, 0x1234_5678);
        t.Load(0x1000, a => { a.mov(ebx, 0x20000); a.mov(ecx, __dword_ptr[ebx + 2]); a.cli(); });
        // CLI at CPL 3 with IOPL 0 faults: a marker that the load before it went through.
        t.Run(0x1000);
        Assert.Equal(ExceptionVectors.GP, t.Cpu.LastFault!.Value.Vector);
        Assert.Equal(0x1234_5678u, t.Cpu.Ecx);
    }
    [Theory]
    [InlineData("interpreter", false)]
    [InlineData("interpreter", true)]
    [InlineData("translator", false)]
    [InlineData("translator", true)]
    public void CodeFetchesKeepTheirCachedTranslationWhileAlignmentIsChecked(string engine, bool ac)
    {
        // User code clears the directory entry that maps it (no INVLPG) and jumps to a new block
        // in its page. The fetch goes on through the translation the TLB holds, with alignment
        // checking on as with it off: only data accesses bypass the TLB for #AC. Found by the
        // instruction fuzzer (virtual-8086 mode with EFLAGS.AC, a REP STOSB over the page
        // directory): the interpreter, stopped between the blocks, walked the tables for its
        // next fetch and faulted where compiled code went on.
        const uint Pd = 0x10_0000, Pt = 0x10_1000;
        using var t = TestCpu.Flat32(engine);
        X86Cpu c = t.Cpu;
        t.Write32(Pd, Pt | 7);
        for (uint i = 0; i < 1024; i++) t.Write32(Pt + i * 4, (i << 12) | 7);
        t.Load(0x1000, a => { a.mov(__dword_ptr[Pd], 0); a.jmp(0x1100); });
        t.Load(0x1100, a => { a.mov(eax, 1); a.cli(); });
        c.WriteCr3(Pd);
        c.WriteCr0(c.Cr0 | Cr0Bits.PG | Cr0Bits.AM);
        const uint common = SegmentCache.RightsP | SegmentCache.RightsS | SegmentCache.RightsDB | SegmentCache.RightsG | (3u << 5);
        for (int s = 0; s < 6; s++) c.Seg[s].Load(0x23, 0, 0xFFFF_FFFF, common | 3);
        c.Seg[SegReg.CS].Load(0x1B, 0, 0xFFFF_FFFF, common | 0xB);
        c.SetEflags(ac ? c.GetEflags() | Flags.AC : c.GetEflags() & ~Flags.AC);
        c.UpdateModes();
        Assert.Equal(StopReason.UnhandledException, t.Run(0x1000));
        Assert.Equal(ExceptionVectors.GP, c.LastFault!.Value.Vector); // CLI at CPL 3, IOPL 0
        Assert.Equal(1u, c.Eax);
    }
}
