using System;
using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Emu.X86;

/// <summary>A two-operand operation: dest = op(dest, src), flags set by the operation.</summary>
public interface IBinaryOp
{
    /// <summary>Whether the result is written back (false for CMP, TEST, BT).</summary>
    static abstract bool WritesResult { get; }
    static abstract uint Apply(Cpu c, uint dest, uint src, int size);
}

/// <summary>A one-operand operation: dest = op(dest).</summary>
public interface IUnaryOp
{
    static abstract uint Apply(Cpu c, uint dest, int size);
}

/// <summary>
/// Operand plumbing shared by instruction groups: how the interpreter reads and writes the
/// operands of an instruction shape around a semantic operation. The operation itself is
/// the group's own static method; the translator calls the same methods.
/// </summary>
public static class Shapes
{
    /// <summary>op0 = TOp(op0, op1): register, memory (read-modify-write) or accumulator forms.</summary>
    public static void Binary<TOp, TSize>(Cpu c, ref Instruction i)
        where TOp : struct, IBinaryOp where TSize : struct, IOperandSize
    {
        uint src = c.ReadOperand(ref i, 1, TSize.Size);
        if (i.Op0Kind == OpKind.Register) BinaryToRegister<TOp, TSize>(c, Cpu.RegNum(i.Op0Register), src);
        else BinaryToMemory<TOp, TSize>(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), src);
    }

    // Binary, one handler per operand form (see OperandForm): the same reads, checks and
    // writes in the same order as Binary, with the operand kinds known at decode time.

    public static void BinaryRegReg<TOp, TSize>(Cpu c, ref Instruction i)
        where TOp : struct, IBinaryOp where TSize : struct, IOperandSize
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        BinaryToRegister<TOp, TSize>(c, o.Reg0, c.GetReg(o.Reg1, TSize.Size));
    }

    public static void BinaryRegMem<TOp, TSize>(Cpu c, ref Instruction i)
        where TOp : struct, IBinaryOp where TSize : struct, IOperandSize
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        BinaryToRegister<TOp, TSize>(c, o.Reg0, c.ReadMem(o.Segment, c.EffectiveAddress(ref o), TSize.Size));
    }

    public static void BinaryRegImm<TOp, TSize>(Cpu c, ref Instruction i)
        where TOp : struct, IBinaryOp where TSize : struct, IOperandSize
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        BinaryToRegister<TOp, TSize>(c, o.Reg0, o.Immediate);
    }

    public static void BinaryMemReg<TOp, TSize>(Cpu c, ref Instruction i)
        where TOp : struct, IBinaryOp where TSize : struct, IOperandSize
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        BinaryToMemory<TOp, TSize>(c, o.Segment, c.EffectiveAddress(ref o), c.GetReg(o.Reg1, TSize.Size));
    }

    public static void BinaryMemImm<TOp, TSize>(Cpu c, ref Instruction i)
        where TOp : struct, IBinaryOp where TSize : struct, IOperandSize
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        BinaryToMemory<TOp, TSize>(c, o.Segment, c.EffectiveAddress(ref o), o.Immediate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BinaryToRegister<TOp, TSize>(Cpu c, int r, uint src)
        where TOp : struct, IBinaryOp where TSize : struct, IOperandSize
    {
        int size = TSize.Size;
        uint res = TOp.Apply(c, c.GetReg(r, size), src, size);
        if (TOp.WritesResult) c.SetReg(r, size, res);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BinaryToMemory<TOp, TSize>(Cpu c, int seg, uint off, uint src)
        where TOp : struct, IBinaryOp where TSize : struct, IOperandSize
    {
        int size = TSize.Size;
        if (TOp.WritesResult)
        {
            uint lin = c.LinearRmw(seg, off, OperandSize.Bytes(size));
            uint res = TOp.Apply(c, c.ReadLinearRmw(lin, size), src, size);
            c.WriteLinear(lin, size, res);
        }
        else
        {
            TOp.Apply(c, c.ReadMem(seg, off, size), src, size);
        }
    }

    /// <summary>op0 = TOp(op0).</summary>
    public static void Unary<TOp, TSize>(Cpu c, ref Instruction i)
        where TOp : struct, IUnaryOp where TSize : struct, IOperandSize
    {
        if (i.Op0Kind == OpKind.Register) UnaryOnRegister<TOp, TSize>(c, Cpu.RegNum(i.Op0Register));
        else UnaryOnMemory<TOp, TSize>(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i));
    }

    // Unary, one handler per operand form.

    public static void UnaryReg<TOp, TSize>(Cpu c, ref Instruction i)
        where TOp : struct, IUnaryOp where TSize : struct, IOperandSize =>
        UnaryOnRegister<TOp, TSize>(c, DecodedInstruction.OperandsOf(ref i).Reg0);

    public static void UnaryMem<TOp, TSize>(Cpu c, ref Instruction i)
        where TOp : struct, IUnaryOp where TSize : struct, IOperandSize
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        UnaryOnMemory<TOp, TSize>(c, o.Segment, c.EffectiveAddress(ref o));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UnaryOnRegister<TOp, TSize>(Cpu c, int r)
        where TOp : struct, IUnaryOp where TSize : struct, IOperandSize =>
        c.SetReg(r, TSize.Size, TOp.Apply(c, c.GetReg(r, TSize.Size), TSize.Size));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UnaryOnMemory<TOp, TSize>(Cpu c, int seg, uint off)
        where TOp : struct, IUnaryOp where TSize : struct, IOperandSize
    {
        int size = TSize.Size;
        uint lin = c.LinearRmw(seg, off, OperandSize.Bytes(size));
        c.WriteLinear(lin, size, TOp.Apply(c, c.ReadLinearRmw(lin, size), size));
    }

    /// <summary>The Iced codes named <c>{mnemonic}_{form}</c>, for registering a family of forms at once.</summary>
    public static Code CodeOf(string mnemonic, string form) => Enum.Parse<Code>($"{mnemonic}_{form}");

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int SizeOfRegister(Register r) => r switch
    {
        >= Register.AL and <= Register.BH => 0,
        >= Register.AX and <= Register.DI => 1,
        _ => 2,
    };
}
