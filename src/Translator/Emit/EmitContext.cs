using System;
using System.Reflection;
using System.Reflection.Emit;
using Emu.X86;
using Iced.Intel;

namespace Emu.Translator.Emit;

/// <summary>
/// The IL being built for one block, with helpers that turn an instruction's operands into
/// IL with everything known at translation time (register numbers, sizes, displacements,
/// immediates) folded to constants. Argument 0 is the block's <see cref="BlockConstants"/>,
/// argument 1 the <see cref="Cpu"/>.
/// </summary>
public sealed class EmitContext
{
    public ILGenerator Il { get; }
    public Block Block { get; }

    /// <summary>Index of the instruction being emitted.</summary>
    public int Index { get; internal set; }

    private readonly LocalBuilder scratchA;
    private readonly LocalBuilder scratchB;
    private readonly LocalBuilder linear;

    internal EmitContext(ILGenerator il, Block block)
    {
        Il = il;
        Block = block;
        scratchA = il.DeclareLocal(typeof(uint));
        scratchB = il.DeclareLocal(typeof(uint));
        linear = il.DeclareLocal(typeof(uint));
    }

    /// <summary>A uint local for an operand value.</summary>
    public LocalBuilder Src => scratchA;

    /// <summary>A uint local for a result.</summary>
    public LocalBuilder Result => scratchB;

    /// <summary>A uint local for a linear address.</summary>
    public LocalBuilder Linear => linear;

    public void LoadCpu() => Il.Emit(OpCodes.Ldarg_1);

    public void Const(int v) => Il.Emit(OpCodes.Ldc_I4, v);

    public void Const(uint v) => Il.Emit(OpCodes.Ldc_I4, unchecked((int)v));

    public void Const(bool v) => Il.Emit(v ? OpCodes.Ldc_I4_1 : OpCodes.Ldc_I4_0);

    public void Call(MethodInfo m) => Il.Emit(OpCodes.Call, m);

    /// <summary>cpu.Eip = value.</summary>
    public void SetEip(uint value)
    {
        LoadCpu();
        Const(value);
        Il.Emit(OpCodes.Stfld, Members.Eip);
    }

    /// <summary>Pushes the value of general register <paramref name="r"/> of the given size.</summary>
    public void LoadReg(int r, int size)
    {
        LoadCpu();
        Const(r);
        if (size == 2)
        {
            Call(Members.GetReg32);
        }
        else
        {
            Const(size);
            Call(Members.GetReg);
        }
    }

    /// <summary>Stores the value on top of the stack into general register <paramref name="r"/> (uses the Result local).</summary>
    public void StoreReg(int r, int size)
    {
        Il.Emit(OpCodes.Stloc, scratchB);
        LoadCpu();
        Const(r);
        if (size == 2)
        {
            Il.Emit(OpCodes.Ldloc, scratchB);
            Call(Members.SetReg32);
        }
        else
        {
            Const(size);
            Il.Emit(OpCodes.Ldloc, scratchB);
            Call(Members.SetReg);
        }
    }

    /// <summary>Pushes the effective address of the instruction's memory operand, computed by <see cref="Cpu.Ea"/>.</summary>
    public void EffectiveAddress(ref Instruction i)
    {
        MemoryOperand m = MemoryOperand.Of(ref i);
        LoadCpu();
        Const(m.Base);
        Const(m.Index);
        Const(m.Scale);
        Const(m.Displacement);
        Const(m.AddressSize16);
        Call(Members.Ea);
    }

    /// <summary>Pushes the segment number and the effective address of the memory operand: the (seg, ea) pair semantic methods take.</summary>
    public void MemoryAddress(ref Instruction i)
    {
        Const(Cpu.MemSeg(ref i));
        EffectiveAddress(ref i);
    }

    /// <summary>Calls static method <paramref name="name"/> of <paramref name="group"/> (an instruction group in src/Cpu).</summary>
    public void CallSemantic(Type group, string name) => Call(Members.Static(group, name));

    /// <summary>The size (0 byte, 1 word, 2 doubleword) of operand <paramref name="n"/>, a register or memory.</summary>
    public static int OperandSizeOf(ref Instruction i, int n) =>
        i.GetOpKind(n) == OpKind.Register ? Shapes.SizeOfRegister(i.GetOpRegister(n)) : SizeOfMemory(i.MemorySize);

    /// <summary>The size (0 byte, 1 word, 2 doubleword) of a memory operand.</summary>
    public static int SizeOfMemory(MemorySize m) => m.GetSize() switch { 1 => 0, 2 => 1, _ => 2 };

    /// <summary>Pushes operand <paramref name="n"/> (register, memory or immediate) at the given size.</summary>
    public void ReadOperand(ref Instruction i, int n, int size)
    {
        switch (i.GetOpKind(n))
        {
            case OpKind.Register:
                LoadReg(Cpu.RegNum(i.GetOpRegister(n)), size);
                break;
            case OpKind.Memory:
                LoadCpu();
                Const(Cpu.MemSeg(ref i));
                EffectiveAddress(ref i);
                Const(size);
                Call(Members.ReadMem);
                break;
            default:
                Const(Cpu.Immediate(ref i, n));
                break;
        }
    }

    /// <summary>Writes the value on top of the stack to operand <paramref name="n"/> (register or memory).</summary>
    public void WriteOperand(ref Instruction i, int n, int size)
    {
        if (i.GetOpKind(n) == OpKind.Register)
        {
            StoreReg(Cpu.RegNum(i.GetOpRegister(n)), size);
            return;
        }
        Il.Emit(OpCodes.Stloc, scratchB);
        LoadCpu();
        Const(Cpu.MemSeg(ref i));
        EffectiveAddress(ref i);
        Const(size);
        Il.Emit(OpCodes.Ldloc, scratchB);
        Call(Members.WriteMem);
    }

    /// <summary>Computes the write-checked linear address of a read-modify-write memory operand into <see cref="Linear"/>.</summary>
    public void LinearRmw(ref Instruction i, int size)
    {
        LoadCpu();
        Const(Cpu.MemSeg(ref i));
        EffectiveAddress(ref i);
        Const(OperandSize.Bytes(size));
        Call(Members.LinearRmw);
        Il.Emit(OpCodes.Stloc, linear);
    }

    /// <summary>Pushes cpu.ReadLinear(Linear, size).</summary>
    public void ReadLinear(int size)
    {
        LoadCpu();
        Il.Emit(OpCodes.Ldloc, linear);
        Const(size);
        Call(Members.ReadLinear);
    }

    /// <summary>cpu.WriteLinear(Linear, size, value on top of the stack).</summary>
    public void WriteLinear(int size)
    {
        Il.Emit(OpCodes.Stloc, scratchB);
        LoadCpu();
        Il.Emit(OpCodes.Ldloc, linear);
        Const(size);
        Il.Emit(OpCodes.Ldloc, scratchB);
        Call(Members.WriteLinear);
    }
}

/// <summary>A memory operand decoded once at translation time.</summary>
public readonly record struct MemoryOperand(int Base, int Index, int Scale, uint Displacement, bool AddressSize16)
{
    public static MemoryOperand Of(ref Instruction i)
    {
        Register b = i.MemoryBase;
        Register x = i.MemoryIndex;
        bool a16 = b is >= Register.AX and <= Register.DI || x is >= Register.AX and <= Register.DI
            || (b == Register.None && x == Register.None && i.MemoryDisplSize == 2);
        return new MemoryOperand(b == Register.None ? -1 : Cpu.RegNum(b), x == Register.None ? -1 : Cpu.RegNum(x),
            i.MemoryIndexScale, i.MemoryDisplacement32, a16);
    }
}

/// <summary>Reflection handles of the CPU members compiled code calls.</summary>
internal static class Members
{
    private const BindingFlags Pub = BindingFlags.Public | BindingFlags.Instance;
    private const BindingFlags PubStatic = BindingFlags.Public | BindingFlags.Static;

    public static readonly FieldInfo Eip = typeof(Cpu).GetField(nameof(Cpu.Eip))!;
    public static readonly FieldInfo BlockExit = typeof(Cpu).GetField(nameof(Cpu.BlockExit))!;
    public static readonly FieldInfo InstructionCount = typeof(Cpu).GetField(nameof(Cpu.InstructionCount))!;
    public static readonly MethodInfo GetReg = Method(nameof(Cpu.GetReg), typeof(int), typeof(int));
    public static readonly MethodInfo SetReg = Method(nameof(Cpu.SetReg), typeof(int), typeof(int), typeof(uint));
    public static readonly MethodInfo GetReg32 = Method(nameof(Cpu.GetReg32), typeof(int));
    public static readonly MethodInfo SetReg32 = Method(nameof(Cpu.SetReg32), typeof(int), typeof(uint));
    public static readonly MethodInfo Ea = Method(nameof(Cpu.Ea), typeof(int), typeof(int), typeof(int), typeof(uint), typeof(bool));
    public static readonly MethodInfo ReadMem = Method(nameof(Cpu.ReadMem), typeof(int), typeof(uint), typeof(int));
    public static readonly MethodInfo WriteMem = Method(nameof(Cpu.WriteMem), typeof(int), typeof(uint), typeof(int), typeof(uint));
    public static readonly MethodInfo LinearRmw = Method(nameof(Cpu.LinearRmw), typeof(int), typeof(uint), typeof(int));
    public static readonly MethodInfo ReadLinear = Method(nameof(Cpu.ReadLinear), typeof(uint), typeof(int));
    public static readonly MethodInfo WriteLinear = Method(nameof(Cpu.WriteLinear), typeof(uint), typeof(int), typeof(uint));
    public static readonly MethodInfo Condition = Method(nameof(Cpu.Condition), typeof(int));
    public static readonly MethodInfo Push32 = Method(nameof(Cpu.Push32), typeof(uint));
    public static readonly MethodInfo Pop32 = Method(nameof(Cpu.Pop32));
    public static readonly MethodInfo LeaveEarly = typeof(Interpreter).GetMethod(nameof(Interpreter.LeaveEarly), PubStatic)!;

    public static MethodInfo Method(string name, params Type[] args) =>
        typeof(Cpu).GetMethod(name, Pub, args) ?? throw new MissingMethodException(nameof(Cpu), name);

    public static MethodInfo Static(Type t, string name) =>
        t.GetMethod(name, PubStatic) ?? throw new MissingMethodException(t.Name, name);
}
