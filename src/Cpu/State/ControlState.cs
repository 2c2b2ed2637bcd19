using System;
using Emu.Memory;

namespace Emu.X86;

// Writes to control registers and EFLAGS that change how the CPU runs.
public sealed partial class Cpu
{
    /// <summary>
    /// Set by STI (when it sets IF), MOV SS and POP SS: external interrupts, and debug traps,
    /// wait until after the next instruction (Intel SDM Vol. 3, 6.8.3).
    /// </summary>
    public bool InterruptShadow;

    /// <summary>Why the processor shut down (a triple fault), for the report.</summary>
    public string? ShutdownCause;

    /// <summary>The time-stamp counter source; null counts retired instructions.</summary>
    public Func<ulong>? TscSource;

    /// <summary>CR4 bits this CPU implements (writing any other bit is #GP(0)).</summary>
    public const uint Cr4Supported = Cr4Bits.TSD | Cr4Bits.DE | Cr4Bits.PSE | Cr4Bits.PAE | Cr4Bits.PGE | Cr4Bits.OSFXSR;

    /// <summary>IA32_EFER.NXE: execute-disable bits in PAE paging entries take effect.</summary>
    public const ulong EferNxe = 1ul << 11;

    /// <summary>
    /// Before a write to CR0, CR3 or CR4 that leaves PAE paging in use (CR0.PG and CR4.PAE) and
    /// loads the PDPTEs (MOV CR3; MOV CR0 or CR4 changing PG, CD, NW, PAE, PGE or PSE): loads them
    /// from <paramref name="cr3"/>, or raises #GP(0) before anything changes when a present one
    /// has a reserved bit set (Intel SDM Vol. 3, 4.4.1).
    /// </summary>
    private void LoadPdptesFor(uint cr0, uint cr3, uint cr4)
    {
        if ((cr0 & Cr0Bits.PG) == 0 || (cr4 & Cr4Bits.PAE) == 0) return;
        if (!Mmu.LoadPdptes(cr3)) throw GuestFault.Create(ExceptionVectors.GP, 0);
    }

    private const uint Cr0Defined = Cr0Bits.PE | Cr0Bits.MP | Cr0Bits.EM | Cr0Bits.TS | Cr0Bits.ET | Cr0Bits.NE |
        Cr0Bits.WP | Cr0Bits.AM | Cr0Bits.NW | Cr0Bits.CD | Cr0Bits.PG;

    /// <summary>
    /// The time-stamp counter. Counting retired instructions, it includes those of the current
    /// block that completed before the reading instruction, so two RDTSCs in one block differ
    /// (the counter advances with every instruction, Intel SDM Vol. 3, 17.17).
    /// </summary>
    public ulong ReadTsc() => (TscSource?.Invoke() ?? (ulong)(InstructionCount + RetiredInCurrentBlock())) + (ulong)TscOffset;

    /// <summary>MOV CR0 / LMSW (Intel SDM Vol. 3, 2.5 and Vol. 2, MOV-Move to/from Control Registers).</summary>
    public void WriteCr0(uint value)
    {
        value = (value & Cr0Defined) | Cr0Bits.ET;
        if ((value & Cr0Bits.PG) != 0 && (value & Cr0Bits.PE) == 0) throw GuestFault.Create(ExceptionVectors.GP, 0);
        if ((value & Cr0Bits.NW) != 0 && (value & Cr0Bits.CD) == 0) throw GuestFault.Create(ExceptionVectors.GP, 0);
        uint changed = Cr0 ^ value;
        if ((changed & (Cr0Bits.PG | Cr0Bits.CD | Cr0Bits.NW)) != 0) LoadPdptesFor(value, Cr3, Cr4);
        Cr0 = value;
        // Changing PG, WP or PE invalidates every cached translation (Intel SDM Vol. 3, 4.10.4.1).
        if ((changed & (Cr0Bits.PE | Cr0Bits.PG | Cr0Bits.WP)) != 0)
        {
            LoadPagingControls();
            Mmu.FlushAll();
            Blocks.FlushJumpCache();
        }
        if ((changed & (Cr0Bits.PE | Cr0Bits.AM)) != 0) UpdateModes();
    }

    /// <summary>
    /// MOV CR3: a new page directory (with PAE paging, the PDPTEs of a new 32-byte table);
    /// translations of global pages survive when CR4.PGE=1. Bits 11:5 are kept: with PAE they
    /// address the table, and without it they are ignored.
    /// </summary>
    public void WriteCr3(uint value)
    {
        value &= 0xFFFF_FFF8u;
        LoadPdptesFor(Cr0, value, Cr4);
        Cr3 = value;
        LoadPagingControls();
        Cr3Loads++;
        Cr3EntriesFlushed += (Cr4 & Cr4Bits.PGE) != 0 ? Mmu.FlushNonGlobal() : Mmu.FlushAll();
        Blocks.NewAddressSpace();
    }

    /// <summary>MOV CR4: changing PSE, PGE or PAE invalidates every cached translation, global ones too.</summary>
    public void WriteCr4(uint value)
    {
        if ((value & ~Cr4Supported) != 0) throw GuestFault.Create(ExceptionVectors.GP, 0);
        uint changed = Cr4 ^ value;
        if ((changed & (Cr4Bits.PSE | Cr4Bits.PGE | Cr4Bits.PAE)) != 0) LoadPdptesFor(Cr0, Cr3, value);
        Cr4 = value;
        if ((changed & (Cr4Bits.PSE | Cr4Bits.PGE | Cr4Bits.PAE)) != 0)
        {
            LoadPagingControls();
            Mmu.FlushAll();
            Blocks.FlushJumpCache();
        }
    }

    /// <summary>WRMSR to IA32_EFER: NXE only (any other bit is #GP(0)); changing it invalidates every cached translation.</summary>
    public void WriteEfer(ulong value)
    {
        if ((value & ~EferNxe) != 0) throw GuestFault.Create(ExceptionVectors.GP, 0);
        ulong changed = Efer ^ value;
        Efer = value;
        if (changed != 0)
        {
            LoadPagingControls();
            Mmu.FlushAll();
            Blocks.FlushJumpCache();
        }
    }

    private void LoadPagingControls() =>
        Mmu.SetPaging((Cr0 & Cr0Bits.PG) != 0, Cr3, (Cr4 & Cr4Bits.PSE) != 0, (Cr4 & Cr4Bits.PGE) != 0, (Cr0 & Cr0Bits.WP) != 0,
            (Cr4 & Cr4Bits.PAE) != 0, (Efer & EferNxe) != 0);

    /// <summary>Replaces EFLAGS (already filtered by the instruction's privilege rules) and follows a change of VM.</summary>
    public void SetEflags(uint value)
    {
        uint old = Eflags;
        SetEflagsRaw(value);
        if (((old ^ Eflags) & (Flags.VM | Flags.AC)) != 0) UpdateModes();
    }
}
