using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Emu.X86;

/// <summary>A destination format for rounding: significand precision and exponent range.</summary>
public readonly struct FpFormat
{
    /// <summary>Significand bits, the integer bit included (24, 53 or 64).</summary>
    public readonly int Precision;
    public readonly int Bias;
    /// <summary>The largest biased exponent of a finite value.</summary>
    public readonly int MaxBiased;

    public FpFormat(int precision, int bias, int maxBiased)
    {
        Precision = precision;
        Bias = bias;
        MaxBiased = maxBiased;
    }

    public static readonly FpFormat Single = new(24, 127, 254);
    public static readonly FpFormat Double = new(53, 1023, 2046);

    /// <summary>The register format with the significand precision that precision control selects.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FpFormat Register(int precisionBits) => new(precisionBits, Float80.Bias, 0x7FFE);
}

/// <summary>
/// Rounding of exact results to a destination format (Intel SDM Vol. 1, 4.8.4 and 8.5):
/// rounding control, precision control, overflow, underflow with gradual denormalization
/// and the precision exception, and C1 as the "rounded up" bit.
/// </summary>
public static class Rounding
{
    /// <summary>
    /// The bias added to (underflow) or removed from (overflow) the exponent of a result
    /// delivered to a register when that exception is unmasked (Intel SDM Vol. 1, 8.5.4 and 8.5.5).
    /// </summary>
    public const int UnmaskedBias = 24576;

    /// <summary>
    /// The significand precision that precision control selects. The reserved setting 01
    /// rounds to 64 bits, as the host does (the SDM only calls it reserved).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int PrecisionBits(int pc) => pc switch { FpuControl.Single => 24, FpuControl.Double => 53, _ => 64 };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool RoundsUp(int rc, bool sign, bool lsb, UInt128 rest, UInt128 half) => rc switch
    {
        FpuControl.Nearest => rest > half || (rest == half && lsb),
        FpuControl.Down => sign && rest != UInt128.Zero,
        FpuControl.Up => !sign && rest != UInt128.Zero,
        _ => false,
    };

    /// <summary>
    /// Rounds <c>sig * 2^(exp - 127)</c> (sig normalized: bit 127 set; or zero) to
    /// <paramref name="f"/>. Returns the biased exponent and the significand as a
    /// Precision-bit integer (a denormal has biased exponent 0 and its integer bit clear; an
    /// infinity has MaxBiased + 1). Adds OE, UE, PE and C1 (rounded up) to
    /// <paramref name="flags"/>. With the overflow or underflow exception unmasked, a
    /// register destination gets the result with its exponent biased by 24576; for a memory
    /// destination (<paramref name="toRegister"/> false) the flag is set and the caller
    /// stores nothing.
    /// </summary>
    public static int Round(bool sign, int exp, UInt128 sig, in FpFormat f, int rc, ushort cw, bool toRegister, ref uint flags, out ulong keep)
    {
        if (sig == UInt128.Zero)
        {
            keep = 0;
            return 0;
        }
        int p = f.Precision;
        int shift = 128 - p;
        UInt128 mask = (UInt128.One << shift) - 1;
        UInt128 half = UInt128.One << (shift - 1);
        ulong k = (ulong)(sig >> shift);
        UInt128 rest = sig & mask;
        bool up = RoundsUp(rc, sign, (k & 1) != 0, rest, half);
        int biasedUnrounded = exp + f.Bias;
        int b = biasedUnrounded;
        if (up)
        {
            k++;
            // A carry out of the top bit: 2^p, renormalized (p = 64 wraps to zero).
            if (p == 64 ? k == 0 : (k >> p) != 0)
            {
                k = 1UL << (p - 1);
                b++;
            }
        }
        bool inexact = rest != UInt128.Zero;

        if (b > f.MaxBiased)
        {
            // Unmasked, a register gets the exponent biased by -24576, unless even that does
            // not fit (FSCALE by a huge factor): then an infinity whatever the rounding
            // control (what the host does).
            if ((cw & FpuStatus.OE) == 0 && toRegister && b - UnmaskedBias > f.MaxBiased)
            {
                flags |= FpuStatus.OE | FpuStatus.PE | FpuStatus.C1;
                keep = 1UL << (p - 1);
                return f.MaxBiased + 1;
            }
            if ((cw & FpuStatus.OE) == 0)
            {
                flags |= FpuStatus.OE;
                if (!toRegister)
                {
                    keep = 0;
                    return 0;
                }
                if (inexact) flags |= FpuStatus.PE | (up ? FpuStatus.C1 : 0u);
                keep = k;
                return b - UnmaskedBias;
            }
            flags |= FpuStatus.OE | FpuStatus.PE;
            bool toInfinity = rc == FpuControl.Nearest || (rc == FpuControl.Up && !sign) || (rc == FpuControl.Down && sign);
            if (toInfinity)
            {
                flags |= FpuStatus.C1;
                keep = 1UL << (p - 1);
                return f.MaxBiased + 1;
            }
            keep = p == 64 ? ulong.MaxValue : (1UL << p) - 1;
            return f.MaxBiased;
        }

        if (biasedUnrounded < 1)
        {
            // Tininess is judged after rounding with an unbounded exponent (SDM Vol. 1, 4.9.1.5, Table 4-11).
            bool tiny = b < 1;
            if (tiny && (cw & FpuStatus.UE) == 0 && toRegister && b + UnmaskedBias < 1)
            {
                // Too small even for the biased exponent: a zero whatever the rounding control.
                flags |= FpuStatus.UE | FpuStatus.PE;
                keep = 0;
                return 0;
            }
            if (tiny && (cw & FpuStatus.UE) == 0)
            {
                flags |= FpuStatus.UE;
                if (!toRegister)
                {
                    keep = 0;
                    return 0;
                }
                if (inexact) flags |= FpuStatus.PE | (up ? FpuStatus.C1 : 0u);
                keep = k;
                return b + UnmaskedBias;
            }
            // Denormalize: shift to the smallest exponent, then round at the same bit position.
            int d = 1 - biasedUnrounded;
            UInt128 s2;
            if (d >= 128) s2 = UInt128.One;
            else
            {
                s2 = sig >> d;
                if ((sig & ((UInt128.One << d) - 1)) != UInt128.Zero) s2 |= UInt128.One;
            }
            k = (ulong)(s2 >> shift);
            rest = s2 & mask;
            up = RoundsUp(rc, sign, (k & 1) != 0, rest, half);
            if (up) k++;
            inexact = rest != UInt128.Zero;
            if (inexact)
            {
                flags |= FpuStatus.PE | (up ? FpuStatus.C1 : 0u);
                if (tiny) flags |= FpuStatus.UE;
            }
            keep = k;
            return (k >> (p - 1)) != 0 ? 1 : 0;
        }

        if (inexact) flags |= FpuStatus.PE | (up ? FpuStatus.C1 : 0u);
        keep = k;
        return b;
    }

    /// <summary>Rounds to the register format at precision <paramref name="precisionBits"/> and packs.</summary>
    public static Float80 ToExtended(bool sign, int exp, UInt128 sig, int precisionBits, int rc, ushort cw, ref uint flags)
    {
        if (sig == UInt128.Zero) return Float80.Zero(sign);
        FpFormat f = FpFormat.Register(precisionBits);
        int b = Round(sign, exp, sig, f, rc, cw, true, ref flags, out ulong k);
        return new Float80((ushort)((sign ? 0x8000 : 0) | (b & 0x7FFF)), k << (64 - precisionBits));
    }

    /// <summary>Rounds a normalized 64-bit significand (value <c>sig * 2^(exp - 63)</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float80 ToExtended(bool sign, int exp, ulong sig, int precisionBits, int rc, ushort cw, ref uint flags) =>
        ToExtended(sign, exp, (UInt128)sig << 64, precisionBits, rc, cw, ref flags);

    /// <summary>Normalizes an unnormalized 128-bit magnitude (value <c>sig * 2^(exp - 127)</c>) before rounding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static UInt128 Normalize(UInt128 sig, ref int exp)
    {
        if (sig == UInt128.Zero) return sig;
        int s = (int)UInt128.LeadingZeroCount(sig);
        exp -= s;
        return sig << s;
    }

    /// <summary>Rounds to single precision (FST m32fp). Returns the encoding; nothing valid when the caller must not store.</summary>
    public static uint ToSingleBits(bool sign, int exp, UInt128 sig, int rc, ushort cw, ref uint flags)
    {
        uint s = sign ? 0x8000_0000u : 0;
        if (sig == UInt128.Zero) return s;
        int b = Round(sign, exp, sig, FpFormat.Single, rc, cw, false, ref flags, out ulong k);
        return s | ((uint)b << 23) | ((uint)k & 0x7F_FFFF);
    }

    /// <summary>Rounds to double precision (FST m64fp).</summary>
    public static ulong ToDoubleBits(bool sign, int exp, UInt128 sig, int rc, ushort cw, ref uint flags)
    {
        ulong s = sign ? 0x8000_0000_0000_0000UL : 0;
        if (sig == UInt128.Zero) return s;
        int b = Round(sign, exp, sig, FpFormat.Double, rc, cw, false, ref flags, out ulong k);
        return s | ((ulong)b << 52) | (k & 0x000F_FFFF_FFFF_FFFF);
    }

    /// <summary>Leading-zero count of a 64-bit value (64 for zero).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Lzc(ulong v) => BitOperations.LeadingZeroCount(v);

    /// <summary>
    /// Rounds <c>sig * 2^(exp - 127)</c> to an integer by rounding control: the magnitude
    /// (saturated at 2^64 - 1 plus the overflow flag when it does not fit 64 bits), with PE
    /// and C1 as rounding sets them.
    /// </summary>
    public static ulong ToIntegerMagnitude(bool sign, int exp, UInt128 sig, int rc, ref uint flags, out bool tooBig)
    {
        tooBig = false;
        if (sig == UInt128.Zero) return 0;
        if (exp >= 64)
        {
            tooBig = true;
            return 0;
        }
        // Integer part: the top (exp + 1) bits; fraction: the rest.
        UInt128 intPart, rest, half;
        if (exp < 0)
        {
            // All fraction. With exp = -1 it lies in [1/2, 1) and compares with 1/2 as is;
            // below that only "non-zero and under 1/2" matters, which rest = 1 < half says.
            intPart = UInt128.Zero;
            rest = exp == -1 ? sig : UInt128.One;
            half = exp == -1 ? UInt128.One << 127 : UInt128.MaxValue;
        }
        else
        {
            int fracBits = 127 - exp;
            intPart = sig >> fracBits;
            rest = sig & ((UInt128.One << fracBits) - 1);
            half = UInt128.One << (fracBits - 1);
        }
        ulong k = (ulong)intPart;
        bool up = RoundsUp(rc, sign, (k & 1) != 0, rest, half);
        if (rest != UInt128.Zero) flags |= FpuStatus.PE | (up ? FpuStatus.C1 : 0u);
        if (up)
        {
            if (k == ulong.MaxValue)
            {
                tooBig = true;
                return 0;
            }
            k++;
        }
        return k;
    }
}
