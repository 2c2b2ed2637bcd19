using System.Numerics;
using System.Runtime.CompilerServices;

namespace Emu.X86;

/// <summary>
/// An x87 operand taken apart for arithmetic: class, sign, and for finite non-zero values a
/// normalized 64-bit significand (bit 63 set) with the unbiased exponent of that bit, so the
/// value is <c>Sig * 2^(Exp - 63)</c>. Denormals keep their class (they raise #D) but are
/// normalized here. NaNs keep their extended significand (J set) for propagation.
/// Single, double and integer operands are converted to this form exactly.
/// </summary>
public struct Unpacked
{
    public FpClass Class;
    public bool Sign;
    public int Exp;
    public ulong Sig;

    public readonly bool IsNaN => Class is FpClass.QNaN or FpClass.SNaN;
    public readonly bool IsFinite => Class is FpClass.Normal or FpClass.Denormal;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Unpacked From(in Float80 v)
    {
        Unpacked u;
        u.Sign = v.Sign;
        ulong sig = v.Significand;
        int e = v.Exponent;
        u.Class = Float80.Classify(v.SignExponent, sig);
        u.Sig = sig;
        u.Exp = e - Float80.Bias;
        if (u.Class == FpClass.Denormal)
        {
            // A denormal (or pseudo-denormal) has the exponent of the smallest normal, -16382.
            int s = BitOperations.LeadingZeroCount(sig);
            u.Sig = sig << s;
            u.Exp = 1 - Float80.Bias - s;
        }
        return u;
    }

    /// <summary>A single-precision value (FLD m32fp, the m32fp arithmetic forms).</summary>
    public static Unpacked FromSingle(uint bits) =>
        FromIeee((bits >> 31) != 0, (int)(bits >> 23) & 0xFF, bits & 0x7F_FFFF, fractionBits: 23, bias: 127);

    /// <summary>A double-precision value (FLD m64fp, the m64fp arithmetic forms).</summary>
    public static Unpacked FromDouble(ulong bits) =>
        FromIeee((bits >> 63) != 0, (int)(bits >> 52) & 0x7FF, bits & 0x000F_FFFF_FFFF_FFFF, fractionBits: 52, bias: 1023);

    /// <summary>
    /// An IEEE 754 binary value with an implicit integer bit, from its fields: exponent 0 is
    /// zero or a denormal (normalised here, so it is exact), all ones is an infinity or a NaN
    /// (quiet when the fraction's top bit is set), anything else a normal number.
    /// </summary>
    private static Unpacked FromIeee(bool sign, int e, ulong f, int fractionBits, int bias)
    {
        Unpacked u = default;
        u.Sign = sign;
        int maxExponent = 2 * bias + 1;
        if (e == 0)
        {
            if (f == 0) { u.Class = FpClass.Zero; return u; }
            u.Class = FpClass.Denormal;
            int s = BitOperations.LeadingZeroCount(f);
            u.Sig = f << s;
            u.Exp = 1 - bias - fractionBits + (63 - s);
            return u;
        }
        u.Sig = Float80.IntegerBit | (f << (63 - fractionBits));
        if (e == maxExponent)
        {
            u.Class = f == 0 ? FpClass.Infinity : (f & (1UL << (fractionBits - 1))) != 0 ? FpClass.QNaN : FpClass.SNaN;
            return u;
        }
        u.Class = FpClass.Normal;
        u.Exp = e - bias;
        return u;
    }

    /// <summary>A signed integer (FILD, the integer arithmetic and compare forms): always exact.</summary>
    public static Unpacked FromInt64(long v)
    {
        Unpacked u = default;
        u.Sign = v < 0;
        ulong m = v < 0 ? (ulong)-v : (ulong)v; // -long.MinValue wraps to 2^63, which is right unsigned
        if (m == 0) { u.Class = FpClass.Zero; return u; }
        int s = BitOperations.LeadingZeroCount(m);
        u.Class = FpClass.Normal;
        u.Sig = m << s;
        u.Exp = 63 - s;
        return u;
    }

    /// <summary>Packs a value that is exactly representable in extended format (no rounding, no range check).</summary>
    public readonly Float80 ToFloat80Exact()
    {
        ushort sign = (ushort)(Sign ? 0x8000 : 0);
        switch (Class)
        {
            case FpClass.Zero: return new Float80(sign, 0);
            case FpClass.Infinity: return new Float80((ushort)(sign | 0x7FFF), Float80.IntegerBit);
            case FpClass.QNaN:
            case FpClass.SNaN: return new Float80((ushort)(sign | 0x7FFF), Sig);
        }
        int b = Exp + Float80.Bias;
        if (b >= 1) return new Float80((ushort)(sign | b), Sig);
        // Only reachable for values that came from an extended denormal: shift back.
        return new Float80(sign, 1 - b >= 64 ? 0 : Sig >> (1 - b));
    }
}
