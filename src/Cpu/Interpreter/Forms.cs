using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// The operand form of a decoded instruction: which of its first two operands are registers,
/// memory or an immediate. Chosen once when a block is decoded, it picks a handler made for
/// that form (see <see cref="InstructionTable.HandlerFor"/>), so the interpreter does not ask
/// Iced's packed <see cref="Instruction"/> the operand kinds again on every run.
/// </summary>
public enum OperandForm : byte
{
    /// <summary>Anything else: the instruction's general handler.</summary>
    Other,
    /// <summary>One register operand (INC r, NOT r...).</summary>
    Reg,
    /// <summary>One memory operand.</summary>
    Mem,
    /// <summary>op0 register, op1 register.</summary>
    RegReg,
    /// <summary>op0 register, op1 memory.</summary>
    RegMem,
    /// <summary>op0 memory, op1 register.</summary>
    MemReg,
    /// <summary>op0 register, op1 immediate.</summary>
    RegImm,
    /// <summary>op0 memory, op1 immediate.</summary>
    MemImm,
    /// <summary>One near branch target (JMP rel, Jcc, CALL rel).</summary>
    Near,
}

public static class OperandForms
{
    public const int Count = 9;

    /// <summary>The form of <paramref name="i"/>, from its operand count and kinds.</summary>
    public static OperandForm Of(ref Instruction i)
    {
        int n = i.OpCount;
        if (n == 0 || n > 2) return OperandForm.Other;
        OpKind k0 = i.Op0Kind;
        if (n == 1 && k0 is OpKind.NearBranch16 or OpKind.NearBranch32) return OperandForm.Near;
        if (k0 != OpKind.Register && k0 != OpKind.Memory) return OperandForm.Other;
        bool m0 = k0 == OpKind.Memory;
        if (n == 1) return m0 ? OperandForm.Mem : OperandForm.Reg;
        OpKind k1 = i.Op1Kind;
        if (k1 == OpKind.Register) return m0 ? OperandForm.MemReg : OperandForm.RegReg;
        if (k1 == OpKind.Memory) return m0 ? OperandForm.Other : OperandForm.RegMem;
        if (IsImmediate(k1)) return m0 ? OperandForm.MemImm : OperandForm.RegImm;
        return OperandForm.Other;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsImmediate(OpKind k) => k is OpKind.Immediate8 or OpKind.Immediate16 or OpKind.Immediate32
        or OpKind.Immediate8to16 or OpKind.Immediate8to32;
}

/// <summary>
/// An instruction's operands as the interpreter's form handlers take them, worked out once at
/// decode time from Iced's packed <see cref="Instruction"/>: register numbers, the memory
/// operand's segment and address parts, the immediate.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct Operands
{
    /// <summary>The memory operand's displacement.</summary>
    public uint Displacement;
    /// <summary>
    /// The immediate operand (op1, else op0), sign- or zero-extended to 32 bits as its kind
    /// says; for a near branch, its target.
    /// </summary>
    public uint Immediate;
    /// <summary>0xFFFF for 16-bit addressing, else 0xFFFFFFFF.</summary>
    public uint AddressMask;
    /// <summary>General register numbers of op0 and op1 when they are registers (8-bit: 0-3 low bytes, 4-7 AH..BH).</summary>
    public byte Reg0, Reg1;
    /// <summary>The memory operand's segment register number.</summary>
    public byte Segment;
    /// <summary>Base and index register numbers; with no base or index, 0 and its mask 0.</summary>
    public byte Base, Index;
    /// <summary>log2 of the index scale.</summary>
    public byte Shift;
    /// <summary>-1 where there is a base (an index), 0 where not: the register is and-ed with it.</summary>
    public sbyte BaseMask, IndexMask;
    /// <summary>For Jcc, SETcc and CMOVcc: the condition, as <see cref="Cpu.Condition"/> numbers it.</summary>
    public byte Condition;

    /// <summary>The operands of <paramref name="i"/>.</summary>
    public static Operands Decode(ref Instruction i)
    {
        var o = new Operands { AddressMask = 0xFFFF_FFFF };
        int n = i.OpCount;
        for (int k = 0; k < n && k < 2; k++)
        {
            OpKind kind = i.GetOpKind(k);
            if (kind == OpKind.Register)
            {
                byte r = (byte)(Cpu.RegNum(i.GetOpRegister(k)) & 7);
                if (k == 0) o.Reg0 = r; else o.Reg1 = r;
            }
            else if (kind is OpKind.Immediate8 or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate8to16 or OpKind.Immediate8to32)
            {
                o.Immediate = Cpu.Immediate(ref i, k);
            }
            else if (kind is OpKind.NearBranch16 or OpKind.NearBranch32)
            {
                o.Immediate = (uint)i.NearBranchTarget;
            }
        }
        if (i.ConditionCode != ConditionCode.None) o.Condition = (byte)(i.ConditionCode - 1);
        if (n > 0 && (i.Op0Kind == OpKind.Memory || (n > 1 && i.Op1Kind == OpKind.Memory)))
        {
            o.Segment = (byte)Cpu.MemSeg(ref i);
            o.Displacement = i.MemoryDisplacement32;
            int b = Cpu.RegNum(i.MemoryBase), x = Cpu.RegNum(i.MemoryIndex);
            if (i.MemoryBase != Register.None && b >= 0) { o.Base = (byte)b; o.BaseMask = -1; }
            if (i.MemoryIndex != Register.None && x >= 0) { o.Index = (byte)x; o.IndexMask = -1; }
            o.Shift = (byte)BitOperations.Log2((uint)i.MemoryIndexScale);
            if (Cpu.AddressSize16(ref i)) o.AddressMask = 0xFFFF;
        }
        return o;
    }

    public override readonly string ToString() =>
        $"reg0 {Reg0} reg1 {Reg1} seg {Segment} [{(BaseMask != 0 ? Base : "-")}+{(IndexMask != 0 ? Index : "-")}<<{Shift}+{Displacement:X}]&{AddressMask:X} imm {Immediate:X}";
}

/// <summary>
/// An Iced instruction with its <see cref="Operands"/> right after it. Blocks keep their
/// instructions in this form for the interpreter; a form handler reaches the operands from
/// the <c>ref Instruction</c> it is given (<see cref="OperandsOf"/>), so it must be called only
/// with an instruction inside a <see cref="DecodedInstruction"/>: <see cref="Block.Handlers"/>
/// holds form handlers and <see cref="Interpreter"/> calls them so, and nothing else does.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct DecodedInstruction
{
    public Instruction Instruction;
    public Operands Operands;

    /// <summary>The operands stored after <paramref name="i"/>, which lies in a <see cref="DecodedInstruction"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref Operands OperandsOf(ref Instruction i) => ref Unsafe.As<Instruction, DecodedInstruction>(ref i).Operands;
}
