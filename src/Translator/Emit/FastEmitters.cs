using System;
using System.Reflection.Emit;
using Emu.X86;
using Iced.Intel;

namespace Emu.Translator.Emit;

/// <summary>
/// Emits one instruction in a flat region with the guest state in IL locals (see
/// <see cref="EmitContext"/>): no call into the CPU object, flags computed into locals.
/// The region compiler has already synchronised the CPU for a fault when the instruction
/// can raise one.
/// </summary>
public interface IFastEmitter
{
    bool CanEmit(ref Instruction i);

    void Emit(EmitContext ctx, ref Instruction i);
}

/// <summary>
/// ADD, ADC, SUB, SBB, CMP, AND, OR, XOR, TEST, INC, DEC, NEG, NOT on registers, immediates
/// and flat memory, into locals: the results from the operations' definitions in
/// <see cref="Arithmetic"/> and <see cref="Logic"/> (AddResult, SubResult, And, Or, Xor, Not),
/// and the lazy flag records their operation types name, as the interpreter sets them.
/// </summary>
public sealed class FastAlu : IFastEmitter
{
    private enum Kind { Add, Adc, Sub, Sbb, Cmp, And, Or, Xor, Test, Inc, Dec, Neg, Not }

    private static readonly Kind?[] KindOf = new Kind?[InstructionTable.CodeCount];
    private static readonly int[] LazyOf = new int[InstructionTable.CodeCount];

    private static readonly System.Reflection.MethodInfo AddResult = Members.Static(typeof(Arithmetic), nameof(Arithmetic.AddResult), typeof(uint), typeof(uint), typeof(uint), typeof(int));
    private static readonly System.Reflection.MethodInfo SubResult = Members.Static(typeof(Arithmetic), nameof(Arithmetic.SubResult), typeof(uint), typeof(uint), typeof(uint), typeof(int));
    private static readonly System.Reflection.MethodInfo AndResult = Members.Static(typeof(Logic), nameof(Logic.And), typeof(uint), typeof(uint));
    private static readonly System.Reflection.MethodInfo OrResult = Members.Static(typeof(Logic), nameof(Logic.Or), typeof(uint), typeof(uint));
    private static readonly System.Reflection.MethodInfo XorResult = Members.Static(typeof(Logic), nameof(Logic.Xor), typeof(uint), typeof(uint));
    private static readonly System.Reflection.MethodInfo NotResult = Members.Static(typeof(Logic), nameof(Logic.Not), typeof(uint), typeof(int));

    internal static void Register(IFastEmitter?[] t)
    {
        var e = new FastAlu();
        for (int c = 0; c < t.Length; c++)
        {
            SemanticShape s = InstructionTable.ShapeOf[c];
            if (s.Kind == ShapeKind.None) continue;
            Type op = s.Operation!;
            Kind? k = op == typeof(Arithmetic.AddOp) ? Kind.Add
                : op == typeof(Arithmetic.AdcOp) ? Kind.Adc
                : op == typeof(Arithmetic.SubOp) ? Kind.Sub
                : op == typeof(Arithmetic.SbbOp) ? Kind.Sbb
                : op == typeof(Arithmetic.CmpOp) ? Kind.Cmp
                : op == typeof(Arithmetic.IncOp) ? Kind.Inc
                : op == typeof(Arithmetic.DecOp) ? Kind.Dec
                : op == typeof(Arithmetic.NegOp) ? Kind.Neg
                : op == typeof(Logic.AndOp) ? Kind.And
                : op == typeof(Logic.OrOp) ? Kind.Or
                : op == typeof(Logic.XorOp) ? Kind.Xor
                : op == typeof(Logic.TestOp) ? Kind.Test
                : op == typeof(Logic.NotOp) ? Kind.Not
                : null;
            if (k is null) continue;
            KindOf[c] = k;
            LazyOf[c] = op.GetField("Lazy")?.GetRawConstantValue() is int l ? l : -1;
            t[c] = e;
        }
    }

    public bool CanEmit(ref Instruction i) => true;

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        Kind k = KindOf[(int)i.Code]!.Value;
        int size = InstructionTable.ShapeOf[(int)i.Code].Size;
        ILGenerator il = ctx.Il;
        LocalBuilder a = ctx.Temp(0), b = ctx.Temp(1), r = ctx.Temp(2), one = ctx.Temp(3);
        bool unary = k is Kind.Inc or Kind.Dec or Kind.Neg or Kind.Not;
        bool writes = k is not (Kind.Cmp or Kind.Test);
        bool memory = i.Op0Kind == OpKind.Memory;

        if (!unary)
        {
            ctx.ReadOperand(ref i, 1, size);
            il.Emit(OpCodes.Stloc, b);
        }
        if (!memory)
        {
            ctx.LoadReg(Cpu.RegNum(i.Op0Register), size);
        }
        else if (writes && ctx.FlatOperand(ref i))
        {
            ctx.RmwRead(ref i, size);
        }
        else if (writes)
        {
            ctx.LinearRmw(ref i, size);
            ctx.ReadLinearRmw(size);
        }
        else
        {
            ctx.ReadOperand(ref i, 0, size);
        }
        il.Emit(OpCodes.Stloc, a);

        // The results come from the operations' own definitions in Arithmetic and Logic, the
        // lazy records are the ones their operation types name (Lazy), as the interpreter sets them.
        int lazy = LazyOf[(int)i.Code];
        switch (k)
        {
            case Kind.Add:
            case Kind.Adc:
            case Kind.Sub:
            case Kind.Sbb:
            case Kind.Cmp:
                il.Emit(OpCodes.Ldloc, a);
                il.Emit(OpCodes.Ldloc, b);
                if (k is Kind.Adc or Kind.Sbb) ctx.CarryFlag();
                else ctx.Const(0);
                ctx.Const(size);
                ctx.Call(k is Kind.Add or Kind.Adc ? AddResult : SubResult);
                il.Emit(OpCodes.Stloc, r);
                ctx.SetLazy(lazy | size, a, b, r);
                break;
            case Kind.And:
            case Kind.Or:
            case Kind.Xor:
            case Kind.Test:
                il.Emit(OpCodes.Ldloc, a);
                il.Emit(OpCodes.Ldloc, b);
                ctx.Call(k switch { Kind.Or => OrResult, Kind.Xor => XorResult, _ => AndResult });
                il.Emit(OpCodes.Stloc, r);
                ctx.SetLazyLogic(size, r);
                break;
            case Kind.Inc:
            case Kind.Dec:
                // INC and DEC keep CF (Intel SDM Vol. 2, INC/DEC): park it in EFLAGS first.
                ctx.ParkCarry();
                ctx.Const(1);
                il.Emit(OpCodes.Stloc, one);
                il.Emit(OpCodes.Ldloc, a);
                il.Emit(OpCodes.Ldloc, one);
                ctx.Const(0);
                ctx.Const(size);
                ctx.Call(k == Kind.Inc ? AddResult : SubResult);
                il.Emit(OpCodes.Stloc, r);
                ctx.SetLazy(lazy | size, a, one, r);
                break;
            case Kind.Neg:
                ctx.Const(0);
                il.Emit(OpCodes.Stloc, one);
                il.Emit(OpCodes.Ldloc, one);
                il.Emit(OpCodes.Ldloc, a);
                ctx.Const(0);
                ctx.Const(size);
                ctx.Call(SubResult);
                il.Emit(OpCodes.Stloc, r);
                ctx.SetLazy(lazy | size, one, a, r);
                break;
            case Kind.Not:
                il.Emit(OpCodes.Ldloc, a);
                ctx.Const(size);
                ctx.Call(NotResult);
                il.Emit(OpCodes.Stloc, r);
                break;
        }

        if (!writes) return;
        il.Emit(OpCodes.Ldloc, r);
        if (!memory) ctx.StoreReg(Cpu.RegNum(i.Op0Register), size);
        else if (ctx.FlatOperand(ref i)) ctx.RmwWrite(size);
        else ctx.WriteLinear(size);
    }

}

/// <summary>MOV, MOVZX, MOVSX and LEA (the <see cref="DataTransferEmitter"/> forms, which read and write operands through the context), SETcc and CMOVcc on the flag locals.</summary>
public sealed class FastDataTransfer : IFastEmitter
{
    private static readonly DataTransferEmitter Mover = new();

    internal static void Register(IFastEmitter?[] t)
    {
        var e = new FastDataTransfer();
        foreach (Code c in DataTransferEmitter.Moves) t[(int)c] = e;
        for (Code c = Code.Seto_rm8; c <= Code.Setg_rm8; c++) t[(int)c] = e;
        for (Code c = Code.Cmovo_r16_rm16; c <= Code.Cmovg_r32_rm32; c += 3)
        {
            t[(int)c] = e;
            t[(int)c + 1] = e;
        }
        foreach (Code c in new[] { Code.Cbw, Code.Cwde, Code.Cwd, Code.Cdq }) t[(int)c] = e;
    }

    /// <summary>CBW, CWDE, CWD, CDQ: DataTransfer's value of EAX's local, into AX, EAX, DX or EDX.</summary>
    private static void SignExtendAccumulator(EmitContext ctx, Mnemonic m)
    {
        ctx.LoadReg(Reg.EAX, 2);
        ctx.Call(Members.Static(typeof(DataTransfer), m.ToString(), typeof(uint)));
        ctx.StoreReg(m is Mnemonic.Cbw or Mnemonic.Cwde ? Reg.EAX : Reg.EDX, m is Mnemonic.Cbw or Mnemonic.Cwd ? 1 : 2);
    }

    public bool CanEmit(ref Instruction i) => true;

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        ILGenerator il = ctx.Il;
        if (i.Mnemonic is Mnemonic.Mov or Mnemonic.Movzx or Mnemonic.Movsx or Mnemonic.Lea)
        {
            Mover.Emit(ctx, ref i);
            return;
        }
        if (i.Mnemonic is Mnemonic.Cbw or Mnemonic.Cwde or Mnemonic.Cwd or Mnemonic.Cdq)
        {
            SignExtendAccumulator(ctx, i.Mnemonic);
            return;
        }
        int cc = (int)i.ConditionCode - 1;
        if (i.Code is >= Code.Seto_rm8 and <= Code.Setg_rm8)
        {
            ctx.Condition(cc);
            ctx.WriteOperand(ref i, 0, 0);
            return;
        }
        // CMOVcc: the source is read (and may fault) whatever the condition; the destination changes only if it holds.
        // Branch-free, as the guest asked: dst ^= (src ^ dst) & -cond. A compiler emits CMOVcc where the
        // condition is data-dependent, and RyuJIT does not turn a branch in a loop into a CMOV of its own.
        int size = Shapes.SizeOfRegister(i.Op0Register);
        int reg = Cpu.RegNum(i.Op0Register);
        LocalBuilder v = ctx.Temp(0);
        ctx.ReadOperand(ref i, 1, size);
        il.Emit(OpCodes.Stloc, v);
        ctx.Condition(cc);
        il.Emit(OpCodes.Neg);
        il.Emit(OpCodes.Ldloc, v);
        ctx.LoadReg(reg, size);
        il.Emit(OpCodes.Xor);
        il.Emit(OpCodes.And);
        ctx.LoadReg(reg, size);
        il.Emit(OpCodes.Xor);
        ctx.StoreReg(reg, size);
    }
}

/// <summary>PUSH and POP of 32-bit registers and immediates on a flat 32-bit stack.</summary>
public sealed class FastStack : IFastEmitter
{
    internal static void Register(IFastEmitter?[] t)
    {
        var e = new FastStack();
        foreach (Code c in new[] { Code.Push_r32, Code.Pushd_imm32, Code.Pushd_imm8, Code.Pop_r32 }) t[(int)c] = e;
    }

    public bool CanEmit(ref Instruction i) => true;

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        ILGenerator il = ctx.Il;
        LocalBuilder esp = ctx.RegLocal(Reg.ESP);
        LocalBuilder v = ctx.Temp(0), sp = ctx.Temp(1);
        if (i.Code == Code.Pop_r32)
        {
            // v = [ESP]; ESP += 4; r = v (POP ESP leaves the value read).
            il.Emit(OpCodes.Ldloc, esp);
            ctx.ReadFlat(2);
            il.Emit(OpCodes.Stloc, v);
            il.Emit(OpCodes.Ldloc, esp);
            ctx.Const(4);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stloc, esp);
            ctx.MarkDirty(Reg.ESP);
            il.Emit(OpCodes.Ldloc, v);
            ctx.StoreReg(Cpu.RegNum(i.Op0Register), 2);
            return;
        }
        // The value first (PUSH ESP pushes the old ESP), then the store, then ESP moves.
        if (i.Code == Code.Push_r32) ctx.LoadReg(Cpu.RegNum(i.Op0Register), 2);
        else ctx.Const(Cpu.Immediate(ref i, 0));
        il.Emit(OpCodes.Stloc, v);
        ctx.PushFlat32(v, sp);
    }
}

/// <summary>
/// SHL, SHR, SAR, ROL and ROR by an immediate or CL, and IMUL r, r/m [, imm]: the pure forms
/// in <see cref="Shifts"/> and <see cref="Arithmetic"/> give the result and the flags, which
/// go to the locals eagerly. A masked count of zero changes nothing (not even the flags).
/// </summary>
public sealed class FastShiftMultiply : IFastEmitter
{
    private static readonly System.Reflection.MethodInfo?[] PureOf = new System.Reflection.MethodInfo?[InstructionTable.CodeCount];
    private static readonly uint[] MaskOf = new uint[InstructionTable.CodeCount];

    /// <summary>The lazy flag kind the semantics record (SHL, SHR, SAR, IMUL), or -1 for the rotates, whose flags are merged eagerly.</summary>
    private static readonly int[] LazyOf = new int[InstructionTable.CodeCount];

    internal static void Register(IFastEmitter?[] t)
    {
        var e = new FastShiftMultiply();
        Type[] pure = { typeof(uint), typeof(uint), typeof(int), typeof(uint).MakeByRefType() };
        for (int c = 0; c < t.Length; c++)
        {
            SemanticShape s = InstructionTable.ShapeOf[c];
            if (s.Kind != ShapeKind.Binary) continue;
            string? name = s.Operation!.Name switch
            {
                "ShlOp" => nameof(Shifts.Shl),
                "ShrOp" => nameof(Shifts.Shr),
                "SarOp" => nameof(Shifts.Sar),
                "RolOp" => nameof(Shifts.Rol),
                "RorOp" => nameof(Shifts.Ror),
                _ => null,
            };
            if (name is null || s.Operation.DeclaringType != typeof(Shifts)) continue;
            PureOf[c] = typeof(Shifts).GetMethod(name, pure) ?? throw new MissingMethodException(nameof(Shifts), name);
            MaskOf[c] = name is nameof(Shifts.Rol) or nameof(Shifts.Ror) ? Shifts.RotateFlagMask : Flags.Arith;
            LazyOf[c] = name switch
            {
                nameof(Shifts.Shl) => LazyFlags.Shl,
                nameof(Shifts.Shr) => LazyFlags.Shr,
                nameof(Shifts.Sar) => LazyFlags.Sar,
                _ => -1,
            };
            t[c] = e;
        }
        var imul = typeof(Arithmetic).GetMethod(nameof(Arithmetic.Imul), pure)!;
        foreach (Code c in new[] { Code.Imul_r16_rm16, Code.Imul_r32_rm32, Code.Imul_r16_rm16_imm16, Code.Imul_r32_rm32_imm32,
                     Code.Imul_r16_rm16_imm8, Code.Imul_r32_rm32_imm8 })
        {
            PureOf[(int)c] = imul;
            MaskOf[(int)c] = Flags.Arith;
            LazyOf[(int)c] = LazyFlags.Imul;
            t[(int)c] = e;
        }
    }

    public bool CanEmit(ref Instruction i) => true;

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        ILGenerator il = ctx.Il;
        System.Reflection.MethodInfo pure = PureOf[(int)i.Code]!;
        uint mask = MaskOf[(int)i.Code];
        LocalBuilder a = ctx.Temp(0), b = ctx.Temp(1), r = ctx.Temp(2), flags = ctx.Temp(3);
        if (i.Mnemonic == Mnemonic.Imul)
        {
            int s = Shapes.SizeOfRegister(i.Op0Register);
            if (i.OpCount == 3)
            {
                ctx.ReadOperand(ref i, 1, s);
                il.Emit(OpCodes.Stloc, a);
                ctx.Const(Cpu.Immediate(ref i, 2));
            }
            else
            {
                ctx.LoadReg(Cpu.RegNum(i.Op0Register), s);
                il.Emit(OpCodes.Stloc, a);
                ctx.ReadOperand(ref i, 1, s);
            }
            il.Emit(OpCodes.Stloc, b);
            CallPure(ctx, pure, a, b, s, flags, r);
            il.Emit(OpCodes.Ldloc, r);
            ctx.StoreReg(Cpu.RegNum(i.Op0Register), s);
            ctx.SetLazy(LazyFlags.Imul | s, a, b, r);
            return;
        }

        int size = InstructionTable.ShapeOf[(int)i.Code].Size;
        bool memory = i.Op0Kind == OpKind.Memory;
        bool flat = memory && ctx.FlatOperand(ref i);
        bool immediate = i.Op1Kind != OpKind.Register;
        uint fixedCount = immediate ? Cpu.Immediate(ref i, 1) & 0x1F : 0;
        if (!immediate)
        {
            ctx.LoadReg(Reg.ECX, 0);
            ctx.Const(0x1F);
            il.Emit(OpCodes.And);
            il.Emit(OpCodes.Stloc, b);
        }
        if (!memory) ctx.LoadReg(Cpu.RegNum(i.Op0Register), size);
        else if (flat) ctx.RmwRead(ref i, size);
        else
        {
            ctx.LinearRmw(ref i, size);
            ctx.ReadLinearRmw(size);
        }
        il.Emit(OpCodes.Stloc, a);
        il.Emit(OpCodes.Ldloc, a);
        il.Emit(OpCodes.Stloc, r);
        if (!immediate && LazyOf[(int)i.Code] < 0 && ctx.CanDeferFlags)
        {
            // A rotate by CL: its CF and OF kept aside on both paths (by zero they are the
            // current ones), so what follows knows the flag state at translation time.
            System.Reflection.Emit.Label zero = il.DefineLabel(), join = il.DefineLabel();
            il.Emit(OpCodes.Ldloc, b);
            il.Emit(OpCodes.Brfalse, zero);
            CallPure(ctx, pure, a, b, size, flags, r);
            ctx.StorePending(flags, mask);
            il.Emit(OpCodes.Br, join);
            il.MarkLabel(zero);
            ctx.StorePendingFromCurrent(mask);
            il.MarkLabel(join);
            ctx.MarkPending(mask);
        }
        else if (!immediate || fixedCount != 0)
        {
            System.Reflection.Emit.Label skip = il.DefineLabel();
            if (!immediate)
            {
                il.Emit(OpCodes.Ldloc, b);
                il.Emit(OpCodes.Brfalse, skip);
            }
            if (immediate)
            {
                ctx.Const(fixedCount);
                il.Emit(OpCodes.Stloc, b);
            }
            CallPure(ctx, pure, a, b, size, flags, r);
            int lazy = LazyOf[(int)i.Code];
            if (lazy >= 0) ctx.SetLazy(lazy | size, a, b, r);
            else ctx.SetEagerFlags(flags, mask, mayDefer: immediate);
            il.MarkLabel(skip);
            if (!immediate) ctx.FlagsUnknown();
        }
        il.Emit(OpCodes.Ldloc, r);
        if (!memory) ctx.StoreReg(Cpu.RegNum(i.Op0Register), size);
        else if (flat) ctx.RmwWrite(size);
        else ctx.WriteLinear(size);
    }

    /// <summary>r = pure(a, b, size, out flags): a pure form in <see cref="Shifts"/> or <see cref="Arithmetic"/>.</summary>
    private static void CallPure(EmitContext ctx, System.Reflection.MethodInfo pure, LocalBuilder a, LocalBuilder b, int size,
        LocalBuilder flags, LocalBuilder r)
    {
        ILGenerator il = ctx.Il;
        il.Emit(OpCodes.Ldloc, a);
        il.Emit(OpCodes.Ldloc, b);
        ctx.Const(size);
        il.Emit(OpCodes.Ldloca, flags);
        ctx.Call(pure);
        il.Emit(OpCodes.Stloc, r);
    }
}

/// <summary>
/// NOPs: nothing to emit (their memory operand is never accessed). CBW..CDQ and XCHG stay
/// generic, calling their one definition in <see cref="DataTransfer"/>.
/// </summary>
public sealed class FastMisc : IFastEmitter
{
    internal static void Register(IFastEmitter?[] t)
    {
        var e = new FastMisc();
        for (int c = 0; c < t.Length; c++)
            if (InstructionTable.IsNop((Code)c) && InstructionTable.IsImplemented((Code)c)) t[c] = e;
    }

    public bool CanEmit(ref Instruction i) => true;

    public void Emit(EmitContext ctx, ref Instruction i)
    {
    }
}

/// <summary>
/// MOVS, STOS and LODS without a repeat prefix, with 32-bit addresses and flat segments (a
/// C library's byte-copy loop): the same order of accesses as <see cref="Strings"/> (source
/// read, then destination written, either may fault with nothing changed), then ESI/EDI step
/// by the size, down when EFLAGS.DF is set.
/// </summary>
public sealed class FastStrings : IFastEmitter
{
    internal static void Register(IFastEmitter?[] t)
    {
        var e = new FastStrings();
        foreach (Code c in new[] { Code.Movsb_m8_m8, Code.Movsw_m16_m16, Code.Movsd_m32_m32, Code.Stosb_m8_AL, Code.Stosw_m16_AX,
                     Code.Stosd_m32_EAX, Code.Lodsb_AL_m8, Code.Lodsw_AX_m16, Code.Lodsd_EAX_m32 })
            t[(int)c] = e;
    }

    public bool CanEmit(ref Instruction i)
    {
        if (i.HasRepPrefix || i.HasRepePrefix || i.HasRepnePrefix) return false;
        bool source = i.Mnemonic is Mnemonic.Movsb or Mnemonic.Movsw or Mnemonic.Movsd or Mnemonic.Lodsb or Mnemonic.Lodsw or Mnemonic.Lodsd;
        bool destination = i.Mnemonic is not (Mnemonic.Lodsb or Mnemonic.Lodsw or Mnemonic.Lodsd);
        if (destination && i.Op0Kind != OpKind.MemoryESEDI) return false;
        if (source && (i.Op1Kind != OpKind.MemorySegESI || i.MemorySegment is not (Iced.Intel.Register.DS or Iced.Intel.Register.ES or Iced.Intel.Register.SS)))
            return false;
        return true;
    }

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        ILGenerator il = ctx.Il;
        int size = EmitContext.SizeOfMemory(i.MemorySize);
        LocalBuilder v = ctx.Temp(0), delta = ctx.Temp(1);
        LocalBuilder esi = ctx.RegLocal(Reg.ESI), edi = ctx.RegLocal(Reg.EDI);
        switch (i.Mnemonic)
        {
            case Mnemonic.Movsb or Mnemonic.Movsw or Mnemonic.Movsd:
                il.Emit(OpCodes.Ldloc, esi);
                ctx.ReadFlat(size);
                il.Emit(OpCodes.Stloc, v);
                il.Emit(OpCodes.Ldloc, edi);
                ctx.WriteFlatAt(size, v);
                break;
            case Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd:
                ctx.LoadReg(Reg.EAX, size);
                il.Emit(OpCodes.Stloc, v);
                il.Emit(OpCodes.Ldloc, edi);
                ctx.WriteFlatAt(size, v);
                break;
            default: // LODS
                il.Emit(OpCodes.Ldloc, esi);
                ctx.ReadFlat(size);
                ctx.StoreReg(Reg.EAX, size);
                break;
        }
        ctx.StringDelta(size);
        il.Emit(OpCodes.Stloc, delta);
        if (i.Mnemonic is not (Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd)) Step(ctx, esi, delta, Reg.ESI);
        if (i.Mnemonic is not (Mnemonic.Lodsb or Mnemonic.Lodsw or Mnemonic.Lodsd)) Step(ctx, edi, delta, Reg.EDI);
    }

    private static void Step(EmitContext ctx, LocalBuilder index, LocalBuilder delta, int reg)
    {
        ctx.Il.Emit(OpCodes.Ldloc, index);
        ctx.Il.Emit(OpCodes.Ldloc, delta);
        ctx.Il.Emit(OpCodes.Add);
        ctx.Il.Emit(OpCodes.Stloc, index);
        ctx.MarkDirty(reg);
    }
}

/// <summary>
/// Low-byte forwarding (<see cref="EmitContext.CaptureLowByte"/>): an 8-bit ADD, ADC, SUB,
/// SBB, AND, OR, XOR or MOV into AL, CL, DL or BL, whose fast form stores the register
/// unconditionally, and a later MOVZX or MOVSX from that register in the same block, with only
/// fast instructions that leave the whole register alone in between.
/// </summary>
internal static class LowByteForwarding
{
    private const int Window = 4;

    /// <summary>The index of the instruction of <paramref name="b"/> that reads the low byte instruction <paramref name="n"/> writes, or -1.</summary>
    public static int Reader(Block b, int n)
    {
        ref Instruction first = ref b.Code[n];
        if (first.Op0Kind != OpKind.Register || first.Op0Register is not (Register.AL or Register.CL or Register.DL or Register.BL)) return -1;
        if (first.Mnemonic is not (Mnemonic.Add or Mnemonic.Adc or Mnemonic.Sub or Mnemonic.Sbb
            or Mnemonic.And or Mnemonic.Or or Mnemonic.Xor or Mnemonic.Mov)) return -1;
        int full = 1 << Cpu.RegNum(first.Op0Register);
        int end = Math.Min(b.Count - 1, n + Window);
        for (int m = n + 1; m <= end; m++)
        {
            ref Instruction next = ref b.Code[m];
            if (next.Mnemonic is Mnemonic.Movzx or Mnemonic.Movsx && next.Op1Kind == OpKind.Register && next.Op1Register == first.Op0Register)
                return EmitterTable.Fast(ref next) is null ? -1 : m;
            if (EmitterTable.Fast(ref next) is null || (DirtyAnalysis.Writes(ref next) & full) != 0) return -1;
        }
        return -1;
    }
}
