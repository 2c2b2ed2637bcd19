using System;
using Emu.Memory;
using Iced.Intel;

namespace Emu.X86;

/// <summary>Facts about an instruction (an Iced <see cref="Code"/>) that both engines consult.</summary>
[Flags]
public enum InstrFlags : ushort
{
    None = 0,
    /// <summary>The CPU we emulate has this instruction and it is implemented.</summary>
    Implemented = 1 << 0,
    /// <summary>
    /// Sensitive: its meaning depends on or changes privileged state (modes, descriptor tables,
    /// interrupts, I/O, time). Both engines run it through its monitor routine.
    /// </summary>
    Sensitive = 1 << 1,
    /// <summary>Ends the block after it: it can change how the following code decodes or runs.</summary>
    EndsBlock = 1 << 2,
    /// <summary>A NOP form: does nothing, never faults, never touches its memory operand.</summary>
    NoOperation = 1 << 3,
}

/// <summary>How an instruction's operands wrap its semantic operation, for engines that compose them generically.</summary>
public enum ShapeKind : byte
{
    /// <summary>Handled by its own handler (and, in the translator, its own emitter or the handler itself).</summary>
    None,
    /// <summary>op0 = Op.Apply(op0, op1): see <see cref="Shapes.Binary{TOp, TSize}"/>.</summary>
    Binary,
    /// <summary>op0 = Op.Apply(op0): see <see cref="Shapes.Unary{TOp, TSize}"/>.</summary>
    Unary,
}

/// <summary>The shape of an instruction and the operation type (an <see cref="IBinaryOp"/> or <see cref="IUnaryOp"/>) it applies.</summary>
public readonly record struct SemanticShape(ShapeKind Kind, Type? Operation, int Size);

/// <summary>
/// The one table of instructions: for every <see cref="Code"/> the decoder can produce, the
/// interpreter handler and the <see cref="InstrFlags"/>. Each instruction-group file
/// registers its own entries; anything not registered raises #UD, as an instruction the
/// CPU does not have.
/// </summary>
public static unsafe class InstructionTable
{
    public static readonly int CodeCount = Enum.GetValues<Code>().Length;

    public static readonly delegate*<Cpu, ref Instruction, void>[] Handlers = new delegate*<Cpu, ref Instruction, void>[CodeCount];

    public static readonly InstrFlags[] Info = new InstrFlags[CodeCount];

    /// <summary>For instructions registered through a generic shape: the shape, operation and operand size.</summary>
    public static readonly SemanticShape[] ShapeOf = new SemanticShape[CodeCount];

    static InstructionTable()
    {
        for (int i = 0; i < CodeCount; i++) Handlers[i] = &Undefined;
        Arithmetic.Register();
        Logic.Register();
        Shifts.Register();
        BitOps.Register();
        Bcd.Register();
        DataTransfer.Register();
        StackOps.Register();
        Strings.Register();
        ControlTransfer.Register();
        FlagControl.Register();
        SystemOps.Register();
        Misc.Register();
        X87LoadStore.Register();
        X87Arithmetic.Register();
        X87Compare.Register();
        X87Transcendental.Register();
        X87Control.Register();
        Mmx.Register();
    }

    /// <summary>Forces the static constructor (tests and tools that inspect the table first).</summary>
    public static void EnsureInitialized() { }

    internal static void Add(Code code, delegate*<Cpu, ref Instruction, void> handler, InstrFlags flags = InstrFlags.None)
    {
        if ((Info[(int)code] & InstrFlags.Implemented) != 0)
            throw new InvalidOperationException($"{code} is registered twice");
        Handlers[(int)code] = handler;
        Info[(int)code] = flags | InstrFlags.Implemented;
    }

    /// <summary>Registers op0 = TOp(op0, op1) with the shared <see cref="Shapes.Binary{TOp, TSize}"/> handler.</summary>
    internal static void AddBinary<TOp, TSize>(Code code) where TOp : struct, IBinaryOp where TSize : struct, IOperandSize
    {
        Add(code, &Shapes.Binary<TOp, TSize>);
        ShapeOf[(int)code] = new SemanticShape(ShapeKind.Binary, typeof(TOp), TSize.Size);
    }

    /// <summary>Registers op0 = TOp(op0) with the shared <see cref="Shapes.Unary{TOp, TSize}"/> handler.</summary>
    internal static void AddUnary<TOp, TSize>(Code code) where TOp : struct, IUnaryOp where TSize : struct, IOperandSize
    {
        Add(code, &Shapes.Unary<TOp, TSize>);
        ShapeOf[(int)code] = new SemanticShape(ShapeKind.Unary, typeof(TOp), TSize.Size);
    }

    internal static void AddSensitive(Code code, delegate*<Cpu, ref Instruction, void> handler, bool endsBlock = false) =>
        Add(code, handler, InstrFlags.Sensitive | (endsBlock ? InstrFlags.EndsBlock : InstrFlags.None));

    public static bool IsImplemented(Code code) => (Info[(int)code] & InstrFlags.Implemented) != 0;

    public static bool IsSensitive(Code code) => (Info[(int)code] & InstrFlags.Sensitive) != 0;

    public static bool IsNop(Code code) => (Info[(int)code] & InstrFlags.NoOperation) != 0;

    /// <summary>An instruction the emulated CPU does not have (or an invalid encoding): #UD.</summary>
    public static void Undefined(Cpu c, ref Instruction i) => throw GuestFault.Create(ExceptionVectors.UD);
}
