using System;
using System.Runtime.CompilerServices;

namespace Emu.X86;

/// <summary>
/// A working-precision binary float for the transcendental instructions: a normalized
/// 128-bit significand (bit 127 set, or zero) and an unbounded exponent, value
/// <c>Sig * 2^(Exp - 127)</c>. Operations truncate to 128 bits, which leaves about 60
/// bits of margin over the 64-bit results the x87 rounds to. A value type with no
/// allocation, so an instruction can use it freely.
/// </summary>
public readonly struct WideFloat
{
    public readonly UInt128 Sig;
    public readonly int Exp;
    public readonly bool Sign;

    public WideFloat(bool sign, int exp, UInt128 sig)
    {
        if (sig == UInt128.Zero)
        {
            Sign = sign;
            Exp = 0;
            Sig = sig;
            return;
        }
        int s = (int)UInt128.LeadingZeroCount(sig);
        Sign = sign;
        Exp = exp - s;
        Sig = sig << s;
    }

    public bool IsZero => Sig == UInt128.Zero;

    public static readonly WideFloat Zero = new(false, 0, UInt128.Zero);
    public static readonly WideFloat One = new(false, 0, UInt128.One << 127);

    /// <summary>An exact conversion from a finite unpacked operand.</summary>
    public static WideFloat From(in Unpacked u) =>
        u.Class == FpClass.Zero ? new WideFloat(u.Sign, 0, UInt128.Zero) : new WideFloat(u.Sign, u.Exp, (UInt128)u.Sig << 64);

    public static WideFloat FromInt(long v) =>
        new(v < 0, 127, v < 0 ? (UInt128)(ulong)-v : (UInt128)(ulong)v);

    public WideFloat Negate() => new(!Sign, Exp, Sig);
    public WideFloat Abs() => new(false, Exp, Sig);

    /// <summary>this * 2^n.</summary>
    public WideFloat Scale(int n) => IsZero ? this : new WideFloat(Sign, Exp + n, Sig);

    public static WideFloat operator -(WideFloat a) => a.Negate();

    public static WideFloat operator +(WideFloat a, WideFloat b)
    {
        if (a.IsZero) return b;
        if (b.IsZero) return a;
        if (b.Exp > a.Exp || (b.Exp == a.Exp && b.Sig > a.Sig)) (a, b) = (b, a);
        int d = a.Exp - b.Exp;
        // One bit of headroom for the carry. The smaller operand keeps a sticky bit for what
        // is shifted out, so a term far below the working precision still moves the sum
        // (x - tiny lands just below x): directed rounding of the final result needs that.
        UInt128 x = a.Sig >> 1;
        UInt128 y;
        if (d + 1 >= 128) y = UInt128.One;
        else
        {
            y = b.Sig >> (d + 1);
            if ((b.Sig & ((UInt128.One << (d + 1)) - 1)) != UInt128.Zero) y |= UInt128.One;
        }
        UInt128 s = a.Sign == b.Sign ? x + y : x - y;
        return new WideFloat(a.Sign, a.Exp + 1, s);
    }

    public static WideFloat operator -(WideFloat a, WideFloat b) => a + b.Negate();

    public static WideFloat operator *(WideFloat a, WideFloat b)
    {
        if (a.IsZero || b.IsZero) return new WideFloat(a.Sign != b.Sign, 0, UInt128.Zero);
        UInt128 hi = MulHigh(a.Sig, b.Sig);
        // The product of two values in [1, 2) lies in [1, 4): bit 255 of the full product stands for 2^(ea + eb + 1).
        return new WideFloat(a.Sign != b.Sign, a.Exp + b.Exp + 1, hi);
    }

    public static WideFloat operator /(WideFloat a, WideFloat b)
    {
        if (b.IsZero) throw new DivideByZeroException("WideFloat division by zero");
        if (a.IsZero) return new WideFloat(a.Sign != b.Sign, 0, UInt128.Zero);
        // Restoring division for 128 quotient bits, the remainder kept in 129 bits (hi, r).
        UInt128 r = a.Sig, d = b.Sig, q = UInt128.Zero;
        int exp = a.Exp - b.Exp;
        bool hi = false;
        if (r < d)
        {
            exp--;
            hi = (r >> 127) != UInt128.Zero;
            r <<= 1;
        }
        for (int i = 0; i < 128; i++)
        {
            q <<= 1;
            if (hi || r >= d)
            {
                r -= d; // modulo 2^128: the true difference is below d
                q |= UInt128.One;
            }
            hi = (r >> 127) != UInt128.Zero;
            r <<= 1;
        }
        return new WideFloat(a.Sign != b.Sign, exp, q);
    }

    /// <summary>this / n for a small positive integer.</summary>
    public WideFloat Div(uint n)
    {
        if (IsZero) return this;
        UInt128 q = Sig / n;
        UInt128 r = Sig - q * n;
        // Extend the quotient with more bits from the remainder so the result stays 128 bits precise.
        int s = (int)UInt128.LeadingZeroCount(q);
        if (s > 0) q = (q << s) | ((r << s) / n);
        return new WideFloat(Sign, Exp - s, q);
    }

    /// <summary>this * n for a small integer.</summary>
    public WideFloat Mul(uint n) => this * new WideFloat(false, 127, n);

    /// <summary>The high 128 bits of a 256-bit product.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static UInt128 MulHigh(UInt128 a, UInt128 b)
    {
        ulong a1 = (ulong)(a >> 64), a0 = (ulong)a, b1 = (ulong)(b >> 64), b0 = (ulong)b;
        UInt128 hh = (UInt128)a1 * b1;
        UInt128 hl = (UInt128)a1 * b0;
        UInt128 lh = (UInt128)a0 * b1;
        UInt128 ll = (UInt128)a0 * b0;
        UInt128 mid = (hl & ulong.MaxValue) + (lh & ulong.MaxValue) + (ll >> 64);
        return hh + (hl >> 64) + (lh >> 64) + (mid >> 64);
    }

    /// <summary>Compares magnitudes: -1, 0, 1.</summary>
    public static int CompareMagnitude(WideFloat a, WideFloat b)
    {
        if (a.IsZero || b.IsZero) return a.IsZero ? (b.IsZero ? 0 : -1) : 1;
        if (a.Exp != b.Exp) return a.Exp > b.Exp ? 1 : -1;
        return a.Sig.CompareTo(b.Sig);
    }

    /// <summary>Rounds to an extended result: 64-bit precision, rounding control, the register format's range.</summary>
    public Float80 Round(int rc, ushort cw, ref uint flags, bool exact = false)
    {
        if (IsZero) return Float80.Zero(Sign);
        // Everything the working precision cannot see counts as "inexact" (a sticky bit), unless the value is known exact.
        UInt128 s = exact ? Sig : Sig | UInt128.One;
        return Rounding.ToExtended(Sign, Exp, s, 64, rc, cw, ref flags);
    }

    public override string ToString() => $"{(Sign ? "-" : "+")}{Sig:X32}p{Exp}";
}
