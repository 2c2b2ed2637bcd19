using System;
using System.Numerics;

namespace Emu.X86;

/// <summary>
/// The mathematical constants the x87 needs (FLDPI, FLDL2T, FLDL2E, FLDLG2, FLDLN2, and the
/// transcendentals' working values), computed once at start-up from their defining series
/// in 320-bit fixed point, so no digit is typed in by hand.
/// </summary>
public static class X87Constants
{
    private const int Bits = 320;
    private static readonly BigInteger One = BigInteger.One << Bits;

    /// <summary>π, ln 2, ln 10 and what follows from them.</summary>
    public static readonly WideFloat Pi, HalfPi, Ln2, Ln10, Log2E, Log2Ten, Log10Two;

    /// <summary>π in fixed point with <see cref="Bits"/> fraction bits (tests check it against published digits).</summary>
    public static readonly BigInteger PiFixed;

    /// <summary>
    /// The approximation of π the x87 uses to reduce FSIN, FCOS, FSINCOS and FPTAN
    /// arguments: 66 significant bits (Intel SDM Vol. 1, 8.3.10), as an integer
    /// <c>PiReduction</c> with π ≈ PiReduction * 2^-64.
    /// </summary>
    public static readonly UInt128 PiReduction;

    /// <summary>atan(k/16) for k = 0..16, the table FPATAN reduces its argument with.</summary>
    public static readonly WideFloat[] AtanTable = new WideFloat[17];

    static X87Constants()
    {
        // Machin: π = 16 atan(1/5) - 4 atan(1/239).
        PiFixed = 16 * AtanInverse(5) - 4 * AtanInverse(239);
        // ln 2 = 2 atanh(1/3); ln 10 = 3 ln 2 + ln(5/4) = 3 ln 2 + 2 atanh(1/9).
        BigInteger ln2 = 2 * AtanhInverse(3);
        BigInteger ln10 = 3 * ln2 + 2 * AtanhInverse(9);
        Pi = FromFixed(PiFixed);
        HalfPi = Pi.Scale(-1);
        Ln2 = FromFixed(ln2);
        Ln10 = FromFixed(ln10);
        Log2E = FromFixed((One << Bits) / ln2);
        Log2Ten = FromFixed((ln10 << Bits) / ln2);
        Log10Two = FromFixed((ln2 << Bits) / ln10);
        // π rounded to 66 significant bits: π * 2^64 lies in [2^65, 2^66).
        BigInteger pi64 = PiFixed >> (Bits - 65);        // π * 2^65, truncated
        BigInteger rounded = (pi64 + 1) >> 1;             // round to nearest at 2^-64
        PiReduction = (UInt128)rounded;
        for (int k = 0; k <= 16; k++) AtanTable[k] = FromFixed(AtanRational(k, 16));
    }

    /// <summary>atan(1/n) in fixed point, by its Taylor series.</summary>
    private static BigInteger AtanInverse(int n)
    {
        BigInteger sum = 0, power = One / n, n2 = (BigInteger)n * n;
        for (int k = 0; power != 0; k++)
        {
            BigInteger term = power / (2 * k + 1);
            sum += (k & 1) == 0 ? term : -term;
            power /= n2;
        }
        return sum;
    }

    /// <summary>atanh(1/n) in fixed point.</summary>
    private static BigInteger AtanhInverse(int n)
    {
        BigInteger sum = 0, power = One / n, n2 = (BigInteger)n * n;
        for (int k = 0; power != 0; k++)
        {
            sum += power / (2 * k + 1);
            power /= n2;
        }
        return sum;
    }

    /// <summary>atan(p/q) for 0 &lt;= p/q &lt;= 1 in fixed point, by Euler's series (ratio p²/(p²+q²) &lt;= 1/2).</summary>
    private static BigInteger AtanRational(int p, int q)
    {
        if (p == 0) return 0;
        // atan(x) = sum_n (2^2n (n!)^2 / (2n+1)!) x^(2n+1) / (1+x^2)^(n+1) = y/x * sum_n prod_{k<=n} (2k/(2k+1)) y^n,
        // with y = x^2 / (1 + x^2); for x = p/q: y = p^2 / (p^2 + q^2), y/x = p q / (p^2 + q^2).
        BigInteger p2 = (BigInteger)p * p, s = p2 + (BigInteger)q * q;
        BigInteger term = One * p * q / s, sum = 0;
        for (int n = 0; term != 0; n++)
        {
            sum += term;
            term = term * (2 * n + 2) * p2 / ((2 * n + 3) * s);
        }
        return sum;
    }

    /// <summary>A positive fixed-point value as a working float (its top 128 bits).</summary>
    private static WideFloat FromFixed(BigInteger v)
    {
        long bits = (long)v.GetBitLength();
        int shift = (int)bits - 128;
        BigInteger top = shift >= 0 ? v >> shift : v << -shift;
        // value = top * 2^(shift - Bits); the leading bit of top is bit 127.
        return new WideFloat(false, shift - Bits + 127, (UInt128)top);
    }
}
