using System;
using System.Collections.Generic;
using Emu.X86;
using Iced.Intel;

namespace Emu.Translator.Emit;

/// <summary>Emits IL for one group of instructions, calling the group's semantic methods in src/Cpu.</summary>
public interface IInstructionEmitter
{
    /// <summary>Whether this emitter folds this particular form (otherwise the handler is called).</summary>
    bool CanEmit(ref Instruction i);

    void Emit(EmitContext ctx, ref Instruction i);
}

/// <summary>Which emitter folds each instruction; built once from the group emitters.</summary>
public static class EmitterTable
{
    private static readonly IInstructionEmitter?[] ByCode = Build();

    public static IInstructionEmitter? For(Code code) => ByCode[(int)code];

    private static IInstructionEmitter?[] Build()
    {
        InstructionTable.EnsureInitialized();
        var t = new IInstructionEmitter?[InstructionTable.CodeCount];
        var shape = new ShapeEmitter();
        for (int c = 0; c < t.Length; c++)
            if (InstructionTable.ShapeOf[c].Kind != ShapeKind.None) t[c] = shape;
        DataTransferEmitter.Register(t);
        StackEmitter.Register(t);
        ControlTransferEmitter.Register(t);
        return t;
    }
}

/// <summary>Instructions that cannot raise an exception when all their operands are registers or immediates.</summary>
public static class FaultFree
{
    private static readonly HashSet<Mnemonic> Safe = new()
    {
        Mnemonic.Add, Mnemonic.Adc, Mnemonic.Sub, Mnemonic.Sbb, Mnemonic.Cmp, Mnemonic.And, Mnemonic.Or, Mnemonic.Xor,
        Mnemonic.Test, Mnemonic.Inc, Mnemonic.Dec, Mnemonic.Neg, Mnemonic.Not, Mnemonic.Shl, Mnemonic.Sal, Mnemonic.Shr,
        Mnemonic.Sar, Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Rcl, Mnemonic.Rcr, Mnemonic.Mov, Mnemonic.Movzx, Mnemonic.Movsx,
        Mnemonic.Lea, Mnemonic.Imul, Mnemonic.Mul, Mnemonic.Nop,
    };

    /// <summary>Translation-time only (uses a HashSet, never on the per-instruction path).</summary>
    public static bool Is(ref Instruction i)
    {
        if (!Safe.Contains(i.Mnemonic)) return false;
        if (i.Mnemonic == Mnemonic.Mov && (i.Op0Kind == OpKind.Register && i.Op0Register.IsSegmentRegister() ||
                                           i.Op1Kind == OpKind.Register && i.Op1Register.IsSegmentRegister()))
            return false;
        for (int n = 0; n < i.OpCount; n++)
        {
            OpKind k = i.GetOpKind(n);
            if (k != OpKind.Register && k is < OpKind.Immediate8 or > OpKind.Immediate32to64) return false;
        }
        return true;
    }
}

/// <summary>Whether a folded instruction may store to memory (so the block re-checks for self-modified code after it).</summary>
public static class MayWriteOrLeave
{
    [ThreadStatic] private static InstructionInfoFactory? factory;

    public static bool Is(ref Instruction i)
    {
        factory ??= new InstructionInfoFactory();
        InstructionInfo info = factory.GetInfo(i);
        foreach (UsedMemory m in info.GetUsedMemory())
        {
            if (m.Access is OpAccess.Write or OpAccess.ReadWrite or OpAccess.CondWrite or OpAccess.ReadCondWrite)
                return true;
        }
        return i.Mnemonic is Mnemonic.Push or Mnemonic.Call or Mnemonic.Pusha or Mnemonic.Pushad or Mnemonic.Enter;
    }
}
