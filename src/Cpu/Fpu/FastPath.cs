using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Emu.X86;

/// <summary>
/// The fast paths of the x87 arithmetic: ordinary operands (normal finite values, J set)
/// whose exact result, rounded once, is a normal number of the destination format. Each
/// Try* method either gives exactly what the general path in <see cref="X87Math"/>,
/// <see cref="Rounding"/> and <see cref="Conversions"/> would (the result, and PE and C1 in
/// <c>flags</c>), or returns false having changed nothing, and the caller takes the general
/// path: zeros, denormals, infinities, NaNs, unsupported encodings, and results that
/// overflow or underflow (where the exception masks matter) all go there.
/// The exact result reaches the rounding step as a 64-bit significand with its integer bit
/// set plus a 64-bit tail (the bits below it; the lowest one may be a sticky bit), which
/// is exact enough: rounding only asks how the tail compares with one half and whether it
/// is zero.
/// </summary>
public static class X87Fast
{
    /// <summary>A normal extended value: biased exponent 1-7FFEh and the integer bit set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsNormal(ushort se, ulong sig) => (uint)((se & 0x7FFF) - 1) < 0x7FFEu && (long)sig < 0;

    /// <summary>
    /// Rounds <c>sig.tail</c> (sig normalized, the value's leading bit at biased exponent
    /// <paramref name="b"/>) to <paramref name="p"/> significand bits by rounding control.
    /// Returns false, changing nothing, unless the result is a normal number with biased
    /// exponent 1 to <paramref name="maxBiased"/>. On success <paramref name="sig"/> holds
    /// the rounded significand (still left-aligned, bit 63 set) and <paramref name="b"/> its exponent.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryRound(bool sign, ref int b, ref ulong sig, ulong tail, int p, int rc, int maxBiased, ref uint flags)
    {
        if (b < 1) return false;
        ulong kept, low;
        bool up, inexact;
        if (p == 64)
        {
            kept = sig;
            inexact = tail != 0;
            up = rc switch
            {
                FpuControl.Nearest => tail > 0x8000_0000_0000_0000UL || (tail == 0x8000_0000_0000_0000UL && (sig & 1) != 0),
                FpuControl.Down => sign && inexact,
                FpuControl.Up => !sign && inexact,
                _ => false,
            };
            if (up) kept++;
        }
        else
        {
            int shift = 64 - p;
            ulong mask = (1UL << shift) - 1;
            ulong half = 1UL << (shift - 1);
            low = sig & mask;
            kept = sig & ~mask;
            inexact = (low | tail) != 0;
            up = rc switch
            {
                FpuControl.Nearest => low > half || (low == half && (tail != 0 || (sig & (1UL << shift)) != 0)),
                FpuControl.Down => sign && inexact,
                FpuControl.Up => !sign && inexact,
                _ => false,
            };
            if (up) kept += 1UL << shift;
        }
        int e = b;
        if (up && kept == 0)
        {
            // The carry ran out of the top: 2^p, renormalized.
            kept = 0x8000_0000_0000_0000UL;
            e++;
        }
        if (e > maxBiased) return false;
        if (inexact) flags |= FpuStatus.PE | (up ? FpuStatus.C1 : 0u);
        b = e;
        sig = kept;
        return true;
    }

    /// <summary>Rounds to the register format and packs (see <see cref="TryRound"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryPack(bool sign, int b, ulong sig, ulong tail, int p, int rc, ref uint flags, out Float80 r)
    {
        if (!TryRound(sign, ref b, ref sig, tail, p, rc, 0x7FFE, ref flags))
        {
            r = default;
            return false;
        }
        r = new Float80((ushort)((sign ? 0x8000 : 0) | b), sig);
        return true;
    }

    // ---- add, subtract, multiply, divide, square root ----

    /// <summary>x + y (x - y when <paramref name="subtract"/>), rounded to <paramref name="p"/> bits.</summary>
    public static bool TryAdd(in Float80 x, in Float80 y, bool subtract, int p, int rc, ref uint flags, out Float80 r)
    {
        ulong a = x.Significand, b = y.Significand;
        ushort xse = x.SignExponent, yse = y.SignExponent;
        if (!IsNormal(xse, a) || !IsNormal(yse, b))
        {
            r = default;
            return false;
        }
        int ea = xse & 0x7FFF, eb = yse & 0x7FFF;
        bool sa = (xse & 0x8000) != 0, sb = ((yse & 0x8000) != 0) != subtract;
        // Order by magnitude: a is the larger.
        if (eb > ea || (eb == ea && b > a))
        {
            (a, b) = (b, a);
            (ea, eb) = (eb, ea);
            (sa, sb) = (sb, sa);
        }
        int d = ea - eb;
        ulong bhi, blo;
        if (d == 0)
        {
            bhi = b;
            blo = 0;
        }
        else if (d < 64)
        {
            bhi = b >> d;
            blo = b << (64 - d);
        }
        else if (d == 64)
        {
            bhi = 0;
            blo = b;
        }
        else if (d < 128)
        {
            bhi = 0;
            blo = (b >> (d - 64)) | ((b << (128 - d)) != 0 ? 1UL : 0UL);
        }
        else
        {
            bhi = 0;
            blo = 1; // all of b is sticky
        }
        ulong hi, lo;
        if (sa == sb)
        {
            hi = a + bhi;
            lo = blo;
            if (hi < a)
            {
                // A carry out of bit 63: shift right once, keeping the dropped bit as sticky.
                lo = (lo >> 1) | (hi << 63) | (lo & 1);
                hi = (hi >> 1) | 0x8000_0000_0000_0000UL;
                ea++;
            }
        }
        else
        {
            lo = 0 - blo;
            hi = a - bhi - (blo != 0 ? 1UL : 0UL);
            if (hi == 0)
            {
                if (lo == 0)
                {
                    // An exact zero: +0, or -0 when rounding down (Intel SDM Vol. 1, 4.8.3.4).
                    r = Float80.Zero(rc == FpuControl.Down);
                    return true;
                }
                hi = lo;
                lo = 0;
                ea -= 64;
            }
            int s = BitOperations.LeadingZeroCount(hi);
            if (s != 0)
            {
                hi = (hi << s) | (lo >> (64 - s));
                lo <<= s;
                ea -= s;
            }
        }
        return TryPack(sa, ea, hi, lo, p, rc, ref flags, out r);
    }

    public static bool TryMultiply(in Float80 x, in Float80 y, int p, int rc, ref uint flags, out Float80 r)
    {
        ulong a = x.Significand, b = y.Significand;
        ushort xse = x.SignExponent, yse = y.SignExponent;
        if (!IsNormal(xse, a) || !IsNormal(yse, b))
        {
            r = default;
            return false;
        }
        ulong hi = Math.BigMul(a, b, out ulong lo);
        // The product lies in [2^126, 2^128): bit 127 stands for 2^(ea + eb + 1) unbiased.
        int e = (xse & 0x7FFF) + (yse & 0x7FFF) - Float80.Bias + 1;
        if ((long)hi >= 0)
        {
            hi = (hi << 1) | (lo >> 63);
            lo <<= 1;
            e--;
        }
        return TryPack(((xse ^ yse) & 0x8000) != 0, e, hi, lo, p, rc, ref flags, out r);
    }

    public static bool TryDivide(in Float80 x, in Float80 y, int p, int rc, ref uint flags, out Float80 r)
    {
        ulong a = x.Significand, b = y.Significand;
        ushort xse = x.SignExponent, yse = y.SignExponent;
        if (!IsNormal(xse, a) || !IsNormal(yse, b))
        {
            r = default;
            return false;
        }
        int e = (xse & 0x7FFF) - (yse & 0x7FFF) + Float80.Bias;
        ulong nhi, nlo;
        if (a >= b)
        {
            // a/b in [1, 2): the quotient a * 2^63 / b has its leading bit at 2^(ea - eb).
            nhi = a >> 1;
            nlo = a << 63;
        }
        else
        {
            // a/b in (1/2, 1): a * 2^64 / b, its leading bit at 2^(ea - eb - 1).
            nhi = a;
            nlo = 0;
            e--;
        }
        ulong q = DivRem(nhi, nlo, b, out ulong rem);
        // The tail: one half when 2 rem = b, above it when more, a sticky bit for the rest.
        ulong tail = (rem >= b - rem ? 0x8000_0000_0000_0000UL : 0) | (rem != 0 && rem != b - rem ? 1UL : 0);
        return TryPack(((xse ^ yse) & 0x8000) != 0, e, q, tail, p, rc, ref flags, out r);
    }

    /// <summary>
    /// (hi * 2^64 + lo) / d for d with bit 63 set and hi &lt; d (the quotient fits 64 bits),
    /// and the remainder: long division in base 2^32 (Knuth, TAOCP 4.3.1, algorithm D).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong DivRem(ulong hi, ulong lo, ulong d, out ulong rem)
    {
        ulong d1 = d >> 32, d0 = d & 0xFFFF_FFFF;
        ulong l1 = lo >> 32, l0 = lo & 0xFFFF_FFFF;
        // First digit: (hi, l1) / d.
        ulong q1 = hi / d1;
        ulong r = hi - q1 * d1;
        while (q1 > 0xFFFF_FFFF || q1 * d0 > ((r << 32) | l1))
        {
            q1--;
            r += d1;
            if (r > 0xFFFF_FFFF) break;
        }
        ulong u = ((hi << 32) | l1) - q1 * d; // the partial remainder, below d
        // Second digit: (u, l0) / d.
        ulong q0 = u / d1;
        r = u - q0 * d1;
        while (q0 > 0xFFFF_FFFF || q0 * d0 > ((r << 32) | l0))
        {
            q0--;
            r += d1;
            if (r > 0xFFFF_FFFF) break;
        }
        rem = ((u << 32) | l0) - q0 * d;
        return (q1 << 32) | q0;
    }

    /// <summary>The square root of a positive normal value.</summary>
    public static bool TrySqrt(in Float80 x, int p, int rc, ref uint flags, out Float80 r)
    {
        ulong a = x.Significand;
        ushort se = x.SignExponent;
        if (!IsNormal(se, a) || (se & 0x8000) != 0)
        {
            r = default;
            return false;
        }
        int e = (se & 0x7FFF) - Float80.Bias;
        ulong hi, lo;
        int exp;
        // Make the radicand's exponent even: n * 2^(e - 127) or n * 2^(e - 126), n in [2^126, 2^128).
        if ((e & 1) != 0)
        {
            hi = a;
            lo = 0;
            exp = ((e - 127) >> 1) + 63;
        }
        else
        {
            hi = a >> 1;
            lo = a << 63;
            exp = ((e - 126) >> 1) + 63;
        }
        ulong root = ISqrt(hi, lo, out ulong remHi, out ulong remLo);
        // The root is never exactly halfway between integers: the guard bit is rem > root
        // ((root + 1/2)^2 = root^2 + root + 1/4), the sticky bit rem != 0.
        bool guard = remHi != 0 || remLo > root;
        ulong tail = (guard ? 0x8000_0000_0000_0000UL : 0) | ((remHi | remLo) != 0 ? 1UL : 0);
        return TryPack(false, exp + Float80.Bias, root, tail, p, rc, ref flags, out r);
    }

    /// <summary>
    /// floor(sqrt(n)) for n = hi * 2^64 + lo in [2^126, 2^128), and the remainder n - root^2
    /// (below 2^65). A double-precision estimate, one Newton step, then exact corrections.
    /// </summary>
    public static ulong ISqrt(ulong hi, ulong lo, out ulong remHi, out ulong remLo)
    {
        const double TwoTo64 = 18446744073709551616.0;
        double nd = hi * TwoTo64 + lo;
        double s = Math.Sqrt(nd);
        ulong root = s >= TwoTo64 ? ulong.MaxValue : (ulong)s;
        if (root < 0x8000_0000_0000_0000UL) root = 0x8000_0000_0000_0000UL;
        // Newton: root += (n - root^2) / (2 root), the residual taken as a double.
        ulong sqHi = Math.BigMul(root, root, out ulong sqLo);
        double residual;
        if (sqHi < hi || (sqHi == hi && sqLo <= lo))
        {
            ulong dLo = lo - sqLo;
            ulong dHi = hi - sqHi - (lo < sqLo ? 1UL : 0);
            residual = dHi * TwoTo64 + dLo;
        }
        else
        {
            ulong dLo = sqLo - lo;
            ulong dHi = sqHi - hi - (sqLo < lo ? 1UL : 0);
            residual = -(dHi * TwoTo64 + dLo);
        }
        double step = residual / (2.0 * root);
        if (step > 0) root = step >= TwoTo64 - root ? ulong.MaxValue : root + (ulong)step;
        else if (step < 0) root = -step >= root - 0x8000_0000_0000_0000UL ? 0x8000_0000_0000_0000UL : root - (ulong)(-step);
        // Exact corrections: root^2 <= n < (root + 1)^2.
        sqHi = Math.BigMul(root, root, out sqLo);
        while (sqHi > hi || (sqHi == hi && sqLo > lo))
        {
            // (root - 1)^2 = root^2 - 2 root + 1
            root--;
            sqHi = Math.BigMul(root, root, out sqLo);
        }
        while (root != ulong.MaxValue)
        {
            ulong nHi = Math.BigMul(root + 1, root + 1, out ulong nLo);
            if (nHi > hi || (nHi == hi && nLo > lo)) break;
            root++;
            sqHi = nHi;
            sqLo = nLo;
        }
        remLo = lo - sqLo;
        remHi = hi - sqHi - (lo < sqLo ? 1UL : 0);
        return root;
    }

    // ---- conversions ----

    /// <summary>A normal double as an extended value (exact, no exceptions).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryFromDouble(ulong bits, out Float80 r)
    {
        uint e = (uint)(bits >> 52) & 0x7FF;
        if (e - 1 >= 0x7FEu)
        {
            r = default;
            return false;
        }
        r = new Float80((ushort)((uint)(bits >> 48) & 0x8000 | (e + (Float80.Bias - 1023))), Float80.IntegerBit | (bits << 11));
        return true;
    }

    /// <summary>A normal single as an extended value (exact, no exceptions).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryFromSingle(uint bits, out Float80 r)
    {
        uint e = (bits >> 23) & 0xFF;
        if (e - 1 >= 0xFEu)
        {
            r = default;
            return false;
        }
        r = new Float80((ushort)((bits >> 16) & 0x8000 | (e + (Float80.Bias - 127))), Float80.IntegerBit | ((ulong)bits << 40));
        return true;
    }

    /// <summary>A signed integer as an extended value: always exact (FILD, the integer operands).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float80 FromInt64(long v)
    {
        if (v == 0) return default;
        ulong m = v < 0 ? (ulong)-v : (ulong)v; // -long.MinValue wraps to 2^63, right unsigned
        int s = BitOperations.LeadingZeroCount(m);
        return new Float80((ushort)((v < 0 ? 0x8000 : 0) | (Float80.Bias + 63 - s)), m << s);
    }

    /// <summary>FST m64fp of a normal value whose rounded result is a normal double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryToDouble(in Float80 v, int rc, ref uint flags, out ulong bits)
    {
        ulong sig = v.Significand;
        ushort se = v.SignExponent;
        bits = 0;
        if (!IsNormal(se, sig)) return false;
        bool sign = (se & 0x8000) != 0;
        int b = (se & 0x7FFF) - Float80.Bias + 1023;
        if (!TryRound(sign, ref b, ref sig, 0, 53, rc, 2046, ref flags)) return false;
        bits = (sign ? 0x8000_0000_0000_0000UL : 0) | ((ulong)b << 52) | ((sig >> 11) & 0x000F_FFFF_FFFF_FFFF);
        return true;
    }

    /// <summary>FST m32fp of a normal value whose rounded result is a normal single.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryToSingle(in Float80 v, int rc, ref uint flags, out uint bits)
    {
        ulong sig = v.Significand;
        ushort se = v.SignExponent;
        bits = 0;
        if (!IsNormal(se, sig)) return false;
        bool sign = (se & 0x8000) != 0;
        int b = (se & 0x7FFF) - Float80.Bias + 127;
        if (!TryRound(sign, ref b, ref sig, 0, 24, rc, 254, ref flags)) return false;
        bits = (sign ? 0x8000_0000u : 0) | ((uint)b << 23) | ((uint)(sig >> 40) & 0x7F_FFFF);
        return true;
    }

    /// <summary>
    /// FIST/FISTP of a normal value of magnitude 1 to 2^63 that rounds into the destination's
    /// range: the integer, with PE and C1 as rounding sets them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryToInteger(in Float80 v, int bits, int rc, ref uint flags, out long result)
    {
        ulong sig = v.Significand;
        ushort se = v.SignExponent;
        result = 0;
        int e = (se & 0x7FFF) - Float80.Bias;
        if ((uint)e > 62 || (long)sig >= 0) return false;
        bool sign = (se & 0x8000) != 0;
        int fracBits = 63 - e; // 1 to 63
        ulong k = sig >> fracBits;
        ulong rest = sig << (64 - fracBits); // the fraction, its top bit one half
        bool inexact = rest != 0;
        bool up = rc switch
        {
            FpuControl.Nearest => rest > 0x8000_0000_0000_0000UL || (rest == 0x8000_0000_0000_0000UL && (k & 1) != 0),
            FpuControl.Down => sign && inexact,
            FpuControl.Up => !sign && inexact,
            _ => false,
        };
        if (up) k++;
        ulong limit = (1UL << (bits - 1)) - (sign ? 0UL : 1UL);
        if (k > limit) return false;
        if (inexact) flags |= FpuStatus.PE | (up ? FpuStatus.C1 : 0u);
        result = sign ? -(long)k : (long)k;
        return true;
    }

    // ---- comparison ----

    /// <summary>
    /// Compares two values that are normal or zero (no exceptions possible): one of
    /// <see cref="X87Math.Greater"/>, Less, Equal; false for anything else.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryCompare(in Float80 x, in Float80 y, out int result)
    {
        ulong a = x.Significand, b = y.Significand;
        ushort xse = x.SignExponent, yse = y.SignExponent;
        bool xz = (xse & 0x7FFF) == 0 && a == 0, yz = (yse & 0x7FFF) == 0 && b == 0;
        result = X87Math.Unordered;
        if (!(xz || IsNormal(xse, a)) || !(yz || IsNormal(yse, b))) return false;
        if (xz && yz)
        {
            result = X87Math.Equal;
            return true;
        }
        bool xs = !xz && (xse & 0x8000) != 0, ys = !yz && (yse & 0x8000) != 0;
        if (xs != ys)
        {
            result = xs ? X87Math.Less : X87Math.Greater;
            return true;
        }
        // Same sign (zeros count as positive): compare magnitudes; a zero has exponent 0, below any normal.
        int ex = xse & 0x7FFF, ey = yse & 0x7FFF;
        int m = ex != ey ? (ex > ey ? 1 : -1) : a == b ? 0 : a > b ? 1 : -1;
        result = m == 0 ? X87Math.Equal : (m > 0) != xs ? X87Math.Greater : X87Math.Less;
        return true;
    }
}
