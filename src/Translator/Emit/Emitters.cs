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
        ArithmeticEmitter.Register(t);
        BitOpsEmitter.Register(t);
        ShiftsEmitter.Register(t);
        DataTransferEmitter.Register(t);
        StackEmitter.Register(t);
        StringsEmitter.Register(t);
        ControlTransferEmitter.Register(t);
        FlagControlEmitter.Register(t);
        MiscEmitter.Register(t);
        return t;
    }
}

/// <summary>
/// Instructions that cannot raise an exception when all their operands are registers or
/// immediates, so compiled code need not store EIP before them. Instructions that touch
/// memory without a memory operand (PUSH, LEAVE, string instructions...) are not listed.
/// </summary>
public static class FaultFree
{
    private static readonly HashSet<Mnemonic> Safe = Build();

    private static HashSet<Mnemonic> Build()
    {
        var s = new HashSet<Mnemonic>
        {
            Mnemonic.Add, Mnemonic.Adc, Mnemonic.Sub, Mnemonic.Sbb, Mnemonic.Cmp, Mnemonic.And, Mnemonic.Or, Mnemonic.Xor,
            Mnemonic.Test, Mnemonic.Inc, Mnemonic.Dec, Mnemonic.Neg, Mnemonic.Not, Mnemonic.Shl, Mnemonic.Sal, Mnemonic.Shr,
            Mnemonic.Sar, Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Rcl, Mnemonic.Rcr, Mnemonic.Mov, Mnemonic.Movzx, Mnemonic.Movsx,
            Mnemonic.Lea, Mnemonic.Imul, Mnemonic.Mul, Mnemonic.Nop,
            Mnemonic.Shld, Mnemonic.Shrd, Mnemonic.Bt, Mnemonic.Bts, Mnemonic.Btr, Mnemonic.Btc, Mnemonic.Bsf, Mnemonic.Bsr,
            Mnemonic.Xchg, Mnemonic.Xadd, Mnemonic.Cmpxchg, Mnemonic.Bswap, Mnemonic.Cbw, Mnemonic.Cwde, Mnemonic.Cwd, Mnemonic.Cdq,
            Mnemonic.Clc, Mnemonic.Stc, Mnemonic.Cmc, Mnemonic.Cld, Mnemonic.Std, Mnemonic.Lahf, Mnemonic.Sahf, Mnemonic.Salc,
        };
        for (Code c = Code.Seto_rm8; c <= Code.Setg_rm8; c++) s.Add(c.Mnemonic());
        for (Code c = Code.Cmovo_r16_rm16; c <= Code.Cmovg_r32_rm32; c++) s.Add(c.Mnemonic());
        return s;
    }

    /// <summary>Translation-time only (uses a HashSet, never on the per-instruction path).</summary>
    public static bool Is(ref Instruction i)
    {
        if (InstructionTable.IsNop(i.Code)) return true; // a NOP's memory operand is never accessed
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

/// <summary>
/// Whether a folded instruction may store to memory (so the block re-checks for self-modified
/// code after it) or ask to leave the block (a repeated string instruction yields part way).
/// </summary>
public static class MayWriteOrLeave
{
    [ThreadStatic] private static InstructionInfoFactory? factory;

    public static bool Is(ref Instruction i)
    {
        if (i.HasRepPrefix || i.HasRepePrefix || i.HasRepnePrefix) return true;
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
