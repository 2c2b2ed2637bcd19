using Emu.TestSupport;
using Emu.Memory;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.SystemTests; // (not ".System": it would hide the System namespace in this project)

/// <summary>
/// PAE paging and execute-disable (Intel SDM Vol. 3, 4.4 and 4.6), on both engines: the PDPTEs
/// loaded with CR3 from a 32-byte table, 8-byte directory and table entries, 2 MiB pages,
/// accessed and dirty bits, reserved bits (#PF with RSVD, #GP(0) for a PDPTE), and XD with
/// IA32_EFER.NXE (#PF with I/D on a fetch).
/// </summary>
public sealed class PaeTests
{
    // The PDPT sits 20h into its page: CR3 bits 11:5 address it under PAE.
    private const uint Pdpt = 0x20_0020, Pd = 0x20_1000, Pt = 0x20_2000;
    private const ulong Present = 1, Writable = 2, Large = 1ul << 7, Xd = 1ul << 63;

    /// <summary>
    /// Linear 0-2 MiB maps 4 KiB pages to themselves, except 5000h, which maps to 9000h;
    /// linear 200000h-3FFFFFh is one 2 MiB page at physical 400000h.
    /// </summary>
    private static TestCpu Machine(string engine)
    {
        var t = TestCpu.Flat32(engine);
        Entry(t, Pdpt, Pd | Present);
        Entry(t, Pd, Pt | Present | Writable);
        Entry(t, Pd + 8, 0x40_0000 | Present | Writable | Large);
        for (uint i = 0; i < 512; i++) Entry(t, Pt + 8 * i, (i << 12) | Present | Writable);
        Entry(t, Pt + 8 * 5, 0x9000 | Present | Writable);
        return t;
    }

    private static void Entry(TestCpu t, uint at, ulong value)
    {
        t.Write32(at, (uint)value);
        t.Write32(at + 4, (uint)(value >> 32));
    }

    private static void EnablePae(TestCpu t)
    {
        t.Cpu.WriteCr4(t.Cpu.Cr4 | Cr4Bits.PAE);
        t.Cpu.WriteCr3(Pdpt);
        t.Cpu.WriteCr0(t.Cpu.Cr0 | Cr0Bits.PG);
    }

    [Theory, OnEveryEngine]
    public void FourKibAndTwoMibPagesTranslateAndGetTheirAccessedAndDirtyBits(string engine)
    {
        using var t = Machine(engine);
        t.Write32(0x9000, 0x1234_5678);
        t.Write32(0x40_0010, 0xCAFE_F00D);
        t.Load(0x1000, a =>
        {
            a.mov(eax, __dword_ptr[0x5000]);
            a.mov(ebx, __dword_ptr[0x20_0010]);
            a.mov(__dword_ptr[0x20_0020], 77);
            a.mov(__dword_ptr[0x5004], 88);
            a.hlt();
        });
        EnablePae(t);
        Assert.Equal(StopReason.Halted, t.Run(0x1000));
        Assert.Equal(0x1234_5678u, t.Cpu.Eax);
        Assert.Equal(0xCAFE_F00Du, t.Cpu.Ebx);
        Assert.Equal(77u, t.Read32(0x40_0020));
        Assert.Equal(88u, t.Read32(0x9004));
        const uint accessed = 1 << 5, dirty = 1 << 6;
        Assert.Equal(accessed | dirty, t.Read32(Pt + 8 * 5) & (accessed | dirty));
        Assert.Equal(accessed | dirty, t.Read32(Pd + 8) & (accessed | dirty)); // the 2 MiB page's own entry
        Assert.Equal(accessed, t.Read32(Pd) & (accessed | dirty));
    }

    [Theory]
    [InlineDataOnEveryEngine(0x0000_0100u, false)] // an address bit above the 32 physical bits CPUID reports
    [InlineDataOnEveryEngine(0x8000_0000u, false)] // XD without IA32_EFER.NXE
    [InlineDataOnEveryEngine(0x8000_0000u, true)]  // XD with NXE: allowed for a read
    public void AReservedBitInATableEntryIsAPageFaultWithRsvd(uint highBits, bool nxe, string engine)
    {
        using var t = Machine(engine);
        Entry(t, Pt + 8 * 6, ((ulong)highBits << 32) | 0x6000 | Present | Writable);
        t.Write32(0x6000, 5);
        t.Load(0x1000, a =>
        {
            a.mov(eax, __dword_ptr[0x6000]);
            a.hlt();
        });
        EnablePae(t);
        if (nxe) t.Cpu.WriteEfer(Emu.X86.Cpu.EferNxe);
        if (nxe)
        {
            Assert.Equal(StopReason.Halted, t.Run(0x1000));
            Assert.Equal(5u, t.Cpu.Eax);
            return;
        }
        Assert.Equal(StopReason.UnhandledException, t.Run(0x1000));
        FaultInfo f = t.Cpu.LastFault!.Value;
        Assert.Equal(ExceptionVectors.PF, f.Vector);
        Assert.Equal(0x9u, f.ErrorCode); // P | RSVD, a supervisor read
        Assert.Equal(0x6000u, t.Cpu.Cr2);
        Assert.Equal(0x1000u, f.Eip);
    }

    [Theory, OnEveryEngine]
    public void AFetchFromAnExecuteDisablePageFaultsWithInstructionFetchSet(string engine)
    {
        using var t = Machine(engine);
        Entry(t, Pt + 8 * 7, 0x7000 | Present | Writable | Xd);
        t.Load(0x7000, a => a.hlt());
        t.Load(0x1000, a =>
        {
            a.mov(ecx, 0xC000_0080);
            a.rdmsr();
            a.or(eax, 1 << 11); // IA32_EFER.NXE
            a.wrmsr();
            a.mov(eax, __dword_ptr[0x7000]); // reading an XD page is allowed
            a.mov(ebx, 0x7000);
            a.jmp(ebx);
        });
        EnablePae(t);
        Assert.Equal(StopReason.UnhandledException, t.Run(0x1000));
        FaultInfo f = t.Cpu.LastFault!.Value;
        Assert.Equal(ExceptionVectors.PF, f.Vector);
        Assert.Equal(0x11u, f.ErrorCode); // P | I/D
        Assert.Equal(0x7000u, t.Cpu.Cr2);
        Assert.Equal(0x7000u, f.Eip);
        Assert.Equal(0xF4u, t.Cpu.Eax & 0xFF); // the HLT it read
        Assert.Equal(Emu.X86.Cpu.EferNxe, t.Cpu.Efer);
    }

    [Theory, OnEveryEngine]
    public void WithNxeAFetchFromANotPresentPageHasInstructionFetchSet(string engine)
    {
        using var t = Machine(engine);
        Entry(t, Pt + 8 * 8, 0);
        t.Load(0x1000, a =>
        {
            a.mov(ebx, 0x8000);
            a.jmp(ebx);
        });
        EnablePae(t);
        t.Cpu.WriteEfer(Emu.X86.Cpu.EferNxe);
        Assert.Equal(StopReason.UnhandledException, t.Run(0x1000));
        FaultInfo f = t.Cpu.LastFault!.Value;
        Assert.Equal(ExceptionVectors.PF, f.Vector);
        Assert.Equal(0x10u, f.ErrorCode);
    }

    [Theory, OnEveryEngine]
    public void MovCr3WithAReservedBitInAPresentPdpteIsGp0AndChangesNothing(string engine)
    {
        const uint badPdpt = 0x20_3000;
        using var t = Machine(engine);
        Entry(t, badPdpt, Pd | Present | Writable); // R/W is reserved in a PAE PDPTE
        t.Load(0x1000, a =>
        {
            a.mov(eax, badPdpt);
            a.mov(cr3, eax);
            a.hlt();
        });
        EnablePae(t);
        Assert.Equal(StopReason.UnhandledException, t.Run(0x1000));
        FaultInfo f = t.Cpu.LastFault!.Value;
        Assert.Equal(ExceptionVectors.GP, f.Vector);
        Assert.Equal(0u, f.ErrorCode);
        Assert.Equal(0x1005u, f.Eip);
        Assert.Equal(Pdpt, t.Cpu.Cr3);
    }

    [Theory, OnEveryEngine]
    public void PdptesAreReadWhenCr3IsLoadedNotOnEachWalk(string engine)
    {
        // The PDPT in memory is cleared after CR3 was loaded: translations still use the
        // PDPTEs loaded then (Intel SDM Vol. 3, 4.4.1), until CR3 is loaded again.
        using var t = Machine(engine);
        t.Write32(0x9000, 42);
        Entry(t, Pt + 8 * 6, 0x20_0000 | Present | Writable); // linear 6000h: the PDPT's page
        t.Load(0x1000, a =>
        {
            a.mov(__dword_ptr[0x6000 + (Pdpt & 0xFFF)], 0); // PDPTE 0's low dword
            a.mov(eax, __dword_ptr[0x5000]);   // still through the loaded PDPTE 0
            a.mov(ecx, cr3);
            a.mov(cr3, ecx);                    // loads PDPTE 0 = 0: the next fetch finds nothing
            a.mov(ebx, __dword_ptr[0x5000]);
            a.hlt();
        });
        EnablePae(t);
        Assert.Equal(StopReason.UnhandledException, t.Run(0x1000));
        Assert.Equal(42u, t.Cpu.Eax);
        FaultInfo f = t.Cpu.LastFault!.Value;
        Assert.Equal(ExceptionVectors.PF, f.Vector);
        Assert.Equal(0u, f.ErrorCode); // not present, a supervisor read (the fetch)
        Assert.Equal(f.Eip, t.Cpu.Cr2); // the instruction after MOV CR3
    }

    [Fact]
    public void CpuidReportsPaeAndNx()
    {
        Assert.NotEqual(0u, CpuidInfo.Leaf(1).Edx & CpuidInfo.Edx.PAE);
        Assert.True(CpuidInfo.Leaf(0x8000_0000).Eax >= 0x8000_0001);
        Assert.NotEqual(0u, CpuidInfo.Leaf(0x8000_0001).Edx & CpuidInfo.ExtendedEdx.NX);
        Assert.Equal((uint)Emu.Memory.Mmu.PhysicalAddressBits, CpuidInfo.Leaf(0x8000_0008).Eax & 0xFF);
    }
}
