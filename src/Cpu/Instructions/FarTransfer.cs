using Emu.Memory;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// Far control transfers: JMP and CALL to a code segment, through a call gate (CALL to an
/// inner level switches to the TSS stack and copies parameters), through a task gate or to
/// a TSS (a task switch); far RET to the same or an outer level; IRET in real mode,
/// virtual-8086 mode, to the same or an outer level, to virtual-8086 mode, and out of a
/// nested task. Each follows its Intel SDM Vol. 2 pseudo-code; nothing is committed until
/// every check has passed.
/// </summary>
public static unsafe class FarTransfer
{
    private static GuestFault Fault(int vector, uint error) => GuestFault.Create(vector, error);

    /// <summary>Reads a far pointer m16:16 or m16:32 (offset first, then the selector).</summary>
    public static void ReadFarPointer(Cpu c, ref Instruction i, int size, out ushort selector, out uint offset)
    {
        int segment = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        offset = c.ReadMem(segment, ea, size);
        uint selAddr = ea + (uint)OperandSize.Bytes(size);
        if (Cpu.AddressSize16(ref i)) selAddr &= 0xFFFF;
        selector = c.Read16(segment, selAddr);
    }

    /// <summary>
    /// Far JMP or CALL to selector:offset with operand size 1 (16-bit) or 2 (32-bit);
    /// <paramref name="returnEip"/> is the instruction after it (pushed by a CALL, saved in the
    /// old TSS by a task switch).
    /// </summary>
    public static void JumpOrCall(Cpu c, ushort selector, uint offset, int size, bool call, uint returnEip)
    {
        if (size == 1) offset &= 0xFFFF;
        if (!c.ProtectedMode || c.V86Mode)
        {
            if (offset > c.Seg[SegReg.CS].ValidHigh) throw Fault(ExceptionVectors.GP, 0);
            if (call) PushReturn(c, size, c.Seg[SegReg.CS].Selector, returnEip);
            if (c.V86Mode) c.Seg[SegReg.CS].Load(selector, (uint)selector << 4, 0xFFFF, Segments.V86CodeRights);
            else c.Seg[SegReg.CS].LoadReal(selector);
            c.Eip = offset;
            c.UpdateModes();
            return;
        }
        if ((selector & 0xFFFC) == 0) throw Fault(ExceptionVectors.GP, 0);
        Descriptor d = c.ReadDescriptor(selector);
        uint err = selector & 0xFFFCu;
        int rpl = selector & 3;
        int cpl = c.Cpl;
        if (d.IsCode)
        {
            if (d.IsConforming ? d.Dpl > cpl : rpl > cpl || d.Dpl != cpl) throw Fault(ExceptionVectors.GP, err);
            if (!d.Present) throw Fault(ExceptionVectors.NP, err);
            if (offset > d.Limit) throw Fault(ExceptionVectors.GP, 0);
            if (call) PushReturn(c, size, c.Seg[SegReg.CS].Selector, returnEip);
            c.SetAccessed(selector, d);
            LoadCs(c, (ushort)((selector & 0xFFFC) | cpl), d, offset);
            return;
        }
        if (d.IsCallGate)
        {
            if (d.Dpl < cpl || rpl > d.Dpl) throw Fault(ExceptionVectors.GP, err);
            if (!d.Present) throw Fault(ExceptionVectors.NP, err);
            ThroughCallGate(c, d, call, returnEip);
            return;
        }
        if (d.IsTaskGate || d.IsTss)
        {
            if (d.Dpl < cpl || rpl > d.Dpl) throw Fault(ExceptionVectors.GP, err);
            if (d.IsTss && d.IsBusyTss) throw Fault(ExceptionVectors.GP, err);
            if (!d.Present) throw Fault(ExceptionVectors.NP, err);
            ushort tss = d.IsTaskGate ? d.GateSelector : selector;
            TaskSwitch.Switch(c, tss, call ? TaskSwitchReason.Call : TaskSwitchReason.Jump, returnEip, 0);
            return;
        }
        throw Fault(ExceptionVectors.GP, err);
    }

    /// <summary>Pushes CS and the return EIP for a same-level far CALL; ESP changes only once both fit.</summary>
    private static void PushReturn(Cpu c, int size, ushort cs, uint eip)
    {
        int bytes = OperandSize.Bytes(size);
        uint sp1 = c.StackOffset(-bytes), sp2 = c.StackOffset(-2 * bytes);
        c.LinearWrite(SegReg.SS, sp2, bytes);
        c.Mmu.ProbeWrite(c.Seg[SegReg.SS].Base + sp2, bytes);
        c.WriteMem(SegReg.SS, sp1, size, cs);
        c.WriteMem(SegReg.SS, sp2, size, eip);
        c.StackPointer = sp2;
    }

    private static void LoadCs(Cpu c, ushort selector, Descriptor d, uint offset)
    {
        c.Seg[SegReg.CS] = Cpu.CacheOf(selector, d);
        c.Eip = offset;
        c.UpdateModes();
    }

    /// <summary>JMP or CALL through a call gate (Intel SDM Vol. 3, 5.8.4-5.8.5).</summary>
    private static void ThroughCallGate(Cpu c, Descriptor gate, bool call, uint returnEip)
    {
        ushort cs = gate.GateSelector;
        uint offset = gate.GateOffset;
        if ((cs & 0xFFFC) == 0) throw Fault(ExceptionVectors.GP, 0);
        Descriptor cd = c.ReadDescriptor(cs);
        uint err = cs & 0xFFFCu;
        int cpl = c.Cpl;
        if (!cd.IsCode || cd.Dpl > cpl) throw Fault(ExceptionVectors.GP, err);
        if (!call && !cd.IsConforming && cd.Dpl != cpl) throw Fault(ExceptionVectors.GP, err);
        if (!cd.Present) throw Fault(ExceptionVectors.NP, err);
        int size = gate.Gate32 ? 2 : 1;
        int bytes = OperandSize.Bytes(size);

        if (call && !cd.IsConforming && cd.Dpl < cpl)
        {
            // To an inner level: a new stack from the TSS, the caller's SS:ESP and parameters copied onto it.
            int newCpl = cd.Dpl;
            TaskSwitch.ReadStackFromTss(c, newCpl, 0, out ushort newSs, out uint newEsp);
            SegmentCache ss = Segments.CheckStackSegment(c, newSs, newCpl, ExceptionVectors.TS, 0);
            ushort oldSs = c.Seg[SegReg.SS].Selector;
            uint oldEsp = c.Gpr[Reg.ESP];
            var frame = new StackFrame(c, ss, newEsp, bytes, newSs & 0xFFFCu, newCpl);
            frame.Push(oldSs);
            frame.Push(oldEsp);
            int n = gate.GateParameterCount;
            for (int p = n - 1; p >= 0; p--) frame.Push(c.ReadMem(SegReg.SS, c.StackOffset(p * bytes), size));
            frame.Push(c.Seg[SegReg.CS].Selector);
            frame.Push(returnEip);
            if (offset > cd.Limit) throw Fault(ExceptionVectors.GP, 0);
            frame.Write();
            c.SetAccessed(cs, cd);
            c.Seg[SegReg.SS] = ss;
            c.Gpr[Reg.ESP] = frame.NewEsp(newEsp);
            LoadCs(c, (ushort)((cs & 0xFFFC) | newCpl), cd, offset);
            return;
        }

        if (offset > cd.Limit) throw Fault(ExceptionVectors.GP, 0);
        if (call) PushReturn(c, size, c.Seg[SegReg.CS].Selector, returnEip);
        c.SetAccessed(cs, cd);
        LoadCs(c, (ushort)((cs & 0xFFFC) | cpl), cd, offset);
    }

    /// <summary>Far RET [imm16] (Intel SDM Vol. 2, RET).</summary>
    public static void Return(Cpu c, uint release, int size)
    {
        int bytes = OperandSize.Bytes(size);
        uint offset = c.ReadMem(SegReg.SS, c.StackPointer, size);
        ushort selector = (ushort)c.ReadMem(SegReg.SS, c.StackOffset(bytes), size);
        if (!c.ProtectedMode || c.V86Mode)
        {
            if (offset > c.Seg[SegReg.CS].ValidHigh) throw Fault(ExceptionVectors.GP, 0);
            if (c.V86Mode) c.Seg[SegReg.CS].Load(selector, (uint)selector << 4, 0xFFFF, Segments.V86CodeRights);
            else c.Seg[SegReg.CS].LoadReal(selector);
            c.Eip = offset;
            c.StackPointer = c.StackOffset(2 * bytes + (int)release);
            c.UpdateModes();
            return;
        }
        Descriptor cd = CheckReturnCode(c, selector);
        int rpl = selector & 3;
        if (rpl == c.Cpl)
        {
            if (offset > cd.Limit) throw Fault(ExceptionVectors.GP, 0);
            c.SetAccessed(selector, cd);
            uint sp = c.StackOffset(2 * bytes + (int)release);
            LoadCs(c, selector, cd, offset);
            c.StackPointer = sp;
            return;
        }
        // To an outer level: SS:ESP of the caller follow the released parameters.
        uint at = (uint)(2 * bytes + (int)release);
        uint newEsp = c.ReadMem(SegReg.SS, c.StackOffset((int)at), size);
        ushort newSs = (ushort)c.ReadMem(SegReg.SS, c.StackOffset((int)at + bytes), size);
        SegmentCache ss = Segments.CheckStackSegment(c, newSs, rpl, ExceptionVectors.GP, 0);
        if (offset > cd.Limit) throw Fault(ExceptionVectors.GP, 0);
        c.SetAccessed(selector, cd);
        uint oldEsp = c.Gpr[Reg.ESP];
        c.Seg[SegReg.SS] = ss;
        c.Gpr[Reg.ESP] = ss.Big ? newEsp + release : (oldEsp & 0xFFFF_0000u) | ((newEsp + release) & 0xFFFF);
        LoadCs(c, selector, cd, offset);
        Segments.NullInaccessibleSegments(c);
    }

    /// <summary>The code-segment checks of a far RET or IRET to a protected-mode selector.</summary>
    private static Descriptor CheckReturnCode(Cpu c, ushort selector)
    {
        if ((selector & 0xFFFC) == 0) throw Fault(ExceptionVectors.GP, 0);
        Descriptor cd = c.ReadDescriptor(selector);
        uint err = selector & 0xFFFCu;
        int rpl = selector & 3;
        if (!cd.IsCode || rpl < c.Cpl) throw Fault(ExceptionVectors.GP, err);
        if (cd.IsConforming ? cd.Dpl > rpl : cd.Dpl != rpl) throw Fault(ExceptionVectors.GP, err);
        if (!cd.Present) throw Fault(ExceptionVectors.NP, err);
        return cd;
    }

    /// <summary>IRET/IRETD (Intel SDM Vol. 2, IRET); <paramref name="nextEip"/> is the instruction after it.</summary>
    public static void Iret(Cpu c, int size, uint nextEip)
    {
        int bytes = OperandSize.Bytes(size);
        c.NmiBlocked = false; // any IRET ends the NMI handler's blocking, even one that faults later
        if (!c.ProtectedMode)
        {
            IretRealOrV86(c, size, bytes, v86: false);
            return;
        }
        if (c.V86Mode)
        {
            // Without VME, IRET in virtual-8086 mode needs IOPL 3 (else #GP(0) to the monitor).
            if (SystemOps.Iopl(c) != 3) throw Fault(ExceptionVectors.GP, 0);
            IretRealOrV86(c, size, bytes, v86: true);
            return;
        }
        if ((c.Eflags & Flags.NT) != 0)
        {
            ushort link = c.SystemRead16(c.Tr.Base);
            // The task left resumes after its IRET when it is entered again.
            TaskSwitch.Switch(c, link, TaskSwitchReason.Iret, nextEip, 0);
            return;
        }
        uint offset = c.ReadMem(SegReg.SS, c.StackPointer, size);
        ushort selector = (ushort)c.ReadMem(SegReg.SS, c.StackOffset(bytes), size);
        uint flags = c.ReadMem(SegReg.SS, c.StackOffset(2 * bytes), size);
        int cpl = c.Cpl;
        if (size == 2 && (flags & Flags.VM) != 0 && cpl == 0)
        {
            ReturnToV86(c, offset, selector, flags);
            return;
        }
        Descriptor cd = CheckReturnCode(c, selector);
        int rpl = selector & 3;
        uint newFlags = IretFlags(c, flags, size, cpl);
        if (rpl == cpl)
        {
            if (offset > cd.Limit) throw Fault(ExceptionVectors.GP, 0);
            c.SetAccessed(selector, cd);
            uint sp = c.StackOffset(3 * bytes);
            LoadCs(c, selector, cd, offset);
            c.StackPointer = sp;
            c.SetEflags(newFlags);
            return;
        }
        uint newEsp = c.ReadMem(SegReg.SS, c.StackOffset(3 * bytes), size);
        ushort newSs = (ushort)c.ReadMem(SegReg.SS, c.StackOffset(4 * bytes), size);
        SegmentCache ss = Segments.CheckStackSegment(c, newSs, rpl, ExceptionVectors.GP, 0);
        if (offset > cd.Limit) throw Fault(ExceptionVectors.GP, 0);
        c.SetAccessed(selector, cd);
        uint oldEsp = c.Gpr[Reg.ESP];
        c.Seg[SegReg.SS] = ss;
        c.Gpr[Reg.ESP] = ss.Big ? newEsp : (oldEsp & 0xFFFF_0000u) | (newEsp & 0xFFFF);
        LoadCs(c, selector, cd, offset);
        c.SetEflags(newFlags);
        Segments.NullInaccessibleSegments(c);
    }

    /// <summary>The EFLAGS an IRET in protected mode loads, by the old CPL's rights.</summary>
    private static uint IretFlags(Cpu c, uint popped, int size, int cpl)
    {
        uint changeable = Flags.Arith | Flags.TF | Flags.DF | Flags.NT;
        if (size == 2) changeable |= Flags.RF | Flags.AC | Flags.ID;
        if (cpl <= SystemOps.Iopl(c)) changeable |= Flags.IF;
        if (cpl == 0)
        {
            changeable |= Flags.IOPL;
            if (size == 2) changeable |= Flags.VIF | Flags.VIP;
        }
        if (size == 1) changeable &= 0xFFFF;
        return (c.GetEflags() & ~changeable) | (popped & changeable);
    }

    /// <summary>IRET in real mode, and in virtual-8086 mode with IOPL 3: IOPL (and VM, VIF, VIP) stay.</summary>
    private static void IretRealOrV86(Cpu c, int size, int bytes, bool v86)
    {
        uint offset = c.ReadMem(SegReg.SS, c.StackPointer, size);
        ushort selector = (ushort)c.ReadMem(SegReg.SS, c.StackOffset(bytes), size);
        uint flags = c.ReadMem(SegReg.SS, c.StackOffset(2 * bytes), size);
        if (offset > c.Seg[SegReg.CS].ValidHigh) throw Fault(ExceptionVectors.GP, 0);
        uint changeable = Flags.Arith | Flags.TF | Flags.DF | Flags.NT | Flags.IF | Flags.IOPL;
        if (size == 2) changeable |= Flags.RF | Flags.AC | Flags.ID;
        if (v86) changeable &= ~Flags.IOPL;
        if (size == 1) changeable &= 0xFFFF;
        uint sp = c.StackOffset(3 * bytes);
        if (v86) c.Seg[SegReg.CS].Load(selector, (uint)selector << 4, 0xFFFF, Segments.V86CodeRights);
        else c.Seg[SegReg.CS].LoadReal(selector);
        c.Eip = offset;
        c.StackPointer = sp;
        c.SetEflags((c.GetEflags() & ~changeable) | (flags & changeable));
        c.UpdateModes();
    }

    /// <summary>IRETD at CPL 0 with VM=1 in the image: enter virtual-8086 mode (Intel SDM Vol. 3, 20.2.5).</summary>
    private static void ReturnToV86(Cpu c, uint offset, ushort cs, uint flags)
    {
        uint esp = c.Read32(SegReg.SS, c.StackOffset(12));
        ushort ss = (ushort)c.Read32(SegReg.SS, c.StackOffset(16));
        ushort es = (ushort)c.Read32(SegReg.SS, c.StackOffset(20));
        ushort ds = (ushort)c.Read32(SegReg.SS, c.StackOffset(24));
        ushort fs = (ushort)c.Read32(SegReg.SS, c.StackOffset(28));
        ushort gs = (ushort)c.Read32(SegReg.SS, c.StackOffset(32));
        c.SetEflags((flags & Flags.Implemented) | Flags.VM);
        c.Seg[SegReg.CS].Load(cs, (uint)cs << 4, 0xFFFF, Segments.V86CodeRights);
        c.Seg[SegReg.SS].Load(ss, (uint)ss << 4, 0xFFFF, Segments.V86DataRights);
        c.Seg[SegReg.ES].Load(es, (uint)es << 4, 0xFFFF, Segments.V86DataRights);
        c.Seg[SegReg.DS].Load(ds, (uint)ds << 4, 0xFFFF, Segments.V86DataRights);
        c.Seg[SegReg.FS].Load(fs, (uint)fs << 4, 0xFFFF, Segments.V86DataRights);
        c.Seg[SegReg.GS].Load(gs, (uint)gs << 4, 0xFFFF, Segments.V86DataRights);
        c.Gpr[Reg.ESP] = esp;
        c.Eip = offset & 0xFFFF;
        c.UpdateModes();
    }

    // ---- handlers ----

    // A JMP to a task saves the EIP after it in the old TSS (Intel SDM Vol. 3, 7.3), like a CALL.
    private static void JmpPtr16(Cpu c, ref Instruction i) =>
        JumpOrCall(c, i.FarBranchSelector, i.FarBranch16, 1, false, ControlTransfer.NextEip(c, ref i));

    private static void JmpPtr32(Cpu c, ref Instruction i) =>
        JumpOrCall(c, i.FarBranchSelector, i.FarBranch32, 2, false, ControlTransfer.NextEip(c, ref i));

    private static void CallPtr16(Cpu c, ref Instruction i) =>
        JumpOrCall(c, i.FarBranchSelector, i.FarBranch16, 1, true, ControlTransfer.NextEip(c, ref i));

    private static void CallPtr32(Cpu c, ref Instruction i) =>
        JumpOrCall(c, i.FarBranchSelector, i.FarBranch32, 2, true, ControlTransfer.NextEip(c, ref i));

    private static void JmpMem<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        ReadFarPointer(c, ref i, TSize.Size, out ushort sel, out uint offset);
        JumpOrCall(c, sel, offset, TSize.Size, false, ControlTransfer.NextEip(c, ref i));
    }

    private static void CallMem<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        ReadFarPointer(c, ref i, TSize.Size, out ushort sel, out uint offset);
        JumpOrCall(c, sel, offset, TSize.Size, true, ControlTransfer.NextEip(c, ref i));
    }

    private static void RetfW(Cpu c, ref Instruction i) => Return(c, 0, 1);
    private static void RetfD(Cpu c, ref Instruction i) => Return(c, 0, 2);
    private static void RetfWImm(Cpu c, ref Instruction i) => Return(c, i.Immediate16, 1);
    private static void RetfDImm(Cpu c, ref Instruction i) => Return(c, i.Immediate16, 2);
    private static void IretW(Cpu c, ref Instruction i) => Iret(c, 1, ControlTransfer.NextEip(c, ref i));
    private static void IretD(Cpu c, ref Instruction i) => Iret(c, 2, ControlTransfer.NextEip(c, ref i));

    internal static void Register()
    {
        InstructionTable.AddSensitive(Code.Jmp_ptr1616, &JmpPtr16);
        InstructionTable.AddSensitive(Code.Jmp_ptr1632, &JmpPtr32);
        InstructionTable.AddSensitive(Code.Jmp_m1616, &JmpMem<Word16>);
        InstructionTable.AddSensitive(Code.Jmp_m1632, &JmpMem<Dword32>);
        InstructionTable.AddSensitive(Code.Call_ptr1616, &CallPtr16);
        InstructionTable.AddSensitive(Code.Call_ptr1632, &CallPtr32);
        InstructionTable.AddSensitive(Code.Call_m1616, &CallMem<Word16>);
        InstructionTable.AddSensitive(Code.Call_m1632, &CallMem<Dword32>);
        InstructionTable.AddSensitive(Code.Retfw, &RetfW);
        InstructionTable.AddSensitive(Code.Retfd, &RetfD);
        InstructionTable.AddSensitive(Code.Retfw_imm16, &RetfWImm);
        InstructionTable.AddSensitive(Code.Retfd_imm16, &RetfDImm);
        InstructionTable.AddSensitive(Code.Iretw, &IretW);
        InstructionTable.AddSensitive(Code.Iretd, &IretD);
    }
}
