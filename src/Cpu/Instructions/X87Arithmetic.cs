using System;
using System.Numerics;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// x87 basic arithmetic (Intel SDM Vol. 1, 8.3.6-8.3.7): FADD, FSUB, FSUBR, FMUL, FDIV,
/// FDIVR in every form (real memory operand, register, with pop, integer operand), and
/// FSQRT, FSCALE, FXTRACT, FPREM, FPREM1, FRNDINT, FABS, FCHS.
/// </summary>
public static unsafe class X87Arithmetic
{
    private const int Add = 0, Sub = 1, Mul = 2, Div = 3;

    /// <summary>left op right with precision and rounding control.</summary>
    private static Float80 Compute(int op, in Unpacked left, in Unpacked right, FpuState f, ref uint flags)
    {
        int p = Rounding.PrecisionBits(f.PrecisionControl);
        int rc = f.RoundingControl;
        ushort cw = f.ControlWord;
        return op switch
        {
            Add => X87Math.Add(left, right, false, p, rc, cw, ref flags),
            Sub => X87Math.Add(left, right, true, p, rc, cw, ref flags),
            Mul => X87Math.Multiply(left, right, p, rc, cw, ref flags),
            _ => X87Math.Divide(left, right, p, rc, cw, ref flags),
        };
    }

    /// <summary>ST(0) = ST(0) op m (or m op ST(0) when reversed), for a memory operand already converted.</summary>
    private static void WithMemory(Cpu c, int op, bool reverse, in Unpacked m)
    {
        FpuState f = c.Fpu;
        if (f.IsEmpty(0))
        {
            if (X87.Commit(c, X87.StackUnderflow)) f.Store(0, Float80.Indefinite);
            return;
        }
        Unpacked st = Unpacked.From(f.St(0));
        uint flags = 0;
        Float80 r = reverse ? Compute(op, m, st, f, ref flags) : Compute(op, st, m, f, ref flags);
        if (X87.Commit(c, flags)) f.St(0) = r;
    }

    private static Unpacked ReadSingle(Cpu c, ref Instruction i)
    {
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        uint bits = c.Read32(seg, ea);
        X87.Pointers(c, ref i, seg, ea);
        return Unpacked.FromSingle(bits);
    }

    private static Unpacked ReadDouble(Cpu c, ref Instruction i)
    {
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        ulong bits = X87.Read64(c, seg, ea);
        X87.Pointers(c, ref i, seg, ea);
        return Unpacked.FromDouble(bits);
    }

    private static Unpacked ReadInt(Cpu c, ref Instruction i, bool word)
    {
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        long v = word ? (short)c.Read16(seg, ea) : (int)c.Read32(seg, ea);
        X87.Pointers(c, ref i, seg, ea);
        return Unpacked.FromInt64(v);
    }

    private static void M32<TOp>(Cpu c, ref Instruction i) where TOp : struct, IX87Op
    {
        if (!X87.Begin(c)) return;
        WithMemory(c, TOp.Op, TOp.Reverse, ReadSingle(c, ref i));
    }

    private static void M64<TOp>(Cpu c, ref Instruction i) where TOp : struct, IX87Op
    {
        if (!X87.Begin(c)) return;
        WithMemory(c, TOp.Op, TOp.Reverse, ReadDouble(c, ref i));
    }

    private static void I16<TOp>(Cpu c, ref Instruction i) where TOp : struct, IX87Op
    {
        if (!X87.Begin(c)) return;
        WithMemory(c, TOp.Op, TOp.Reverse, ReadInt(c, ref i, true));
    }

    private static void I32<TOp>(Cpu c, ref Instruction i) where TOp : struct, IX87Op
    {
        if (!X87.Begin(c)) return;
        WithMemory(c, TOp.Op, TOp.Reverse, ReadInt(c, ref i, false));
    }

    /// <summary>FOP ST(0), ST(i): ST(0) = ST(0) op ST(i) (reversed: ST(i) op ST(0)).</summary>
    private static void St0Sti<TOp>(Cpu c, ref Instruction i) where TOp : struct, IX87Op
    {
        if (!X87.Begin(c)) return;
        int s = X87.StIndex(i.Op1Register);
        X87.Pointers(c, ref i, s);
        Registers(c, TOp.Op, TOp.Reverse, 0, s, false);
    }

    /// <summary>FOP ST(i), ST(0): ST(i) = ST(i) op ST(0) (reversed: ST(0) op ST(i)); the P forms pop.</summary>
    private static void StiSt0<TOp>(Cpu c, ref Instruction i) where TOp : struct, IX87Op
    {
        if (!X87.Begin(c)) return;
        int d = X87.StIndex(i.Op0Register);
        X87.Pointers(c, ref i, d);
        Registers(c, TOp.Op, TOp.Reverse, d, 0, false);
    }

    private static void StiSt0Pop<TOp>(Cpu c, ref Instruction i) where TOp : struct, IX87Op
    {
        if (!X87.Begin(c)) return;
        int d = X87.StIndex(i.Op0Register);
        X87.Pointers(c, ref i, d);
        Registers(c, TOp.Op, TOp.Reverse, d, 0, true);
    }

    /// <summary>ST(dest) = ST(dest) op ST(src) (reversed: ST(src) op ST(dest)), then pop if asked.</summary>
    private static void Registers(Cpu c, int op, bool reverse, int dest, int src, bool pop)
    {
        FpuState f = c.Fpu;
        if (f.IsEmpty(dest) || f.IsEmpty(src))
        {
            if (!X87.Commit(c, X87.StackUnderflow)) return;
            f.Store(dest, Float80.Indefinite);
            if (pop) f.Pop();
            return;
        }
        Unpacked a = Unpacked.From(f.St(dest)), b = Unpacked.From(f.St(src));
        uint flags = 0;
        Float80 r = reverse ? Compute(op, b, a, f, ref flags) : Compute(op, a, b, f, ref flags);
        if (!X87.Commit(c, flags)) return;
        f.St(dest) = r;
        if (pop) f.Pop();
    }

    // ---- one-operand and special arithmetic ----

    /// <summary>Runs a one-operand instruction on ST(0): stack underflow stores the indefinite when masked.</summary>
    private static bool St0Present(Cpu c)
    {
        if (!c.Fpu.IsEmpty(0)) return true;
        if (X87.Commit(c, X87.StackUnderflow)) c.Fpu.Store(0, Float80.Indefinite);
        return false;
    }

    private static void Fsqrt(Cpu c, ref Instruction i)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, ref i, 0);
        if (!St0Present(c)) return;
        FpuState f = c.Fpu;
        uint flags = 0;
        Float80 r = X87Math.Sqrt(Unpacked.From(f.St(0)), Rounding.PrecisionBits(f.PrecisionControl), f.RoundingControl, f.ControlWord, ref flags);
        if (X87.Commit(c, flags)) f.St(0) = r;
    }

    private static void Fabs(Cpu c, ref Instruction i)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, ref i, 0);
        if (!St0Present(c)) return;
        X87.Commit(c, 0);
        c.Fpu.St(0) = c.Fpu.St(0).WithSign(false);
    }

    private static void Fchs(Cpu c, ref Instruction i)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, ref i, 0);
        if (!St0Present(c)) return;
        X87.Commit(c, 0);
        ref Float80 r = ref c.Fpu.St(0);
        r = r.WithSign(!r.Sign);
    }

    private static void Frndint(Cpu c, ref Instruction i)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, ref i, 0);
        if (!St0Present(c)) return;
        FpuState f = c.Fpu;
        uint flags = 0;
        Float80 r = X87Math.RoundToInteger(Unpacked.From(f.St(0)), f.RoundingControl, ref flags);
        if (X87.Commit(c, flags)) f.St(0) = r;
    }

    private static void Fscale(Cpu c, ref Instruction i)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, ref i, 0);
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
    private static void Fxtract(Cpu c, ref Instruction i)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, ref i, 0);
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

    private static void Fprem(Cpu c, ref Instruction i) => Remainder(c, ref i, false);
    private static void Fprem1(Cpu c, ref Instruction i) => Remainder(c, ref i, true);

    /// <summary>FPREM, FPREM1: the partial remainder of ST(0) by ST(1), with the quotient's low bits in C0, C3, C1 and C2 = incomplete.</summary>
    private static void Remainder(Cpu c, ref Instruction i, bool ieee)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, ref i, 0);
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
        Family<OpAdd>(Code.Fadd_m32fp, Code.Fadd_m64fp, Code.Fiadd_m16int, Code.Fiadd_m32int, Code.Fadd_st0_sti, Code.Fadd_sti_st0, Code.Faddp_sti_st0);
        Family<OpMul>(Code.Fmul_m32fp, Code.Fmul_m64fp, Code.Fimul_m16int, Code.Fimul_m32int, Code.Fmul_st0_sti, Code.Fmul_sti_st0, Code.Fmulp_sti_st0);
        Family<OpSub>(Code.Fsub_m32fp, Code.Fsub_m64fp, Code.Fisub_m16int, Code.Fisub_m32int, Code.Fsub_st0_sti, Code.Fsub_sti_st0, Code.Fsubp_sti_st0);
        Family<OpSubr>(Code.Fsubr_m32fp, Code.Fsubr_m64fp, Code.Fisubr_m16int, Code.Fisubr_m32int, Code.Fsubr_st0_sti, Code.Fsubr_sti_st0, Code.Fsubrp_sti_st0);
        Family<OpDiv>(Code.Fdiv_m32fp, Code.Fdiv_m64fp, Code.Fidiv_m16int, Code.Fidiv_m32int, Code.Fdiv_st0_sti, Code.Fdiv_sti_st0, Code.Fdivp_sti_st0);
        Family<OpDivr>(Code.Fdivr_m32fp, Code.Fdivr_m64fp, Code.Fidivr_m16int, Code.Fidivr_m32int, Code.Fdivr_st0_sti, Code.Fdivr_sti_st0, Code.Fdivrp_sti_st0);
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

    /// <summary>An arithmetic mnemonic: its operation and whether the operands are reversed.</summary>
    private interface IX87Op
    {
        static abstract int Op { get; }
        static abstract bool Reverse { get; }
    }

    private readonly struct OpAdd : IX87Op { public static int Op => Add; public static bool Reverse => false; }
    private readonly struct OpMul : IX87Op { public static int Op => Mul; public static bool Reverse => false; }
    private readonly struct OpSub : IX87Op { public static int Op => Sub; public static bool Reverse => false; }
    private readonly struct OpSubr : IX87Op { public static int Op => Sub; public static bool Reverse => true; }
    private readonly struct OpDiv : IX87Op { public static int Op => Div; public static bool Reverse => false; }
    private readonly struct OpDivr : IX87Op { public static int Op => Div; public static bool Reverse => true; }
}
