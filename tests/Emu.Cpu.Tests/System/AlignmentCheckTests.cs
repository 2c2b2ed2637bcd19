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
}
