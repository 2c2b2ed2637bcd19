using System;
using System.Runtime.CompilerServices;
using Emu.Memory;

namespace Emu.X86;

/// <summary>
/// A P6-class 32-bit x86 processor: its architectural state and the bus it drives.
/// Everything the interpreter and compiled code touch is a plain field of this object,
/// so both reach it with one load; the instruction semantics are static methods over it.
/// </summary>
public sealed partial class Cpu
{
    // ---- general registers and instruction pointer ----

    /// <summary>EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI (see <see cref="Reg"/>).</summary>
    public GprFile Gpr;

    /// <summary>EIP: during an instruction, the address of that instruction (so a fault reports it).</summary>
    public uint Eip;

    // ---- segments ----

    public SegmentFile Seg;
    public TableRegister Gdtr, Idtr;
    /// <summary>LDTR and TR: selector plus descriptor cache.</summary>
    public SegmentCache Ldtr, Tr;

    // ---- control and debug registers ----

    public uint Cr0 = Cr0Bits.ET | Cr0Bits.CD | Cr0Bits.NW;
    public uint Cr2, Cr3, Cr4;
    public DebugRegisterFile Dr;

    // ---- x87 / MMX (room for issue-sized work: see Fpu) ----

    public readonly FpuState Fpu = new();

    // ---- time stamp counter and model-specific registers ----

    /// <summary>Retired instructions since reset.</summary>
    public long InstructionCount;

    /// <summary>Added to the virtual clock to give the TSC (WRMSR to IA32_TIME_STAMP_COUNTER adjusts it).</summary>
    public long TscOffset;

    public uint SysenterCs, SysenterEsp, SysenterEip;

    /// <summary>IA32_EFER (MSR C0000080h): only NXE (bit 11) exists on this 32-bit processor.</summary>
    public ulong Efer;

    /// <summary>MTRR storage: 8 variable base/mask pairs, 11 fixed-range registers, MTRRdefType.</summary>
    public readonly ulong[] Mtrr = new ulong[28];

    // ---- derived mode state, kept in step with the registers above ----

    /// <summary>Current privilege level.</summary>
    public int Cpl;

    /// <summary>CS.D: 32-bit default operand and address size for code.</summary>
    public bool Code32;

    /// <summary>SS.B: the stack pointer is ESP (else SP).</summary>
    public bool Stack32;

    /// <summary>Set when the run loop should stop at the next block boundary (a device asked, or the machine stops).</summary>
    public volatile bool StopRequested;

    /// <summary>Why execution stopped (set with <see cref="StopRequested"/>).</summary>
    public StopReason StopReason;

    /// <summary>Set by HLT; cleared when an interrupt wakes the CPU.</summary>
    public bool Halted;

    public readonly Mmu Mmu;
    public readonly PhysicalMemory Physical;
    public readonly IoSpace Io;

    public Cpu(Mmu mmu, IoSpace io)
    {
        Mmu = mmu;
        Physical = mmu.Physical;
        Io = io;
        Blocks = new BlockCache(this);
        Reset();
    }

    /// <summary>The power-on/RESET state (Intel SDM Vol. 3, 9.1.1, Table 9-1).</summary>
    public void Reset()
    {
        for (int i = 0; i < 8; i++) Gpr[i] = 0;
        Gpr[Reg.EDX] = CpuidInfo.ResetSignature;
        Eip = 0xFFF0;
        SetEflagsRaw(Flags.Reserved1);
        Cr0 = Cr0Bits.ET | Cr0Bits.CD | Cr0Bits.NW;
        Cr2 = Cr3 = Cr4 = 0;
        Efer = 0;
        LoadPagingControls();
        for (int i = 0; i < 8; i++) Dr[i] = 0;
        Dr[6] = 0xFFFF0FF0;
        Dr[7] = 0x400;
        const uint dataRights = SegmentCache.RightsP | SegmentCache.RightsS | 3; // present, RW data, accessed
        for (int s = 0; s < 6; s++) Seg[s].Load(0, 0, 0xFFFF, dataRights);
        Seg[SegReg.CS].Load(0xF000, 0xFFFF_0000, 0xFFFF, SegmentCache.RightsP | SegmentCache.RightsS | 0xB); // RX code, accessed
        Seg[SegReg.CS].Writable = true; // real mode does not check segment types
        Gdtr = new TableRegister { Base = 0, Limit = 0xFFFF };
        Idtr = new TableRegister { Base = 0, Limit = 0xFFFF };
        Ldtr.Load(0, 0, 0xFFFF, SegmentCache.RightsP | 2);
        Tr.Load(0, 0, 0xFFFF, SegmentCache.RightsP | 3);
        Fpu.Reset();
        SysenterCs = SysenterEsp = SysenterEip = 0;
        Halted = false;
        NmiBlocked = false;
        InterruptShadow = false;
        DebugTrapPending = false;
        PendingTaskFault = null;
        System.Array.Clear(Mtrr);
        UpdateBreakpoints();
        UpdateModes();
        Blocks.Flush();
    }

    /// <summary>Re-derives CPL, code and stack size and the MMU privilege after CS, SS, CR0 or EFLAGS.VM change.</summary>
    public void UpdateModes()
    {
        Code32 = Seg[SegReg.CS].Big && (Cr0 & Cr0Bits.PE) != 0 && (Eflags & Flags.VM) == 0;
        Stack32 = Seg[SegReg.SS].Big && (Cr0 & Cr0Bits.PE) != 0 && (Eflags & Flags.VM) == 0;
        if ((Cr0 & Cr0Bits.PE) == 0) Cpl = 0;
        else if ((Eflags & Flags.VM) != 0) Cpl = 3;
        else Cpl = Seg[SegReg.CS].Selector & 3;
        UpdateMmuPrivilege();
    }

    /// <summary>
    /// Tells the MMU the privilege its checks follow (user mode at CPL 3, and alignment
    /// checking), and the block cache the privilege its fetch checks hold for.
    /// </summary>
    internal void UpdateMmuPrivilege()
    {
        Mmu.UserMode = Cpl == 3;
        Blocks.SetUserMode(Cpl == 3);
        // Alignment checking: CR0.AM and EFLAGS.AC at CPL 3 (Intel SDM Vol. 3, 6.15, #AC).
        Mmu.AlignmentCheck = (Cr0 & Cr0Bits.AM) != 0 && (Eflags & Flags.AC) != 0 && Cpl == 3;
    }

    /// <summary>
    /// Protected mode with flat 4 GiB segments at CPL 0 (CS 08h: 32-bit code; 10h: data) and
    /// paging off: the state the Multiboot specification hands to a kernel. The descriptor
    /// caches are loaded directly; GDTR is left as the loader sets it.
    /// </summary>
    public void EnterFlatProtectedMode(ushort codeSelector = 0x08, ushort dataSelector = 0x10)
    {
        Cr0 |= Cr0Bits.PE;
        const uint common = SegmentCache.RightsP | SegmentCache.RightsS | SegmentCache.RightsDB | SegmentCache.RightsG;
        for (int s = 0; s < 6; s++) Seg[s].Load(dataSelector, 0, 0xFFFF_FFFF, common | 3);
        Seg[SegReg.CS].Load(codeSelector, 0, 0xFFFF_FFFF, common | 0xB);
        Eflags &= ~Flags.VM;
        UpdateModes();
        Mmu.FlushAll();
        Blocks.FlushJumpCache();
    }

    public bool ProtectedMode => (Cr0 & Cr0Bits.PE) != 0;
    public bool V86Mode => (Eflags & Flags.VM) != 0;

    // ---- register access ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint GetReg32(int r) => Gpr[r];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetReg32(int r, uint v) => Gpr[r] = v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort GetReg16(int r) => (ushort)Gpr[r];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetReg16(int r, ushort v) => Gpr[r] = (Gpr[r] & 0xFFFF_0000u) | v;

    /// <summary>An 8-bit register: 0-3 are AL, CL, DL, BL; 4-7 are AH, CH, DH, BH.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte GetReg8(int r) => r < 4 ? (byte)Gpr[r] : (byte)(Gpr[r - 4] >> 8);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetReg8(int r, byte v)
    {
        if (r < 4) Gpr[r] = (Gpr[r] & 0xFFFF_FF00u) | v;
        else Gpr[r - 4] = (Gpr[r - 4] & 0xFFFF_00FFu) | ((uint)v << 8);
    }

    public uint Eax { get => Gpr[Reg.EAX]; set => Gpr[Reg.EAX] = value; }
    public uint Ecx { get => Gpr[Reg.ECX]; set => Gpr[Reg.ECX] = value; }
    public uint Edx { get => Gpr[Reg.EDX]; set => Gpr[Reg.EDX] = value; }
    public uint Ebx { get => Gpr[Reg.EBX]; set => Gpr[Reg.EBX] = value; }
    public uint Esp { get => Gpr[Reg.ESP]; set => Gpr[Reg.ESP] = value; }
    public uint Ebp { get => Gpr[Reg.EBP]; set => Gpr[Reg.EBP] = value; }
    public uint Esi { get => Gpr[Reg.ESI]; set => Gpr[Reg.ESI] = value; }
    public uint Edi { get => Gpr[Reg.EDI]; set => Gpr[Reg.EDI] = value; }
}

/// <summary>CR0 bits (Intel SDM Vol. 3, 2.5).</summary>
public static class Cr0Bits
{
    public const uint PE = 1u << 0, MP = 1u << 1, EM = 1u << 2, TS = 1u << 3, ET = 1u << 4, NE = 1u << 5,
        WP = 1u << 16, AM = 1u << 18, NW = 1u << 29, CD = 1u << 30, PG = 1u << 31;
}

/// <summary>CR4 bits a P6 has (Intel SDM Vol. 3, 2.5).</summary>
public static class Cr4Bits
{
    public const uint VME = 1u << 0, PVI = 1u << 1, TSD = 1u << 2, DE = 1u << 3, PSE = 1u << 4, PAE = 1u << 5,
        MCE = 1u << 6, PGE = 1u << 7, PCE = 1u << 8, OSFXSR = 1u << 9, OSXMMEXCPT = 1u << 10;
}

/// <summary>Why the CPU's run loop returned.</summary>
public enum StopReason
{
    None,
    /// <summary>A device or the host asked to stop (for example the debug-exit port).</summary>
    Requested,
    /// <summary>HLT with interrupts disabled and nothing that could wake the CPU.</summary>
    HaltedForever,
    /// <summary>An exception the system layer cannot deliver yet.</summary>
    UnhandledException,
    /// <summary>The instruction budget given to Run ran out.</summary>
    BudgetExhausted,
    /// <summary>EIP reached the stop address set by the host.</summary>
    StopAddress,
    /// <summary>Triple fault: the processor shuts down.</summary>
    Shutdown,
    /// <summary>HLT: the processor waits for an interrupt.</summary>
    Halted,
    /// <summary>The guest used something the emulator does not implement yet.</summary>
    Unimplemented,
}
