using System;

namespace Emu.X86;

/// <summary>
/// The transcendental functions behind FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X and
/// FYL2XP1, evaluated in 128-bit working precision (<see cref="WideFloat"/>) and rounded
/// once to the 64-bit result. The trigonometric functions reduce their argument with the
/// x87's 66-bit approximation of π (Intel SDM Vol. 1, 8.3.10), exactly, so near multiples
/// of π/2 they give the hardware's answer rather than the true sine.
/// </summary>
public static class Transcendentals
{
    /// <summary>
    /// Series stop after the first term that lies this many bits below the sum. That term is
    /// still added (inside the 128-bit window, or as a sticky bit past it), so the sum
    /// knows which side of a 64-bit rounding boundary the true value lies on, and no later,
    /// smaller term is added whose own sticky bit could cancel that.
    /// </summary>
    private const int Precision = 120;

    // ---- kernels on working-precision values ----

    /// <summary>sin(r) for |r| &lt;= π/4 (Taylor series).</summary>
    public static WideFloat SinKernel(WideFloat r)
    {
        if (r.IsZero) return r;
        WideFloat r2 = r * r, term = r, sum = r;
        for (uint n = 1; n < 60; n++)
        {
            term = (term * r2).Div((2 * n) * (2 * n + 1));
            if (term.IsZero) break;
            bool last = term.Exp < sum.Exp - Precision;
            sum = (n & 1) != 0 ? sum - term : sum + term;
            if (last) break;
        }
        return sum;
    }

    /// <summary>cos(r) for |r| &lt;= π/4.</summary>
    public static WideFloat CosKernel(WideFloat r)
    {
        WideFloat sum = WideFloat.One;
        if (r.IsZero) return sum;
        WideFloat r2 = r * r, term = WideFloat.One;
        for (uint n = 1; n < 60; n++)
        {
            term = (term * r2).Div((2 * n - 1) * (2 * n));
            if (term.IsZero) break;
            bool last = term.Exp < sum.Exp - Precision;
            sum = (n & 1) != 0 ? sum - term : sum + term;
            if (last) break;
        }
        return sum;
    }

    /// <summary>atan(t) for 0 &lt;= t &lt;= 1: a table value at k/16 plus a short series.</summary>
    public static WideFloat AtanKernel(WideFloat t)
    {
        if (t.IsZero) return t;
        // k = round(16 t)
        int k = 0;
        if (t.Exp >= -5)
        {
            // 16 t = Sig * 2^(Exp + 4 - 127)
            int sh = 127 - (t.Exp + 4) - 1;
            UInt128 twice = sh >= 128 ? UInt128.Zero : t.Sig >> sh; // 32 t, truncated
            k = (int)((twice + 1) >> 1);
            if (k > 16) k = 16;
        }
        WideFloat c = new(false, 127, (UInt128)(uint)k);
        c = c.Scale(-4);
        WideFloat u = k == 0 ? t : (t - c) / (WideFloat.One + t * c);
        WideFloat sum = X87Constants.AtanTable[k];
        if (u.IsZero) return sum;
        WideFloat u2 = u * u, power = u, series = u;
        for (uint n = 1; n < 80; n++)
        {
            power = power * u2;
            WideFloat term = power.Div(2 * n + 1);
            if (term.IsZero) break;
            bool last = term.Exp < series.Exp - Precision;
            series = (n & 1) != 0 ? series - term : series + term;
            if (last) break;
        }
        return sum + series;
    }

    /// <summary>2 atanh(s) = ln((1 + s) / (1 - s)) for small |s|.</summary>
    private static WideFloat TwoAtanh(WideFloat s)
    {
        if (s.IsZero) return s;
        WideFloat s2 = s * s, power = s, sum = s;
        for (uint n = 1; n < 120; n++)
        {
            power = power * s2;
            WideFloat term = power.Div(2 * n + 1);
            if (term.IsZero) break;
            bool last = term.Exp < sum.Exp - Precision;
            sum = sum + term;
            if (last) break;
        }
        return sum.Scale(1);
    }

    /// <summary>log2(x) for finite x &gt; 0; <paramref name="exact"/> when x is a power of two.</summary>
    public static WideFloat Log2(WideFloat x, out bool exact)
    {
        // x = m * 2^k with m in [1/sqrt 2, sqrt 2).
        int k = x.Exp;
        WideFloat m = new(false, 0, x.Sig);
        // sqrt(2) = 1.0110101000001001111... : compare the top bits of the significand.
        if (x.Sig > ((UInt128)0xB504_F333_F9DE_6484UL << 64))
        {
            m = m.Scale(-1);
            k++;
        }
        exact = m.Exp == 0 && m.Sig == (UInt128.One << 127);
        WideFloat kf = WideFloat.FromInt(k);
        if (exact) return kf;
        WideFloat s = (m - WideFloat.One) / (m + WideFloat.One);
        return kf + TwoAtanh(s) / X87Constants.Ln2;
    }

    /// <summary>log2(1 + x) for x &gt; -1, accurate for small |x|.</summary>
    public static WideFloat Log2OnePlus(WideFloat x)
    {
        if (x.IsZero) return x;
        WideFloat two = WideFloat.One.Scale(1);
        WideFloat s = x / (two + x);
        return TwoAtanh(s) / X87Constants.Ln2;
    }

    /// <summary>e^u - 1, accurate for small |u|: the series on u / 2^8, then eight doublings e(2v) - 1 = d (d + 2).</summary>
    public static WideFloat ExpMinusOne(WideFloat u)
    {
        if (u.IsZero) return u;
        const int Halvings = 8;
        WideFloat v = u.Scale(-Halvings);
        WideFloat term = v, sum = v;
        for (uint n = 2; n < 60; n++)
        {
            term = (term * v).Div(n);
            if (term.IsZero) break;
            bool last = term.Exp < sum.Exp - Precision;
            sum = sum + term;
            if (last) break;
        }
        WideFloat two = WideFloat.One.Scale(1);
        for (int i = 0; i < Halvings; i++) sum = sum * (sum + two);
        return sum;
    }

    // ---- argument reduction for the trigonometric instructions ----

    /// <summary>
    /// |x| reduced modulo π/2 with the x87's 66-bit π: returns r with |r| &lt;= π/4 and the
    /// quadrant q (mod 4) such that |x| = q (π66 / 2) + r exactly. x finite, |x| &lt; 2^63.
    /// </summary>
    public static WideFloat Reduce(in Unpacked x, out int quadrant)
    {
        quadrant = 0;
        if (x.Class == FpClass.Zero) return WideFloat.Zero;
        if (x.Exp < -1) return new WideFloat(false, x.Exp, (UInt128)x.Sig << 64); // |x| < 1/2 < π/4
        // In units of 2^-65: |x| = Sig << (Exp + 2) (at most 128 bits for Exp <= 62), π66/2 = PiReduction.
        UInt128 xs = (UInt128)x.Sig << (x.Exp + 2);
        UInt128 p = X87Constants.PiReduction;
        UInt128 q = xs / p;
        UInt128 r = xs - q * p;
        bool negative = false;
        if (r > (p >> 1))
        {
            r = p - r;
            q++;
            negative = true;
        }
        quadrant = (int)(q & 3);
        return new WideFloat(negative, 127 - 65, r);
    }

    /// <summary>
    /// tan x, through the reduced argument: tan r in even quadrants, -cot r in odd ones. For
    /// a small r the Taylor series of tan and cot are used rather than a quotient, so the
    /// result knows on which side of a nearby 64-bit value it lies (tan r is just above r,
    /// cot r just below 1/r, and both of those can be exact extended values).
    /// </summary>
    public static WideFloat Tan(in Unpacked x)
    {
        WideFloat r = Reduce(x, out int q);
        bool small = r.Exp < -16;
        WideFloat t;
        if ((q & 1) == 0) t = small ? TanSeries(r) : SinKernel(r) / CosKernel(r);
        else t = (small ? CotSeries(r) : CosKernel(r) / SinKernel(r)).Negate();
        return x.Sign ? t.Negate() : t;
    }

    /// <summary>tan r = r + r^3/3 + 2r^5/15 + 17r^7/315 + 62r^9/2835 for |r| &lt; 2^-16 (each term 2^-32 below the last).</summary>
    private static WideFloat TanSeries(WideFloat r)
    {
        WideFloat r2 = r * r, p = r * r2;
        WideFloat sum = r + p.Div(3);
        p = p * r2;
        sum = sum + p.Mul(2).Div(15);
        p = p * r2;
        sum = sum + p.Mul(17).Div(315);
        p = p * r2;
        return sum + p.Mul(62).Div(2835);
    }

    /// <summary>cot r = 1/r - r/3 - r^3/45 - 2r^5/945 - r^7/4725 for |r| &lt; 2^-16.</summary>
    private static WideFloat CotSeries(WideFloat r)
    {
        WideFloat r2 = r * r, p = r;
        WideFloat sum = WideFloat.One / r - p.Div(3);
        p = p * r2;
        sum = sum - p.Div(45);
        p = p * r2;
        sum = sum - p.Mul(2).Div(945);
        p = p * r2;
        return sum - p.Div(4725);
    }

    /// <summary>sin and cos of the reduced argument, for the quadrant.</summary>
    public static void SinCos(in Unpacked x, out WideFloat sin, out WideFloat cos)
    {
        WideFloat r = Reduce(x, out int q);
        WideFloat s = SinKernel(r), c = CosKernel(r);
        switch (q)
        {
            case 0: sin = s; cos = c; break;
            case 1: sin = c; cos = -s; break;
            case 2: sin = -s; cos = -c; break;
            default: sin = -c; cos = s; break;
        }
        if (x.Sign) sin = -sin;
    }
}
