using System;
using System.Collections.Generic;
using System.Text;

namespace Emu.X86;

/// <summary>One difference between two CPUs' architectural state: what differs, and its two values.</summary>
/// <param name="Name">The register or field: "EAX", "EFLAGS", "CS.base", "FPU.ControlWord", ...</param>
/// <param name="Expected">Its value on the reference CPU.</param>
/// <param name="Actual">Its value on the CPU being checked.</param>
public readonly record struct StateDifference(string Name, string Expected, string Actual);

// Copying and comparing the architectural state, field by field: lockstep starts a shadow
// CPU as a copy of the primary and compares the two after every step. A field added to Cpu
// joins one of the two lists below (ArchitecturalStateTests fails until it does).
public sealed partial class Cpu
{
    /// <summary>The fields <see cref="CopyStateFrom"/> copies and <see cref="FirstDifference"/> compares.</summary>
    public static readonly IReadOnlyList<string> ArchitecturalFields = new[]
    {
        nameof(Eip), nameof(Gpr), nameof(Eflags), nameof(FlagsOp), nameof(FlagsSrc1), nameof(FlagsSrc2), nameof(FlagsRes),
        nameof(Seg), nameof(Gdtr), nameof(Idtr), nameof(Ldtr), nameof(Tr),
        nameof(Cr0), nameof(Cr2), nameof(Cr3), nameof(Cr4), nameof(Dr),
        nameof(Cpl), nameof(Code32), nameof(Stack32), nameof(Halted), nameof(InterruptShadow),
        nameof(InstructionCount), nameof(TscOffset), nameof(SysenterCs), nameof(SysenterEsp), nameof(SysenterEip), nameof(Efer),
        nameof(Fpu), nameof(Mtrr), nameof(NmiBlocked), nameof(StackShadow), nameof(deferredDataHits), nameof(DebugTrapPending), nameof(PendingTaskFault),
        nameof(InstructionBreakpointsArmed), nameof(DataBreakpointsArmed),
    };

    /// <summary>Fields that are not guest-visible state: wiring, run control and the host's view of a stop.</summary>
    public static readonly IReadOnlyList<string> RunControlFields = new[]
    {
        nameof(Mmu), nameof(Physical), nameof(Io), nameof(Blocks), nameof(Engine), nameof(DeliverException), nameof(TscSource),
        nameof(CurrentBlock), nameof(BlockExit), nameof(StopAtLinear), nameof(StopRequested), nameof(StopReason),
        nameof(LastFault), nameof(LastLimitation), nameof(ShutdownCause), nameof(StopAtLinear2), nameof(StopOnException),
        nameof(Line), nameof(RepLimit), nameof(FpuErrorPins), nameof(CurrentBlocksHandle), nameof(RegionBlock), nameof(ExitAt),
        nameof(exactBudget), nameof(stopAfterFault), nameof(FaultsTaken), nameof(InstructionCountAtFault),
        nameof(Events), nameof(Cr3Loads), nameof(Cr3EntriesFlushed),
    };

    /// <summary>
    /// Makes this CPU's architectural state (and the A20 gate, paging controls and alignment checking of its MMU) a copy of
    /// <paramref name="other"/>'s, lazy flags included, and drops its block lookup shortcuts.
    /// Memory is not copied.
    /// </summary>
    public void CopyStateFrom(Cpu other)
    {
        Eip = other.Eip;
        Gpr = other.Gpr;
        Eflags = other.Eflags;
        FlagsOp = other.FlagsOp;
        FlagsSrc1 = other.FlagsSrc1;
        FlagsSrc2 = other.FlagsSrc2;
        FlagsRes = other.FlagsRes;
        Seg = other.Seg;
        Gdtr = other.Gdtr;
        Idtr = other.Idtr;
        Ldtr = other.Ldtr;
        Tr = other.Tr;
        Cr0 = other.Cr0;
        Cr2 = other.Cr2;
        Cr3 = other.Cr3;
        Cr4 = other.Cr4;
        Dr = other.Dr;
        Cpl = other.Cpl;
        Code32 = other.Code32;
        Stack32 = other.Stack32;
        Halted = other.Halted;
        InterruptShadow = other.InterruptShadow;
        InstructionCount = other.InstructionCount;
        TscOffset = other.TscOffset;
        SysenterCs = other.SysenterCs;
        SysenterEsp = other.SysenterEsp;
        SysenterEip = other.SysenterEip;
        Efer = other.Efer;
        Fpu.CopyFrom(other.Fpu);
        System.Array.Copy(other.Mtrr, Mtrr, Mtrr.Length);
        NmiBlocked = other.NmiBlocked;
        StackShadow = other.StackShadow;
        deferredDataHits = other.deferredDataHits;
        DebugTrapPending = other.DebugTrapPending;
        PendingTaskFault = other.PendingTaskFault;
        UpdateBreakpoints(); // derives the armed breakpoints from DR7 and tells the MMU
        LoadPagingControls(); // CR0.PG and WP, CR3, CR4.PSE, PGE and PAE, EFER.NXE: the MMU translates as the other's does
        Mmu.CopyPdptesFrom(other.Mmu); // loaded with CR3 under PAE paging, not read again from memory
        Mmu.A20Enabled = other.Mmu.A20Enabled;
        UpdateMmuPrivilege(); // user mode and alignment checking, from the copied CPL, CR0.AM and EFLAGS.AC
        Mmu.FlushAll();
        Blocks.FlushJumpCache();
    }

    /// <summary>
    /// The first difference between this CPU's architectural state (the expected one) and
    /// <paramref name="actual"/>'s, or null when they agree. EFLAGS is compared as the guest
    /// would read it (lazily held flags evaluated), so two engines may hold flags differently.
    /// Cheap enough to call after every block: no allocation unless something differs.
    /// </summary>
    public StateDifference? FirstDifference(Cpu actual)
    {
        Cpu e = this, a = actual;
        if (e.Eip != a.Eip) return Hex("EIP", e.Eip, a.Eip);
        for (int r = 0; r < 8; r++)
            if (e.Gpr[r] != a.Gpr[r]) return Hex(Reg.Names32[r], e.Gpr[r], a.Gpr[r]);
        uint ef = e.GetEflags(), af = a.GetEflags();
        if (ef != af) return new StateDifference("EFLAGS", DescribeEflags(ef), DescribeEflags(af));
        for (int s = 0; s < 6; s++)
            if (SegmentDifference(SegReg.Names[s], ref e.Seg[s], ref a.Seg[s]) is { } d) return d;
        if (e.Gdtr.Base != a.Gdtr.Base) return Hex("GDTR.base", e.Gdtr.Base, a.Gdtr.Base);
        if (e.Gdtr.Limit != a.Gdtr.Limit) return Hex("GDTR.limit", e.Gdtr.Limit, a.Gdtr.Limit);
        if (e.Idtr.Base != a.Idtr.Base) return Hex("IDTR.base", e.Idtr.Base, a.Idtr.Base);
        if (e.Idtr.Limit != a.Idtr.Limit) return Hex("IDTR.limit", e.Idtr.Limit, a.Idtr.Limit);
        if (SegmentDifference("LDTR", ref e.Ldtr, ref a.Ldtr) is { } ldt) return ldt;
        if (SegmentDifference("TR", ref e.Tr, ref a.Tr) is { } tr) return tr;
        if (e.Cr0 != a.Cr0) return Hex("CR0", e.Cr0, a.Cr0);
        if (e.Cr2 != a.Cr2) return Hex("CR2", e.Cr2, a.Cr2);
        if (e.Cr3 != a.Cr3) return Hex("CR3", e.Cr3, a.Cr3);
        if (e.Cr4 != a.Cr4) return Hex("CR4", e.Cr4, a.Cr4);
        for (int r = 0; r < 8; r++)
            if (e.Dr[r] != a.Dr[r]) return Hex($"DR{r}", e.Dr[r], a.Dr[r]);
        if (e.Cpl != a.Cpl) return Dec("CPL", e.Cpl, a.Cpl);
        if (e.Code32 != a.Code32) return Bool("code size is 32-bit", e.Code32, a.Code32);
        if (e.Stack32 != a.Stack32) return Bool("stack size is 32-bit", e.Stack32, a.Stack32);
        if (e.Halted != a.Halted) return Bool("halted", e.Halted, a.Halted);
        if (e.InterruptShadow != a.InterruptShadow) return Bool("interrupt shadow (after STI, MOV SS)", e.InterruptShadow, a.InterruptShadow);
        if (e.InstructionCount != a.InstructionCount) return Dec("retired instructions", e.InstructionCount, a.InstructionCount);
        if (e.TscOffset != a.TscOffset) return Dec("TSC offset", e.TscOffset, a.TscOffset);
        if (e.SysenterCs != a.SysenterCs) return Hex("IA32_SYSENTER_CS", e.SysenterCs, a.SysenterCs);
        if (e.Efer != a.Efer) return Hex("IA32_EFER", (uint)e.Efer, (uint)a.Efer);
        if (e.SysenterEsp != a.SysenterEsp) return Hex("IA32_SYSENTER_ESP", e.SysenterEsp, a.SysenterEsp);
        if (e.SysenterEip != a.SysenterEip) return Hex("IA32_SYSENTER_EIP", e.SysenterEip, a.SysenterEip);
        if (e.Fpu.FirstDifference(a.Fpu) is { } fpu) return fpu;
        for (int m = 0; m < e.Mtrr.Length; m++)
            if (e.Mtrr[m] != a.Mtrr[m]) return new StateDifference($"MTRR slot {m}", $"0x{e.Mtrr[m]:X16}", $"0x{a.Mtrr[m]:X16}");
        if (e.NmiBlocked != a.NmiBlocked) return Bool("NMI blocked", e.NmiBlocked, a.NmiBlocked);
        if (e.StackShadow != a.StackShadow) return Bool("MOV SS shadow", e.StackShadow, a.StackShadow);
        if (e.DebugTrapPending != a.DebugTrapPending) return Bool("debug trap pending (TSS T flag)", e.DebugTrapPending, a.DebugTrapPending);
        if (e.PendingTaskFault != a.PendingTaskFault)
            return new StateDifference("pending task-switch fault", $"{e.PendingTaskFault}", $"{a.PendingTaskFault}");
        if (e.Mmu.A20Enabled != a.Mmu.A20Enabled) return Bool("A20 enabled", e.Mmu.A20Enabled, a.Mmu.A20Enabled);
        return null;
    }

    private static StateDifference? SegmentDifference(string name, ref SegmentCache e, ref SegmentCache a)
    {
        if (e.Selector != a.Selector) return Hex(name, e.Selector, a.Selector);
        if (e.Base != a.Base) return Hex(name + ".base", e.Base, a.Base);
        if (e.Limit != a.Limit) return Hex(name + ".limit", e.Limit, a.Limit);
        if (e.Rights != a.Rights) return Hex(name + ".rights", e.Rights, a.Rights);
        if (e.ValidLow != a.ValidLow || e.ValidHigh != a.ValidHigh)
            return new StateDifference(name + ".valid offsets", $"{e.ValidLow:X8}-{e.ValidHigh:X8}", $"{a.ValidLow:X8}-{a.ValidHigh:X8}");
        if (e.Readable != a.Readable) return Bool(name + " readable", e.Readable, a.Readable);
        if (e.Writable != a.Writable) return Bool(name + " writable", e.Writable, a.Writable);
        return null;
    }

    internal static StateDifference Hex(string name, uint e, uint a) => new(name, $"0x{e:X8}", $"0x{a:X8}");

    internal static StateDifference Hex(string name, ushort e, ushort a) => new(name, $"0x{e:X4}", $"0x{a:X4}");

    internal static StateDifference Dec(string name, long e, long a) => new(name, e.ToString(), a.ToString());

    internal static StateDifference Bool(string name, bool e, bool a) => new(name, e ? "yes" : "no", a ? "yes" : "no");

    private static readonly (uint Bit, string Name)[] FlagNames =
    {
        (Flags.CF, "CF"), (Flags.PF, "PF"), (Flags.AF, "AF"), (Flags.ZF, "ZF"), (Flags.SF, "SF"), (Flags.TF, "TF"),
        (Flags.IF, "IF"), (Flags.DF, "DF"), (Flags.OF, "OF"), (Flags.NT, "NT"), (Flags.RF, "RF"), (Flags.VM, "VM"),
        (Flags.AC, "AC"), (Flags.VIF, "VIF"), (Flags.VIP, "VIP"), (Flags.ID, "ID"),
    };

    /// <summary>EFLAGS in hex with the names of the flags set: "0x00000246 (PF ZF IF)".</summary>
    public static string DescribeEflags(uint value)
    {
        var s = new StringBuilder($"0x{value:X8} (");
        bool first = true;
        foreach ((uint bit, string name) in FlagNames)
        {
            if ((value & bit) == 0) continue;
            if (!first) s.Append(' ');
            s.Append(name);
            first = false;
        }
        uint iopl = (value & Flags.IOPL) >> Flags.IoplShift;
        if (iopl != 0) s.Append(first ? "" : " ").Append("IOPL=").Append(iopl);
        else if (first) return $"0x{value:X8}";
        return s.Append(')').ToString();
    }
}
