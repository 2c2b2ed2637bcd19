using Emu.Memory;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// Segment-register loads and segment inspection: MOV Sreg, POP Sreg, PUSH Sreg,
/// LDS/LES/LFS/LGS/LSS, LAR, LSL, VERR, VERW, ARPL. Real and virtual-8086 mode load
/// base = selector * 16; protected mode reads and checks the descriptor (Intel SDM Vol. 3,
/// 5.4-5.8 and the instruction pages of Vol. 2). Far transfers are in <see cref="FarTransfer"/>.
/// </summary>
public static unsafe class Segments
{
    private static GuestFault Fault(int vector, uint error) => GuestFault.Create(vector, error);

    /// <summary>Rights of a segment loaded in virtual-8086 mode: 64 KiB, DPL 3, present, accessed.</summary>
    public const uint V86DataRights = SegmentCache.RightsP | SegmentCache.RightsS | (3u << 5) | 3;
    public const uint V86CodeRights = SegmentCache.RightsP | SegmentCache.RightsS | (3u << 5) | 0xB;

    /// <summary>Loads a data or stack segment register (not CS) with its protected-mode checks.</summary>
    public static void LoadDataSegment(Cpu c, int seg, ushort selector)
    {
        if (!c.ProtectedMode)
        {
            c.Seg[seg].LoadReal(selector);
            if (seg == SegReg.SS) c.UpdateModes();
            return;
        }
        if (c.V86Mode)
        {
            c.Seg[seg].Load(selector, (uint)selector << 4, 0xFFFF, V86DataRights);
            if (seg == SegReg.SS) c.UpdateModes();
            return;
        }
        if (seg == SegReg.SS)
        {
            c.Seg[SegReg.SS] = CheckStackSegment(c, selector, c.Cpl, ExceptionVectors.GP, 0);
            c.UpdateModes();
            return;
        }
        c.Seg[seg] = CheckDataSegment(c, selector, c.Cpl, ExceptionVectors.GP, 0);
    }

    /// <summary>
    /// The checks for loading DS, ES, FS or GS at privilege <paramref name="cpl"/>: null is
    /// allowed (unusable); otherwise data or readable code with DPL &gt;= max(CPL, RPL) unless
    /// conforming code; not present is #NP. Failures raise <paramref name="vector"/>(selector | ext)
    /// (#GP for instructions, #TS during a task switch). Sets the accessed bit.
    /// </summary>
    public static SegmentCache CheckDataSegment(Cpu c, ushort selector, int cpl, int vector, uint ext)
    {
        var cache = new SegmentCache();
        if ((selector & 0xFFFC) == 0)
        {
            cache.LoadNull(selector);
            return cache;
        }
        Descriptor d = c.ReadDescriptor(selector, vector, ext);
        uint err = (selector & 0xFFFCu) | ext;
        int rpl = selector & 3;
        if (!d.IsSegment || (d.IsCode && !d.IsReadable)) throw Fault(vector, err);
        if (!d.IsConforming && (rpl > d.Dpl || cpl > d.Dpl)) throw Fault(vector, err);
        if (!d.Present) throw Fault(ExceptionVectors.NP, err);
        c.SetAccessed(selector, d);
        return Cpu.CacheOf(selector, d);
    }

    /// <summary>
    /// The checks for loading SS at privilege <paramref name="cpl"/>: a writable data segment
    /// with RPL = DPL = CPL (else <paramref name="vector"/>(selector | ext)); not present is #SS.
    /// </summary>
    public static SegmentCache CheckStackSegment(Cpu c, ushort selector, int cpl, int vector, uint ext)
    {
        if ((selector & 0xFFFC) == 0) throw Fault(vector, ext);
        Descriptor d = c.ReadDescriptor(selector, vector, ext);
        uint err = (selector & 0xFFFCu) | ext;
        if ((selector & 3) != cpl || !d.IsWritableData || d.Dpl != cpl) throw Fault(vector, err);
        if (!d.Present) throw Fault(ExceptionVectors.SS, err);
        c.SetAccessed(selector, d);
        return Cpu.CacheOf(selector, d);
    }

    /// <summary>
    /// After a return to an outer level: a data segment register the new CPL may not use is
    /// loaded with null (Intel SDM Vol. 2, RET: "FOR each of segment register ES, FS, GS, DS").
    /// </summary>
    public static void NullInaccessibleSegments(Cpu c)
    {
        for (int s = 0; s < 6; s++)
        {
            if (s is SegReg.CS or SegReg.SS) continue;
            ref SegmentCache seg = ref c.Seg[s];
            bool conformingCode = seg.IsCode && (seg.Rights & 4) != 0;
            if ((seg.Rights & SegmentCache.RightsS) != 0 && !conformingCode && seg.Dpl < c.Cpl) seg.LoadNull(0);
        }
    }

    // ---- handlers ----

    private static void MovSreg(Cpu c, ref Instruction i)
    {
        int seg = Cpu.RegNum(i.Op0Register);
        if (seg == SegReg.CS) throw GuestFault.Create(ExceptionVectors.UD);
        ushort sel = (ushort)c.ReadOperand(ref i, 1, 1);
        LoadDataSegment(c, seg, sel);
        if (seg == SegReg.SS) c.InterruptShadow = c.StackShadow = true;
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
        if (seg == SegReg.SS) c.InterruptShadow = c.StackShadow = true;
    }

    /// <summary>LDS/LES/LFS/LGS/LSS r, m16:16|m16:32: the offset goes to the register after the segment load succeeds.</summary>
    private static void LoadFarPointer<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        int size = TSize.Size;
        FarTransfer.ReadFarPointer(c, ref i, size, out ushort sel, out uint offset);
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

    // ---- LAR, LSL, VERR, VERW, ARPL ----

    /// <summary>
    /// The descriptor a selector names if LAR/LSL/VERR/VERW may look at it from the current
    /// privilege, or null (ZF=0). These never fault on a bad selector.
    /// </summary>
    private static Descriptor? Inspect(Cpu c, ushort selector)
    {
        if ((selector & 0xFFFC) == 0) return null;
        uint index = (uint)selector & ~7u;
        bool ldt = (selector & 4) != 0;
        if (ldt && (c.Ldtr.Rights & SegmentCache.RightsP) == 0) return null;
        uint limit = ldt ? c.Ldtr.Limit : c.Gdtr.Limit;
        if (index + 7 > limit) return null;
        var d = new Descriptor(c.SystemRead64((ldt ? c.Ldtr.Base : c.Gdtr.Base) + index));
        if (!d.IsConforming && (d.Dpl < c.Cpl || d.Dpl < (selector & 3))) return null;
        return d;
    }

    private static void SetZf(Cpu c, bool zf) => c.SetArithFlags(zf ? Flags.ZF : 0, Flags.ZF);

    /// <summary>LAR: the access-rights bytes (masked with 00F0FF00h) of a segment, TSS, LDT, call or task gate.</summary>
    private static void Lar(Cpu c, ref Instruction i)
    {
        ControlRegisters.RequireProtectedMode(c);
        Descriptor? d = Inspect(c, (ushort)c.ReadOperand(ref i, 1, 1));
        bool ok = d is { } x && (x.IsSegment || x.Type is 1 or 2 or 3 or 4 or 5 or 9 or 11 or 12);
        SetZf(c, ok);
        if (!ok) return;
        uint rights = (uint)(d!.Value.Raw >> 32) & 0x00F0_FF00u;
        int size = Shapes.SizeOfRegister(i.Op0Register);
        c.SetReg(Cpu.RegNum(i.Op0Register), size, size == 2 ? rights : rights & 0xFF00);
    }

    /// <summary>LSL: the byte-granular limit of a segment, TSS or LDT.</summary>
    private static void Lsl(Cpu c, ref Instruction i)
    {
        ControlRegisters.RequireProtectedMode(c);
        Descriptor? d = Inspect(c, (ushort)c.ReadOperand(ref i, 1, 1));
        bool ok = d is { } x && (x.IsSegment || x.Type is 1 or 2 or 3 or 9 or 11);
        SetZf(c, ok);
        if (!ok) return;
        int size = Shapes.SizeOfRegister(i.Op0Register);
        c.SetReg(Cpu.RegNum(i.Op0Register), size, d!.Value.Limit & OperandSize.Mask(size));
    }

    private static void Verr(Cpu c, ref Instruction i)
    {
        ControlRegisters.RequireProtectedMode(c);
        Descriptor? d = Inspect(c, (ushort)c.ReadOperand(ref i, 0, 1));
        SetZf(c, d is { IsSegment: true, IsReadable: true });
    }

    private static void Verw(Cpu c, ref Instruction i)
    {
        ControlRegisters.RequireProtectedMode(c);
        Descriptor? d = Inspect(c, (ushort)c.ReadOperand(ref i, 0, 1));
        SetZf(c, d is { IsWritableData: true });
    }

    /// <summary>ARPL r/m16, r16: raises the destination selector's RPL to the source's (ZF=1 when it changed).</summary>
    private static void Arpl(Cpu c, ref Instruction i)
    {
        ControlRegisters.RequireProtectedMode(c);
        uint src = c.GetReg16(Cpu.RegNum(i.Op1Register));
        if (i.Op0Kind == OpKind.Register)
        {
            int r = Cpu.RegNum(i.Op0Register);
            uint d = c.GetReg16(r);
            bool raise = (d & 3) < (src & 3);
            if (raise) c.SetReg16(r, (ushort)((d & ~3u) | (src & 3)));
            SetZf(c, raise);
            return;
        }
        uint lin = c.LinearRmw(Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), 2);
        uint dm = c.Mmu.ReadRmw(lin, 2);
        bool up = (dm & 3) < (src & 3);
        c.Mmu.Write16(lin, (ushort)(up ? (dm & ~3u) | (src & 3) : dm));
        SetZf(c, up);
    }

    internal static void Register()
    {
        InstructionTable.AddSensitive(Code.Mov_Sreg_rm16, &MovSreg, endsBlock: true, flatGoesOn: true);
        InstructionTable.AddSensitive(Code.Mov_Sreg_r32m16, &MovSreg, endsBlock: true, flatGoesOn: true);
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
            InstructionTable.AddSensitive(w, &PopSreg<Word16>, endsBlock: true, flatGoesOn: w != Code.Popw_SS);
            InstructionTable.AddSensitive(d, &PopSreg<Dword32>, endsBlock: true, flatGoesOn: d != Code.Popd_SS);
        }
        foreach (Code code in new[] { Code.Lds_r16_m1616, Code.Les_r16_m1616, Code.Lfs_r16_m1616, Code.Lgs_r16_m1616, Code.Lss_r16_m1616 })
            InstructionTable.AddSensitive(code, &LoadFarPointer<Word16>, endsBlock: true);
        foreach (Code code in new[] { Code.Lds_r32_m1632, Code.Les_r32_m1632, Code.Lfs_r32_m1632, Code.Lgs_r32_m1632, Code.Lss_r32_m1632 })
            InstructionTable.AddSensitive(code, &LoadFarPointer<Dword32>, endsBlock: true);

        InstructionTable.AddSensitive(Code.Lar_r16_rm16, &Lar);
        InstructionTable.AddSensitive(Code.Lar_r32_r32m16, &Lar);
        InstructionTable.AddSensitive(Code.Lsl_r16_rm16, &Lsl);
        InstructionTable.AddSensitive(Code.Lsl_r32_r32m16, &Lsl);
        InstructionTable.AddSensitive(Code.Verr_rm16, &Verr);
        InstructionTable.AddSensitive(Code.Verr_r32m16, &Verr);
        InstructionTable.AddSensitive(Code.Verw_rm16, &Verw);
        InstructionTable.AddSensitive(Code.Verw_r32m16, &Verw);
        InstructionTable.AddSensitive(Code.Arpl_rm16_r16, &Arpl);
        InstructionTable.AddSensitive(Code.Arpl_r32m16_r32, &Arpl);
        FarTransfer.Register();
    }
}
