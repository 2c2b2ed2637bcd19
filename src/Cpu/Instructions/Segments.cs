using Emu.Memory;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// Segment-register loads and far control transfers: MOV Sreg, POP Sreg, PUSH Sreg,
/// LDS/LES/LFS/LGS/LSS, far JMP/CALL/RET and IRET. Real and virtual-8086 mode load
/// base = selector * 16; protected mode reads and checks the descriptor (Intel SDM Vol. 3,
/// 5.4-5.8 and the instruction pages of Vol. 2).
/// </summary>
public static unsafe class Segments
{
    private static GuestFault Fault(int vector, uint error) => GuestFault.Create(vector, error);

    /// <summary>Reads the 8-byte descriptor a selector names, or raises #GP(selector) when it lies beyond the table limit.</summary>
    public static ulong ReadDescriptor(Cpu c, ushort selector, int vector = ExceptionVectors.GP)
    {
        uint index = (uint)selector & ~7u;
        uint tableBase, limit;
        if ((selector & 4) != 0)
        {
            if (c.Ldtr.Rights == 0 || (c.Ldtr.Rights & SegmentCache.RightsP) == 0) throw Fault(vector, selector & 0xFFFCu);
            tableBase = c.Ldtr.Base;
            limit = c.Ldtr.Limit;
        }
        else
        {
            tableBase = c.Gdtr.Base;
            limit = c.Gdtr.Limit;
        }
        if (index + 7 > limit) throw Fault(vector, selector & 0xFFFCu);
        return c.Mmu.Read32(tableBase + index) | ((ulong)c.Mmu.Read32(tableBase + index + 4) << 32);
    }

    /// <summary>Sets the accessed bit of a segment descriptor in memory, if clear.</summary>
    public static void SetAccessed(Cpu c, ushort selector, ulong descriptor)
    {
        if ((descriptor & (1UL << 40)) != 0) return;
        uint tableBase = (selector & 4) != 0 ? c.Ldtr.Base : c.Gdtr.Base;
        uint addr = tableBase + ((uint)selector & ~7u) + 5;
        c.Mmu.Write8(addr, (byte)((descriptor >> 40) | 1));
    }

    public static uint DescriptorBase(ulong d) => (uint)((d >> 16) & 0xFF_FFFF) | (uint)((d >> 32) & 0xFF00_0000);

    public static uint DescriptorLimit(ulong d)
    {
        uint limit = (uint)(d & 0xFFFF) | (uint)((d >> 32) & 0xF_0000);
        return (d & (1UL << 55)) != 0 ? (limit << 12) | 0xFFF : limit;
    }

    /// <summary>Access rights in the VMX layout (type, S, DPL, P in bits 0-7; AVL, L, D/B, G in bits 12-15).</summary>
    public static uint DescriptorRights(ulong d) => (uint)(d >> 40) & 0xF0FF;

    /// <summary>Loads a data or stack segment register (not CS) with its protected-mode checks.</summary>
    public static void LoadDataSegment(Cpu c, int seg, ushort selector)
    {
        if (!c.ProtectedMode || c.V86Mode)
        {
            c.Seg[seg].LoadReal(selector);
            if (c.V86Mode)
            {
                // Virtual-8086 segments: 64 KiB, DPL 3, read/write data (Intel SDM Vol. 3, 20.2.1).
                c.Seg[seg].Load(selector, (uint)selector << 4, 0xFFFF, SegmentCache.RightsP | SegmentCache.RightsS | (3u << 5) | 3);
            }
            if (seg == SegReg.SS) c.UpdateModes();
            return;
        }
        int rpl = selector & 3;
        if ((selector & 0xFFFC) == 0)
        {
            if (seg == SegReg.SS) throw Fault(ExceptionVectors.GP, 0);
            c.Seg[seg].LoadNull(selector);
            return;
        }
        ulong d = ReadDescriptor(c, selector);
        uint rights = DescriptorRights(d);
        int dpl = (int)(rights >> 5) & 3;
        bool s = (rights & SegmentCache.RightsS) != 0;
        uint type = rights & 0xF;
        bool code = (type & 8) != 0;
        uint err = selector & 0xFFFCu;
        if (seg == SegReg.SS)
        {
            // SS: a writable data segment with RPL = DPL = CPL.
            if (!s || code || (type & 2) == 0 || rpl != c.Cpl || dpl != c.Cpl) throw Fault(ExceptionVectors.GP, err);
            if ((rights & SegmentCache.RightsP) == 0) throw Fault(ExceptionVectors.SS, err);
        }
        else
        {
            // DS/ES/FS/GS: data or readable code; unless conforming code, DPL >= max(CPL, RPL).
            if (!s || (code && (type & 2) == 0)) throw Fault(ExceptionVectors.GP, err);
            bool conforming = code && (type & 4) != 0;
            if (!conforming && (rpl > dpl || c.Cpl > dpl)) throw Fault(ExceptionVectors.GP, err);
            if ((rights & SegmentCache.RightsP) == 0) throw Fault(ExceptionVectors.NP, err);
        }
        SetAccessed(c, selector, d);
        c.Seg[seg].Load(selector, DescriptorBase(d), DescriptorLimit(d), rights | 1);
        if (seg == SegReg.SS) c.UpdateModes();
    }

    /// <summary>
    /// Loads CS for a far JMP/CALL/RET at the same privilege level, to a code segment
    /// (Intel SDM Vol. 2, JMP "far jump to a conforming/nonconforming code segment").
    /// Gates, task switches and privilege changes are the system layer's.
    /// </summary>
    public static void LoadCodeSegment(Cpu c, ushort selector, uint offset, bool isReturn)
    {
        if (!c.ProtectedMode || c.V86Mode)
        {
            if (offset > c.Seg[SegReg.CS].ValidHigh) throw Fault(ExceptionVectors.GP, 0);
            c.Seg[SegReg.CS].LoadReal(selector);
            if (c.V86Mode)
                c.Seg[SegReg.CS].Load(selector, (uint)selector << 4, 0xFFFF, SegmentCache.RightsP | SegmentCache.RightsS | (3u << 5) | 0xB);
            c.Eip = offset;
            c.UpdateModes();
            return;
        }
        if ((selector & 0xFFFC) == 0) throw Fault(ExceptionVectors.GP, 0);
        ulong d = ReadDescriptor(c, selector);
        uint rights = DescriptorRights(d);
        uint err = selector & 0xFFFCu;
        int dpl = (int)(rights >> 5) & 3;
        int rpl = selector & 3;
        if ((rights & SegmentCache.RightsS) == 0)
            throw new EmulatorLimitationException($"far transfer through a system descriptor (type {rights & 0xF}) at selector {selector:X4}h");
        if ((rights & 8) == 0) throw Fault(ExceptionVectors.GP, err);
        bool conforming = (rights & 4) != 0;
        if (isReturn)
        {
            if (rpl < c.Cpl) throw Fault(ExceptionVectors.GP, err);
            if (rpl > c.Cpl) throw new EmulatorLimitationException("far return to an outer privilege level");
            if (conforming ? dpl > rpl : dpl != rpl) throw Fault(ExceptionVectors.GP, err);
        }
        else if (conforming ? dpl > c.Cpl : (rpl > c.Cpl || dpl != c.Cpl))
        {
            throw Fault(ExceptionVectors.GP, err);
        }
        if ((rights & SegmentCache.RightsP) == 0) throw Fault(ExceptionVectors.NP, err);
        uint limit = DescriptorLimit(d);
        if (offset > limit) throw Fault(ExceptionVectors.GP, 0);
        SetAccessed(c, selector, d);
        ushort newSel = (ushort)((selector & 0xFFFC) | c.Cpl);
        c.Seg[SegReg.CS].Load(newSel, DescriptorBase(d), limit, rights | 1);
        c.Eip = offset;
        c.UpdateModes();
    }

    // ---- handlers ----

    private static void MovSreg(Cpu c, ref Instruction i)
    {
        int seg = Cpu.RegNum(i.Op0Register);
        if (seg == SegReg.CS) throw GuestFault.Create(ExceptionVectors.UD);
        ushort sel = (ushort)c.ReadOperand(ref i, 1, 1);
        LoadDataSegment(c, seg, sel);
        if (seg == SegReg.SS) c.InterruptShadow = true;
    }

    /// <summary>MOV r/m, Sreg: a 32-bit register destination gets the selector zero-extended (P6 behaviour).</summary>
    private static void MovFromSreg(Cpu c, ref Instruction i)
    {
        ushort sel = c.Seg[Cpu.RegNum(i.Op1Register)].Selector;
        if (i.Op0Kind == OpKind.Register)
        {
            int r = Cpu.RegNum(i.Op0Register);
            if (Shapes.SizeOfRegister(i.Op0Register) == 2) c.Gpr[r] = sel;
            else c.SetReg16(r, sel);
        }
        else
        {
            c.Write16(Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), sel);
        }
    }

    private static void PushSreg<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        ushort sel = c.Seg[Cpu.RegNum(i.Op0Register)].Selector;
        if (TSize.Size == 2)
        {
            // A 32-bit push of a segment register writes only the low word (P6 and later), but
            // the whole doubleword slot must lie within SS's limit (#SS otherwise).
            uint sp = c.StackOffset(-4);
            uint lin = c.LinearWrite(SegReg.SS, sp, 4);
            c.Mmu.Write16(lin, sel);
            c.StackPointer = sp;
        }
        else
        {
            c.Push16(sel);
        }
    }

    private static void PopSreg<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        int seg = Cpu.RegNum(i.Op0Register);
        int size = TSize.Size;
        ushort sel = c.Read16(SegReg.SS, c.StackPointer);
        // ESP moves by the stack size in force before the load: POP SS may change SS.B.
        uint newSp = c.StackOffset(OperandSize.Bytes(size));
        uint newEsp = c.Stack32 ? newSp : (c.Gpr[Reg.ESP] & 0xFFFF_0000u) | newSp;
        LoadDataSegment(c, seg, sel);
        c.Gpr[Reg.ESP] = newEsp;
        if (seg == SegReg.SS) c.InterruptShadow = true;
    }

    /// <summary>LDS/LES/LFS/LGS/LSS r, m16:16|m16:32: the offset goes to the register after the segment load succeeds.</summary>
    private static void LoadFarPointer<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        int size = TSize.Size;
        int segment = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        uint offset = c.ReadMem(segment, ea, size);
        uint selAddr = ea + (uint)OperandSize.Bytes(size);
        if (Cpu.AddressSize16(ref i)) selAddr &= 0xFFFF;
        ushort sel = c.Read16(segment, selAddr);
        int target = i.Mnemonic switch
        {
            Mnemonic.Lds => SegReg.DS,
            Mnemonic.Les => SegReg.ES,
            Mnemonic.Lfs => SegReg.FS,
            Mnemonic.Lgs => SegReg.GS,
            _ => SegReg.SS,
        };
        LoadDataSegment(c, target, sel);
        c.SetReg(Cpu.RegNum(i.Op0Register), size, offset);
    }

    private static void JmpFarPtr(Cpu c, ref Instruction i) => LoadCodeSegment(c, i.FarBranchSelector, i.FarBranch32, false);

    private static void JmpFarMem<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        ReadFarPointer<TSize>(c, ref i, out ushort sel, out uint offset);
        LoadCodeSegment(c, sel, offset, false);
    }

    private static void ReadFarPointer<TSize>(Cpu c, ref Instruction i, out ushort sel, out uint offset) where TSize : struct, IOperandSize
    {
        int segment = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        offset = c.ReadMem(segment, ea, TSize.Size);
        uint selAddr = ea + (uint)OperandSize.Bytes(TSize.Size);
        if (Cpu.AddressSize16(ref i)) selAddr &= 0xFFFF;
        sel = c.Read16(segment, selAddr);
    }

    /// <summary>Far CALL: pushes CS and the return EIP, then loads CS:EIP (restoring ESP if the load faults).</summary>
    public static void CallFar(Cpu c, ushort sel, uint offset, uint returnEip, int size)
    {
        uint oldEsp = c.Gpr[Reg.ESP];
        ushort oldCs = c.Seg[SegReg.CS].Selector;
        uint sp1 = c.StackOffset(-OperandSize.Bytes(size));
        uint sp2 = c.StackOffset(-2 * OperandSize.Bytes(size));
        c.WriteMem(SegReg.SS, sp1, size, oldCs);
        c.WriteMem(SegReg.SS, sp2, size, returnEip);
        c.StackPointer = sp2;
        try
        {
            LoadCodeSegment(c, sel, offset, false);
        }
        catch (GuestFault)
        {
            c.Gpr[Reg.ESP] = oldEsp;
            throw;
        }
    }

    private static void CallFarPtr<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        CallFar(c, i.FarBranchSelector, TSize.Size == 2 ? i.FarBranch32 : i.FarBranch16, ControlTransfer.NextEip(c, ref i), TSize.Size);

    private static void CallFarMem<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        ReadFarPointer<TSize>(c, ref i, out ushort sel, out uint offset);
        CallFar(c, sel, offset, ControlTransfer.NextEip(c, ref i), TSize.Size);
    }

    private static void JmpFarPtr16(Cpu c, ref Instruction i) => LoadCodeSegment(c, i.FarBranchSelector, i.FarBranch16, false);

    /// <summary>Far RET [imm16]: pops EIP and CS; ESP changes only once CS is loaded.</summary>
    public static void RetFar(Cpu c, uint release, int size)
    {
        int bytes = OperandSize.Bytes(size);
        uint offset = c.ReadMem(SegReg.SS, c.StackPointer, size);
        ushort sel = (ushort)c.ReadMem(SegReg.SS, c.StackOffset(bytes), size);
        LoadCodeSegment(c, sel, offset, true);
        c.StackPointer = c.StackOffset(2 * bytes + (int)release);
    }

    private static void RetfW(Cpu c, ref Instruction i) => RetFar(c, 0, 1);
    private static void RetfD(Cpu c, ref Instruction i) => RetFar(c, 0, 2);
    private static void RetfWImm(Cpu c, ref Instruction i) => RetFar(c, i.Immediate16, 1);
    private static void RetfDImm(Cpu c, ref Instruction i) => RetFar(c, i.Immediate16, 2);

    /// <summary>IRET in real mode and at the same privilege level in protected mode.</summary>
    public static void Iret(Cpu c, int size)
    {
        int bytes = OperandSize.Bytes(size);
        if (c.ProtectedMode && (c.V86Mode || (c.Eflags & Flags.NT) != 0))
            throw new EmulatorLimitationException(c.V86Mode ? "IRET in virtual-8086 mode" : "IRET with NT=1 (task return)");
        uint offset = c.ReadMem(SegReg.SS, c.StackPointer, size);
        ushort sel = (ushort)c.ReadMem(SegReg.SS, c.StackOffset(bytes), size);
        uint flags = c.ReadMem(SegReg.SS, c.StackOffset(2 * bytes), size);
        if (c.ProtectedMode && (flags & Flags.VM) != 0 && size == 2 && c.Cpl == 0)
            throw new EmulatorLimitationException("IRET to virtual-8086 mode");
        int cpl = c.Cpl;
        int iopl = SystemOps.Iopl(c);
        LoadCodeSegment(c, sel, offset, true);
        c.StackPointer = c.StackOffset(3 * bytes);
        uint changeable = Flags.Arith | Flags.TF | Flags.DF | Flags.NT | Flags.IF | Flags.IOPL;
        if (size == 2) changeable |= Flags.RF | Flags.AC | Flags.ID;
        if (c.ProtectedMode)
        {
            if (cpl > 0) changeable &= ~Flags.IOPL;
            if (cpl > iopl) changeable &= ~Flags.IF;
        }
        c.SetEflags((c.GetEflags() & ~changeable) | (flags & changeable));
    }

    private static void IretW(Cpu c, ref Instruction i) => Iret(c, 1);
    private static void IretD(Cpu c, ref Instruction i) => Iret(c, 2);

    internal static void Register()
    {
        InstructionTable.AddSensitive(Code.Mov_Sreg_rm16, &MovSreg, endsBlock: true);
        InstructionTable.AddSensitive(Code.Mov_Sreg_r32m16, &MovSreg, endsBlock: true);
        InstructionTable.Add(Code.Mov_rm16_Sreg, &MovFromSreg);
        InstructionTable.Add(Code.Mov_r32m16_Sreg, &MovFromSreg);
        foreach (var (w, d) in new[] { (Code.Pushw_ES, Code.Pushd_ES), (Code.Pushw_CS, Code.Pushd_CS), (Code.Pushw_SS, Code.Pushd_SS),
                     (Code.Pushw_DS, Code.Pushd_DS), (Code.Pushw_FS, Code.Pushd_FS), (Code.Pushw_GS, Code.Pushd_GS) })
        {
            InstructionTable.Add(w, &PushSreg<Word16>);
            InstructionTable.Add(d, &PushSreg<Dword32>);
        }
        foreach (var (w, d) in new[] { (Code.Popw_ES, Code.Popd_ES), (Code.Popw_SS, Code.Popd_SS), (Code.Popw_DS, Code.Popd_DS),
                     (Code.Popw_FS, Code.Popd_FS), (Code.Popw_GS, Code.Popd_GS) })
        {
            InstructionTable.AddSensitive(w, &PopSreg<Word16>, endsBlock: true);
            InstructionTable.AddSensitive(d, &PopSreg<Dword32>, endsBlock: true);
        }
        foreach (Code code in new[] { Code.Lds_r16_m1616, Code.Les_r16_m1616, Code.Lfs_r16_m1616, Code.Lgs_r16_m1616, Code.Lss_r16_m1616 })
            InstructionTable.AddSensitive(code, &LoadFarPointer<Word16>, endsBlock: true);
        foreach (Code code in new[] { Code.Lds_r32_m1632, Code.Les_r32_m1632, Code.Lfs_r32_m1632, Code.Lgs_r32_m1632, Code.Lss_r32_m1632 })
            InstructionTable.AddSensitive(code, &LoadFarPointer<Dword32>, endsBlock: true);

        InstructionTable.AddSensitive(Code.Jmp_ptr1616, &JmpFarPtr16);
        InstructionTable.AddSensitive(Code.Jmp_ptr1632, &JmpFarPtr);
        InstructionTable.AddSensitive(Code.Jmp_m1616, &JmpFarMem<Word16>);
        InstructionTable.AddSensitive(Code.Jmp_m1632, &JmpFarMem<Dword32>);
        InstructionTable.AddSensitive(Code.Call_ptr1616, &CallFarPtr<Word16>);
        InstructionTable.AddSensitive(Code.Call_ptr1632, &CallFarPtr<Dword32>);
        InstructionTable.AddSensitive(Code.Call_m1616, &CallFarMem<Word16>);
        InstructionTable.AddSensitive(Code.Call_m1632, &CallFarMem<Dword32>);
        InstructionTable.AddSensitive(Code.Retfw, &RetfW);
        InstructionTable.AddSensitive(Code.Retfd, &RetfD);
        InstructionTable.AddSensitive(Code.Retfw_imm16, &RetfWImm);
        InstructionTable.AddSensitive(Code.Retfd_imm16, &RetfDImm);
        InstructionTable.AddSensitive(Code.Iretw, &IretW);
        InstructionTable.AddSensitive(Code.Iretd, &IretD);
    }
}
