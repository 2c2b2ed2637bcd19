using Emu.Memory;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// RDMSR/WRMSR for the model-specific registers a P6 has and this emulator implements: the
/// TSC, SYSENTER_CS/ESP/EIP, IA32_EFER (NXE only), the MTRRs (kept as storage; memory types do not change how
/// guest memory behaves here), the microcode update MSRs and the platform ID (inert), and the
/// performance counters (present, never counting). Any other MSR is #GP(0), as an unknown MSR is on the processor.
/// SYSENTER and SYSEXIT (Intel SDM Vol. 2) use the SYSENTER MSRs.
/// </summary>
public static unsafe class ModelSpecific
{
    public const uint Tsc = 0x10, MtrrCap = 0xFE, SysenterCs = 0x174, SysenterEsp = 0x175, SysenterEip = 0x176,
        MtrrPhysBase0 = 0x200, MtrrFix64K = 0x250, MtrrFix16K0 = 0x258, MtrrFix16K1 = 0x259, MtrrFix4K0 = 0x268,
        MtrrFix4K7 = 0x26F, MtrrDefType = 0x2FF,
        PlatformId = 0x17, EblCrPowerOn = 0x2A, BiosUpdateTrigger = 0x79, BiosSignId = 0x8B,
        PerfCtr0 = 0xC1, PerfCtr1 = 0xC2, EvntSel0 = 0x186, EvntSel1 = 0x187, Efer = 0xC000_0080;

    /// <summary>MTRRcap: 8 variable ranges, fixed ranges, write-combining supported.</summary>
    public const ulong MtrrCapValue = 0x508;

    private static GuestFault GP0 => GuestFault.Create(ExceptionVectors.GP, 0);

    /// <summary>The index into <see cref="Cpu.Mtrr"/> of an MTRR, or -1.</summary>
    private static int MtrrSlot(uint msr) => msr switch
    {
        >= MtrrPhysBase0 and < MtrrPhysBase0 + 16 => (int)(msr - MtrrPhysBase0),
        MtrrFix64K => 16,
        MtrrFix16K0 => 17,
        MtrrFix16K1 => 18,
        >= MtrrFix4K0 and <= MtrrFix4K7 => 19 + (int)(msr - MtrrFix4K0),
        MtrrDefType => 27,
        _ => -1,
    };

    public static ulong Read(Cpu c, uint msr)
    {
        switch (msr)
        {
            case Tsc: return c.ReadTsc();
            case SysenterCs: return c.SysenterCs;
            case SysenterEsp: return c.SysenterEsp;
            case SysenterEip: return c.SysenterEip;
            case Efer: return c.Efer;
            case MtrrCap: return MtrrCapValue;
            // No microcode is loaded (update signature 0) and the platform ID is 0. The
            // performance counters exist but never count (a guest's probe finds them broken
            // and falls back to software events, as Linux does).
            case PlatformId or EblCrPowerOn or BiosSignId: return 0;
            case PerfCtr0 or PerfCtr1 or EvntSel0 or EvntSel1: return 0;
        }
        int slot = MtrrSlot(msr);
        if (slot < 0) throw GP0;
        return c.Mtrr[slot];
    }

    public static void Write(Cpu c, uint msr, ulong value)
    {
        switch (msr)
        {
            case Tsc:
                // Writing the TSC moves the counter; only the low 32 bits are written on a P6, the high half cleared.
                c.TscOffset += (long)((value & 0xFFFF_FFFF) - c.ReadTsc());
                return;
            case SysenterCs: c.SysenterCs = (uint)value & 0xFFFF; return;
            case SysenterEsp: c.SysenterEsp = (uint)value; return;
            case SysenterEip: c.SysenterEip = (uint)value; return;
            case Efer: c.WriteEfer(value); return;
            // A microcode update (trigger) is accepted and does nothing; the signature reads 0.
            case BiosUpdateTrigger or BiosSignId or EblCrPowerOn: return;
            case PerfCtr0 or PerfCtr1 or EvntSel0 or EvntSel1: return;
        }
        int slot = MtrrSlot(msr);
        if (slot < 0) throw GP0;
        c.Mtrr[slot] = value;
    }

    private static void Rdmsr(Cpu c, ref Instruction i)
    {
        ControlRegisters.RequireCpl0(c);
        ulong v = Read(c, c.Gpr[Reg.ECX]);
        c.Gpr[Reg.EAX] = (uint)v;
        c.Gpr[Reg.EDX] = (uint)(v >> 32);
    }

    private static void Wrmsr(Cpu c, ref Instruction i)
    {
        ControlRegisters.RequireCpl0(c);
        Write(c, c.Gpr[Reg.ECX], ((ulong)c.Gpr[Reg.EDX] << 32) | c.Gpr[Reg.EAX]);
    }

    private const uint FlatCode = SegmentCache.RightsP | SegmentCache.RightsS | SegmentCache.RightsDB | SegmentCache.RightsG | 0xB;
    private const uint FlatData = SegmentCache.RightsP | SegmentCache.RightsS | SegmentCache.RightsDB | SegmentCache.RightsG | 3;

    /// <summary>SYSENTER: to CPL 0 with flat CS/SS from SYSENTER_CS, ESP and EIP from their MSRs.</summary>
    private static void Sysenter(Cpu c, ref Instruction i)
    {
        if (!c.ProtectedMode || (c.SysenterCs & 0xFFFC) == 0) throw GP0;
        c.SetEflagsRaw(c.GetEflags() & ~(Flags.VM | Flags.IF | Flags.RF));
        ushort cs = (ushort)(c.SysenterCs & 0xFFFC);
        c.Seg[SegReg.CS].Load(cs, 0, 0xFFFF_FFFF, FlatCode);
        c.Seg[SegReg.SS].Load((ushort)(cs + 8), 0, 0xFFFF_FFFF, FlatData);
        c.Gpr[Reg.ESP] = c.SysenterEsp;
        c.Eip = c.SysenterEip;
        c.UpdateModes();
    }

    /// <summary>SYSEXIT: from CPL 0 to CPL 3 with flat CS/SS at SYSENTER_CS + 16/24, ESP = ECX, EIP = EDX.</summary>
    private static void Sysexit(Cpu c, ref Instruction i)
    {
        if (!c.ProtectedMode || c.V86Mode || c.Cpl != 0 || (c.SysenterCs & 0xFFFC) == 0) throw GP0;
        ushort cs = (ushort)(c.SysenterCs & 0xFFFC);
        c.Seg[SegReg.CS].Load((ushort)((cs + 16) | 3), 0, 0xFFFF_FFFF, FlatCode | (3u << 5));
        c.Seg[SegReg.SS].Load((ushort)((cs + 24) | 3), 0, 0xFFFF_FFFF, FlatData | (3u << 5));
        c.Gpr[Reg.ESP] = c.Gpr[Reg.ECX];
        c.Eip = c.Gpr[Reg.EDX];
        c.UpdateModes();
    }

    internal static void Register()
    {
        InstructionTable.AddSensitive(Code.Rdmsr, &Rdmsr);
        InstructionTable.AddSensitive(Code.Wrmsr, &Wrmsr);
        InstructionTable.AddSensitive(Code.Sysenter, &Sysenter);
        InstructionTable.AddSensitive(Code.Sysexitd, &Sysexit);
    }
}
