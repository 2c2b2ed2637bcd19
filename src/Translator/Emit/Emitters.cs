using System;
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

/// <summary>
/// The translator's side of the one instruction table: for every <see cref="Code"/>, its fast
/// emitter (flat regions, state in locals) and its folded emitter (operands folded, calling
/// the semantics), built once from the group emitters' registrations. Everything else about an
/// instruction (flags, memory, faults, block ends) is a fact of <see cref="InstructionTable"/>,
/// answered here through <see cref="InstructionFacts"/>.
/// </summary>
public static class EmitterTable
{
    private static readonly IInstructionEmitter?[] FoldedByCode;
    private static readonly IFastEmitter?[] FastByCode;

    static EmitterTable()
    {
        InstructionTable.EnsureInitialized();
        FoldedByCode = BuildFolded();
        FastByCode = BuildFast();
    }

    /// <summary>The emitter that folds this code, if any (its <see cref="IInstructionEmitter.CanEmit"/> decides per form).</summary>
    public static IInstructionEmitter? Folded(Code code) => FoldedByCode[(int)code];

    /// <summary>The fast emitter registered for this code, if any.</summary>
    public static IFastEmitter? FastFor(Code code) => FastByCode[(int)code];

    /// <summary>The fast emitter for this form, or null when it is emitted generically.</summary>
    public static IFastEmitter? Fast(ref Instruction i)
    {
        IFastEmitter? e = FastByCode[(int)i.Code];
        return e is not null && e.CanEmit(ref i) ? e : null;
    }

    /// <summary>
    /// Whether compiled code must check for leaving the block after this instruction: it may
    /// store to memory (a store into the running code is caught there), it is a repeated
    /// string instruction, which yields part way, or it is an x87 instruction, which may
    /// freeze on a pending error in MS-DOS compatibility mode (see <see cref="X87.PendingError"/>).
    /// </summary>
    public static bool MayWriteOrLeave(ref Instruction i) =>
        InstructionFacts.IsRepeated(ref i) || InstructionFacts.MayWriteMemory(ref i) || IsX87(i.Code);

    private static bool IsX87(Code code) => Array.IndexOf(code.CpuidFeatures(), CpuidFeature.FPU) >= 0;

    private static IInstructionEmitter?[] BuildFolded()
    {
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
        X87Emitter.Register(t);
        return t;
    }

    private static IFastEmitter?[] BuildFast()
    {
        var t = new IFastEmitter?[InstructionTable.CodeCount];
        FastAlu.Register(t);
        FastDataTransfer.Register(t);
        FastStack.Register(t);
        FastShiftMultiply.Register(t);
        FastMisc.Register(t);
        FastStrings.Register(t);
        return t;
    }
}
