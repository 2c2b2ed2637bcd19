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
    /// <summary>
    /// Ends its block, yet compiled code for flat segments may go straight on to the next one
    /// when <see cref="Cpu.MayGoOnAfterSensitive"/> allows it (STI, POPF, loads of DS, ES, FS
    /// and GS), unless it loads SS, whose interrupt shadow the dispatcher keeps.
    /// </summary>
    FlatGoesOn = 1 << 11,

    // The flags below are derived from Iced's metadata at start-up (see InstructionFacts), never registered.

    /// <summary>Transfers control (Iced's <see cref="FlowControl"/> is not Next): it ends its block.</summary>
    Branch = 1 << 4,
    /// <summary>Accesses memory whatever its operands: the stack, a string operand, XLAT's table, a memory-only operand.</summary>
    AccessesMemory = 1 << 5,
    /// <summary>Writes memory whatever its operands: a push, a string store, a store to a memory-only operand.</summary>
    WritesMemory = 1 << 6,
    /// <summary>Reads or writes its explicit memory operand when it has one (not LEA, not a NOP).</summary>
    AccessesOperandMemory = 1 << 7,
    /// <summary>Writes its explicit memory operand when it has one.</summary>
    WritesOperandMemory = 1 << 8,
    /// <summary>
    /// Cannot raise an exception unless it accesses memory: its operands are registers,
    /// immediates or an address it only computes.
    /// </summary>
    FaultFreeWithoutMemory = 1 << 9,
    /// <summary>A string instruction (operands addressed by ESI/EDI): a REP prefix repeats it and counts in ECX.</summary>
    StringOperation = 1 << 10,
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
/// interpreter handler, the <see cref="InstrFlags"/>, the flags it reads and modifies and the
/// general registers it writes. Each instruction-group file registers its handler and what
/// only we know (sensitive, ends the block, a NOP); everything Iced knows is derived from
/// its metadata once, at start-up (<see cref="InstructionFacts"/>). Anything not registered
/// raises #UD, as an instruction the CPU does not have. Both engines and the translator's
/// analyses read this table; no other list of opcodes holds these facts.
/// </summary>
public static unsafe class InstructionTable
{
    public static readonly int CodeCount = Enum.GetValues<Code>().Length;

    public static readonly delegate*<Cpu, ref Instruction, void>[] Handlers = new delegate*<Cpu, ref Instruction, void>[CodeCount];

    /// <summary>
    /// Handlers made for one operand form of an instruction, at <c>code * OperandForms.Count + form</c>;
    /// null where the general handler in <see cref="Handlers"/> serves that form. Each does exactly
    /// what the general handler does for instructions of its form.
    /// </summary>
    private static readonly delegate*<Cpu, ref Instruction, void>[] FormHandlers =
        new delegate*<Cpu, ref Instruction, void>[CodeCount * OperandForms.Count];

    public static readonly InstrFlags[] Info = new InstrFlags[CodeCount];

    /// <summary>For instructions registered through a generic shape: the shape, operation and operand size.</summary>
    public static readonly SemanticShape[] ShapeOf = new SemanticShape[CodeCount];

    /// <summary>The flags the instruction may read (Iced's <see cref="Instruction.RflagsRead"/> of its general form).</summary>
    public static readonly RflagsBits[] FlagsRead = new RflagsBits[CodeCount];

    /// <summary>The flags it may write, set, clear or leave undefined (Iced's <see cref="Instruction.RflagsModified"/> of its general form).</summary>
    public static readonly RflagsBits[] FlagsModified = new RflagsBits[CodeCount];

    /// <summary>The general registers it writes other than through its register operands (bit n: the 32-bit register numbered n, EAX = 0).</summary>
    public static readonly byte[] ImplicitRegistersWritten = new byte[CodeCount];

    /// <summary>Which of its operands it writes (bit n: operand n), for the registers of a decoded form.</summary>
    public static readonly byte[] OperandsWritten = new byte[CodeCount];

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
        InstructionFacts.Derive();
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

    /// <summary>
    /// The handler to run a decoded instruction with: the one made for its operand form when
    /// there is one, else its general handler. Blocks look this up once, when decoded.
    /// </summary>
    public static delegate*<Cpu, ref Instruction, void> HandlerFor(ref Instruction i)
    {
        int code = (int)i.Code;
        delegate*<Cpu, ref Instruction, void> h = FormHandlers[code * OperandForms.Count + (int)OperandForms.Of(ref i)];
        return h != null ? h : Handlers[code];
    }

    /// <summary>Registers the handler for one operand form of an instruction registered with <see cref="Add"/>.</summary>
    internal static void AddForm(Code code, OperandForm form, delegate*<Cpu, ref Instruction, void> handler)
    {
        if ((Info[(int)code] & InstrFlags.Implemented) == 0)
            throw new InvalidOperationException($"{code}: a form handler before the instruction itself");
        FormHandlers[(int)code * OperandForms.Count + (int)form] = handler;
    }

    /// <summary>Registers op0 = TOp(op0, op1) with the shared <see cref="Shapes.Binary{TOp, TSize}"/> handler.</summary>
    internal static void AddBinary<TOp, TSize>(Code code) where TOp : struct, IBinaryOp where TSize : struct, IOperandSize
    {
        Add(code, &Shapes.Binary<TOp, TSize>);
        AddForm(code, OperandForm.RegReg, &Shapes.BinaryRegReg<TOp, TSize>);
        AddForm(code, OperandForm.RegMem, &Shapes.BinaryRegMem<TOp, TSize>);
        AddForm(code, OperandForm.MemReg, &Shapes.BinaryMemReg<TOp, TSize>);
        AddForm(code, OperandForm.RegImm, &Shapes.BinaryRegImm<TOp, TSize>);
        AddForm(code, OperandForm.MemImm, &Shapes.BinaryMemImm<TOp, TSize>);
        ShapeOf[(int)code] = new SemanticShape(ShapeKind.Binary, typeof(TOp), TSize.Size);
    }

    /// <summary>Registers op0 = TOp(op0) with the shared <see cref="Shapes.Unary{TOp, TSize}"/> handler.</summary>
    internal static void AddUnary<TOp, TSize>(Code code) where TOp : struct, IUnaryOp where TSize : struct, IOperandSize
    {
        Add(code, &Shapes.Unary<TOp, TSize>);
        AddForm(code, OperandForm.Reg, &Shapes.UnaryReg<TOp, TSize>);
        AddForm(code, OperandForm.Mem, &Shapes.UnaryMem<TOp, TSize>);
        ShapeOf[(int)code] = new SemanticShape(ShapeKind.Unary, typeof(TOp), TSize.Size);
    }

    internal static void AddSensitive(Code code, delegate*<Cpu, ref Instruction, void> handler, bool endsBlock = false, bool flatGoesOn = false) =>
        Add(code, handler, InstrFlags.Sensitive | (endsBlock ? InstrFlags.EndsBlock : InstrFlags.None) | (flatGoesOn ? InstrFlags.FlatGoesOn : InstrFlags.None));

    public static bool IsImplemented(Code code) => (Info[(int)code] & InstrFlags.Implemented) != 0;

    public static bool IsSensitive(Code code) => (Info[(int)code] & InstrFlags.Sensitive) != 0;

    public static bool IsNop(Code code) => (Info[(int)code] & InstrFlags.NoOperation) != 0;

    /// <summary>Whether a block ends after it: a branch, or a registered <see cref="InstrFlags.EndsBlock"/>.</summary>
    public static bool EndsBlock(Code code) => (Info[(int)code] & (InstrFlags.Branch | InstrFlags.EndsBlock)) != 0;

    public static bool Has(Code code, InstrFlags flag) => (Info[(int)code] & flag) != 0;

    /// <summary>An instruction the emulated CPU does not have (or an invalid encoding): #UD.</summary>
    public static void Undefined(Cpu c, ref Instruction i) => throw GuestFault.Create(ExceptionVectors.UD);
}
