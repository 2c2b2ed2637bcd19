using System;
using System.Collections.Generic;
using System.Text;
using Emu.Memory;
using Emu.Translator;
using Emu.X86;

namespace Emu.TestSupport.Fuzz;

/// <summary>
/// Runs fuzz programs on the translator and, in lockstep, on the interpreter: after every
/// step of the translator (one <c>Run(1)</c>: a block, or a chain of compiled regions) the
/// interpreter follows it exactly as far (<see cref="Emu.X86.Cpu.Follow"/>, as the emulator's
/// lockstep engine does), and the two must have stopped the same way, with the same exception,
/// the same architectural state and the same count of exceptions taken; at the end their RAM
/// must be the same. A host exception from either engine fails the program.
/// </summary>
/// <remarks>Every failure is a <see cref="FuzzFailure"/> whose message names the program and what differed.</remarks>
public sealed class FuzzRunner
{
    /// <summary>Instructions a program may retire.</summary>
    public const long Budget = 400;

    /// <summary>
    /// Exceptions a program may take: a handler whose first fetch faults again takes exception
    /// after exception without retiring anything, which the instruction budget cannot end.
    /// </summary>
    public const int FaultLimit = 1000;

    /// <summary>Exceptions in a row a program may take without retiring an instruction.</summary>
    public const int StallLimit = 64;

    private readonly byte[] image = new byte[FuzzLayout.RamSize];

    /// <summary>Called with a line for each step (debugging a failure).</summary>
    public Action<string>? Trace;

    /// <summary>Totals over the programs run, for the test's report.</summary>
    public long Programs, Instructions, Faults, Steps, Regions;

    /// <summary>Time the translator spent compiling regions (RyuJIT included).</summary>
    public TimeSpan CompileTime;

    /// <summary>Where the time went (<see cref="System.Diagnostics.Stopwatch"/> ticks): building programs, starting the machines, running, comparing RAM.</summary>
    public long BuildTicks, StartTicks, RunTicks, CompareTicks;

    /// <summary>How the programs ended: a stop reason, the exception that stopped one, a shutdown or the exception limit.</summary>
    public readonly Dictionary<string, long> Endings = new();

    /// <summary>The seed of program <paramref name="index"/> of a run with <paramref name="seed"/>.</summary>
    public static int ProgramSeed(int seed, long index) =>
        (int)(((ulong)seed * 0x9E37_79B9_7F4A_7C15UL + (ulong)index * 0xBF58_476D_1CE4_E5B9UL) >> 33);

    /// <summary>
    /// Builds program <paramref name="programSeed"/>: fills <paramref name="image"/> (RAM, <see cref="FuzzLayout.RamSize"/>
    /// bytes) with its world and code and returns the CPU state it starts from.
    /// </summary>
    public static FuzzState Build(int programSeed, FuzzMode mode, int cpl, bool iopl3, FuzzGenerator generator, byte[] image)
    {
        var r = new Random(programSeed);
        return FuzzEnvironment.Build(r, mode, cpl, iopl3, generator, new InstructionGenerator(r), image);
    }

    /// <summary>Builds and runs one program; throws a <see cref="FuzzFailure"/> at the first difference.</summary>
    public void Run(int programSeed, FuzzMode mode, int cpl, bool iopl3, FuzzGenerator generator)
    {
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        FuzzState state = Build(programSeed, mode, cpl, iopl3, generator, image);
        string what = $"{mode} CPL {cpl}{(mode == FuzzMode.Virtual8086 ? iopl3 ? " IOPL 3" : " IOPL<3" : "")} {generator}, program seed {programSeed}";

        long t1 = System.Diagnostics.Stopwatch.GetTimestamp();
        using var engine = new TranslatorEngine(threshold: 1, synchronous: true);
        Emu.X86.Cpu a = interpreter.Start(image, state, null), b = translator.Start(image, state, engine);
        long t2 = System.Diagnostics.Stopwatch.GetTimestamp();
        StopReason p;
        while (true)
        {
            ushort cs = b.Seg[SegReg.CS].Selector;
            uint eip = b.Eip, csBase = b.Seg[SegReg.CS].Base;
            long before = b.InstructionCount, faults = b.FaultsTaken;
            try
            {
                p = b.Run(1);
            }
            catch (Exception e) when (e is not FuzzFailure)
            {
                throw new FuzzFailure($"{what}: the translator threw {e} at {cs:X4}:{eip:X8} ({b.DisassembleAt(csBase, eip)}); start: {state}");
            }
            bool endsInFault = b.EndedInFault(faults);
            StopReason q;
            try
            {
                q = a.Follow(b.InstructionCount - before, endsInFault);
            }
            catch (Exception e) when (e is not FuzzFailure)
            {
                throw new FuzzFailure($"{what}: the interpreter threw {e} at {cs:X4}:{eip:X8} ({a.DisassembleAt(csBase, eip)}); start: {state}");
            }
            // An instruction the emulator does not implement yet stops the translator's step before
            // it retires; the interpreter, stopped just before it, goes on into it.
            if (p == StopReason.Unimplemented && q == StopReason.BudgetExhausted) q = a.Follow(1, false);
            Steps++;
            Trace?.Invoke($"step {Steps}: {cs:X4}:{eip:X8} {b.DisassembleAt(csBase, eip)} retired {b.InstructionCount - before} faults {b.FaultsTaken - faults} -> {b.Seg[SegReg.CS].Selector:X4}:{b.Eip:X8} / {a.Seg[SegReg.CS].Selector:X4}:{a.Eip:X8} {p}");
            string? difference = null;
            if (p != q) difference = $"the translator stopped with {p}{Limitation(b)}, the interpreter with {q}{Limitation(a)}";
            else if (!Equals(a.LastFault, b.LastFault) && p == StopReason.UnhandledException) difference = $"faults {a.LastFault} (interpreter) and {b.LastFault} (translator)";
            else if (p == StopReason.Unimplemented && a.LastLimitation != b.LastLimitation) difference = $"limitations '{a.LastLimitation}' and '{b.LastLimitation}'";
            else if (a.FirstDifference(b) is { } d) difference = $"{d.Name} is {d.Actual} on the translator, {d.Expected} on the interpreter";
            else if (a.FaultsTaken != b.FaultsTaken) difference = $"{a.FaultsTaken} exceptions taken on the interpreter, {b.FaultsTaken} on the translator";
            else if (interpreter.Shutdown != translator.Shutdown || interpreter.Stalled != translator.Stalled)
                difference = $"shut down {interpreter.Shutdown}, stalled {interpreter.Stalled} on the interpreter; {translator.Shutdown}, {translator.Stalled} on the translator";
            if (difference is not null && Trace is not null)
            {
                Trace(Listing(a, csBase, eip, a.Code32 || b.Code32, 12));
                Trace($"interpreter: {a.LastFault} events {Events(a)}; translator: {b.LastFault} events {Events(b)}");
            }
            if (difference is not null)
                throw new FuzzFailure($"{what}: at the step from {cs:X4}:{eip:X8} ({a.DisassembleAt(csBase, eip)}), instruction {before}: {difference}; start: {state}; code: {Convert.ToHexString(image, (int)FuzzLayout.Program, 32)}");
            if (p != StopReason.BudgetExhausted || b.InstructionCount >= Budget) break;
        }
        long t3 = System.Diagnostics.Stopwatch.GetTimestamp();
        int at = RamDifference(a, b);
        if (at >= 0)
            throw new FuzzFailure($"{what}: RAM differs at {at:X} (interpreter {a.Physical.Read8((uint)at):X2}, translator {b.Physical.Read8((uint)at):X2}); start: {state}");
        // A region the translator could not compile would have run interpreted, untested.
        if (engine.Failures != 0) throw new FuzzFailure($"{what}: the translator failed to compile {engine.Failures} region(s)");

        Programs++;
        long t4 = System.Diagnostics.Stopwatch.GetTimestamp();
        BuildTicks += t1 - t0; StartTicks += t2 - t1; RunTicks += t3 - t2; CompareTicks += t4 - t3;
        Regions += engine.CompiledRegions;
        CompileTime += engine.CompileTime;
        Instructions += b.InstructionCount;
        Faults += b.FaultsTaken;
        string ending = p == StopReason.UnhandledException
            ? translator.Shutdown ? "shutdown" : translator.Stalled ? "fault limit" : $"stopped at {b.LastFault?.Name}"
            : p.ToString();
        Endings[ending] = Endings.GetValueOrDefault(ending) + 1;
    }

    /// <summary>The events (exceptions, software interrupts) a CPU delivered, by vector.</summary>
    private static string Events(Emu.X86.Cpu c)
    {
        var s = new StringBuilder();
        for (int i = 0; i < c.Events.Length; i++)
            if (c.Events[i] != 0) s.Append($" {i / 256}:{i % 256:X2}h x{c.Events[i]}");
        return s.ToString();
    }

    /// <summary>Disassembles <paramref name="count"/> instructions at CS:EIP (for a failure's trace).</summary>
    private static string Listing(Emu.X86.Cpu c, uint csBase, uint eip, bool code32, int count)
    {
        var bytes = new byte[15 * count];
        int n = 0;
        try
        {
            for (; n < bytes.Length; n++) bytes[n] = c.Mmu.FetchByte(csBase + eip + (uint)n);
        }
        catch (GuestFault)
        {
        }
        var d = Iced.Intel.Decoder.Create(code32 ? 32 : 16, new Iced.Intel.ByteArrayCodeReader(bytes, 0, n), eip);
        var f = new Iced.Intel.NasmFormatter();
        var o = new Iced.Intel.StringOutput();
        var s = new StringBuilder();
        for (int i = 0; i < count && d.IP < eip + (ulong)n; i++)
        {
            d.Decode(out Iced.Intel.Instruction ins);
            f.Format(ins, o);
            s.Append($"\n  {ins.IP:X8} {o.ToStringAndReset()}");
        }
        return s.ToString();
    }

    private static string Limitation(Emu.X86.Cpu c) => c.StopReason == StopReason.Unimplemented ? $" ({c.LastLimitation})" : "";

    private readonly Machine interpreter = new(), translator = new();

    /// <summary>
    /// One engine's machine, kept from program to program: making RAM and an MMU costs more than
    /// running a short program (the physical memory map alone is two arrays of a million pages).
    /// Each program gets the CPU state of a new one (<see cref="Template"/>), empty caches, and
    /// its own copy of RAM.
    /// </summary>
    private sealed class Machine
    {
        private static readonly Emu.X86.Cpu Template = new(new Mmu(new PhysicalMemory(PhysicalMemory.PageSize)), new IoSpace());

        public readonly PhysicalMemory Physical = new(FuzzLayout.RamSize);
        public readonly Emu.X86.Cpu Cpu;
        public readonly LimitedDelivery Delivery = new();

        public Machine()
        {
            Cpu = new Emu.X86.Cpu(new Mmu(Physical), new IoSpace());
            Cpu.DeliverException = Delivery.Deliver;
        }

        public bool Shutdown => Delivery.ShutDown(Cpu);
        public bool Stalled => Delivery.Stalled(Cpu);

        public unsafe Emu.X86.Cpu Start(byte[] image, FuzzState state, IExecutionEngine? engine)
        {
            Emu.X86.Cpu c = Cpu;
            c.Engine = engine;
            c.Reset();                 // drops every block (and the previous engine's regions with them)
            c.CopyStateFrom(Template); // what Reset leaves alone: the instruction count, TSC offset, FPU, ...
            c.LastFault = null;
            c.LastLimitation = null;
            c.ShutdownCause = null;
            c.FaultsTaken = c.InstructionCountAtFault = 0;
            Array.Clear(c.Events);
            image.CopyTo(new Span<byte>(Physical.Ram, image.Length));
            state.Apply(c);
            Delivery.Reset(c);
            return c;
        }
    }

    private static unsafe int RamDifference(Emu.X86.Cpu a, Emu.X86.Cpu b)
    {
        var x = new ReadOnlySpan<byte>(a.Physical.Ram, (int)FuzzLayout.RamSize);
        var y = new ReadOnlySpan<byte>(b.Physical.Ram, (int)FuzzLayout.RamSize);
        int same = x.CommonPrefixLength(y);
        return same == x.Length ? -1 : same;
    }

    public string Summary()
    {
        var s = new StringBuilder($"{Programs} programs, {Instructions} instructions, {Faults} exceptions, {Steps} steps, {Regions} regions compiled in {CompileTime.TotalSeconds:F1} s;");
        double f = 1000.0 / System.Diagnostics.Stopwatch.Frequency;
        s.Append($" ms: build {BuildTicks * f:F0} start {StartTicks * f:F0} run {RunTicks * f:F0} compare {CompareTicks * f:F0};");
        foreach (var (k, v) in Endings) s.Append($" {k}: {v};");
        return s.ToString();
    }
}

/// <summary>A fuzz program that failed: a host exception, or the engines disagreed.</summary>
public sealed class FuzzFailure : Exception
{
    public FuzzFailure(string message) : base(message) { }
}

/// <summary>
/// Delivers a CPU's exceptions through the guest's IVT or IDT as the CPU does (a
/// <see cref="Emu.X86.Cpu.DeliverException"/> hook), and ends the run as an unhandled
/// exception would at a triple fault, after <see cref="FuzzRunner.FaultLimit"/> exceptions, or
/// after <see cref="FuzzRunner.StallLimit"/> in a row with no instruction retired between them
/// (a handler whose first fetch faults again), which an instruction budget cannot end. One
/// instance serves several CPUs, each counted apart: lockstep's shadow gets the primary's hook.
/// </summary>
public sealed class LimitedDelivery
{
    private sealed class Count
    {
        public int Delivered, Stalls;
        public long LastInstructionCount;
        public bool Shutdown, Stalled;
    }

    private readonly Dictionary<Emu.X86.Cpu, Count> counts = new(ReferenceEqualityComparer.Instance);

    private Count Of(Emu.X86.Cpu c)
    {
        if (!counts.TryGetValue(c, out Count? n)) counts[c] = n = new Count();
        return n;
    }

    public bool Deliver(Emu.X86.Cpu c, GuestFault f)
    {
        Count n = Of(c);
        if (c.InstructionCount != n.LastInstructionCount)
        {
            n.LastInstructionCount = c.InstructionCount;
            n.Stalls = 0;
        }
        if (++n.Stalls > FuzzRunner.StallLimit || ++n.Delivered > FuzzRunner.FaultLimit)
        {
            n.Stalled = true;
            return false;
        }
        Interrupts.Deliver(c, f.Vector, f.HasErrorCode, f.ErrorCode, f.IsSoftwareInterrupt ? EventSource.Software : EventSource.Exception, f.InstructionEip);
        if (c.StopReason != StopReason.Shutdown) return true;
        n.Shutdown = true;
        return false;
    }

    /// <summary>Whether the CPU's run ended in a triple fault.</summary>
    public bool ShutDown(Emu.X86.Cpu c) => Of(c).Shutdown;

    /// <summary>Whether the CPU's run ended at the limit of exceptions.</summary>
    public bool Stalled(Emu.X86.Cpu c) => Of(c).Stalled;

    /// <summary>Starts counting afresh (a new program).</summary>
    public void Reset(Emu.X86.Cpu c) => counts[c] = new Count();
}
