using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Emu.X86;

/// <summary>
/// An 80-bit double extended-precision value as the x87 holds it (Intel SDM Vol. 1, 4.2.2):
/// a 64-bit significand with an explicit integer bit (J, bit 63) and a sign plus 15-bit
/// biased exponent (bias 16383).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct Float80
{
    public ulong Significand;
    public ushort SignExponent;

    public const int Bias = 16383;
    public const int MaxExponent = 0x7FFF;
    public const ulong IntegerBit = 1UL << 63;
    public const ulong QuietBit = 1UL << 62;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Float80(ushort signExponent, ulong significand)
    {
        SignExponent = signExponent;
        Significand = significand;
    }

    public readonly bool Sign => (SignExponent & 0x8000) != 0;
    public readonly int Exponent => SignExponent & 0x7FFF;

    /// <summary>The default NaN the x87 returns for a masked invalid operation (the "real indefinite").</summary>
    public static Float80 Indefinite => new(0xFFFF, 0xC000_0000_0000_0000);

    public static Float80 Zero(bool sign) => new((ushort)(sign ? 0x8000 : 0), 0);

    public static Float80 Infinity(bool sign) => new((ushort)(sign ? 0xFFFF : 0x7FFF), IntegerBit);

    public static Float80 One => new(Bias, IntegerBit);

    public readonly Float80 WithSign(bool sign) => new((ushort)((SignExponent & 0x7FFF) | (sign ? 0x8000 : 0)), Significand);

    public readonly FpClass Class => Classify(SignExponent, Significand);

    /// <summary>Classifies an extended value as the P6 sees it (Intel SDM Vol. 1, 8.2.2, Table 8-3).</summary>
    public static FpClass Classify(ushort se, ulong sig)
    {
        int e = se & 0x7FFF;
        if (e == 0)
        {
            if (sig == 0) return FpClass.Zero;
            return FpClass.Denormal; // J=0: denormal; J=1: pseudo-denormal, used as a denormal (8.2.2)
        }
        if ((sig & IntegerBit) == 0) return FpClass.Unsupported; // unnormal, pseudo-infinity, pseudo-NaN
        if (e == MaxExponent)
        {
            if ((sig << 1) == 0) return FpClass.Infinity;
            return (sig & QuietBit) != 0 ? FpClass.QNaN : FpClass.SNaN;
        }
        return FpClass.Normal;
    }

    /// <summary>The tag FSTENV/FSAVE report for a non-empty register (Intel SDM Vol. 1, 8.1.7): 0 valid, 1 zero, 2 special.</summary>
    public readonly int Tag
    {
        get
        {
            int e = Exponent;
            if (e == MaxExponent) return 2;
            if (e == 0) return Significand == 0 ? 1 : 2;
            return (Significand & IntegerBit) != 0 ? 0 : 2;
        }
    }

    public override readonly string ToString() => $"{SignExponent:X4}:{Significand:X16}";
}

/// <summary>The classes of x87 operands.</summary>
public enum FpClass : byte
{
    Zero,
    Normal,
    /// <summary>A denormal or (for extended values) a pseudo-denormal: both raise #D.</summary>
    Denormal,
    Infinity,
    QNaN,
    SNaN,
    /// <summary>Encodings the 387 and later reject with #IA: unnormals, pseudo-infinities, pseudo-NaNs.</summary>
    Unsupported,
}

[InlineArray(8)]
public struct FpuRegisterFile
{
    private Float80 element;
}
