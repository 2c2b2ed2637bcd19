using System;
using System.Numerics;

namespace Emu.X86;

/// <summary>
/// Conversions between the register format and the memory formats: single, double,
/// 16/32/64-bit integers and 18-digit packed BCD (Intel SDM Vol. 1, 4.2 and 4.7; Vol. 2,
/// FLD, FST, FILD, FIST, FBLD, FBSTP).
/// </summary>
public static class Conversions
{
    public const uint SingleIndefinite = 0xFFC0_0000;
    public const ulong DoubleIndefinite = 0xFFF8_0000_0000_0000;

    /// <summary>The value FLD m32fp/m64fp pushes: exact; an SNaN raises #IA and is made quiet, a denormal raises #D.</summary>
    public static Float80 Load(in Unpacked u, ref uint flags)
    {
        if (u.Class == FpClass.SNaN)
        {
            flags |= FpuStatus.IE;
            return X87Math.Quiet(u);
        }
        if (u.Class == FpClass.Denormal) flags |= FpuStatus.DE;
        return u.ToFloat80Exact();
    }

    /// <summary>FST/FSTP m32fp: rounding control (not precision control), the single-precision range.</summary>
    public static uint ToSingle(in Float80 v, int rc, ushort cw, ref uint flags)
    {
        Unpacked u = Unpacked.From(v);
        uint sign = u.Sign ? 0x8000_0000u : 0;
        switch (u.Class)
        {
            case FpClass.Unsupported:
                flags |= FpuStatus.IE;
                return SingleIndefinite;
            case FpClass.SNaN:
                flags |= FpuStatus.IE;
                return sign | 0x7FC0_0000 | (uint)(u.Sig >> 40);
            case FpClass.QNaN:
                return sign | 0x7F80_0000 | (uint)((u.Sig >> 40) & 0x7F_FFFF);
            case FpClass.Infinity:
                return sign | 0x7F80_0000;
            case FpClass.Zero:
                return sign;
        }
        return Rounding.ToSingleBits(u.Sign, u.Exp, (UInt128)u.Sig << 64, rc, cw, ref flags);
    }

    /// <summary>FST/FSTP m64fp.</summary>
    public static ulong ToDouble(in Float80 v, int rc, ushort cw, ref uint flags)
    {
        Unpacked u = Unpacked.From(v);
        ulong sign = u.Sign ? 0x8000_0000_0000_0000UL : 0;
        switch (u.Class)
        {
            case FpClass.Unsupported:
                flags |= FpuStatus.IE;
                return DoubleIndefinite;
            case FpClass.SNaN:
                flags |= FpuStatus.IE;
                return sign | 0x7FF8_0000_0000_0000UL | ((u.Sig >> 11) & 0x000F_FFFF_FFFF_FFFF);
            case FpClass.QNaN:
                return sign | 0x7FF0_0000_0000_0000UL | ((u.Sig >> 11) & 0x000F_FFFF_FFFF_FFFF);
            case FpClass.Infinity:
                return sign | 0x7FF0_0000_0000_0000UL;
            case FpClass.Zero:
                return sign;
        }
        return Rounding.ToDoubleBits(u.Sign, u.Exp, (UInt128)u.Sig << 64, rc, cw, ref flags);
    }

    /// <summary>
    /// FIST/FISTP: rounds by rounding control to a signed integer of <paramref name="bits"/>
    /// bits. NaNs, infinities, unsupported encodings and values out of range raise #IA;
    /// the masked response stores the integer indefinite (the most negative value).
    /// </summary>
    public static long ToInteger(in Float80 v, int bits, int rc, ref uint flags)
    {
        long indefinite = bits == 64 ? long.MinValue : -(1L << (bits - 1));
        Unpacked u = Unpacked.From(v);
        switch (u.Class)
        {
            case FpClass.Zero:
                return 0;
            case FpClass.Unsupported:
            case FpClass.SNaN:
            case FpClass.QNaN:
            case FpClass.Infinity:
                flags |= FpuStatus.IE;
                return indefinite;
        }
        uint f = 0;
        ulong k = Rounding.ToIntegerMagnitude(u.Sign, u.Exp, (UInt128)u.Sig << 64, rc, ref f, out bool tooBig);
        ulong limit = (1UL << (bits - 1)) - (u.Sign ? 0UL : 1UL); // 2^(n-1) for negatives, 2^(n-1)-1 else
        if (tooBig || k > limit)
        {
            flags |= FpuStatus.IE;
            return indefinite;
        }
        flags |= f;
        return u.Sign ? -(long)k : (long)k;
    }

    /// <summary>The largest magnitude FBSTP can store: eighteen nines.</summary>
    public const ulong MaxBcd = 999_999_999_999_999_999;

    /// <summary>The packed-BCD indefinite FBSTP stores for a masked #IA (Intel SDM Vol. 1, Table 4-4), low 8 bytes and high 2.</summary>
    public const ulong BcdIndefiniteLow = 0xC000_0000_0000_0000;
    public const ushort BcdIndefiniteHigh = 0xFFFF;

    /// <summary>FBSTP: rounds by rounding control and packs 18 decimal digits; out of range, NaN or infinity raise #IA.</summary>
    public static void ToBcd(in Float80 v, int rc, ref uint flags, out ulong low, out ushort high)
    {
        Unpacked u = Unpacked.From(v);
        ulong k = 0;
        bool invalid = false;
        switch (u.Class)
        {
            case FpClass.Zero:
                break;
            case FpClass.Unsupported:
            case FpClass.SNaN:
            case FpClass.QNaN:
            case FpClass.Infinity:
                invalid = true;
                break;
            default:
            {
                uint f = 0;
                k = Rounding.ToIntegerMagnitude(u.Sign, u.Exp, (UInt128)u.Sig << 64, rc, ref f, out bool tooBig);
                if (tooBig || k > MaxBcd) invalid = true;
                else flags |= f;
                break;
            }
        }
        if (invalid)
        {
            flags |= FpuStatus.IE;
            low = BcdIndefiniteLow;
            high = BcdIndefiniteHigh;
            return;
        }
        ulong packed = 0;
        for (int d = 0; d < 16; d++)
        {
            packed |= (k % 10) << (4 * d);
            k /= 10;
        }
        low = packed;
        high = (ushort)((k % 10) | ((k / 10 % 10) << 4) | (u.Sign ? 0x8000u : 0));
    }

    /// <summary>
    /// FBLD: 18 packed decimal digits and a sign (bit 79). Digits above 9 are not valid BCD
    /// and the SDM leaves the result undefined; they are weighted like valid digits here.
    /// </summary>
    public static Float80 FromBcd(ulong low, ushort high)
    {
        ulong k = 0;
        for (int d = 1; d >= 0; d--) k = k * 10 + ((ulong)(high >> (4 * d)) & 0xF);
        for (int d = 15; d >= 0; d--) k = k * 10 + ((low >> (4 * d)) & 0xF);
        bool sign = (high & 0x8000) != 0;
        if (k == 0) return Float80.Zero(sign);
        int s = BitOperations.LeadingZeroCount(k);
        return new Float80((ushort)((sign ? 0x8000 : 0) | (Float80.Bias + 63 - s)), k << s);
    }
}
