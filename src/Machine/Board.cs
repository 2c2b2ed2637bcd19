using System;
using System.IO;
using System.Text;
using Emu.Devices.Debug;
using Emu.Machine.Boot;
using Emu.Machine.Lockstep;
using Emu.Memory;
using Emu.X86;

namespace Emu.Machine;

/// <summary>How a run ended.</summary>
public enum RunOutcome
{
    /// <summary>The guest wrote to the debug-exit port.</summary>
    GuestExit,
    Halted,
    GuestException,
    Unimplemented,
    InstructionLimit,
    Shutdown,
    /// <summary>The host asked the run to stop (Ctrl-C).</summary>
    Interrupted,
    /// <summary>Lockstep found the engine and the interpreter disagreeing (see <see cref="Board.Lockstep"/>).</summary>
    Divergence,
}

/// <summary>The end of a run: the process exit status and, unless the guest chose to exit, what happened.</summary>
/// <param name="Message">One line for the user; null when the guest exited through the debug-exit port.</param>
/// <param name="Details">More lines (the registers), or null.</param>
public sealed record RunResult(RunOutcome Outcome, int ExitStatus, string? Message, string? Details, long Instructions)
{
    /// <summary>The value the guest wrote to the debug-exit port, when it did.</summary>
    public uint? GuestExitValue { get; init; }
}

/// <summary>
/// The board: guest RAM, the MMU, the I/O space, the devices and the CPU, wired together,
/// plus the boot protocols that start a guest on it. Only the board sees both the CPU and the
/// devices: a device reports what concerns the CPU (the run must end) through a callback
/// wired here.
/// </summary>
public sealed class Board : IDisposable
{
    public const uint DefaultRamMiB = 128;
    public const uint MinRamMiB = 2;
    /// <summary>Leaves the top 512 MiB of the 4 GiB space for ROM and device windows.</summary>
    public const uint MaxRamMiB = 3584;

    private volatile bool interruptRequested;

    public PhysicalMemory Physical { get; }
    public Mmu Mmu { get; }
    public IoSpace Io { get; }
    public Cpu Cpu { get; }
    public PcMemoryMap MemoryMap { get; }
    public DebugConsole DebugConsole { get; }
    public DebugExit DebugExit { get; }

    /// <summary>The lockstep checker, once <see cref="StartLockstep"/> has started it.</summary>
    public LockstepRunner? Lockstep { get; private set; }

    /// <param name="ramMiB">Guest RAM in MiB, from <see cref="MinRamMiB"/> to <see cref="MaxRamMiB"/>.</param>
    /// <param name="consoleOutput">Where the bytes the guest writes to port 0xE9 go.</param>
    /// <param name="engine">
    /// The execution engine (for example a <c>TranslatorEngine</c>); null for the interpreter.
    /// The board owns it and disposes it with itself.
    /// </param>
    public Board(uint ramMiB, Stream consoleOutput, IExecutionEngine? engine = null)
    {
        if (ramMiB < MinRamMiB || ramMiB > MaxRamMiB)
            throw new ArgumentOutOfRangeException(nameof(ramMiB), $"guest RAM must be {MinRamMiB}-{MaxRamMiB} MiB");
        uint ramBytes = ramMiB << 20;
        Physical = new PhysicalMemory(ramBytes);
        Mmu = new Mmu(Physical);
        Io = new IoSpace();
        Cpu = new Cpu(Mmu, Io) { Engine = engine };
        MemoryMap = new PcMemoryMap(ramBytes);

        DebugConsole = new DebugConsole(consoleOutput);
        DebugConsole.Attach(Io);
        // QEMU exits at once on the write: the instructions after the OUT must not run.
        DebugExit = new DebugExit(_ => StopForDevice());
        DebugExit.Attach(Io);
    }

    /// <summary>
    /// Loads a Multiboot kernel and puts the CPU in the state the Multiboot specification
    /// (3.2) gives the kernel: 32-bit protected mode with flat 4 GiB segments, paging off,
    /// A20 on, interrupts off, EAX = 0x2BADB002 and EBX = the information structure.
    /// </summary>
    public MultibootEntry BootMultiboot(ReadOnlySpan<byte> image, string commandLine)
    {
        MultibootEntry e = MultibootLoader.Load(image, Physical, MemoryMap, commandLine);
        Cpu.Reset();
        Mmu.A20Enabled = true;
        // The BIOS has enabled caching before any loader runs (CD and NW clear).
        Cpu.Cr0 = Cr0Bits.ET;
        Cpu.Gdtr = new TableRegister { Base = e.GdtBase, Limit = e.GdtLimit };
        Cpu.EnterFlatProtectedMode();
        Cpu.SetEflags(Flags.Reserved1); // IF = 0, VM = 0; the rest of EFLAGS is the spec's "undefined", here clear
        for (int r = 0; r < 8; r++) Cpu.Gpr[r] = 0;
        Cpu.Eax = MultibootLoader.BootloaderMagic;
        Cpu.Ebx = e.InfoAddress;
        Cpu.Eip = e.Entry;
        Cpu.Blocks.Flush();
        return e;
    }

    /// <summary>
    /// A device ends the run right after the instruction that reached it. Lockstep is told,
    /// so its shadow CPU stops after the same device access.
    /// </summary>
    private void StopForDevice()
    {
        Cpu.StopAfterCurrentInstruction(StopReason.Requested);
        Lockstep?.DeviceStoppedRun();
    }

    /// <summary>
    /// From now on, runs the guest in lockstep: the CPU on its engine and a shadow CPU on the
    /// interpreter (with a copy of RAM taken now), compared after every block; the run stops
    /// with <see cref="RunOutcome.Divergence"/> at the first difference. Call it after booting.
    /// </summary>
    /// <param name="engineName">The board's engine, as reports name it.</param>
    public LockstepRunner StartLockstep(string engineName = "translator")
    {
        if (Lockstep is not null) throw new InvalidOperationException("lockstep is already running");
        return Lockstep = new LockstepRunner(Cpu, engineName);
    }

    /// <summary>Asks a run in progress to stop at the next block boundary; safe from any thread (Ctrl-C).</summary>
    public void RequestInterrupt()
    {
        interruptRequested = true;
        Cpu.RequestStop(StopReason.Requested);
    }

    /// <summary>
    /// How many instructions the CPU runs between two looks at the host's requests. The CPU
    /// forgets a stop asked before its run began, so a Ctrl-C during loading is seen here.
    /// </summary>
    private const long SliceInstructions = 1 << 22;

    /// <summary>Runs the guest until it exits, stops or fails; <paramref name="maxInstructions"/> 0 means no limit.</summary>
    public RunResult Run(long maxInstructions = 0)
    {
        StopReason reason;
        long remaining = maxInstructions > 0 ? maxInstructions : long.MaxValue;
        try
        {
            while (true)
            {
                if (interruptRequested)
                {
                    reason = StopReason.Requested;
                    break;
                }
                long before = Cpu.InstructionCount;
                reason = Lockstep is { } lockstep ? lockstep.Step() : Cpu.Run(Math.Min(remaining, SliceInstructions));
                if (maxInstructions > 0) remaining -= Cpu.InstructionCount - before;
                if (Lockstep?.Divergence is not null && !interruptRequested) return DescribeDivergence(Lockstep.Divergence);
                if (reason != StopReason.BudgetExhausted || remaining <= 0) break;
            }
        }
        finally
        {
            DebugConsole.Flush();
        }
        return Describe(reason, maxInstructions);
    }

    private RunResult Describe(StopReason reason, long maxInstructions)
    {
        long n = Cpu.InstructionCount;
        string at = $"{Cpu.Seg[SegReg.CS].Selector:X4}:{Cpu.Eip:X8}";
        switch (reason)
        {
            case StopReason.Requested when DebugExit.Value is uint v:
                return new RunResult(RunOutcome.GuestExit, Emu.Devices.Debug.DebugExit.ExitStatusFor(v), null, null, n) { GuestExitValue = v };
            case StopReason.Requested when interruptRequested:
                return new RunResult(RunOutcome.Interrupted, ExitStatus.Interrupted, $"interrupted by the user at {at}", Registers(), n);
            case StopReason.Halted:
            case StopReason.HaltedForever:
                return new RunResult(RunOutcome.Halted, ExitStatus.Halted,
                    $"the guest halted (HLT) with nothing to wake it, as no interrupt source exists yet; EIP after the HLT is {at}",
                    Registers(), n);
            case StopReason.UnhandledException when Cpu.LastFault is FaultInfo f:
                return new RunResult(RunOutcome.GuestException, ExitStatus.GuestException, DescribeFault(f), Registers(), n);
            case StopReason.Unimplemented:
                return new RunResult(RunOutcome.Unimplemented, ExitStatus.Unimplemented,
                    $"not implemented yet: {Cpu.LastLimitation}, at {at}: {Disassemble()}", Registers(), n);
            case StopReason.BudgetExhausted:
                return new RunResult(RunOutcome.InstructionLimit, ExitStatus.InstructionLimit,
                    $"reached the --max-instructions limit ({maxInstructions}) after {n} instructions, at {at}", Registers(), n);
            case StopReason.Shutdown:
            {
                string first = Cpu.LastFault is FaultInfo f
                    ? $"; the first exception was raised at {f.Cs:X4}:{f.Eip:X8}: {Cpu.DisassembleAt(f.Linear - f.Eip, f.Eip)}"
                    : "";
                return new RunResult(RunOutcome.Shutdown, ExitStatus.Shutdown,
                    $"the processor shut down ({Cpu.ShutdownCause ?? "triple fault"}){first}", Registers(), n);
            }
            default:
                throw new InvalidOperationException($"the CPU stopped for an unexpected reason ({reason}) at {at}");
        }
    }

    private RunResult DescribeDivergence(Divergence d) =>
        new(RunOutcome.Divergence, ExitStatus.Divergence, d.Summary, d.Details, Cpu.InstructionCount);

    private string DescribeFault(FaultInfo f)
    {
        string at = $"{f.Cs:X4}:{f.Eip:X8}";
        if (f.IsSoftwareInterrupt)
            return $"the guest executed INT {f.Vector:X2}h, and interrupt delivery is not implemented yet (return address {at})";
        string code = f.HasErrorCode ? $", error code 0x{f.ErrorCode:X}" : "";
        return $"unhandled guest exception {f.Name}{code} at {at}: {Disassemble()}";
    }

    private string Disassemble() => Cpu.DisassembleAt(Cpu.Seg[SegReg.CS].Base, Cpu.Eip);

    /// <summary>The general registers, EIP and EFLAGS, and the control registers, for a stop message.</summary>
    public string Registers() => FormatRegisters(Cpu);

    /// <summary>A CPU's general registers, EIP and EFLAGS, and control registers, in two lines.</summary>
    public static string FormatRegisters(Cpu c)
    {
        var s = new StringBuilder();
        s.Append($"EAX={c.Eax:X8} EBX={c.Ebx:X8} ECX={c.Ecx:X8} EDX={c.Edx:X8} ESI={c.Esi:X8} EDI={c.Edi:X8} EBP={c.Ebp:X8} ESP={c.Esp:X8}");
        s.Append('\n');
        s.Append($"EIP={c.Eip:X8} EFLAGS={c.GetEflags():X8} CS={c.Seg[SegReg.CS].Selector:X4} SS={c.Seg[SegReg.SS].Selector:X4} " +
                 $"DS={c.Seg[SegReg.DS].Selector:X4} ES={c.Seg[SegReg.ES].Selector:X4} CR0={c.Cr0:X8} CR2={c.Cr2:X8} CR3={c.Cr3:X8} " +
                 $"instructions={c.InstructionCount}");
        return s.ToString();
    }

    public void Dispose()
    {
        Lockstep?.Dispose();
        (Cpu.Engine as IDisposable)?.Dispose();
        Mmu.Dispose();
        Physical.Dispose();
    }
}
