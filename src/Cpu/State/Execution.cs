using System;
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

    /// <summary>When set, the run stops as soon as CS.base + EIP equals this linear address.</summary>
    public uint? StopAtLinear;

    /// <summary>A second stop address, checked like <see cref="StopAtLinear"/> (a test tells two exits apart).</summary>
    public uint? StopAtLinear2;

    /// <summary>The executing engine; null means the interpreter.</summary>
    public IExecutionEngine? Engine;

    /// <summary>
    /// Delivers an exception to the guest (the system layer: IVT/IDT, task gates, #DF).
    /// Returns false when it cannot, which stops the run with <see cref="StopReason.UnhandledException"/>.
    /// </summary>
    public Func<Cpu, GuestFault, bool>? DeliverException;

    /// <summary>The last exception that stopped the run.</summary>
    public FaultInfo? LastFault;

    /// <summary>
    /// What the guest used that the emulator does not implement yet, when the run stopped with
    /// <see cref="StopReason.Unimplemented"/>; EIP is left at the instruction that used it.
    /// </summary>
    public string? LastLimitation;

    /// <summary>Runs until a stop condition or until <paramref name="maxInstructions"/> more instructions have retired.</summary>
    public StopReason Run(long maxInstructions = long.MaxValue)
    {
        long end = maxInstructions == long.MaxValue ? long.MaxValue : InstructionCount + maxInstructions;
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
                return r;
            }
            catch (GuestFault f)
            {
                RetirePartialBlock();
                CurrentBlock = null;
                BlockExit = BlockExitKind.None;
                if (DeliverException is null || !DeliverException(this, f))
                {
                    LastFault = new FaultInfo(f.Vector, f.ErrorCode, f.HasErrorCode, Seg[SegReg.CS].Selector, Eip,
                        Seg[SegReg.CS].Base + Eip, f.IsSoftwareInterrupt);
                    StopReason = StopReason.UnhandledException;
                    return StopReason;
                }
            }
            catch (EmulatorLimitationException e)
            {
                // Not a guest exception: the guest did something legal that we cannot do yet.
                // The instruction has not retired, so EIP still points at it for the report.
                RetirePartialBlock();
                CurrentBlock = null;
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
        while (true)
        {
            if (StopRequested) return StopReason == StopReason.None ? StopReason.Requested : StopReason;
            if (InstructionCount >= end) return StopReason = StopReason.BudgetExhausted;
            if (stopAt.HasValue && Seg[SegReg.CS].Base + Eip == stopAt.Value) return StopReason = StopReason.StopAddress;
            if (stopAt2.HasValue && Seg[SegReg.CS].Base + Eip == stopAt2.Value) return StopReason = StopReason.StopAddress;
            CurrentBlock = null;
            Block b = Blocks.Get();
            CurrentBlock = b;
            if (engine is null) Interpreter.Execute(this, b);
            else engine.Execute(this, b);
        }
    }

    /// <summary>After an exception inside a block, counts the instructions of it that completed.</summary>
    private void RetirePartialBlock()
    {
        Block? b = CurrentBlock;
        if (b is null) return;
        int done = 0;
        while (done < b.Count && (uint)b.Code[done].IP != Eip) done++;
        InstructionCount += done;
    }

    /// <summary>Asks the run loop to stop at the next block boundary.</summary>
    public void RequestStop(StopReason reason)
    {
        StopReason = reason;
        StopRequested = true;
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
        if (CurrentBlock is not null && BlockExit == BlockExitKind.None) BlockExit = BlockExitKind.ContinueAfter;
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
