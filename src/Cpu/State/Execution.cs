using System;
using System.Threading;
using Emu.Memory;
using Iced.Intel;

namespace Emu.X86;

/// <summary>An exception the CPU raised, as reported to the host.</summary>
/// <remarks>
/// For a software interrupt (INT n, INT3, INTO) <see cref="Eip"/> is the instruction after it,
/// as the CPU saves it; for a fault it is the faulting instruction.
/// </remarks>
public readonly record struct FaultInfo(int Vector, uint ErrorCode, bool HasErrorCode, ushort Cs, uint Eip, uint Linear,
    bool IsSoftwareInterrupt = false)
{
    public string Name => ExceptionVectors.Name(Vector);
}

/// <summary>
/// Runs blocks. The engine that executes a block is pluggable (the interpreter by default,
/// the translator when the machine installs one); this loop owns everything around it:
/// finding blocks, stop conditions and exceptions.
/// </summary>
public interface IExecutionEngine
{
    /// <summary>Executes <paramref name="block"/>, leaving EIP at the next instruction to run.</summary>
    void Execute(Cpu cpu, Block block);
}

public sealed partial class Cpu
{
    public readonly BlockCache Blocks;

    /// <summary>The block being executed (the SMC check compares against it).</summary>
    public Block? CurrentBlock;

    /// <summary>Set by an instruction to leave the current block early (see <see cref="BlockExitKind"/>).</summary>
    public int BlockExit;

    /// <summary>
    /// The blocks of the compiled region being run (null outside one): with
    /// <see cref="RegionBlock"/>, the block executing now, so a fault or a device's look at
    /// the clock counts the instructions retired inside it exactly.
    /// </summary>
    public Block[]? CurrentBlocks =>
        CurrentBlocksHandle == 0 ? null : (Block[])System.Runtime.InteropServices.GCHandle.FromIntPtr(CurrentBlocksHandle).Target!;

    /// <summary>
    /// A GC handle (as an integer; 0 outside a compiled region) of <see cref="CurrentBlocks"/>.
    /// The translator stores it at every entry into a region, hundreds of millions of times a
    /// run: an object reference stored into the CPU would cost a GC write barrier each time,
    /// an integer costs nothing. The region that owns the handle outlives its run.
    /// </summary>
    public nint CurrentBlocksHandle;

    /// <summary>Index in <see cref="CurrentBlocks"/> of the block executing now (compiled code stores it as it enters each block).</summary>
    public int RegionBlock;

    /// <summary>
    /// The one word compiled code tests at every block boundary: it leaves for the dispatcher
    /// once <see cref="InstructionCount"/> reaches it. It folds together the run's instruction
    /// budget (which the board sizes to the next timer deadline), a stop request and a newly
    /// asserted interrupt line, which set it to 0.
    /// </summary>
    public long ExitAt = long.MaxValue;

    /// <summary>Makes compiled code leave at its next block boundary (any thread).</summary>
    public void Poke() => Volatile.Write(ref ExitAt, 0);

    /// <summary>
    /// After STI, POPF or a load of DS, ES, FS or GS, which end their block because they may
    /// change how the code after them runs: whether compiled code for flat segments may go
    /// straight on to the next block, the dispatcher having nothing to do first. Not when an
    /// interrupt or NMI waits on the line (EFLAGS.IF may have just allowed it), EFLAGS.TF or AC
    /// is set (single-step, alignment checking), a debug breakpoint is armed, a stop or a
    /// pending task fault waits, or the data segments are no longer flat. Going on ends STI's
    /// interrupt shadow: with nothing waiting there is nothing for it to hold back, and an
    /// interrupt raised later is taken at a block boundary, after the instruction it covers
    /// (Intel SDM Vol. 3, 6.8.3).
    /// </summary>
    public bool MayGoOnAfterSensitive()
    {
        if ((Eflags & (Flags.TF | Flags.AC)) != 0 || InstructionBreakpointsArmed || DataBreakpointsArmed) return false;
        if (Line is { Any: true } || StopRequested || PendingTaskFault is not null || DebugTrapPending) return false;
        if (!FlatSegments()) return false;
        InterruptShadow = false;
        return true;
    }

    /// <summary>On the interpreter, a run's budget ends exactly, not at the end of the block it ends in (see <see cref="Follow"/>).</summary>
    private bool exactBudget;

    /// <summary>After delivering an exception, the run stops (see <see cref="Follow"/>).</summary>
    private bool stopAfterFault;

    /// <summary>Exceptions the runs have taken (delivered, or stopped at), and <see cref="InstructionCount"/> at the last one.</summary>
    public long FaultsTaken, InstructionCountAtFault;

    /// <summary>
    /// Events delivered to the guest since the CPU was made (<c>emu run --stats</c>): index
    /// <c>(int)source * 256 + vector</c>, source an <see cref="EventSource"/>. An exception met
    /// while delivering another counts as well (a double fault is counted as #DF).
    /// </summary>
    public readonly long[] Events = new long[3 * 256];

    /// <summary>MOV CR3 loads, and the TLB entries they dropped.</summary>
    public long Cr3Loads, Cr3EntriesFlushed;

    /// <summary>
    /// Whether the run since <see cref="FaultsTaken"/> was <paramref name="faultsBefore"/> ended
    /// by taking an exception: one was taken, and nothing retired after the last.
    /// </summary>
    public bool EndedInFault(long faultsBefore) => FaultsTaken != faultsBefore && InstructionCountAtFault == InstructionCount;

    /// <summary>
    /// Runs this CPU (on the interpreter) exactly as far as another CPU's step went: the
    /// <paramref name="retired"/> instructions it retired, even when that step ended part way
    /// through a block (compiled code hands an instruction whose access missed the TLB to the
    /// interpreter and leaves after it), and then, when the step ended by taking an exception
    /// (<paramref name="endsInFault"/>: nothing retired after it), into the same instruction
    /// and its exception, and no further. The lockstep's shadow follows the engine under test so.
    /// </summary>
    public StopReason Follow(long retired, bool endsInFault)
    {
        exactBudget = true;
        try
        {
            long faults = FaultsTaken;
            StopReason r = Run(Math.Max(retired, 1));
            // Already there when the exception came with the last instruction (INT n retires).
            if (!endsInFault || EndedInFault(faults) || retired == 0 || r != StopReason.BudgetExhausted) return r;
            stopAfterFault = true;
            return Run(1);
        }
        finally
        {
            exactBudget = false;
            stopAfterFault = false;
        }
    }

    /// <summary>When set, the run stops as soon as CS.base + EIP equals this linear address.</summary>
    public uint? StopAtLinear;

    /// <summary>A second stop address, checked like <see cref="StopAtLinear"/> (a test tells two exits apart).</summary>
    public uint? StopAtLinear2;

    /// <summary>The executing engine; null means the interpreter.</summary>
    public IExecutionEngine? Engine;

    /// <summary>
    /// A host hook that sees every exception before the guest does (tests, tools). Returning
    /// true means it handled the exception; false stops the run with
    /// <see cref="StopReason.UnhandledException"/>. Null: the CPU delivers it (IVT/IDT, task
    /// gates, #DF, shutdown), unless <see cref="StopOnException"/>.
    /// </summary>
    public Func<Cpu, GuestFault, bool>? DeliverException;

    /// <summary>Stop the run at the first exception instead of delivering it (tests that inspect the fault).</summary>
    public bool StopOnException;

    /// <summary>The processor's INTR and NMI inputs; null when nothing is wired to them.</summary>
    public InterruptLine? Line;

    /// <summary>NMIs are blocked from the delivery of one until the next IRET (Intel SDM Vol. 3, 6.7.1).</summary>
    public bool NmiBlocked;

    /// <summary>The last exception that stopped the run.</summary>
    public FaultInfo? LastFault;

    /// <summary>
    /// What the guest used that the emulator does not implement yet, when the run stopped with
    /// <see cref="StopReason.Unimplemented"/>; EIP is left at the instruction that used it.
    /// </summary>
    public string? LastLimitation;

    /// <summary>
    /// Exceptions delivered in a row with no instruction retired after which <see cref="Run"/>
    /// returns (as if its budget were spent), so the board gets control back: a handler whose
    /// first instruction faults again (each delivery taking the same fault) retires nothing, and
    /// the board's timers, stop requests and interrupts must still be served.
    /// </summary>
    public const int MaxFaultsWithoutRetiring = 1000;

    /// <summary>Runs until a stop condition or until <paramref name="maxInstructions"/> more instructions have retired.</summary>
    public StopReason Run(long maxInstructions = long.MaxValue)
    {
        long end = maxInstructions == long.MaxValue ? long.MaxValue : InstructionCount + maxInstructions;
        long streakAt = -1;
        int streak = 0;
        StopRequested = false;
        StopReason = StopReason.None;
        while (true)
        {
            try
            {
                StopReason r = RunBlocks(end);
                // Between runs no block is executing: a device write into the last one must not
                // leave an early-exit request behind for the next run.
                CurrentBlock = null;
                CurrentBlocksHandle = 0;
                return r;
            }
            catch (GuestFault f)
            {
                RepLimit = Strings.RepChunk;
                RetirePartialBlock();
                FaultsTaken++;
                InstructionCountAtFault = InstructionCount;
                CurrentBlock = null;
                CurrentBlocksHandle = 0;
                BlockExit = BlockExitKind.None;
                if (f.Vector == ExceptionVectors.PF) Cr2 = f.Address;
                var info = new FaultInfo(f.Vector, f.ErrorCode, f.HasErrorCode, Seg[SegReg.CS].Selector, Eip,
                    Seg[SegReg.CS].Base + Eip, f.IsSoftwareInterrupt);
                bool handled = DeliverException is not null ? DeliverException(this, f) : !StopOnException;
                if (!handled)
                {
                    LastFault = info;
                    StopReason = StopReason.UnhandledException;
                    return StopReason;
                }
                if (DeliverException is null)
                {
                    Interrupts.Deliver(this, f.Vector, f.HasErrorCode, f.ErrorCode,
                        f.IsSoftwareInterrupt ? EventSource.Software : EventSource.Exception, f.InstructionEip);
                    if (StopReason == StopReason.Shutdown)
                    {
                        LastFault = info;
                        CurrentBlock = null;
                        return StopReason;
                    }
                }
                if (stopAfterFault) return StopReason = StopReason.BudgetExhausted;
                if (InstructionCount != streakAt)
                {
                    streakAt = InstructionCount;
                    streak = 0;
                }
                else if (++streak >= MaxFaultsWithoutRetiring)
                {
                    return StopReason = StopReason.BudgetExhausted;
                }
            }
            catch (EmulatorLimitationException e)
            {
                // Not a guest exception: the guest did something legal that we cannot do yet.
                // The instruction has not retired, so EIP still points at it for the report.
                RetirePartialBlock();
                CurrentBlock = null;
                CurrentBlocksHandle = 0;
                BlockExit = BlockExitKind.None;
                LastLimitation = e.Message;
                StopReason = StopReason.Unimplemented;
                return StopReason;
            }
        }
    }

    private StopReason RunBlocks(long end)
    {
        IExecutionEngine? engine = Engine;
        uint? stopAt = StopAtLinear;
        uint? stopAt2 = StopAtLinear2;
        InterruptLine? line = Line;
        if (line is not null && line.Raised is null) line.Raised = Poke;
        while (true)
        {
            // Compiled code goes on past STI, POPF and data segment loads without coming back
            // here when none of these reasons to act holds: a new one belongs in
            // MayGoOnAfterSensitive too.
            if (StopRequested) return StopReason == StopReason.None ? StopReason.Requested : StopReason;
            if (PendingTaskFault is GuestFault.Saved pending)
            {
                // A task switch committed, then faulted loading the new task's segments: the
                // fault is the new task's, before its first instruction.
                PendingTaskFault = null;
                CurrentBlock = null; // between blocks: the switching instruction has been counted
                CurrentBlocksHandle = 0;
                throw GuestFault.Raise(pending);
            }
            if (DebugTrapPending)
            {
                // A task switch into a TSS with the T flag: #DB before the new task's first instruction.
                DebugTrapPending = false;
                CurrentBlock = null; // between blocks: the switching instruction has been counted
                CurrentBlocksHandle = 0;
                throw GuestFault.Create(ExceptionVectors.DB);
            }
            if (InstructionCount >= end) return StopReason = StopReason.BudgetExhausted;
            if (stopAt.HasValue && Seg[SegReg.CS].Base + Eip == stopAt.Value) return StopReason = StopReason.StopAddress;
            if (stopAt2.HasValue && Seg[SegReg.CS].Base + Eip == stopAt2.Value) return StopReason = StopReason.StopAddress;
            // Interrupts are taken between instructions, never in the shadow of STI, MOV SS or POP SS.
            // With one waiting, the shadow's instruction runs alone and the line is sampled right
            // after it: in "STI; insn; CLI" the interrupt comes after insn (Intel SDM Vol. 3, 6.8.3).
            if (InterruptShadow)
            {
                InterruptShadow = false;
                if (line is not null && line.Any && !Halted)
                {
                    Step();
                    continue;
                }
            }
            else if (line is not null && line.Any && TakeInterrupt(line)) continue;
            if (Halted) return StopReason = StopReason.Halted;
            if ((Eflags & Flags.TF) != 0 || InstructionBreakpointsArmed || DataBreakpointsArmed)
            {
                Step();
                continue;
            }
            CurrentBlock = null;
            CurrentBlocksHandle = 0;
            // No block runs here: an early-exit request still standing would make the next
            // block leave after its first store.
            BlockExit = BlockExitKind.None;
            // Stop addresses are checked here, between blocks: with one set, compiled code comes
            // back after every block. A stop asked meanwhile by another thread is not lost.
            ExitAt = stopAt.HasValue || stopAt2.HasValue ? 0 : end;
            if (StopRequested) ExitAt = 0;
            Block b = Blocks.Get();
            CurrentBlock = b;
            if (engine is not null) engine.Execute(this, b);
            else if (exactBudget && end - InstructionCount < b.Count) Interpreter.ExecuteFirst(this, b);
            else if (exactBudget || (line is not null && line.Any)) Interpreter.Execute(this, b);
            else RunInterpreted(b);
        }
    }

    /// <summary>
    /// Interpreted blocks back to back, without the checks between blocks of
    /// <see cref="RunBlocks"/>, for as long as none is needed: the count is below
    /// <see cref="ExitAt"/> (which a raised interrupt line, a stop request and a stop address set
    /// to 0) and the block ran no sensitive instruction (only those set EFLAGS.TF and IF, the
    /// interrupt shadow, HLT and the debug registers). Entered only with no interrupt pending.
    /// </summary>
    private void RunInterpreted(Block b)
    {
        while (true)
        {
            Interpreter.Execute(this, b);
            if (b.Sensitive || InstructionCount >= Volatile.Read(ref ExitAt)) return;
            CurrentBlock = null;
            b = Blocks.Get();
            CurrentBlock = b;
        }
    }

    /// <summary>Takes a pending NMI, or an INTR when EFLAGS.IF allows; false when nothing was taken.</summary>
    private bool TakeInterrupt(InterruptLine line)
    {
        if (line.NmiPending && !NmiBlocked)
        {
            line.AcknowledgeNmi();
            NmiBlocked = true;
            Interrupts.Deliver(this, ExceptionVectors.NMI, false, 0, EventSource.External);
            return true;
        }
        if (line.Intr && (Eflags & Flags.IF) != 0 && line.Controller is { } pic)
        {
            int vector = pic.Acknowledge();
            Interrupts.Deliver(this, vector, false, 0, EventSource.External);
            return true;
        }
        return false;
    }

    /// <summary>
    /// One instruction at a time, for single-stepping (EFLAGS.TF) and instruction breakpoints
    /// (DR0-DR3): an armed breakpoint at the instruction is a #DB fault before it runs (unless
    /// EFLAGS.RF); TF set when the instruction starts is a #DB trap after it (Intel SDM Vol. 3, 17.3).
    /// </summary>
    private void Step()
    {
        bool singleStep = (Eflags & Flags.TF) != 0;
        if (InstructionBreakpointsArmed && (Eflags & Flags.RF) == 0)
        {
            uint hit = InstructionBreakpointHits(Seg[SegReg.CS].Base + Eip);
            if (hit != 0)
            {
                Dr[6] = (Dr[6] & ~0xFu) | hit;
                throw GuestFault.Create(ExceptionVectors.DB);
            }
        }
        CurrentBlock = null;
        Block b = Blocks.Get();
        CurrentBlock = b;
        Mmu.WatchHits = 0;
        StackShadow = false;
        // A repeated string instruction runs one iteration per step: single-step and data
        // breakpoint traps come after the iteration, with EIP still on the instruction.
        RepLimit = 1;
        Interpreter.ExecuteFirst(this, b);
        RepLimit = Strings.RepChunk;
        Eflags &= ~Flags.RF; // RF lasts for one instruction
        uint dataHits = Mmu.WatchHits | deferredDataHits;
        Mmu.WatchHits = 0;
        deferredDataHits = 0;
        if (StackShadow)
        {
            // MOV SS and POP SS hold debug traps (single-step and data breakpoints) until
            // after the next instruction (Intel SDM Vol. 3, 6.8.3).
            StackShadow = false;
            deferredDataHits = dataHits;
            return;
        }
        if ((singleStep || dataHits != 0) && !StopRequested)
        {
            DebugTrapPending = false; // one #DB reports a task switch's T flag too (DR6.BT is set)
            // A data breakpoint is a trap after the access's instruction (Intel SDM Vol. 3, 17.3.1.2).
            Dr[6] = (Dr[6] & ~0xFu) | dataHits | (singleStep ? 1u << 14 : 0);
            // A trap after an iteration of a repeated string instruction that is not its last
            // pushes RF = 1 (Intel SDM Vol. 3, 17.3.1.1).
            ref Iced.Intel.Instruction first = ref b.Code[0];
            if (Eip == (uint)first.IP && (first.HasRepPrefix || first.HasRepnePrefix) && first.IsStringInstruction) Eflags |= Flags.RF;
            throw GuestFault.Create(ExceptionVectors.DB);
        }
    }

    /// <summary>
    /// Set by MOV SS and POP SS: besides interrupts (<see cref="InterruptShadow"/>), debug
    /// traps wait until after the next instruction.
    /// </summary>
    public bool StackShadow;

    /// <summary>A task switch into a TSS with the T flag set: #DB is raised before the next instruction (see <see cref="TaskSwitch"/>).</summary>
    public bool DebugTrapPending;

    /// <summary>
    /// A fault of a JMP, CALL or IRET task switch after its point of commitment (a bad segment
    /// of the new task): raised before the new task's first instruction (see <see cref="TaskSwitch"/>).
    /// Kept as values: the <see cref="GuestFault"/> instance is reused by the thread's next fault.
    /// </summary>
    public GuestFault.Saved? PendingTaskFault;

    /// <summary>Data breakpoint hits held back by the shadow of MOV SS or POP SS.</summary>
    private uint deferredDataHits;

    /// <summary>
    /// How many iterations a repeated string instruction runs before it yields (EIP stays on
    /// it and it continues when run again): <see cref="Strings.RepChunk"/>, or 1 while
    /// stepping.
    /// </summary>
    public int RepLimit = Strings.RepChunk;

    /// <summary>Whether DR7 enables any instruction-execution breakpoint (R/W = 00).</summary>
    public bool InstructionBreakpointsArmed;

    /// <summary>Whether DR7 enables any data breakpoint (R/W = 01 writes, 11 reads and writes).</summary>
    public bool DataBreakpointsArmed;

    /// <summary>
    /// Re-derives the armed breakpoints after a write to DR0-DR3 or DR7 and gives the MMU the
    /// data breakpoints' ranges (LEN 00/01/11: 1, 2, 4 bytes, aligned down; I/O breakpoints
    /// need CR4.DE, which this CPU does not offer).
    /// </summary>
    public void UpdateBreakpoints()
    {
        uint dr7 = Dr[7];
        bool instructions = false;
        System.Span<(int, uint, uint, bool)> watches = stackalloc (int, uint, uint, bool)[4];
        int count = 0;
        for (int n = 0; n < 4; n++)
        {
            bool enabled = ((dr7 >> (2 * n)) & 3) != 0;
            uint rw = (dr7 >> (16 + 4 * n)) & 3;
            uint len = ((dr7 >> (18 + 4 * n)) & 3) switch { 1 => 2u, 3 => 4u, _ => 1u };
            if (!enabled) continue;
            if (rw == 0) instructions = true;
            else if (rw is 1 or 3) watches[count++] = (n, Dr[n] & ~(len - 1), len, rw == 1);
        }
        InstructionBreakpointsArmed = instructions;
        DataBreakpointsArmed = count > 0;
        Mmu.SetWatches(watches[..count]);
    }

    /// <summary>The DR6 B0-B3 bits of the enabled instruction breakpoints at a linear address.</summary>
    private uint InstructionBreakpointHits(uint linear)
    {
        uint dr7 = Dr[7], hits = 0;
        for (int n = 0; n < 4; n++)
        {
            bool enabled = ((dr7 >> (2 * n)) & 3) != 0;
            uint rw = (dr7 >> (16 + 4 * n)) & 3;
            if (enabled && rw == 0 && Dr[n] == linear) hits |= 1u << n;
        }
        return hits;
    }

    /// <summary>After an exception inside a block, counts the instructions of it that completed.</summary>
    private void RetirePartialBlock() => InstructionCount += RetiredInCurrentBlock();

    /// <summary>Instructions retired so far, counting those of the current block before EIP (a device's view of time).</summary>
    public long RetiredInstructions => InstructionCount + RetiredInCurrentBlock();

    /// <summary>The instructions of the current block before the one at EIP (0 between blocks).</summary>
    private int RetiredInCurrentBlock()
    {
        Block? b = CurrentBlocks is { } region ? region[RegionBlock] : CurrentBlock;
        if (b is null) return 0;
        int done = 0;
        while (done < b.Count && (uint)b.Code[done].IP != Eip) done++;
        return done;
    }

    /// <summary>Asks the run loop to stop at the next block boundary.</summary>
    public void RequestStop(StopReason reason)
    {
        StopReason = reason;
        StopRequested = true;
        Poke();
    }

    /// <summary>
    /// Stops the run right after the instruction being executed, not at the end of its block:
    /// a port write that ends the run (QEMU's isa-debug-exit) must not let the instructions
    /// after it run. Only for the emulation thread (a device callback during an instruction);
    /// other threads use <see cref="RequestStop"/>.
    /// </summary>
    public void StopAfterCurrentInstruction(StopReason reason)
    {
        RequestStop(reason);
        if ((CurrentBlock is not null || CurrentBlocksHandle != 0) && BlockExit == BlockExitKind.None) BlockExit = BlockExitKind.ContinueAfter;
    }

    /// <summary>Disassembles the instruction at CS:EIP for a message (best effort; never faults).</summary>
    public string DisassembleAt(uint csBase, uint eip)
    {
        var bytes = new byte[15];
        int n = 0;
        try
        {
            for (; n < bytes.Length; n++) bytes[n] = Mmu.FetchByte(csBase + eip + (uint)n);
        }
        catch (GuestFault)
        {
        }
        if (n == 0) return "(code not readable)";
        var d = Decoder.Create(Code32 ? 32 : 16, new ByteArrayCodeReader(bytes, 0, n), eip);
        d.Decode(out Instruction ins);
        if (ins.IsInvalid) return $"(invalid: {Convert.ToHexString(bytes, 0, Math.Min(n, 8))})";
        var f = new NasmFormatter();
        f.Options.FirstOperandCharIndex = 0;
        var o = new StringOutput();
        f.Format(ins, o);
        return $"{o.ToStringAndReset()}  [{Convert.ToHexString(bytes, 0, ins.Length)}]";
    }
}
