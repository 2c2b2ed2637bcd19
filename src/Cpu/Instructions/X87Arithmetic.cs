using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// x87 basic arithmetic (Intel SDM Vol. 1, 8.3.6-8.3.7): FADD, FSUB, FSUBR, FMUL, FDIV,
/// FDIVR in every form (real memory operand, register, with pop, integer operand), and
/// FSQRT, FSCALE, FXTRACT, FPREM, FPREM1, FRNDINT, FABS, FCHS.
/// </summary>
public static unsafe class X87Arithmetic
{
    /// <summary>
    /// The operations, as the semantic methods take them: ST(dest) = ST(dest) op operand,
    /// the reversed ones (FSUBR, FDIVR) computing operand op ST(dest).
    /// </summary>
    public const int OpAdd = 0, OpSub = 1, OpSubr = 2, OpMul = 3, OpDiv = 4, OpDivr = 5;

    /// <summary>dest op src (src op dest for the reversed operations), precision and rounding control applied.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Float80 Compute(int op, in Float80 dest, in Float80 src, FpuState f, ref uint flags)
    {
        ushort cw = f.ControlWord;
        int p = Rounding.PrecisionBits((cw >> FpuControl.PrecisionShift) & 3);
        int rc = (cw >> FpuControl.RoundingShift) & 3;
        bool done;
        Float80 r;
        switch (op)
        {
            case OpAdd: done = X87Fast.TryAdd(dest, src, false, p, rc, ref flags, out r); break;
            case OpSub: done = X87Fast.TryAdd(dest, src, true, p, rc, ref flags, out r); break;
            case OpSubr: done = X87Fast.TryAdd(src, dest, true, p, rc, ref flags, out r); break;
            case OpMul: done = X87Fast.TryMultiply(dest, src, p, rc, ref flags, out r); break;
            case OpDiv: done = X87Fast.TryDivide(dest, src, p, rc, ref flags, out r); break;
            default: done = X87Fast.TryDivide(src, dest, p, rc, ref flags, out r); break;
        }
        return done ? r : ComputeGeneral(op, Unpacked.From(dest), Unpacked.From(src), f, ref flags);
    }

    /// <summary>The general path of <see cref="Compute"/>: any operands.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Float80 ComputeGeneral(int op, in Unpacked dest, in Unpacked src, FpuState f, ref uint flags)
    {
        int p = Rounding.PrecisionBits(f.PrecisionControl);
        int rc = f.RoundingControl;
        ushort cw = f.ControlWord;
        return op switch
        {
            OpAdd => X87Math.Add(dest, src, false, p, rc, cw, ref flags),
            OpSub => X87Math.Add(dest, src, true, p, rc, cw, ref flags),
            OpSubr => X87Math.Add(src, dest, true, p, rc, cw, ref flags),
            OpMul => X87Math.Multiply(dest, src, p, rc, cw, ref flags),
            OpDiv => X87Math.Divide(dest, src, p, rc, cw, ref flags),
            _ => X87Math.Divide(src, dest, p, rc, cw, ref flags),
        };
    }

    /// <summary>ST(0) = ST(0) op m, for a memory operand already converted exactly to extended format.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WithMemory(Cpu c, int op, in Float80 m)
    {
        FpuState f = c.Fpu;
        if (f.IsEmpty(0))
        {
            if (X87.Commit(c, X87.StackUnderflow)) f.Store(0, Float80.Indefinite);
            return;
        }
        ref Float80 st = ref f.St(0);
        uint flags = 0;
        Float80 r = Compute(op, st, m, f, ref flags);
        if (X87.Commit(c, flags)) st = r;
    }

    /// <summary>ST(0) = ST(0) op m for a memory operand that is not an ordinary number (zero, denormal, infinity, NaN).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void WithMemoryGeneral(Cpu c, int op, in Unpacked m)
    {
        FpuState f = c.Fpu;
        if (f.IsEmpty(0))
        {
            if (X87.Commit(c, X87.StackUnderflow)) f.Store(0, Float80.Indefinite);
            return;
        }
        uint flags = 0;
        Float80 r = ComputeGeneral(op, Unpacked.From(f.St(0)), m, f, ref flags);
        if (X87.Commit(c, flags)) f.St(0) = r;
    }

    /// <summary>FADD, FSUB, FSUBR, FMUL, FDIV, FDIVR m32fp (<paramref name="op"/>): ST(0) = ST(0) op [seg:ea].</summary>
    public static void ArithmeticM32(Cpu c, int op, int seg, uint ea, ushort fop)
    {
        if (!X87.Begin(c)) return;
        uint bits = c.Read32(seg, ea);
        X87.Pointers(c, seg, ea, fop);
        if (X87Fast.TryFromSingle(bits, out Float80 m)) WithMemory(c, op, m);
        else WithMemoryGeneral(c, op, Unpacked.FromSingle(bits));
    }

    /// <summary>The m64fp forms: ST(0) = ST(0) op [seg:ea].</summary>
    public static void ArithmeticM64(Cpu c, int op, int seg, uint ea, ushort fop)
    {
        if (!X87.Begin(c)) return;
        ulong bits = X87.Read64(c, seg, ea);
        X87.Pointers(c, seg, ea, fop);
        if (X87Fast.TryFromDouble(bits, out Float80 m)) WithMemory(c, op, m);
        else WithMemoryGeneral(c, op, Unpacked.FromDouble(bits));
    }

    /// <summary>FIADD, FISUB, FISUBR, FIMUL, FIDIV, FIDIVR m16int.</summary>
    public static void ArithmeticI16(Cpu c, int op, int seg, uint ea, ushort fop)
    {
        if (!X87.Begin(c)) return;
        long v = (short)c.Read16(seg, ea);
        X87.Pointers(c, seg, ea, fop);
        WithMemory(c, op, X87Fast.FromInt64(v));
    }

    /// <summary>The m32int forms.</summary>
    public static void ArithmeticI32(Cpu c, int op, int seg, uint ea, ushort fop)
    {
        if (!X87.Begin(c)) return;
        long v = (int)c.Read32(seg, ea);
        X87.Pointers(c, seg, ea, fop);
        WithMemory(c, op, X87Fast.FromInt64(v));
    }

    /// <summary>
    /// The register forms: ST(dest) = ST(dest) op ST(src), then a pop when <paramref name="pop"/>.
    /// FOP ST(0), ST(i) is (0, i); FOP ST(i), ST(0) and FOPP ST(i), ST(0) are (i, 0).
    /// </summary>
    public static void ArithmeticSt(Cpu c, int op, int dest, int src, bool pop, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        FpuState f = c.Fpu;
        int top = f.Top;
        int pd = (top + dest) & 7, ps = (top + src) & 7;
        if ((f.Valid & (1 << pd)) == 0 || (f.Valid & (1 << ps)) == 0)
        {
            if (!X87.Commit(c, X87.StackUnderflow)) return;
            f.Store(dest, Float80.Indefinite);
            if (pop) f.Pop();
            return;
        }
        ref Float80 d = ref f.R[pd];
        uint flags = 0;
        Float80 r = Compute(op, d, f.R[ps], f, ref flags);
        if (!X87.Commit(c, flags)) return;
        d = r;
        if (pop) f.Pop();
    }

    // ---- the interpreter's handlers ----

    private static void M32<TOp>(Cpu c, ref Instruction i) where TOp : struct, IX87Op =>
        ArithmeticM32(c, TOp.Op, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), X87.MemoryFop(ref i));

    private static void M64<TOp>(Cpu c, ref Instruction i) where TOp : struct, IX87Op =>
        ArithmeticM64(c, TOp.Op, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), X87.MemoryFop(ref i));

    private static void I16<TOp>(Cpu c, ref Instruction i) where TOp : struct, IX87Op =>
        ArithmeticI16(c, TOp.Op, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), X87.MemoryFop(ref i));

    private static void I32<TOp>(Cpu c, ref Instruction i) where TOp : struct, IX87Op =>
        ArithmeticI32(c, TOp.Op, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), X87.MemoryFop(ref i));

    /// <summary>FOP ST(0), ST(i).</summary>
    private static void St0Sti<TOp>(Cpu c, ref Instruction i) where TOp : struct, IX87Op
    {
        int s = X87.StIndex(i.Op1Register);
        ArithmeticSt(c, TOp.Op, 0, s, false, (ushort)(X87.FopOf(i.Code) | s));
    }

    /// <summary>FOP ST(i), ST(0).</summary>
    private static void StiSt0<TOp>(Cpu c, ref Instruction i) where TOp : struct, IX87Op
    {
        int d = X87.StIndex(i.Op0Register);
        ArithmeticSt(c, TOp.Op, d, 0, false, (ushort)(X87.FopOf(i.Code) | d));
    }

    private static void StiSt0Pop<TOp>(Cpu c, ref Instruction i) where TOp : struct, IX87Op
    {
        int d = X87.StIndex(i.Op0Register);
        ArithmeticSt(c, TOp.Op, d, 0, true, (ushort)(X87.FopOf(i.Code) | d));
    }

    // ---- one-operand and special arithmetic ----

    /// <summary>Runs a one-operand instruction on ST(0): stack underflow stores the indefinite when masked.</summary>
    private static bool St0Present(Cpu c)
    {
        if (!c.Fpu.IsEmpty(0)) return true;
        if (X87.Commit(c, X87.StackUnderflow)) c.Fpu.Store(0, Float80.Indefinite);
        return false;
    }

    private static void Fsqrt(Cpu c, ref Instruction i) => Fsqrt(c, X87.FopOf(i.Code));

    public static void Fsqrt(Cpu c, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        if (!St0Present(c)) return;
        FpuState f = c.Fpu;
        uint flags = 0;
        ref Float80 st = ref f.St(0);
        int p = Rounding.PrecisionBits(f.PrecisionControl);
        if (!X87Fast.TrySqrt(st, p, f.RoundingControl, ref flags, out Float80 r))
            r = X87Math.Sqrt(Unpacked.From(st), p, f.RoundingControl, f.ControlWord, ref flags);
        if (X87.Commit(c, flags)) st = r;
    }

    private static void Fabs(Cpu c, ref Instruction i) => Fabs(c, X87.FopOf(i.Code));

    public static void Fabs(Cpu c, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        if (!St0Present(c)) return;
        X87.Commit(c, 0);
        c.Fpu.St(0) = c.Fpu.St(0).WithSign(false);
    }

    private static void Fchs(Cpu c, ref Instruction i) => Fchs(c, X87.FopOf(i.Code));

    public static void Fchs(Cpu c, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        if (!St0Present(c)) return;
        X87.Commit(c, 0);
        ref Float80 r = ref c.Fpu.St(0);
        r = r.WithSign(!r.Sign);
    }

    private static void Frndint(Cpu c, ref Instruction i) => Frndint(c, X87.FopOf(i.Code));

    public static void Frndint(Cpu c, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        if (!St0Present(c)) return;
        FpuState f = c.Fpu;
        uint flags = 0;
        Float80 r = X87Math.RoundToInteger(Unpacked.From(f.St(0)), f.RoundingControl, ref flags);
        if (X87.Commit(c, flags)) f.St(0) = r;
    }

    private static void Fscale(Cpu c, ref Instruction i) => Fscale(c, X87.FopOf(i.Code));

    public static void Fscale(Cpu c, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        FpuState f = c.Fpu;
        if (f.IsEmpty(0) || f.IsEmpty(1))
        {
            if (X87.Commit(c, X87.StackUnderflow)) f.Store(0, Float80.Indefinite);
            return;
        }
        uint flags = 0;
        Float80 r = X87Math.Scale(Unpacked.From(f.St(0)), Unpacked.From(f.St(1)), f.RoundingControl, f.ControlWord, ref flags);
        if (X87.Commit(c, flags)) f.St(0) = r;
    }

    /// <summary>FXTRACT: ST(0) becomes its exponent (as a real), then its significand (exponent 0) is pushed.</summary>
    private static void Fxtract(Cpu c, ref Instruction i) => Fxtract(c, X87.FopOf(i.Code));

    public static void Fxtract(Cpu c, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        FpuState f = c.Fpu;
        if (f.IsEmpty(0))
        {
            if (!X87.Commit(c, X87.StackUnderflow)) return;
            f.Store(0, Float80.Indefinite);
            f.Push(Float80.Indefinite);
            return;
        }
        if (!f.IsEmpty(7))
        {
            if (!X87.Commit(c, X87.StackOverflow)) return;
            f.Store(0, Float80.Indefinite);
            f.Push(Float80.Indefinite);
            return;
        }
        Unpacked a = Unpacked.From(f.St(0));
        uint flags = 0;
        Float80 exponent, significand;
        switch (a.Class)
        {
            case FpClass.Unsupported:
                exponent = significand = X87Math.Invalid(ref flags);
                break;
            case FpClass.SNaN:
            case FpClass.QNaN:
                if (a.Class == FpClass.SNaN) flags |= FpuStatus.IE;
                exponent = significand = X87Math.Quiet(a);
                break;
            case FpClass.Zero:
                flags |= FpuStatus.ZE;
                exponent = Float80.Infinity(true);
                significand = Float80.Zero(a.Sign);
                break;
            case FpClass.Infinity:
                exponent = Float80.Infinity(false);
                significand = Float80.Infinity(a.Sign);
                break;
            default:
                if (a.Class == FpClass.Denormal) flags |= FpuStatus.DE;
                exponent = Unpacked.FromInt64(a.Exp).ToFloat80Exact();
                significand = new Float80((ushort)((a.Sign ? 0x8000 : 0) | Float80.Bias), a.Sig);
                break;
        }
        if (!X87.Commit(c, flags)) return;
        f.St(0) = exponent;
        f.Push(significand);
    }

    private static void Fprem(Cpu c, ref Instruction i) => Remainder(c, false, X87.FopOf(i.Code));
    private static void Fprem1(Cpu c, ref Instruction i) => Remainder(c, true, X87.FopOf(i.Code));

    public static void Fprem(Cpu c, ushort fop) => Remainder(c, false, fop);
    public static void Fprem1(Cpu c, ushort fop) => Remainder(c, true, fop);

    /// <summary>FPREM, FPREM1: the partial remainder of ST(0) by ST(1), with the quotient's low bits in C0, C3, C1 and C2 = incomplete.</summary>
    private static void Remainder(Cpu c, bool ieee, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        FpuState f = c.Fpu;
        if (f.IsEmpty(0) || f.IsEmpty(1))
        {
            if (X87.Commit(c, X87.StackUnderflow)) f.Store(0, Float80.Indefinite);
            f.StatusWord &= unchecked((ushort)~FpuStatus.C2);
            return;
        }
        Unpacked a = Unpacked.From(f.St(0)), b = Unpacked.From(f.St(1));
        uint flags = 0;
        Float80 r;
        ulong q = 0;
        bool complete = true, quotient = false;
        // An infinite dividend or a zero divisor is invalid before any denormal counts (#IA without #D).
        if (X87Math.SpecialsNoDenormal(a, b, ref flags, out Float80 special)) r = special;
        else if (a.Class == FpClass.Infinity || b.Class == FpClass.Zero) r = X87Math.Invalid(ref flags);
        else
        {
            flags |= X87Math.DenormalFlag(a, b);
            quotient = true;
            if (a.Class == FpClass.Zero) r = a.ToFloat80Exact();
            else if (b.Class == FpClass.Infinity) r = Rounding.ToExtended(a.Sign, a.Exp, a.Sig, 64, f.RoundingControl, f.ControlWord, ref flags);
            else r = X87Math.Remainder(a, b, ieee, f.RoundingControl, f.ControlWord, ref flags, out q, out complete);
        }
        bool ok = X87.Commit(c, flags);
        if (ok) f.St(0) = r;
        // C0 = Q2, C3 = Q1, C1 = Q0 and C2 = 0 when the reduction completed; C2 = 1 and the
        // others 0 while it is incomplete. Without a quotient (special operands, an unmasked
        // exception) only C2 is cleared and C1 follows the exception rules (what the host does).
        if (ok && quotient)
        {
            uint cc = complete
                ? ((uint)(q >> 2) & 1) * FpuStatus.C0 | ((uint)(q >> 1) & 1) * FpuStatus.C3 | ((uint)q & 1) * FpuStatus.C1
                : FpuStatus.C2;
            f.StatusWord = (ushort)((f.StatusWord & ~(uint)FpuStatus.ConditionCodes) | cc);
        }
        else
        {
            f.StatusWord &= unchecked((ushort)~FpuStatus.C2);
        }
    }

    internal static void Register()
    {
        Family<AddOp>(Code.Fadd_m32fp, Code.Fadd_m64fp, Code.Fiadd_m16int, Code.Fiadd_m32int, Code.Fadd_st0_sti, Code.Fadd_sti_st0, Code.Faddp_sti_st0);
        Family<MulOp>(Code.Fmul_m32fp, Code.Fmul_m64fp, Code.Fimul_m16int, Code.Fimul_m32int, Code.Fmul_st0_sti, Code.Fmul_sti_st0, Code.Fmulp_sti_st0);
        Family<SubOp>(Code.Fsub_m32fp, Code.Fsub_m64fp, Code.Fisub_m16int, Code.Fisub_m32int, Code.Fsub_st0_sti, Code.Fsub_sti_st0, Code.Fsubp_sti_st0);
        Family<SubrOp>(Code.Fsubr_m32fp, Code.Fsubr_m64fp, Code.Fisubr_m16int, Code.Fisubr_m32int, Code.Fsubr_st0_sti, Code.Fsubr_sti_st0, Code.Fsubrp_sti_st0);
        Family<DivOp>(Code.Fdiv_m32fp, Code.Fdiv_m64fp, Code.Fidiv_m16int, Code.Fidiv_m32int, Code.Fdiv_st0_sti, Code.Fdiv_sti_st0, Code.Fdivp_sti_st0);
        Family<DivrOp>(Code.Fdivr_m32fp, Code.Fdivr_m64fp, Code.Fidivr_m16int, Code.Fidivr_m32int, Code.Fdivr_st0_sti, Code.Fdivr_sti_st0, Code.Fdivrp_sti_st0);
        X87.Add(Code.Fsqrt, &Fsqrt);
        X87.Add(Code.Fabs, &Fabs);
        X87.Add(Code.Fchs, &Fchs);
        X87.Add(Code.Frndint, &Frndint);
        X87.Add(Code.Fscale, &Fscale);
        X87.Add(Code.Fxtract, &Fxtract);
        X87.Add(Code.Fprem, &Fprem);
        X87.Add(Code.Fprem1, &Fprem1);
    }

    /// <summary>
    /// Registers the seven forms of one operation. In the ST(i), ST(0) forms the operation
    /// is ST(i) op ST(0): for the "reverse" mnemonics (FSUBR, FDIVR) that is ST(0) op ST(i).
    /// </summary>
    private static void Family<TOp>(Code m32, Code m64, Code i16, Code i32, Code st0Sti, Code stiSt0, Code stiSt0Pop) where TOp : struct, IX87Op
    {
        X87.Add(m32, &M32<TOp>);
        X87.Add(m64, &M64<TOp>);
        X87.Add(i16, &I16<TOp>);
        X87.Add(i32, &I32<TOp>);
        X87.Add(st0Sti, &St0Sti<TOp>);
        X87.Add(stiSt0, &StiSt0<TOp>);
        X87.Add(stiSt0Pop, &StiSt0Pop<TOp>);
    }

    /// <summary>An arithmetic mnemonic: its operation (<see cref="OpAdd"/>...).</summary>
    private interface IX87Op
    {
        static abstract int Op { get; }
    }

    private readonly struct AddOp : IX87Op { public static int Op => OpAdd; }
    private readonly struct MulOp : IX87Op { public static int Op => OpMul; }
    private readonly struct SubOp : IX87Op { public static int Op => OpSub; }
    private readonly struct SubrOp : IX87Op { public static int Op => OpSubr; }
    private readonly struct DivOp : IX87Op { public static int Op => OpDiv; }
    private readonly struct DivrOp : IX87Op { public static int Op => OpDivr; }
}
