using System.Numerics;
using System.Runtime.CompilerServices;

namespace Emu.X86;

/// <summary>EFLAGS bits (Intel SDM Vol. 1, 3.4.3).</summary>
public static class Flags
{
    public const uint CF = 1u << 0, Reserved1 = 1u << 1, PF = 1u << 2, AF = 1u << 4, ZF = 1u << 6, SF = 1u << 7,
        TF = 1u << 8, IF = 1u << 9, DF = 1u << 10, OF = 1u << 11, IOPL = 3u << 12, NT = 1u << 14,
        RF = 1u << 16, VM = 1u << 17, AC = 1u << 18, VIF = 1u << 19, VIP = 1u << 20, ID = 1u << 21;

    /// <summary>The six arithmetic status flags.</summary>
    public const uint Arith = CF | PF | AF | ZF | SF | OF;

    /// <summary>The bits a P6 implements; the others read as zero (bit 1 as one).</summary>
    public const uint Implemented = Arith | TF | IF | DF | IOPL | NT | RF | VM | AC | VIF | VIP | ID;

    public const int IoplShift = 12;
}

/// <summary>
/// How the arithmetic flags are held: computed on demand from the last flag-setting
/// operation's operands and result ("lazy flags"), or stored in EFLAGS (Eager).
/// The low two bits give the operand size: 0 byte, 1 word, 2 doubleword.
/// </summary>
public static class LazyFlags
{
    public const int Eager = 0;
    public const int Add = 1 << 2;   // ADD, and INC-free additions
    public const int Adc = 2 << 2;   // ADC (carry-in needs the general formula)
    public const int Sub = 3 << 2;   // SUB, CMP, NEG
    public const int Sbb = 4 << 2;   // SBB
    public const int Logic = 5 << 2; // AND, OR, XOR, TEST: CF=OF=0, AF=0 (undefined)
    public const int Inc = 6 << 2;   // INC: as ADD of 1, CF kept in EFLAGS
    public const int Dec = 7 << 2;   // DEC: as SUB of 1, CF kept in EFLAGS
    public const int Shl = 8 << 2;   // SHL/SAL by a masked count of 1-31: src1 the operand, src2 the count; AF = 0
    public const int Shr = 9 << 2;   // SHR: likewise
    public const int Sar = 10 << 2;  // SAR: likewise
    public const int Imul = 11 << 2; // IMUL r, r/m [, imm]: src1 and src2 the factors, res the truncated product; AF = 0

    public const int Size8 = 0, Size16 = 1, Size32 = 2;
}

public sealed partial class Cpu
{
    /// <summary>EFLAGS; its arithmetic bits are valid only when <see cref="FlagsOp"/> is Eager.</summary>
    public uint Eflags = Flags.Reserved1;

    /// <summary>The lazy flag operation (kind | size), see <see cref="LazyFlags"/>.</summary>
    public int FlagsOp;
    public uint FlagsSrc1, FlagsSrc2, FlagsRes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int MsbShift(int op) => (8 << (op & 3)) - 1;

    /// <summary>Sign-extends a lazily stored value of the operation's size to 32 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SignExtend(uint v, int op) => (int)(v << (31 - MsbShift(op))) >> (31 - MsbShift(op));

    /// <summary>PF: set when the low byte of the result has an even number of one bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Parity(uint result) => (uint)(~BitOperations.PopCount(result & 0xFF) & 1) << 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetLazy(int op, uint src1, uint src2, uint res)
    {
        FlagsOp = op;
        FlagsSrc1 = src1;
        FlagsSrc2 = src2;
        FlagsRes = res;
    }

    public bool CF
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => GetCF() != 0;
    }

    public bool ZF => GetZF() != 0;
    public bool SF => GetSF() != 0;
    public bool OF => GetOF() != 0;
    public bool DF => (Eflags & Flags.DF) != 0;

    /// <summary>CF as 0 or 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint GetCF() => FlagMath.CarryOf(FlagsOp, FlagsSrc1, FlagsSrc2, FlagsRes, Eflags);

    public uint GetZF() => FlagsOp == LazyFlags.Eager ? (Eflags >> 6) & 1 : (FlagsRes == 0 ? 1u : 0u);

    public uint GetSF() => FlagsOp == LazyFlags.Eager ? (Eflags >> 7) & 1 : (FlagsRes >> MsbShift(FlagsOp)) & 1;

    public uint GetOF() => FlagMath.OverflowOf(FlagsOp, FlagsSrc1, FlagsSrc2, FlagsRes, Eflags);

    public uint GetPF() => FlagsOp == LazyFlags.Eager ? (Eflags >> 2) & 1 : Parity(FlagsRes) >> 2;

    public uint GetAF() => FlagMath.AuxiliaryOf(FlagsOp, FlagsSrc1, FlagsSrc2, FlagsRes, Eflags);

    /// <summary>The six arithmetic flags in their EFLAGS positions.</summary>
    public uint ArithFlags() => FlagMath.ArithOf(FlagsOp, FlagsSrc1, FlagsSrc2, FlagsRes, Eflags);

    /// <summary>The whole EFLAGS register, as PUSHF would store it.</summary>
    public uint GetEflags() => (Eflags & ~Flags.Arith) | ArithFlags();

    /// <summary>Stores the arithmetic flags eagerly (for instructions whose flags are not lazily derivable).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetArithFlags(uint bits)
    {
        Eflags = (Eflags & ~Flags.Arith) | (bits & Flags.Arith);
        FlagsOp = LazyFlags.Eager;
    }

    /// <summary>Changes only the given arithmetic flags, keeping the others' current values.</summary>
    public void SetArithFlags(uint bits, uint mask)
    {
        uint cur = ArithFlags();
        SetArithFlags((cur & ~mask) | (bits & mask));
    }

    /// <summary>Sets CF alone, keeping the other arithmetic flags.</summary>
    public void SetCF(bool cf) => SetArithFlags(cf ? Flags.CF : 0, Flags.CF);

    /// <summary>SF, ZF and PF of a result of the given size (0 byte, 1 word, 2 doubleword).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint SzpFlags(uint result, int size)
    {
        int msb = (8 << size) - 1;
        uint mask = size == 2 ? 0xFFFF_FFFFu : (1u << (msb + 1)) - 1;
        result &= mask;
        return (result == 0 ? Flags.ZF : 0) | (((result >> msb) & 1) << 7) | Parity(result);
    }

    /// <summary>Writes the whole EFLAGS register, keeping reserved bits and bit 1 as the CPU does.</summary>
    public void SetEflagsRaw(uint value)
    {
        Eflags = (value & Flags.Implemented) | Flags.Reserved1;
        FlagsOp = LazyFlags.Eager;
    }

    /// <summary>Evaluates condition code cc (the low nibble of Jcc/SETcc/CMOVcc opcodes).</summary>
    public bool Condition(int cc) => FlagMath.ConditionAny(cc, FlagsOp, FlagsSrc1, FlagsSrc2, FlagsRes, Eflags);
}

/// <summary>
/// The arithmetic flags of a lazy flag state (operation, operands, result, EFLAGS) as pure
/// functions: the CPU evaluates its own fields with them, and compiled code evaluates the
/// copies it keeps in locals. With the operation a constant, RyuJIT folds the switches away,
/// so a CMP followed by a Jcc becomes one compare.
/// </summary>
public static class FlagMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int MsbShift(int op) => (8 << (op & 3)) - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int SignExtend(uint v, int op) => (int)(v << (31 - MsbShift(op))) >> (31 - MsbShift(op));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint CarryOf(int op, uint s1, uint s2, uint r, uint eflags)
    {
        switch (op >> 2)
        {
            case LazyFlags.Add >> 2:
                if ((op & 3) == LazyFlags.Size32) return r < s1 ? 1u : 0u;
                return (((s1 & s2) | ((s1 | s2) & ~r)) >> MsbShift(op)) & 1;
            case LazyFlags.Adc >> 2:
                return (((s1 & s2) | ((s1 | s2) & ~r)) >> MsbShift(op)) & 1;
            case LazyFlags.Sub >> 2:
                return s1 < s2 ? 1u : 0u; // operands are zero-extended values of the operation's size
            case LazyFlags.Sbb >> 2:
                return (((~s1 & s2) | ((~s1 | s2) & r)) >> MsbShift(op)) & 1;
            case LazyFlags.Logic >> 2:
                return 0;
            case LazyFlags.Shl >> 2:
                return (uint)(((ulong)s1 << (int)s2) >> (8 << (op & 3))) & 1;
            case LazyFlags.Shr >> 2:
                return (s1 >> (int)(s2 - 1)) & 1;
            case LazyFlags.Sar >> 2:
                return (uint)(SignExtend(s1, op) >> (int)(s2 - 1)) & 1;
            case LazyFlags.Imul >> 2:
                return ImulOverflows(op, s1, s2);
            default:
                return eflags & Flags.CF;
        }
    }

    /// <summary>Whether a lazily recorded IMUL's product does not fit its size (CF = OF).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ImulOverflows(int op, uint s1, uint s2)
    {
        if ((op & 3) == LazyFlags.Size16)
        {
            int r = (short)s1 * (short)s2;
            return r != (short)r ? 1u : 0u;
        }
        long r64 = (long)(int)s1 * (int)s2;
        return r64 != (int)r64 ? 1u : 0u;
    }

    /// <summary>AF of a lazy state: undefined after logic, shifts and IMUL, where the CPU we follow leaves it clear.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint AuxiliaryOf(int op, uint s1, uint s2, uint r, uint eflags) => (op >> 2) switch
    {
        LazyFlags.Eager => (eflags >> 4) & 1,
        LazyFlags.Logic >> 2 or LazyFlags.Shl >> 2 or LazyFlags.Shr >> 2 or LazyFlags.Sar >> 2 or LazyFlags.Imul >> 2 => 0,
        _ => ((s1 ^ s2 ^ r) >> 4) & 1,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint OverflowOf(int op, uint s1, uint s2, uint r, uint eflags)
    {
        switch (op >> 2)
        {
            case LazyFlags.Add >> 2:
            case LazyFlags.Adc >> 2:
            case LazyFlags.Inc >> 2:
                return (((s1 ^ r) & (s2 ^ r)) >> MsbShift(op)) & 1;
            case LazyFlags.Sub >> 2:
            case LazyFlags.Sbb >> 2:
            case LazyFlags.Dec >> 2:
                return (((s1 ^ s2) & (s1 ^ r)) >> MsbShift(op)) & 1;
            case LazyFlags.Logic >> 2:
            case LazyFlags.Sar >> 2:
                return 0;
            case LazyFlags.Shl >> 2:
                return ((r >> MsbShift(op)) & 1) ^ CarryOf(op, s1, s2, r, eflags);
            case LazyFlags.Shr >> 2:
                return (s1 >> MsbShift(op)) & 1;
            case LazyFlags.Imul >> 2:
                return ImulOverflows(op, s1, s2);
            default:
                return (eflags >> 11) & 1;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ZeroOf(int op, uint r, uint eflags) => op == LazyFlags.Eager ? (eflags >> 6) & 1 : (r == 0 ? 1u : 0u);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint SignOf(int op, uint r, uint eflags) => op == LazyFlags.Eager ? (eflags >> 7) & 1 : (r >> MsbShift(op)) & 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ParityOf(int op, uint r, uint eflags) => op == LazyFlags.Eager ? (eflags >> 2) & 1 : Cpu.Parity(r) >> 2;

    /// <summary>The six arithmetic flags of a lazy state, in their EFLAGS positions.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static uint ArithOf(int op, uint s1, uint s2, uint r, uint eflags)
    {
        if (op == LazyFlags.Eager) return eflags & Flags.Arith;
        uint af = AuxiliaryOf(op, s1, s2, r, eflags);
        return CarryOf(op, s1, s2, r, eflags) | Cpu.Parity(r) | (af << 4) | (r == 0 ? Flags.ZF : 0)
               | (SignOf(op, r, eflags) << 7) | (OverflowOf(op, s1, s2, r, eflags) << 11);
    }

    /// <summary>Condition code cc of the lazy state; inlined, for an operation known at translation time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool ConditionKnown(int cc, int op, uint s1, uint s2, uint r, uint eflags)
    {
        if ((op >> 2) == (LazyFlags.Sub >> 2))
        {
            // After CMP/SUB: compare the operands directly.
            switch (cc)
            {
                case 2: return s1 < s2;                                   // B
                case 3: return s1 >= s2;                                  // AE
                case 4: return r == 0;                                    // E
                case 5: return r != 0;                                    // NE
                case 6: return s1 <= s2;                                  // BE
                case 7: return s1 > s2;                                   // A
                case 12: return SignExtend(s1, op) < SignExtend(s2, op);  // L
                case 13: return SignExtend(s1, op) >= SignExtend(s2, op); // GE
                case 14: return SignExtend(s1, op) <= SignExtend(s2, op); // LE
                case 15: return SignExtend(s1, op) > SignExtend(s2, op);  // G
            }
        }
        else if ((op >> 2) == (LazyFlags.Logic >> 2))
        {
            // CF = OF = 0.
            switch (cc)
            {
                case 0: return false;                                     // O
                case 1: return true;                                      // NO
                case 2: return false;                                     // B
                case 3: return true;                                      // AE
                case 4: case 6: return r == 0;                            // E, BE
                case 5: case 7: return r != 0;                            // NE, A
                case 8: case 12: return SignExtend(r, op) < 0;            // S, L
                case 9: case 13: return SignExtend(r, op) >= 0;           // NS, GE
                case 14: return SignExtend(r, op) <= 0;                   // LE
                case 15: return SignExtend(r, op) > 0;                    // G
            }
        }
        bool b = (cc >> 1) switch
        {
            0 => OverflowOf(op, s1, s2, r, eflags) != 0,
            1 => CarryOf(op, s1, s2, r, eflags) != 0,
            2 => ZeroOf(op, r, eflags) != 0,
            3 => (CarryOf(op, s1, s2, r, eflags) | ZeroOf(op, r, eflags)) != 0,
            4 => SignOf(op, r, eflags) != 0,
            5 => ParityOf(op, r, eflags) != 0,
            6 => SignOf(op, r, eflags) != OverflowOf(op, s1, s2, r, eflags),
            _ => ZeroOf(op, r, eflags) != 0 || SignOf(op, r, eflags) != OverflowOf(op, s1, s2, r, eflags),
        };
        return b ^ ((cc & 1) != 0);
    }

    /// <summary>Condition code cc of any lazy state (the operation known only at run time).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static bool ConditionAny(int cc, int op, uint s1, uint s2, uint r, uint eflags) => ConditionKnown(cc, op, s1, s2, r, eflags);

    /// <summary>CF of a lazy state whose operation is known at translation time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint CarryKnown(int op, uint s1, uint s2, uint r, uint eflags) => CarryOf(op, s1, s2, r, eflags);

    /// <summary>CF of any lazy state.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static uint CarryAny(int op, uint s1, uint s2, uint r, uint eflags) => CarryOf(op, s1, s2, r, eflags);
}
