using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Emu.X86;

/// <summary>
/// The x87's basic arithmetic on extended values, in software and exact: every result is
/// the infinitely precise one rounded once (Intel SDM Vol. 1, 4.8.4 and chapter 8). Each
/// operation adds the exception flags it raises (and C1, "rounded up") to
/// <c>flags</c>; whether an unmasked exception suppresses the result is the caller's
/// decision (see <see cref="X87.Commit"/>).
/// </summary>
public static class X87Math
{
    // ---- NaNs and invalid operands (Intel SDM Vol. 1, 4.8.3.5 and Table 4-7; 8.5.1) ----

    /// <summary>A NaN made quiet (SNaN operands are returned as QNaNs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float80 Quiet(in Unpacked n) =>
        new((ushort)((n.Sign ? 0x8000 : 0) | 0x7FFF), n.Sig | Float80.QuietBit);

    /// <summary>
    /// The result of a two-operand operation with at least one NaN operand: an SNaN raises
    /// #IA; a QNaN wins over an SNaN; of two NaNs of the same kind the larger significand
    /// wins.
    /// </summary>
    public static Float80 PropagateNaN(in Unpacked a, in Unpacked b, ref uint flags)
    {
        if (a.Class == FpClass.SNaN || b.Class == FpClass.SNaN) flags |= FpuStatus.IE;
        if (!a.IsNaN) return Quiet(b);
        if (!b.IsNaN) return Quiet(a);
        if (a.Class != b.Class) return a.Class == FpClass.QNaN ? Quiet(a) : Quiet(b);
        ulong ma = a.Sig & ~Float80.QuietBit, mb = b.Sig & ~Float80.QuietBit;
        if (ma != mb) return ma > mb ? Quiet(a) : Quiet(b);
        return !a.Sign ? Quiet(a) : Quiet(b);
    }

    /// <summary>An invalid operation: #IA, and the real indefinite as the masked result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float80 Invalid(ref uint flags)
    {
        flags |= FpuStatus.IE;
        return Float80.Indefinite;
    }

    /// <summary>
    /// The checks common to two-operand arithmetic, in the SDM's priority (Vol. 1, 8.7.1):
    /// unsupported encodings, then NaNs. Returns true with <paramref name="result"/> set
    /// when they decide the result; otherwise adds #D for denormal operands.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Specials(in Unpacked a, in Unpacked b, ref uint flags, out Float80 result)
    {
        if (SpecialsNoDenormal(a, b, ref flags, out result)) return true;
        if (a.Class == FpClass.Denormal || b.Class == FpClass.Denormal) flags |= FpuStatus.DE;
        return false;
    }

    /// <summary>#D when either operand is a denormal.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint DenormalFlag(in Unpacked a, in Unpacked b) =>
        a.Class == FpClass.Denormal || b.Class == FpClass.Denormal ? FpuStatus.DE : 0u;

    /// <summary>As <see cref="Specials"/>, leaving the #D check to the caller.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool SpecialsNoDenormal(in Unpacked a, in Unpacked b, ref uint flags, out Float80 result)
    {
        if (a.Class == FpClass.Unsupported || b.Class == FpClass.Unsupported)
        {
            result = Invalid(ref flags);
            return true;
        }
        if (a.IsNaN || b.IsNaN)
        {
            result = PropagateNaN(a, b, ref flags);
            return true;
        }
        result = default;
        return false;
    }

    // ---- add, subtract, multiply, divide ----

    /// <summary>a + b (or a - b when <paramref name="subtract"/>), rounded to precision <paramref name="p"/> bits.</summary>
    public static Float80 Add(Unpacked a, Unpacked b, bool subtract, int p, int rc, ushort cw, ref uint flags)
    {
        if (Specials(a, b, ref flags, out Float80 r)) return r;
        if (subtract) b.Sign = !b.Sign;
        if (a.Class == FpClass.Infinity || b.Class == FpClass.Infinity)
        {
            if (a.Class == FpClass.Infinity && b.Class == FpClass.Infinity && a.Sign != b.Sign) return Invalid(ref flags);
            return Float80.Infinity(a.Class == FpClass.Infinity ? a.Sign : b.Sign);
        }
        if (a.Class == FpClass.Zero && b.Class == FpClass.Zero)
            return Float80.Zero(a.Sign == b.Sign ? a.Sign : rc == FpuControl.Down);
        if (a.Class == FpClass.Zero) return Rounding.ToExtended(b.Sign, b.Exp, b.Sig, p, rc, cw, ref flags);
        if (b.Class == FpClass.Zero) return Rounding.ToExtended(a.Sign, a.Exp, a.Sig, p, rc, cw, ref flags);

        // Order by magnitude: a is the larger.
        if (b.Exp > a.Exp || (b.Exp == a.Exp && b.Sig > a.Sig)) (a, b) = (b, a);
        // Leading bit at 126, leaving bit 127 for a carry; the smaller operand shifted with a sticky bit.
        UInt128 x = (UInt128)a.Sig << 63;
        UInt128 y = (UInt128)b.Sig << 63;
        int d = a.Exp - b.Exp;
        if (d != 0)
        {
            if (d >= 127) y = UInt128.One;
            else
            {
                bool sticky = (y & ((UInt128.One << d) - 1)) != UInt128.Zero;
                y = (y >> d) | (sticky ? UInt128.One : UInt128.Zero);
            }
        }
        UInt128 s = a.Sign == b.Sign ? x + y : x - y;
        if (s == UInt128.Zero) return Float80.Zero(rc == FpuControl.Down);
        int exp = a.Exp + 1; // bit 127 stands for 2^(a.Exp + 1)
        s = Rounding.Normalize(s, ref exp);
        return Rounding.ToExtended(a.Sign, exp, s, p, rc, cw, ref flags);
    }

    public static Float80 Multiply(in Unpacked a, in Unpacked b, int p, int rc, ushort cw, ref uint flags)
    {
        if (Specials(a, b, ref flags, out Float80 r)) return r;
        bool sign = a.Sign != b.Sign;
        if (a.Class == FpClass.Infinity || b.Class == FpClass.Infinity)
        {
            if (a.Class == FpClass.Zero || b.Class == FpClass.Zero) return Invalid(ref flags);
            return Float80.Infinity(sign);
        }
        if (a.Class == FpClass.Zero || b.Class == FpClass.Zero) return Float80.Zero(sign);
        UInt128 prod = (UInt128)a.Sig * b.Sig;
        int exp = a.Exp + b.Exp + 1;
        prod = Rounding.Normalize(prod, ref exp);
        return Rounding.ToExtended(sign, exp, prod, p, rc, cw, ref flags);
    }

    public static Float80 Divide(in Unpacked a, in Unpacked b, int p, int rc, ushort cw, ref uint flags)
    {
        if (SpecialsNoDenormal(a, b, ref flags, out Float80 r)) return r;
        bool sign = a.Sign != b.Sign;
        // A zero divisor is reported before a denormal dividend (#Z without #D: what the host does).
        if (b.Class == FpClass.Zero)
        {
            if (a.Class == FpClass.Zero) return Invalid(ref flags);
            if (a.Class != FpClass.Infinity)
            {
                flags |= FpuStatus.ZE;
                return Float80.Infinity(sign);
            }
        }
        if (a.Class == FpClass.Denormal || b.Class == FpClass.Denormal) flags |= FpuStatus.DE;
        if (a.Class == FpClass.Infinity)
        {
            if (b.Class == FpClass.Infinity) return Invalid(ref flags);
            return Float80.Infinity(sign);
        }
        if (b.Class == FpClass.Infinity) return Float80.Zero(sign);
        if (a.Class == FpClass.Zero) return Float80.Zero(sign);
        UInt128 q = DivideSignificands(a.Sig, b.Sig, out bool sticky, out int shifted);
        // q = a.Sig * 2^128 / b.Sig (shifted right once when that needs 129 bits), so the
        // quotient is q * 2^(a.Exp - b.Exp - 128 + shifted): bit 127 stands for 2^(a.Exp - b.Exp - 1 + shifted).
        int exp = a.Exp - b.Exp - 1 + shifted;
        q = Rounding.Normalize(q, ref exp);
        if (sticky) q |= UInt128.One;
        return Rounding.ToExtended(sign, exp, q, p, rc, cw, ref flags);
    }

    /// <summary>
    /// floor(a * 2^128 / b) truncated to its top 128 bits, for normalized a, b; the bits
    /// beyond (and the remainder) fold into <paramref name="sticky"/>. The quotient lies in
    /// [2^127, 2^129): when it needs 129 bits the lowest is folded into the sticky bit.
    /// </summary>
    public static UInt128 DivideSignificands(ulong a, ulong b, out bool sticky, out int shifted)
    {
        shifted = 0;
        // Long division in two 64-bit digits: a * 2^64 = q1 * b + r1; r1 * 2^64 = q2 * b + r2.
        UInt128 n1 = (UInt128)a << 64;
        UInt128 q1 = n1 / b;
        ulong r1 = (ulong)(n1 - q1 * b);
        UInt128 n2 = (UInt128)r1 << 64;
        ulong q2 = (ulong)(n2 / b);
        ulong r2 = (ulong)(n2 - (UInt128)q2 * b);
        // q1 is 1 or 2 digits' worth: q1 < 2^65.
        if ((q1 >> 64) != UInt128.Zero)
        {
            // 129-bit quotient: shift right one, keeping the dropped bit as sticky.
            sticky = r2 != 0 || (q2 & 1) != 0;
            shifted = 1;
            return (q1 << 63) | (q2 >> 1);
        }
        sticky = r2 != 0;
        return (q1 << 64) | q2;
    }

    // ---- square root ----

    public static Float80 Sqrt(in Unpacked a, int p, int rc, ushort cw, ref uint flags)
    {
        switch (a.Class)
        {
            case FpClass.Unsupported: return Invalid(ref flags);
            case FpClass.SNaN: flags |= FpuStatus.IE; return Quiet(a);
            case FpClass.QNaN: return Quiet(a);
            case FpClass.Zero: return Float80.Zero(a.Sign);
            case FpClass.Infinity: return a.Sign ? Invalid(ref flags) : Float80.Infinity(false);
        }
        // A negative operand is invalid before it is a denormal (#IA without #D, as the host does).
        if (a.Sign) return Invalid(ref flags);
        if (a.Class == FpClass.Denormal) flags |= FpuStatus.DE;
        // sqrt(Sig * 2^(Exp - 63)): make the exponent of the radicand even.
        int e = a.Exp;
        UInt128 n;
        int exp;
        if ((e & 1) != 0)
        {
            n = (UInt128)a.Sig << 64;      // n * 2^(e - 127), e - 127 even
            exp = ((e - 127) >> 1) + 63;   // the root's leading bit (bit 63 of the 64-bit root)
        }
        else
        {
            n = (UInt128)a.Sig << 63;      // n * 2^(e - 126)
            exp = ((e - 126) >> 1) + 63;
        }
        ulong root = ISqrt(n, out UInt128 rem);
        // The root is never exactly halfway between integers, so the guard bit is rem > root
        // ((root + 1/2)^2 = root^2 + root + 1/4) and the sticky bit is rem != 0.
        UInt128 sig = (UInt128)root << 64;
        if (rem > root) sig |= UInt128.One << 63;
        if (rem != UInt128.Zero) sig |= UInt128.One;
        return Rounding.ToExtended(false, exp, sig, p, rc, cw, ref flags);
    }

    /// <summary>floor(sqrt(n)) for n &lt; 2^128, and the remainder n - root^2.</summary>
    public static ulong ISqrt(UInt128 n, out UInt128 rem)
    {
        // Digit by digit, two bits of n per bit of the root.
        UInt128 r = UInt128.Zero, root = UInt128.Zero;
        for (int i = 63; i >= 0; i--)
        {
            r = (r << 2) | ((n >> (2 * i)) & 3);
            UInt128 t = (root << 2) | UInt128.One;
            root <<= 1;
            if (r >= t)
            {
                r -= t;
                root |= UInt128.One;
            }
        }
        rem = r;
        return (ulong)root;
    }

    // ---- comparison ----

    /// <summary>Comparison results, in the order of the condition codes they set.</summary>
    public const int Greater = 0, Less = 1, Equal = 2, Unordered = 3;

    /// <summary>
    /// Compares a with b. Unsupported operands and SNaNs raise #IA; QNaNs raise it too unless
    /// <paramref name="quiet"/> (FUCOM*); denormals raise #D (Intel SDM Vol. 2, FCOM and FUCOM).
    /// </summary>
    public static int Compare(in Unpacked a, in Unpacked b, bool quiet, ref uint flags)
    {
        if (a.Class == FpClass.Unsupported || b.Class == FpClass.Unsupported)
        {
            flags |= FpuStatus.IE;
            return Unordered;
        }
        if (a.IsNaN || b.IsNaN)
        {
            if (!quiet || a.Class == FpClass.SNaN || b.Class == FpClass.SNaN) flags |= FpuStatus.IE;
            return Unordered;
        }
        if (a.Class == FpClass.Denormal || b.Class == FpClass.Denormal) flags |= FpuStatus.DE;
        return CompareValues(a, b);
    }

    /// <summary>Compares two ordered values (no NaNs): zeros equal whatever their signs.</summary>
    public static int CompareValues(in Unpacked a, in Unpacked b)
    {
        bool az = a.Class == FpClass.Zero, bz = b.Class == FpClass.Zero;
        if (az && bz) return Equal;
        if (az) return b.Sign ? Greater : Less;
        if (bz) return a.Sign ? Less : Greater;
        if (a.Sign != b.Sign) return a.Sign ? Less : Greater;
        int m = CompareMagnitude(a, b);
        if (m == 0) return Equal;
        return (m > 0) != a.Sign ? Greater : Less;
    }

    /// <summary>Compares |a| with |b| for non-zero, non-NaN values: -1, 0 or 1.</summary>
    private static int CompareMagnitude(in Unpacked a, in Unpacked b)
    {
        bool ai = a.Class == FpClass.Infinity, bi = b.Class == FpClass.Infinity;
        if (ai || bi) return ai && bi ? 0 : ai ? 1 : -1;
        if (a.Exp != b.Exp) return a.Exp > b.Exp ? 1 : -1;
        return a.Sig.CompareTo(b.Sig);
    }

    // ---- rounding to an integer, scaling, exponent extraction, remainders ----

    /// <summary>FRNDINT: rounds to an integral value by rounding control (precision control does not apply).</summary>
    public static Float80 RoundToInteger(in Unpacked a, int rc, ref uint flags)
    {
        switch (a.Class)
        {
            case FpClass.Unsupported: return Invalid(ref flags);
            case FpClass.SNaN: flags |= FpuStatus.IE; return Quiet(a);
            case FpClass.QNaN: return Quiet(a);
            case FpClass.Zero: return Float80.Zero(a.Sign);
            case FpClass.Infinity: return Float80.Infinity(a.Sign);
        }
        if (a.Class == FpClass.Denormal) flags |= FpuStatus.DE;
        if (a.Exp >= 63) return a.ToFloat80Exact();
        ulong k = Rounding.ToIntegerMagnitude(a.Sign, a.Exp, (UInt128)a.Sig << 64, rc, ref flags, out _);
        if (k == 0) return Float80.Zero(a.Sign);
        int s = BitOperations.LeadingZeroCount(k);
        return new Float80((ushort)((a.Sign ? 0x8000 : 0) | (Float80.Bias + 63 - s)), k << s);
    }

    /// <summary>FSCALE: ST(0) * 2^trunc(ST(1)) (Intel SDM Vol. 2, FSCALE, Table 3-45).</summary>
    public static Float80 Scale(in Unpacked a, in Unpacked b, int rc, ushort cw, ref uint flags)
    {
        if (Specials(a, b, ref flags, out Float80 r)) return r;
        if (b.Class == FpClass.Infinity)
        {
            if (a.Class == FpClass.Zero) return b.Sign ? Float80.Zero(a.Sign) : Invalid(ref flags);
            if (a.Class == FpClass.Infinity) return b.Sign ? Invalid(ref flags) : Float80.Infinity(a.Sign);
            return b.Sign ? Float80.Zero(a.Sign) : Float80.Infinity(a.Sign);
        }
        if (a.Class == FpClass.Zero) return Float80.Zero(a.Sign);
        if (a.Class == FpClass.Infinity) return Float80.Infinity(a.Sign);
        int n = TruncateToScale(b);
        return Rounding.ToExtended(a.Sign, a.Exp + n, a.Sig, 64, rc, cw, ref flags);
    }

    /// <summary>trunc(b) as a scale factor, saturated well beyond any exponent that can matter.</summary>
    private static int TruncateToScale(in Unpacked b)
    {
        const int Limit = 1 << 20;
        if (b.Class == FpClass.Zero || b.Exp < 0) return 0;
        int n = b.Exp >= 21 ? Limit : (int)(b.Sig >> (63 - b.Exp));
        return b.Sign ? -n : n;
    }

    /// <summary>
    /// The partial remainder shared by FPREM and FPREM1 (Intel SDM Vol. 2, FPREM, FPREM1): a
    /// and b finite, b non-zero. Sets <paramref name="quotient"/> to the low bits of the
    /// quotient and <paramref name="complete"/> when the reduction finished (exponent
    /// difference below 64). When incomplete, the dividend is reduced by a multiple of
    /// b * 2^(D - N) with N = <see cref="PartialRemainderBits"/>.
    /// </summary>
    public static Float80 Remainder(in Unpacked a, in Unpacked b, bool ieee, int rc, ushort cw, ref uint flags, out ulong quotient, out bool complete)
    {
        quotient = 0;
        complete = true;
        int d = a.Exp - b.Exp;
        if (d >= 64)
        {
            // Partial: reduce by b * 2^(d - N), a quotient of N + 1 bits at most; truncating in both instructions.
            complete = false;
            int n = PartialRemainderBits(d);
            ulong q;
            ulong rsig = ReduceSignificand(a.Sig, b.Sig, n, out q);
            quotient = q;
            if (rsig == 0) return Float80.Zero(a.Sign);
            int e = b.Exp + (d - n);
            int s = BitOperations.LeadingZeroCount(rsig);
            return Rounding.ToExtended(a.Sign, e - s, rsig << s, 64, rc, cw, ref flags);
        }
        bool sign = a.Sign;
        ulong r;
        if (d < 0)
        {
            // |a| < |b|: quotient 0, unless rounding to nearest picks 1 (only possible with d = -1).
            if (!ieee || d < -1) return Rounding.ToExtended(a.Sign, a.Exp, a.Sig, 64, rc, cw, ref flags);
            // d = -1: a/b in [1/4, 1) ... compare 2|a| with |b|.
            UInt128 twoA = (UInt128)a.Sig; // 2a in units of b's ulp is a.Sig (a.Exp = b.Exp - 1)
            if (twoA <= b.Sig) return Rounding.ToExtended(a.Sign, a.Exp, a.Sig, 64, rc, cw, ref flags); // exactly half: the even quotient 0
            // remainder = a - b = -(b - a), in units of 2^(a.Exp - 63): b.Sig * 2 - a.Sig
            UInt128 diff = ((UInt128)b.Sig << 1) - a.Sig;
            quotient = 1;
            int ex = a.Exp + 64;
            diff = Rounding.Normalize(diff, ref ex);
            return Rounding.ToExtended(!sign, ex, diff, 64, rc, cw, ref flags);
        }
        r = ReduceSignificand(a.Sig, b.Sig, d, out ulong qq);
        // r is in units of 2^(b.Exp - 63), r < b.Sig.
        if (ieee)
        {
            UInt128 twoR = (UInt128)r << 1;
            if (twoR > b.Sig || (twoR == b.Sig && (qq & 1) != 0))
            {
                qq++;
                r = b.Sig - r;
                sign = !sign;
            }
        }
        quotient = qq;
        if (r == 0) return Float80.Zero(a.Sign);
        int sh = BitOperations.LeadingZeroCount(r);
        return Rounding.ToExtended(sign, b.Exp - sh, r << sh, 64, rc, cw, ref flags);
    }

    /// <summary>
    /// How many quotient bits an incomplete FPREM/FPREM1 step produces (the SDM's N, "an
    /// implementation-dependent number between 32 and 63").
    /// </summary>
    public static int PartialRemainderBits(int d) => 32 + (d & 31);

    /// <summary>
    /// (a * 2^d) mod b for normalized significands, with the low 64 bits of the quotient
    /// floor(a * 2^d / b): one quotient bit per step, as restoring division does.
    /// </summary>
    private static ulong ReduceSignificand(ulong a, ulong b, int d, out ulong quotient)
    {
        UInt128 r = a;
        ulong q = 0;
        if (r >= b)
        {
            r -= b;
            q = 1;
        }
        for (int i = 0; i < d; i++)
        {
            r <<= 1;
            q <<= 1;
            if (r >= b)
            {
                r -= b;
                q |= 1;
            }
        }
        quotient = q;
        return (ulong)r;
    }
}
