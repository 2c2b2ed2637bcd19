using System;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// x87 transcendental instructions (Intel SDM Vol. 1, 8.3.10-8.3.12): FSIN, FCOS, FSINCOS,
/// FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1. Results are rounded once from 128-bit working
/// precision (see <see cref="Transcendentals"/>); precision control does not apply.
/// </summary>
public static unsafe class X87Transcendental
{
    /// <summary>Sets or clears C2 (the trigonometric instructions' "operand out of range").</summary>
    private static void SetC2(FpuState f, bool on)
    {
        if (on) f.StatusWord |= FpuStatus.C2;
        else f.StatusWord &= unchecked((ushort)~FpuStatus.C2);
    }

    /// <summary>The operand checks of FSIN, FCOS, FSINCOS, FPTAN: true with <paramref name="result"/> when they decide it.</summary>
    private static bool TrigSpecial(in Unpacked a, ref uint flags, out Float80 result)
    {
        switch (a.Class)
        {
            case FpClass.Unsupported:
            case FpClass.Infinity:
                result = X87Math.Invalid(ref flags);
                return true;
            case FpClass.SNaN:
                flags |= FpuStatus.IE;
                result = X87Math.Quiet(a);
                return true;
            case FpClass.QNaN:
                result = X87Math.Quiet(a);
                return true;
        }
        if (a.Class == FpClass.Denormal) flags |= FpuStatus.DE;
        result = default;
        return false;
    }

    /// <summary>|x| &gt;= 2^63: C2 is set and ST(0) is left as it is (Intel SDM Vol. 2, FSIN).</summary>
    private static bool OutOfRange(in Unpacked a) => a.IsFinite && a.Exp >= 63;

    private static void Fsin(Cpu c, ref Instruction i) => SinOrCos(c, true, X87.FopOf(i.Code));
    private static void Fcos(Cpu c, ref Instruction i) => SinOrCos(c, false, X87.FopOf(i.Code));

    public static void Fsin(Cpu c, ushort fop) => SinOrCos(c, true, fop);
    public static void Fcos(Cpu c, ushort fop) => SinOrCos(c, false, fop);

    private static void SinOrCos(Cpu c, bool sine, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        FpuState f = c.Fpu;
        if (f.IsEmpty(0))
        {
            if (X87.Commit(c, X87.StackUnderflow)) f.Store(0, Float80.Indefinite);
            SetC2(f, false);
            return;
        }
        Unpacked a = Unpacked.From(f.St(0));
        if (OutOfRange(a))
        {
            X87.Commit(c, 0);
            SetC2(f, true);
            return;
        }
        uint flags = 0;
        Float80 r;
        if (!TrigSpecial(a, ref flags, out r))
        {
            if (a.Class == FpClass.Zero) r = sine ? Float80.Zero(a.Sign) : Float80.One;
            else
            {
                Transcendentals.SinCos(a, out WideFloat s, out WideFloat co);
                r = (sine ? s : co).Round(f.RoundingControl, f.ControlWord, ref flags);
            }
        }
        bool ok = X87.Commit(c, flags);
        SetC2(f, false); // cleared even when an unmasked exception keeps the result out
        if (ok) f.St(0) = r;
    }

    /// <summary>FSINCOS: ST(0) becomes the sine, then the cosine is pushed.</summary>
    private static void Fsincos(Cpu c, ref Instruction i) => Fsincos(c, X87.FopOf(i.Code));

    public static void Fsincos(Cpu c, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        PushPair(c, false);
    }

    /// <summary>FPTAN: ST(0) becomes the tangent, then 1.0 is pushed.</summary>
    private static void Fptan(Cpu c, ref Instruction i) => Fptan(c, X87.FopOf(i.Code));

    public static void Fptan(Cpu c, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        PushPair(c, true);
    }

    private static void PushPair(Cpu c, bool tangent)
    {
        FpuState f = c.Fpu;
        if (f.IsEmpty(0) || !f.IsEmpty(7))
        {
            bool masked = X87.Commit(c, f.IsEmpty(0) ? X87.StackUnderflow : X87.StackOverflow);
            SetC2(f, false);
            if (!masked) return;
            f.Store(0, Float80.Indefinite);
            f.Push(Float80.Indefinite);
            return;
        }
        Unpacked a = Unpacked.From(f.St(0));
        if (OutOfRange(a))
        {
            X87.Commit(c, 0);
            SetC2(f, true);
            return;
        }
        uint flags = 0;
        Float80 first, second;
        if (TrigSpecial(a, ref flags, out Float80 special))
        {
            first = second = special;
        }
        else if (a.Class == FpClass.Zero)
        {
            first = Float80.Zero(a.Sign);
            second = Float80.One;
        }
        else
        {
            if (tangent)
            {
                first = Transcendentals.Tan(a).Round(f.RoundingControl, f.ControlWord, ref flags);
                second = Float80.One;
            }
            else
            {
                Transcendentals.SinCos(a, out WideFloat s, out WideFloat co);
                // C1 tells how the sine was rounded, not the cosine (what the host does).
                uint sineFlags = 0;
                second = co.Round(f.RoundingControl, f.ControlWord, ref flags);
                first = s.Round(f.RoundingControl, f.ControlWord, ref sineFlags);
                flags = (flags & ~(uint)FpuStatus.C1) | sineFlags;
            }
        }
        bool ok = X87.Commit(c, flags);
        SetC2(f, false);
        if (!ok) return;
        f.St(0) = first;
        f.Push(second);
    }

    /// <summary>FPATAN: ST(1) = arctan(ST(1) / ST(0)) in the quadrant of (ST(0), ST(1)), then pop (Intel SDM Vol. 2, FPATAN, Table 3-30).</summary>
    private static void Fpatan(Cpu c, ref Instruction i) => OnStackPair(c, &Fpatan2, X87.FopOf(i.Code));
    public static void Fpatan(Cpu c, ushort fop) => OnStackPair(c, &Fpatan2, fop);

    private static Float80 Fpatan2(in Unpacked x, in Unpacked y, FpuState f, ref uint flags) =>
        X87Math.Specials(y, x, ref flags, out Float80 special) ? special : Atan2(y, x, f, ref flags);

    private static Float80 Atan2(in Unpacked y, in Unpacked x, FpuState f, ref uint flags)
    {
        int rc = f.RoundingControl;
        ushort cw = f.ControlWord;
        WideFloat angle;
        bool yInf = y.Class == FpClass.Infinity, xInf = x.Class == FpClass.Infinity;
        if (y.Class == FpClass.Zero)
        {
            if (!x.Sign) return Float80.Zero(y.Sign);
            angle = X87Constants.Pi;
        }
        else if (x.Class == FpClass.Zero || (yInf && !xInf))
        {
            angle = X87Constants.HalfPi;
        }
        else if (yInf)
        {
            angle = x.Sign ? X87Constants.Pi - X87Constants.Pi.Scale(-2) : X87Constants.Pi.Scale(-2);
        }
        else if (xInf)
        {
            if (!x.Sign) return Float80.Zero(y.Sign);
            angle = X87Constants.Pi;
        }
        else
        {
            WideFloat wy = WideFloat.From(y).Abs(), wx = WideFloat.From(x).Abs();
            angle = WideFloat.CompareMagnitude(wy, wx) <= 0
                ? Transcendentals.AtanKernel(wy / wx)
                : X87Constants.HalfPi - Transcendentals.AtanKernel(wx / wy);
            if (x.Sign) angle = X87Constants.Pi - angle;
        }
        if (y.Sign) angle = angle.Negate();
        return angle.Round(rc, cw, ref flags);
    }

    /// <summary>
    /// The shape of FPATAN, FYL2X and FYL2XP1: <paramref name="op"/>(x = ST(0), y = ST(1))
    /// replaces ST(1), then the stack pops; an unmasked exception changes nothing.
    /// </summary>
    private static void OnStackPair(Cpu c, delegate*<in Unpacked, in Unpacked, FpuState, ref uint, Float80> op, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        FpuState f = c.Fpu;
        if (!TwoOperands(c, f)) return;
        Unpacked x = Unpacked.From(f.St(0)), y = Unpacked.From(f.St(1));
        uint flags = 0;
        Float80 r = op(x, y, f, ref flags);
        if (!X87.Commit(c, flags)) return;
        f.St(1) = r;
        f.Pop();
    }

    /// <summary>ST(0) and ST(1) both in use; otherwise the stack underflow, whose masked response puts the indefinite in ST(1) and pops.</summary>
    private static bool TwoOperands(Cpu c, FpuState f)
    {
        if (!f.IsEmpty(0) && !f.IsEmpty(1)) return true;
        if (X87.Commit(c, X87.StackUnderflow))
        {
            f.Store(1, Float80.Indefinite);
            f.Pop();
        }
        return false;
    }

    /// <summary>F2XM1: ST(0) = 2^ST(0) - 1, defined for -1 &lt;= ST(0) &lt;= 1.</summary>
    private static void F2xm1(Cpu c, ref Instruction i) => F2xm1(c, X87.FopOf(i.Code));

    public static void F2xm1(Cpu c, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        FpuState f = c.Fpu;
        if (f.IsEmpty(0))
        {
            if (X87.Commit(c, X87.StackUnderflow)) f.Store(0, Float80.Indefinite);
            return;
        }
        Unpacked a = Unpacked.From(f.St(0));
        uint flags = 0;
        Float80 r;
        switch (a.Class)
        {
            case FpClass.Unsupported: r = X87Math.Invalid(ref flags); break;
            case FpClass.SNaN: flags |= FpuStatus.IE; r = X87Math.Quiet(a); break;
            case FpClass.QNaN: r = X87Math.Quiet(a); break;
            case FpClass.Zero: r = Float80.Zero(a.Sign); break;
            case FpClass.Infinity: r = a.Sign ? Float80.One.WithSign(true) : Float80.Infinity(false); break;
            default:
                if (a.Class == FpClass.Denormal) flags |= FpuStatus.DE;
                r = TwoToXMinusOne(a, f, ref flags);
                break;
        }
        if (X87.Commit(c, flags)) f.St(0) = r;
    }

    private static Float80 TwoToXMinusOne(in Unpacked a, FpuState f, ref uint flags)
    {
        // Outside [-1, 1] the SDM leaves the result undefined; compute 2^x - 1 where it stays sane.
        if (a.Exp >= 15)
        {
            // -1 plus something far below the working precision, or an overflow.
            if (a.Sign) return new WideFloat(true, -1, UInt128.MaxValue).Round(f.RoundingControl, f.ControlWord, ref flags);
            return Rounding.ToExtended(false, 1 << 20, Float80.IntegerBit, 64, f.RoundingControl, f.ControlWord, ref flags);
        }
        WideFloat x = WideFloat.From(a);
        // 2^-1 - 1 = -1/2 exactly (reported inexact, as the host does). 2^1 - 1 = 1 comes
        // out of the host as a value just below 1: 1 when rounding to nearest or up (with
        // C1 set), 1 - 2^-64 toward zero or down; that is reproduced here.
        if (a.Exp == 0 && a.Sig == Float80.IntegerBit)
        {
            if (a.Sign) return ExactButReportedInexact(WideFloat.One.Scale(-1).Negate(), f, ref flags);
            return new WideFloat(false, -1, UInt128.MaxValue).Round(f.RoundingControl, f.ControlWord, ref flags);
        }
        int n = 0;
        if (a.Exp >= 0)
        {
            // 2^x - 1 = 2^n * 2^frac - 1 with n = trunc(x).
            n = (int)(a.Sig >> (63 - a.Exp));
            if (a.Sign) n = -n;
            x = x - WideFloat.FromInt(n);
        }
        WideFloat e = Transcendentals.ExpMinusOne(x * X87Constants.Ln2);
        if (n != 0) e = (e + WideFloat.One).Scale(n) - WideFloat.One;
        return e.Round(f.RoundingControl, f.ControlWord, ref flags);
    }

    /// <summary>FYL2X: ST(1) = ST(1) * log2(ST(0)), then pop (Intel SDM Vol. 2, FYL2X, Table 3-50).</summary>
    private static void Fyl2x(Cpu c, ref Instruction i) => OnStackPair(c, &Fyl2xOp, X87.FopOf(i.Code));
    public static void Fyl2x(Cpu c, ushort fop) => OnStackPair(c, &Fyl2xOp, fop);

    private static Float80 Fyl2xOp(in Unpacked x, in Unpacked y, FpuState f, ref uint flags) =>
        X87Math.SpecialsNoDenormal(x, y, ref flags, out Float80 special) ? special : YLog2X(x, y, f, ref flags);

    private static Float80 YLog2X(in Unpacked x, in Unpacked y, FpuState f, ref uint flags)
    {
        // A negative or zero x is reported before any denormal counts (#IA or #Z without #D).
        if (x.Sign && x.Class != FpClass.Zero) return X87Math.Invalid(ref flags);
        if (x.Class == FpClass.Zero)
        {
            if (y.Class == FpClass.Zero) return X87Math.Invalid(ref flags);
            if (y.Class != FpClass.Infinity) flags |= FpuStatus.ZE;
            return Float80.Infinity(!y.Sign);
        }
        flags |= X87Math.DenormalFlag(x, y);
        if (x.Class == FpClass.Infinity)
        {
            if (y.Class == FpClass.Zero) return X87Math.Invalid(ref flags);
            return Float80.Infinity(y.Sign);
        }
        // x finite and positive: log2(x) < 0, = 0 or > 0.
        WideFloat lg = Transcendentals.Log2(WideFloat.From(x), out bool exact);
        if (lg.IsZero)
        {
            if (y.Class == FpClass.Infinity) return X87Math.Invalid(ref flags);
            return Float80.Zero(y.Sign);
        }
        if (y.Class == FpClass.Infinity) return Float80.Infinity(y.Sign != lg.Sign);
        if (y.Class == FpClass.Zero) return Float80.Zero(y.Sign != lg.Sign);
        WideFloat product = WideFloat.From(y) * lg;
        return exact ? ExactButReportedInexact(product, f, ref flags) : product.Round(f.RoundingControl, f.ControlWord, ref flags);
    }

    /// <summary>
    /// A result that is exact (FYL2X of a power of two, F2XM1 of +1 or -1): the exact value,
    /// but reported as the host reports it, inexact (PE, and UE when it is tiny).
    /// </summary>
    private static Float80 ExactButReportedInexact(WideFloat v, FpuState f, ref uint flags)
    {
        Float80 r = v.Round(f.RoundingControl, f.ControlWord, ref flags, exact: true);
        flags |= FpuStatus.PE;
        if (r.Exponent == 0 && r.Significand != 0) flags |= FpuStatus.UE;
        return r;
    }

    /// <summary>FYL2XP1: ST(1) = ST(1) * log2(ST(0) + 1), then pop; defined for |ST(0)| &lt; 1 - sqrt(2)/2.</summary>
    private static void Fyl2xp1(Cpu c, ref Instruction i) => OnStackPair(c, &Fyl2xp1Op, X87.FopOf(i.Code));
    public static void Fyl2xp1(Cpu c, ushort fop) => OnStackPair(c, &Fyl2xp1Op, fop);

    private static Float80 Fyl2xp1Op(in Unpacked x, in Unpacked y, FpuState f, ref uint flags) =>
        X87Math.SpecialsNoDenormal(x, y, ref flags, out Float80 special) ? special : YLog2XPlusOne(x, y, f, ref flags);

    private static Float80 YLog2XPlusOne(in Unpacked x, in Unpacked y, FpuState f, ref uint flags)
    {
        // The invalid combinations come before any denormal counts (#IA without #D).
        if (x.Class == FpClass.Zero && y.Class == FpClass.Infinity) return X87Math.Invalid(ref flags);
        if (x.Class == FpClass.Infinity && (x.Sign || y.Class == FpClass.Zero)) return X87Math.Invalid(ref flags);
        flags |= X87Math.DenormalFlag(x, y);
        if (x.Class == FpClass.Zero) return Float80.Zero(x.Sign != y.Sign);
        if (x.Class == FpClass.Infinity) return Float80.Infinity(y.Sign);
        // x + 1 <= 0 lies outside the domain.
        if (x.Sign && x.Exp >= 0)
        {
            if (x.Exp == 0 && x.Sig == Float80.IntegerBit)
            {
                if (y.Class == FpClass.Zero) return X87Math.Invalid(ref flags);
                if (y.Class != FpClass.Infinity) flags |= FpuStatus.ZE;
                return Float80.Infinity(!y.Sign);
            }
            return X87Math.Invalid(ref flags);
        }
        WideFloat lg = Transcendentals.Log2OnePlus(WideFloat.From(x));
        if (y.Class == FpClass.Infinity) return Float80.Infinity(y.Sign != lg.Sign);
        if (y.Class == FpClass.Zero) return Float80.Zero(y.Sign != lg.Sign);
        return (WideFloat.From(y) * lg).Round(f.RoundingControl, f.ControlWord, ref flags);
    }

    internal static void Register()
    {
        X87.Add(Code.Fsin, &Fsin);
        X87.Add(Code.Fcos, &Fcos);
        X87.Add(Code.Fsincos, &Fsincos);
        X87.Add(Code.Fptan, &Fptan);
        X87.Add(Code.Fpatan, &Fpatan);
        X87.Add(Code.F2xm1, &F2xm1);
        X87.Add(Code.Fyl2x, &Fyl2x);
        X87.Add(Code.Fyl2xp1, &Fyl2xp1);
    }
}
