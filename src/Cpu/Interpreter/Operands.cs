using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Emu.X86;

/// <summary>Operand sizes as the semantics take them: 0 byte, 1 word, 2 doubleword.</summary>
public interface IOperandSize
{
    static abstract int Size { get; }
}

public readonly struct Byte8 : IOperandSize { public static int Size => 0; }
public readonly struct Word16 : IOperandSize { public static int Size => 1; }
public readonly struct Dword32 : IOperandSize { public static int Size => 2; }

/// <summary>Helpers over operand sizes (0 byte, 1 word, 2 doubleword).</summary>
public static class OperandSize
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Mask(int size) => size == 2 ? 0xFFFF_FFFFu : size == 1 ? 0xFFFFu : 0xFFu;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Bits(int size) => 8 << size;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Bytes(int size) => 1 << size;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint SignBit(int size) => 1u << ((8 << size) - 1);

    /// <summary>Sign-extends a value of the given size to 32 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint SignExtend(uint v, int size) =>
        size == 2 ? v : size == 1 ? (uint)(short)v : (uint)(sbyte)v;
}

// The interpreter's view of an Iced instruction's operands: registers, memory, immediates.
public sealed partial class Cpu
{
    /// <summary>Iced register -> general register number (8-bit: 0-3 low bytes, 4-7 AH..BH) or segment number.</summary>
    private static readonly sbyte[] RegisterNumber = BuildRegisterNumbers();

    /// <summary>Whether an Iced register is a 16-bit general register (16-bit addressing).</summary>
    private static readonly bool[] Is16BitRegister = Build16BitRegisters();

    private static sbyte[] BuildRegisterNumbers()
    {
        var t = new sbyte[256];
        for (int i = 0; i < t.Length; i++) t[i] = -1;
        for (int i = 0; i < 8; i++)
        {
            t[(int)Register.AL + i] = (sbyte)i;
            t[(int)Register.AX + i] = (sbyte)i;
            t[(int)Register.EAX + i] = (sbyte)i;
        }
        for (int i = 0; i < 6; i++) t[(int)Register.ES + i] = (sbyte)i;
        for (int i = 0; i < 8; i++)
        {
            t[(int)Register.CR0 + i] = (sbyte)i;
            t[(int)Register.DR0 + i] = (sbyte)i;
            t[(int)Register.ST0 + i] = (sbyte)i;
            t[(int)Register.MM0 + i] = (sbyte)i;
            t[(int)Register.TR0 + i] = (sbyte)i;
        }
        return t;
    }

    private static bool[] Build16BitRegisters()
    {
        var t = new bool[256];
        for (int i = 0; i < 8; i++) t[(int)Register.AX + i] = true;
        return t;
    }

    /// <summary>The number of an Iced register in its file (general, segment, control, debug, x87, MMX).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int RegNum(Register r) => RegisterNumber[(int)r];

    /// <summary>The effective address (offset within the segment) of the instruction's memory operand.</summary>
    public uint EffectiveAddress(ref Instruction i) =>
        Ea(RegisterNumber[(int)i.MemoryBase], RegisterNumber[(int)i.MemoryIndex], i.MemoryIndexScale, i.MemoryDisplacement32, AddressSize16(ref i));

    /// <summary>
    /// The effective address of a memory operand decoded into <see cref="Operands"/>: the rule
    /// of <see cref="Ea"/>, with "no base" and "no index" as and-masks instead of branches.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint EffectiveAddress(ref Operands o) =>
        (o.Displacement + (Gpr[o.Base & 7] & (uint)(int)o.BaseMask) + ((Gpr[o.Index & 7] & (uint)(int)o.IndexMask) << o.Shift)) & o.AddressMask;

    /// <summary>
    /// base + index * scale + displacement, wrapped to 16 bits for 16-bit addressing. A
    /// negative register number means "none". Both engines compute addresses here.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Ea(int baseReg, int indexReg, int scale, uint displacement, bool addressSize16)
    {
        uint ea = displacement;
        if (baseReg >= 0) ea += Gpr[baseReg];
        if (indexReg >= 0) ea += Gpr[indexReg] * (uint)scale;
        return addressSize16 ? ea & 0xFFFF : ea;
    }

    /// <summary>Whether the instruction's memory operand uses 16-bit addressing (for string/XLAT forms: the address size).</summary>
    public static bool AddressSize16(ref Instruction i)
    {
        Register b = i.MemoryBase;
        Register x = i.MemoryIndex;
        if (b != Register.None || x != Register.None) return Is16BitRegister[(int)b] || Is16BitRegister[(int)x];
        return i.MemoryDisplSize == 2;
    }

    /// <summary>The segment number of the instruction's memory operand (default or override).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int MemSeg(ref Instruction i) => RegisterNumber[(int)i.MemorySegment];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint GetReg(int r, int size) => size == 2 ? Gpr[r] : size == 1 ? (ushort)Gpr[r] : GetReg8(r);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetReg(int r, int size, uint v)
    {
        if (size == 2) Gpr[r] = v;
        else if (size == 1) SetReg16(r, (ushort)v);
        else SetReg8(r, (byte)v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadMem(int seg, uint offset, int size) =>
        size == 2 ? Read32(seg, offset) : size == 1 ? Read16(seg, offset) : Read8(seg, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteMem(int seg, uint offset, int size, uint v)
    {
        if (size == 2) Write32(seg, offset, v);
        else if (size == 1) Write16(seg, offset, (ushort)v);
        else Write8(seg, offset, (byte)v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadLinear(uint linear, int size) =>
        size == 2 ? Mmu.Read32(linear) : size == 1 ? Mmu.Read16(linear) : Mmu.Read8(linear);

    /// <summary>Reads a read-modify-write operand at the address <see cref="LinearRmw"/> gave, through the translation it made.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadLinearRmw(uint linear, int size) => Mmu.ReadRmw(linear, OperandSize.Bytes(size));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteLinear(uint linear, int size, uint v)
    {
        if (size == 2) Mmu.Write32(linear, v);
        else if (size == 1) Mmu.Write16(linear, (ushort)v);
        else Mmu.Write8(linear, (byte)v);
    }

    /// <summary>An immediate operand, sign- or zero-extended to 32 bits as its kind says.</summary>
    public static uint Immediate(ref Instruction i, int n) => i.GetOpKind(n) switch
    {
        OpKind.Immediate8 => i.Immediate8,
        OpKind.Immediate16 => i.Immediate16,
        OpKind.Immediate32 => i.Immediate32,
        OpKind.Immediate8to16 => (ushort)i.Immediate8to16,
        OpKind.Immediate8to32 => (uint)i.Immediate8to32,
        OpKind.Immediate8_2nd => i.Immediate8_2nd,
        _ => (uint)i.GetImmediate(n),
    };

    /// <summary>Reads operand <paramref name="n"/> of the given size: register, memory or immediate.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadOperand(ref Instruction i, int n, int size)
    {
        OpKind k = i.GetOpKind(n);
        if (k == OpKind.Register) return GetReg(RegisterNumber[(int)i.GetOpRegister(n)], size);
        if (k == OpKind.Memory) return ReadMem(MemSeg(ref i), EffectiveAddress(ref i), size);
        return Immediate(ref i, n);
    }

    /// <summary>Writes operand <paramref name="n"/> (register or memory) of the given size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WriteOperand(ref Instruction i, int n, int size, uint v)
    {
        if (i.GetOpKind(n) == OpKind.Register) SetReg(RegisterNumber[(int)i.GetOpRegister(n)], size, v);
        else WriteMem(MemSeg(ref i), EffectiveAddress(ref i), size, v);
    }
}
