using Emu.Memory;

namespace Emu.X86;

/// <summary>What started a task switch; it decides the busy bits, NT and the back link.</summary>
public enum TaskSwitchReason
{
    Jump,
    Call,
    /// <summary>An interrupt or exception through a task gate (nests like CALL).</summary>
    InterruptGate,
    /// <summary>IRET with NT=1: back to the task in the back link.</summary>
    Iret,
}

/// <summary>
/// Hardware task switching with 16- and 32-bit TSSs (Intel SDM Vol. 3, 7.3 "Task Switching").
/// The outgoing state is saved to the current TSS, busy bits and the back link are updated,
/// TR and CR0.TS are loaded, then the incoming state: CR3, EIP, EFLAGS, the general
/// registers, LDTR and the segment registers. Faults detected while loading the new task's
/// segments are raised in the context of the new task, as on the processor.
/// </summary>
public static class TaskSwitch
{
    private static GuestFault Fault(int vector, uint error) => GuestFault.Create(vector, error);

    private static bool Is32(uint type) => type is 9 or 11;

    /// <summary>Reads SS:ESP for privilege level <paramref name="dpl"/> from the current TSS.</summary>
    public static void ReadStackFromTss(Cpu c, int dpl, uint ext, out ushort ss, out uint esp)
    {
        ref SegmentCache tr = ref c.Tr;
        uint err = (tr.Selector & 0xFFFCu) | ext;
        if (Is32(tr.Rights & 0xF))
        {
            uint off = 4 + (uint)dpl * 8;
            if (off + 5 > tr.Limit) throw Fault(ExceptionVectors.TS, err);
            esp = c.SystemRead32(tr.Base + off);
            ss = c.SystemRead16(tr.Base + off + 4);
        }
        else
        {
            uint off = 2 + (uint)dpl * 4;
            if (off + 3 > tr.Limit) throw Fault(ExceptionVectors.TS, err);
            esp = c.SystemRead16(tr.Base + off);
            ss = c.SystemRead16(tr.Base + off + 2);
        }
    }

    /// <summary>Switches to the task whose TSS <paramref name="selector"/> names.</summary>
    /// <param name="c">The CPU.</param>
    /// <param name="selector">The new task's TSS selector.</param>
    /// <param name="reason">What started the switch.</param>
    /// <param name="returnEip">The EIP saved for the outgoing task: the instruction after the JMP, CALL or IRET, or where an interrupt returns to.</param>
    /// <param name="ext">1 when the switch delivers an external event (the EXT bit of error codes).</param>
    public static void Switch(Cpu c, ushort selector, TaskSwitchReason reason, uint returnEip, uint ext)
    {
        bool iret = reason == TaskSwitchReason.Iret;
        int checkVector = iret ? ExceptionVectors.TS : ExceptionVectors.GP;
        uint err = (selector & 0xFFFCu) | ext;
        if ((selector & 4) != 0) throw Fault(checkVector, err);
        Descriptor nd = c.ReadDescriptor(selector, checkVector, ext);
        if (!nd.IsTss) throw Fault(checkVector, err);
        if (iret ? !nd.IsBusyTss : nd.IsBusyTss) throw Fault(iret ? ExceptionVectors.TS : ExceptionVectors.GP, err);
        if (!nd.Present) throw Fault(ExceptionVectors.NP, err);
        bool new32 = Is32(nd.Type);
        if (nd.Limit < (new32 ? 0x67u : 0x2Bu)) throw Fault(ExceptionVectors.TS, err);

        // Save the outgoing task.
        ref SegmentCache tr = ref c.Tr;
        bool old32 = Is32(tr.Rights & 0xF);
        uint oldBase = tr.Base;
        ushort oldSelector = tr.Selector;
        uint eflags = c.GetEflags();
        if (iret) eflags &= ~Flags.NT;
        uint saveEip = returnEip;
        if (old32)
        {
            c.SystemWrite(oldBase + 32, 4, saveEip);
            c.SystemWrite(oldBase + 36, 4, eflags);
            for (int r = 0; r < 8; r++) c.SystemWrite(oldBase + 40 + (uint)r * 4, 4, c.Gpr[r]);
            for (int s = 0; s < 6; s++) c.SystemWrite(oldBase + 72 + (uint)s * 4, 2, c.Seg[s].Selector);
        }
        else
        {
            c.SystemWrite(oldBase + 14, 2, saveEip);
            c.SystemWrite(oldBase + 16, 2, eflags);
            for (int r = 0; r < 8; r++) c.SystemWrite(oldBase + 18 + (uint)r * 2, 2, c.Gpr[r]);
            for (int s = 0; s < 4; s++) c.SystemWrite(oldBase + 34 + (uint)s * 2, 2, c.Seg[s].Selector);
        }

        // Busy bits: a JMP or IRET leaves the old task; CALL and interrupts nest it.
        if (reason is TaskSwitchReason.Jump or TaskSwitchReason.Iret && (oldSelector & 0xFFFC) != 0)
        {
            uint at = c.Gdtr.Base + ((uint)oldSelector & ~7u) + 5;
            c.SystemWrite(at, 1, c.Mmu.ReadAs(at, 1, user: false) & ~2u);
        }
        uint newBase = nd.Base;
        if (reason is TaskSwitchReason.Call or TaskSwitchReason.InterruptGate)
            c.SystemWrite(newBase, 2, oldSelector);
        if (!iret)
        {
            uint at = c.Gdtr.Base + ((uint)selector & ~7u) + 5;
            c.SystemWrite(at, 1, (uint)(nd.Raw >> 40) | 2);
        }

        // Read the incoming state before touching any register.
        uint newCr3 = 0, newEip, newFlags;
        System.Span<uint> gpr = stackalloc uint[8];
        System.Span<ushort> sel = stackalloc ushort[6];
        ushort ldt;
        bool trap = false;
        if (new32)
        {
            newCr3 = c.SystemRead32(newBase + 28);
            newEip = c.SystemRead32(newBase + 32);
            newFlags = c.SystemRead32(newBase + 36);
            for (int r = 0; r < 8; r++) gpr[r] = c.SystemRead32(newBase + 40 + (uint)r * 4);
            for (int s = 0; s < 6; s++) sel[s] = c.SystemRead16(newBase + 72 + (uint)s * 4);
            ldt = c.SystemRead16(newBase + 96);
            trap = (c.SystemRead16(newBase + 100) & 1) != 0;
        }
        else
        {
            newEip = c.SystemRead16(newBase + 14);
            newFlags = c.SystemRead16(newBase + 16);
            for (int r = 0; r < 8; r++) gpr[r] = c.SystemRead16(newBase + 18 + (uint)r * 2);
            for (int s = 0; s < 4; s++) sel[s] = c.SystemRead16(newBase + 34 + (uint)s * 2);
            ldt = c.SystemRead16(newBase + 42);
        }

        // Commit: TR, CR0.TS, CR3, EIP, EFLAGS, general registers.
        c.Tr.Load(selector, newBase, nd.Limit, nd.Rights | 2);
        c.Cr0 |= Cr0Bits.TS;
        if (new32 && (c.Cr0 & Cr0Bits.PG) != 0) c.WriteCr3(newCr3);
        if (reason is TaskSwitchReason.Call or TaskSwitchReason.InterruptGate) newFlags |= Flags.NT;
        c.SetEflagsRaw(newFlags);
        for (int r = 0; r < 8; r++) c.Gpr[r] = new32 ? gpr[r] : (c.Gpr[r] & 0xFFFF_0000u) | gpr[r];
        c.Eip = newEip;

        // Segment registers: selectors first (unusable until checked), then the checks, faulting in
        // the new task. The switch is committed: the instruction that switched has completed, and
        // a fault here belongs to the new task, before its first instruction (Intel SDM Vol. 3,
        // 7.3). For a JMP, CALL or IRET it is raised there by the run loop (PendingTaskFault),
        // not thrown here, where EIP is already the new task's and the count of the instructions
        // retired in the running block would be worked out from it.
        try
        {
            c.Ldtr.LoadNull(ldt);
            for (int s = 0; s < 6; s++) c.Seg[s].LoadNull(sel[s]);
            bool v86 = (newFlags & Flags.VM) != 0;
            if (v86)
            {
                for (int s = 0; s < 6; s++)
                    c.Seg[s].Load(sel[s], (uint)sel[s] << 4, 0xFFFF, s == SegReg.CS ? Segments.V86CodeRights : Segments.V86DataRights);
                c.UpdateModes();
            }
            LoadLdt(c, ldt, ext);
            if (!v86)
            {
                ushort cs = sel[SegReg.CS];
                int cpl = cs & 3;
                if ((cs & 0xFFFC) == 0) throw Fault(ExceptionVectors.TS, ext);
                Descriptor cd = c.ReadDescriptor(cs, ExceptionVectors.TS, ext);
                uint cerr = (cs & 0xFFFCu) | ext;
                if (!cd.IsCode || (cd.IsConforming ? cd.Dpl > cpl : cd.Dpl != cpl)) throw Fault(ExceptionVectors.TS, cerr);
                if (!cd.Present) throw Fault(ExceptionVectors.NP, cerr);
                c.SetAccessed(cs, cd);
                c.Seg[SegReg.SS] = Segments.CheckStackSegment(c, sel[SegReg.SS], cpl, ExceptionVectors.TS, ext);
                c.Seg[SegReg.CS] = Cpu.CacheOf(cs, cd);
                c.UpdateModes();
                for (int s = 0; s < 6; s++)
                {
                    if (s is SegReg.CS or SegReg.SS) continue;
                    c.Seg[s] = Segments.CheckDataSegment(c, sel[s], cpl, ExceptionVectors.TS, ext);
                }
            }
            if (c.Eip > c.Seg[SegReg.CS].ValidHigh) throw Fault(ExceptionVectors.GP, 0);
        }
        catch (GuestFault f) when (reason != TaskSwitchReason.InterruptGate)
        {
            c.PendingTaskFault = f.Save();
            c.Poke(); // compiled code goes back to the run loop at its next block boundary
            return;
        }
        if (trap)
        {
            // T flag in the new TSS: a debug trap once the switch is complete (Intel SDM Vol. 3,
            // 17.3.1.5), before the new task's first instruction. Raised there by the run loop
            // (DebugTrapPending), not thrown here: the instruction that switched has completed and
            // retires, and EIP is already the new task's, so a fault here would count it wrongly
            // and, for a task gate, skip the error code the switch pushes after this.
            c.Dr[6] |= 1u << 15;
            c.DebugTrapPending = true;
            c.Poke(); // compiled code goes back to the run loop at its next block boundary
        }
    }

    private static void LoadLdt(Cpu c, ushort ldt, uint ext)
    {
        if ((ldt & 0xFFFC) == 0) return;
        uint err = (ldt & 0xFFFCu) | ext;
        if ((ldt & 4) != 0) throw Fault(ExceptionVectors.TS, err);
        Descriptor d = c.ReadDescriptor(ldt, ExceptionVectors.TS, ext);
        if (!d.IsSystem || d.Type != 2) throw Fault(ExceptionVectors.TS, err);
        if (!d.Present) throw Fault(ExceptionVectors.TS, err);
        c.Ldtr.Load(ldt, d.Base, d.Limit, d.Rights);
    }
}
