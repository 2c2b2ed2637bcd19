using System;
using Emu.Conformance.Tests;
using Emu.X86;

namespace Emu.Fpu.Tests.Differential;

/// <summary>
/// Random x87 operands biased toward what breaks implementations: zeros, denormals,
/// pseudo-denormals, unnormals, infinities, pseudo-infinities, quiet and signalling NaNs
/// and pseudo-NaNs, the indefinite, values near rounding boundaries at 24, 53 and 64 bits,
/// near the overflow and underflow thresholds of every format, integers and halves.
/// </summary>
public sealed class Values
{
    private readonly Rng rng;

    public Values(Rng rng) => this.rng = rng;

    private bool Sign() => rng.Chance(50);

    private ulong RandomSignificand()
    {
        ulong s = rng.Next64() | Float80.IntegerBit;
        switch (rng.Below(8))
        {
            case 0: return Float80.IntegerBit | (rng.Next64() >> rng.Below(64)); // few high bits set
            case 1: return ulong.MaxValue << rng.Below(64) | Float80.IntegerBit;  // runs of ones
            case 2:
            {
                // Around a rounding position: 24, 53 or 64 bits, the bits below it half-way or near.
                int keep = rng.Pick(new[] { 24, 53, 64 });
                if (keep == 64) return s;
                int below = 64 - keep;
                ulong head = s & ~((1UL << below) - 1);
                ulong tail = rng.Below(6) switch
                {
                    0 => 1UL << (below - 1),                      // exactly half
                    1 => (1UL << (below - 1)) + 1,                // just above half
                    2 => (1UL << (below - 1)) - 1,                // just below half
                    3 => 0,                                       // exact
                    4 => 1,                                       // tiny remainder
                    _ => (1UL << below) - 1,                      // all ones: rounding carries
                };
                return head | tail;
            }
            default: return s;
        }
    }

    /// <summary>A finite, normal extended value with a biased exponent in [lo, hi].</summary>
    public Float80 Normal(int lo, int hi) =>
        new((ushort)((Sign() ? 0x8000 : 0) | rng.Range(Math.Max(lo, 1), Math.Min(hi, 0x7FFE))), RandomSignificand());

    /// <summary>Any extended value, specials included.</summary>
    public Float80 Extended()
    {
        bool s = Sign();
        ushort sg = (ushort)(s ? 0x8000 : 0);
        switch (rng.Below(40))
        {
            case 0: case 1: return Float80.Zero(s);
            case 2: case 3: return new Float80(sg, rng.Next64() >> 1 >> rng.Below(63)); // denormal
            case 4: return new Float80(sg, rng.Next64() | Float80.IntegerBit);           // pseudo-denormal
            case 5: return new Float80((ushort)(sg | rng.Range(1, 0x7FFE)), rng.Next64() >> 1 >> rng.Below(63)); // unnormal
            case 6: case 7: return Float80.Infinity(s);
            case 8: return new Float80((ushort)(sg | 0x7FFF), rng.Chance(50) ? 0 : rng.Next64() >> 1); // pseudo-infinity, pseudo-NaN
            case 9: case 10: return new Float80((ushort)(sg | 0x7FFF), rng.Next64() | 0xC000_0000_0000_0000); // QNaN
            case 11: case 12: return new Float80((ushort)(sg | 0x7FFF), (rng.Next64() & 0x3FFF_FFFF_FFFF_FFFF | 1UL << rng.Below(62)) | Float80.IntegerBit); // SNaN
            case 13: return Float80.Indefinite;
            case 14: case 15: return FromSingle(Single());
            case 16: case 17: return FromDouble(Double());
            case 18: case 19: return Integer();
            case 20: return Half();
            case 21: return Normal(1, 70);                                // near the smallest normals
            case 22: return Normal(0x7FFE - 70, 0x7FFE);                  // near overflow
            case 23: return Normal(0x3FFF - 126 - 30, 0x3FFF - 126 + 3);  // near single underflow
            case 24: return Normal(0x3FFF + 124, 0x3FFF + 129);           // near single overflow
            case 25: return Normal(0x3FFF - 1022 - 60, 0x3FFF - 1022 + 3);
            case 26: return Normal(0x3FFF + 1020, 0x3FFF + 1025);
            case 27: return Normal(1, 0x7FFE);
            default: return Normal(0x3FFF - 40, 0x3FFF + 40);
        }
    }

    /// <summary>An integral value or one close to it, up to and beyond the 16/32/64-bit and BCD limits.</summary>
    public Float80 Integer()
    {
        double[] limits = { 1, 2, 10, 127, 32767, 32768, 65535, 2147483647.0, 2147483648.0, 1e18, 9.223372036854775807e18, 1.8446744073709552e19 };
        bool s = Sign();
        switch (rng.Below(4))
        {
            case 0:
            {
                // An exact integer of up to 64 bits.
                int bits = rng.Range(1, 64);
                ulong m = (rng.Next64() >> (64 - bits)) | (1UL << (bits - 1));
                int sh = System.Numerics.BitOperations.LeadingZeroCount(m);
                return new Float80((ushort)((s ? 0x8000 : 0) | (0x3FFF + 63 - sh)), m << sh);
            }
            case 1:
            {
                // A limit, nudged by a few units in the last place.
                Float80 v = FromDouble(BitConverter.DoubleToUInt64Bits(rng.Pick(limits)));
                v.Significand = (ulong)((long)v.Significand + rng.Range(-3, 3));
                if ((v.Significand & Float80.IntegerBit) == 0) v.Significand |= Float80.IntegerBit;
                return v.WithSign(s);
            }
            case 2:
            {
                // 10^18 and neighbours exactly (the FBSTP limit).
                ulong k = 999_999_999_999_999_999UL + (ulong)rng.Range(-2, 2);
                int sh = System.Numerics.BitOperations.LeadingZeroCount(k);
                return new Float80((ushort)((s ? 0x8000 : 0) | (0x3FFF + 63 - sh)), k << sh);
            }
            default:
                return FromDouble(BitConverter.DoubleToUInt64Bits((s ? -1 : 1) * (double)rng.Range(0, 100000)));
        }
    }

    /// <summary>n + 1/2 and friends: ties for rounding to an integer.</summary>
    public Float80 Half()
    {
        double v = rng.Range(0, 1000) + rng.Pick(new[] { 0.5, 0.25, 0.75, 0.5 });
        return FromDouble(BitConverter.DoubleToUInt64Bits(Sign() ? -v : v));
    }

    public uint Single()
    {
        uint s = Sign() ? 0x8000_0000u : 0;
        return rng.Below(12) switch
        {
            0 => s,
            1 => s | (rng.Next32() & 0x7F_FFFF),                        // denormal (or zero)
            2 => s | 0x7F80_0000,                                       // infinity
            3 => s | 0x7FC0_0000 | (rng.Next32() & 0x3F_FFFF),          // QNaN
            4 => s | 0x7F80_0000 | (rng.Next32() & 0x3F_FFFF) | 1,      // SNaN
            5 => s | ((uint)rng.Range(1, 20) << 23) | (rng.Next32() & 0x7F_FFFF),
            6 => s | ((uint)rng.Range(235, 254) << 23) | (rng.Next32() & 0x7F_FFFF),
            7 => BitConverter.SingleToUInt32Bits((float)rng.Range(-1000, 1000)),
            _ => s | ((uint)rng.Range(100, 154) << 23) | (rng.Next32() & 0x7F_FFFF),
        };
    }

    public ulong Double()
    {
        ulong s = Sign() ? 0x8000_0000_0000_0000UL : 0;
        const ulong frac = 0x000F_FFFF_FFFF_FFFF;
        return rng.Below(12) switch
        {
            0 => s,
            1 => s | (rng.Next64() & frac),
            2 => s | 0x7FF0_0000_0000_0000UL,
            3 => s | 0x7FF8_0000_0000_0000UL | (rng.Next64() & 0x0007_FFFF_FFFF_FFFF),
            4 => s | 0x7FF0_0000_0000_0000UL | (rng.Next64() & 0x0007_FFFF_FFFF_FFFF) | 1,
            5 => s | ((ulong)rng.Range(1, 60) << 52) | (rng.Next64() & frac),
            6 => s | ((ulong)rng.Range(2000, 2046) << 52) | (rng.Next64() & frac),
            7 => BitConverter.DoubleToUInt64Bits(rng.Range(-100000, 100000) / 8.0),
            _ => s | ((ulong)rng.Range(1000, 1046) << 52) | (rng.Next64() & frac),
        };
    }

    public static Float80 FromSingle(uint bits)
    {
        Unpacked u = Unpacked.FromSingle(bits);
        return u.Class is FpClass.QNaN or FpClass.SNaN ? new Float80((ushort)((u.Sign ? 0x8000 : 0) | 0x7FFF), u.Sig) : u.ToFloat80Exact();
    }

    public static Float80 FromDouble(ulong bits)
    {
        Unpacked u = Unpacked.FromDouble(bits);
        return u.Class is FpClass.QNaN or FpClass.SNaN ? new Float80((ushort)((u.Sign ? 0x8000 : 0) | 0x7FFF), u.Sig) : u.ToFloat80Exact();
    }

    public short Int16() => (short)IntegerBits(16);
    public int Int32() => (int)IntegerBits(32);
    public long Int64() => IntegerBits(64);

    private long IntegerBits(int bits)
    {
        long max = bits == 64 ? long.MaxValue : (1L << (bits - 1)) - 1;
        long min = bits == 64 ? long.MinValue : -(1L << (bits - 1));
        return rng.Below(6) switch
        {
            0 => 0,
            1 => rng.Range(-10, 10),
            2 => rng.Chance(50) ? max - rng.Below(3) : min + rng.Below(3),
            3 => (long)(rng.Next64() >> (64 - bits)) >> rng.Below(bits) << (64 - bits) >> (64 - bits),
            _ => (long)(rng.Next64() << (64 - bits)) >> (64 - bits),
        };
    }

    /// <summary>An 80-bit packed BCD operand: mostly valid digits, sometimes invalid nibbles or sign-byte junk.</summary>
    public byte[] Bcd()
    {
        var b = new byte[10];
        int digits = rng.Range(0, 18);
        for (int d = 0; d < digits; d++)
        {
            int v = rng.Chance(5) ? rng.Range(10, 15) : rng.Below(10);
            b[d / 2] |= (byte)(v << (4 * (d & 1)));
        }
        b[9] = (byte)(rng.Chance(50) ? 0x80 : 0);
        if (rng.Chance(5)) b[9] |= (byte)(rng.Next32() & 0x7F);
        return b;
    }

    /// <summary>A value for trigonometric instructions: small, near multiples of π/2, huge, or out of range.</summary>
    public Float80 Trig()
    {
        switch (rng.Below(10))
        {
            case 0: case 1: return Normal(0x3FFF - 3, 0x3FFF + 2);
            case 2:
            {
                // k * π66/2 (the reduction constant) plus or minus a few units in the last place.
                ulong k = (ulong)rng.Range(1, 1 << rng.Range(1, 30));
                UInt128 v = X87Constants.PiReduction * k; // value = v * 2^-65
                int lz = (int)UInt128.LeadingZeroCount(v);
                ulong sig = (ulong)((v << lz) >> 64);
                int exp = 127 - lz - 65;
                sig = (ulong)((long)sig + rng.Range(-4, 4)) | Float80.IntegerBit;
                return new Float80((ushort)((Sign() ? 0x8000 : 0) | (0x3FFF + exp)), sig);
            }
            case 3: return Normal(0x3FFF + 55, 0x3FFF + 64);   // around 2^63
            case 4: return Normal(0x3FFF - 70, 0x3FFF - 4);    // small
            case 5: return Normal(0x3FFF, 0x3FFF + 30);
            default: return Extended();
        }
    }

    /// <summary>A value in or near [-1, 1] for F2XM1.</summary>
    public Float80 UnitRange() => rng.Below(6) switch
    {
        0 or 1 or 2 => Normal(0x3FFF - 8, 0x3FFE),
        3 => Normal(0x3FFF - 80, 0x3FFF - 8),
        4 => rng.Chance(50) ? Float80.One.WithSign(Sign()) : Normal(0x3FFF, 0x3FFF),
        _ => Extended(),
    };

    /// <summary>A positive value for FYL2X's x: near 1, powers of two, general.</summary>
    public Float80 LogArgument()
    {
        switch (rng.Below(6))
        {
            case 0: return new Float80(0x3FFF, Float80.IntegerBit + (rng.Next64() >> rng.Range(20, 63)));
            case 1: return new Float80(0x3FFE, ulong.MaxValue - (rng.Next64() >> rng.Range(20, 63)));
            case 2: return new Float80((ushort)rng.Range(0x3FFF - 100, 0x3FFF + 100), Float80.IntegerBit);
            case 3: return Normal(1, 0x7FFE).WithSign(false);
            case 4: return Normal(0x3FFF - 30, 0x3FFF + 30).WithSign(false);
            default: return Extended();
        }
    }

    /// <summary>A small |x| for FYL2XP1 (defined for |x| &lt; 1 - sqrt(2)/2).</summary>
    public Float80 SmallLogArgument() => rng.Below(5) switch
    {
        0 or 1 => Normal(0x3FFF - 10, 0x3FFF - 3),
        2 => Normal(0x3FFF - 80, 0x3FFF - 10),
        _ => Extended(),
    };

    /// <summary>FSCALE's ST(1): mostly small integers and fractions, sometimes huge.</summary>
    public Float80 ScaleFactor() => rng.Below(6) switch
    {
        0 or 1 => FromDouble(BitConverter.DoubleToUInt64Bits(rng.Range(-200, 200))),
        2 => FromDouble(BitConverter.DoubleToUInt64Bits(rng.Range(-70000, 70000) + rng.Pick(new[] { 0.0, 0.5, 0.25, -0.75 }))),
        3 => Normal(0x3FFF - 5, 0x3FFF + 16),
        _ => Extended(),
    };
}
