using System;
using System.Collections.Generic;
using Emu.Memory;
using Emu.X86;
using Iced.Intel;

namespace Emu.Machine.Lockstep;

/// <summary>
/// Runs the guest on two engines in step and stops at the first divergence. The primary CPU
/// (the board's, on the engine under test) owns the devices; a shadow CPU on the interpreter
/// runs a copy of the machine: its own RAM (copied when lockstep starts), its own MMU, and no
/// devices. After every step, one block on the primary and the same instructions on the
/// shadow, the two are compared:
/// <list type="bullet">
/// <item>device accesses: the primary's are recorded (<see cref="DeviceAccessLog"/>) and
/// replayed to the shadow, so a device is read or written once and the shadow sees the same
/// values; the shadow must make the same accesses, in the same order, writing the same values;</item>
/// <item>how the step ended: the stop reason, and the exception (vector, error code, where);</item>
/// <item>the architectural state (<see cref="Cpu.FirstDifference"/>), EFLAGS as the guest reads it;</item>
/// <item>memory: every RAM page either machine wrote during the step
/// (<see cref="PhysicalMemory.TrackWrites"/> keeps every store off the MMU's fast path so
/// none is missed), byte for byte.</item>
/// </list>
/// A step is <c>Run(1)</c> on the primary: one block, a chain of them if the engine chains, or
/// part of one (compiled code leaves after an instruction whose access missed the TLB); the
/// shadow then runs exactly as far (<see cref="Cpu.Follow"/>).
/// </summary>
public sealed class LockstepRunner : IDisposable
{
    /// <summary>At most this many further differences are listed after the first.</summary>
    private const int MaxOthers = 8;

    private readonly Cpu primary;
    private readonly PhysicalMemory shadowMemory;
    private readonly Mmu shadowMmu;
    private readonly Cpu shadow;
    private readonly DeviceAccessLog recorded = new(replaying: false);
    private readonly DeviceAccessLog replay = new(replaying: true);
    private readonly string engineName;
    private readonly List<(string What, string Expected, string Actual)> found = new();
    private readonly Func<ulong>? primaryTsc;
    private readonly Queue<ulong> tscReads = new();

    // External interrupts are inputs too: the shadow's INTR and NMI are what the primary's were
    // when the step began, and its INTA cycles get the vectors the primary's controller gave.
    private readonly InterruptLine? primaryLine;
    private readonly InterruptLine shadowLine = new();
    private readonly Queue<int> vectors = new();

    /// <summary>
    /// Starts checking <paramref name="primary"/>: copies its memory and state into a shadow
    /// machine, and from now on records its device accesses and tracks its stores.
    /// </summary>
    /// <param name="primary">The CPU on the engine under test; it keeps its devices.</param>
    /// <param name="engineName">The engine's name in reports ("translator").</param>
    public LockstepRunner(Cpu primary, string engineName)
    {
        this.primary = primary;
        this.engineName = engineName;
        shadowMemory = primary.Physical.CreateShadow();
        shadowMmu = new Mmu(shadowMemory);
        var shadowIo = new IoSpace { Log = replay };
        shadowMemory.Log = replay;
        shadow = new Cpu(shadowMmu, shadowIo)
        {
            Engine = null, // the interpreter: the reference
            DeliverException = primary.DeliverException,
        };
        // The time-stamp counter is an input like a device read: the primary's values (from
        // the board's clock, which moves on between the two machines' reads) are recorded and
        // the shadow reads the same ones.
        primaryTsc = primary.TscSource;
        Func<ulong> clock = primaryTsc ?? (() => (ulong)primary.RetiredInstructions);
        primary.TscSource = () =>
        {
            ulong v = clock();
            tscReads.Enqueue(v);
            return v;
        };
        shadow.TscSource = () => tscReads.TryDequeue(out ulong v) ? v : 0;
        shadow.CopyStateFrom(primary);
        if (primary.Line is { } line)
        {
            primaryLine = line;
            line.Controller = new RecordingController(line.Controller, vectors);
            shadowLine.Controller = new ReplayingController(vectors);
            shadow.Line = shadowLine;
        }
        replay.StopReached = () => shadow.StopAfterCurrentInstruction(StopReason.Requested);
        primary.Io.Log = recorded;
        primary.Physical.Log = recorded;
        primary.Physical.TrackWrites = true;
        shadowMemory.TrackWrites = true;
    }

    /// <summary>The interpreter's CPU, which runs beside the board's.</summary>
    public Cpu Shadow => shadow;

    /// <summary>Steps run so far.</summary>
    public long Steps { get; private set; }

    /// <summary>The first divergence, once one was found (the run stops there).</summary>
    public Divergence? Divergence { get; private set; }

    /// <summary>
    /// The primary's run stopped because of a device during this step (the debug-exit port):
    /// the shadow must stop after the same device access.
    /// </summary>
    public void DeviceStoppedRun() => recorded.MarkStopAfterLast();

    /// <summary>
    /// Runs one step on both CPUs and compares them. Returns the primary's stop reason;
    /// when the two disagree, <see cref="Divergence"/> is set and the run must end.
    /// </summary>
    public StopReason Step()
    {
        ushort cs = primary.Seg[SegReg.CS].Selector;
        uint eip = primary.Eip;
        uint csBase = primary.Seg[SegReg.CS].Base;
        long before = primary.InstructionCount;
        recorded.Clear();
        tscReads.Clear();
        primary.Physical.ClearDirtyPages();
        shadowMemory.ClearDirtyPages();

        bool intr = primaryLine?.Intr ?? false, nmi = primaryLine?.NmiPending ?? false;
        vectors.Clear();
        long faults = primary.FaultsTaken;
        StopReason p = primary.Run(1);
        long retired = primary.InstructionCount - before;
        bool endsInFault = primary.EndedInFault(faults);
        replay.Load(recorded);
        shadowLine.Intr = intr;
        if (nmi && !shadowLine.NmiPending) shadowLine.RaiseNmi();
        // The same instructions, even when the step ended part way through a block, and the
        // same exception when one ended it.
        StopReason s = shadow.Follow(retired, endsInFault);
        // An instruction the emulator does not implement stops the primary before it retires,
        // possibly part way through a block: the shadow, stopped just before it, goes on into it.
        if (p == StopReason.Unimplemented && s == StopReason.BudgetExhausted) s = shadow.Follow(1, false);
        shadowLine.Intr = false;
        Steps++;

        found.Clear();
        Compare(p, s);
        if (found.Count == 0) return p;

        var others = new List<string>();
        for (int i = 1; i < found.Count && others.Count < MaxOthers; i++)
            others.Add($"{found[i].What} is {found[i].Actual}, expected {found[i].Expected}");
        bool faulted = s == StopReason.UnhandledException || p == StopReason.UnhandledException;
        int shown = (int)Math.Min(Math.Max(shadow.InstructionCount - before, 0) + (faulted ? 1 : 0), BlockCache.MaxInstructions);
        Divergence = new Divergence(cs, eip, csBase + eip, before, engineName, found[0].What, found[0].Expected, found[0].Actual,
            others, Disassemble(csBase, eip, Math.Max(shown, 1)), Board.FormatRegisters(shadow), Board.FormatRegisters(primary));
        return p;
    }

    /// <summary>Lists in <see cref="found"/> every difference after a step, the most telling first.</summary>
    private void Compare(StopReason p, StopReason s)
    {
        // Device accesses, in order: the shadow replays what the primary did.
        if (replay.Mismatch is { } m)
            found.Add(("device access", m.Replayed.ToString(), m.Recorded is { } r ? r.ToString() : "(no such access)"));
        else if (replay.Position < replay.Count)
            found.Add(("device access", "(no such access)", recorded[replay.Position].ToString()));

        if (p != s
            || p == StopReason.UnhandledException && shadow.LastFault != primary.LastFault
            || p == StopReason.Unimplemented && shadow.LastLimitation != primary.LastLimitation)
            found.Add(("how the step ended", DescribeStop(s, shadow), DescribeStop(p, primary)));

        if (shadow.FirstDifference(primary) is { } d) found.Add((d.Name, d.Expected, d.Actual));

        // Memory: every page either machine wrote during the step (a page both wrote is looked at once).
        int differences = 0;
        foreach (uint page in primary.Physical.DirtyPages)
            if (ComparePage(page) && ++differences == 2) return;
        foreach (uint page in shadowMemory.DirtyPages)
            if (!IsDirty(primary.Physical, page) && ComparePage(page) && ++differences == 2) return;
    }

    /// <summary>Compares one RAM page of the two machines; on a difference, lists its first differing bytes.</summary>
    private unsafe bool ComparePage(uint page)
    {
        uint offset = page << PhysicalMemory.PageShift;
        var e = new ReadOnlySpan<byte>(shadowMemory.Ram + offset, (int)PhysicalMemory.PageSize);
        var a = new ReadOnlySpan<byte>(primary.Physical.Ram + offset, (int)PhysicalMemory.PageSize);
        int same = e.CommonPrefixLength(a);
        if (same == e.Length) return false;
        int n = Math.Min(4, e.Length - same);
        found.Add(($"memory at 0x{offset + (uint)same:X8}", Bytes(e.Slice(same, n)), Bytes(a.Slice(same, n))));
        return true;
    }

    private static bool IsDirty(PhysicalMemory m, uint page)
    {
        foreach (uint p in m.DirtyPages)
            if (p == page) return true;
        return false;
    }

    /// <summary>Bytes as they lie in memory: "05 00 00 00".</summary>
    private static string Bytes(ReadOnlySpan<byte> b)
    {
        var s = new System.Text.StringBuilder();
        foreach (byte x in b) s.Append(s.Length == 0 ? "" : " ").Append(x.ToString("x2"));
        return s.ToString();
    }

    private static string DescribeStop(StopReason r, Cpu c) => r switch
    {
        StopReason.BudgetExhausted => "it went on",
        StopReason.UnhandledException when c.LastFault is { } f =>
            $"exception {f.Name}{(f.HasErrorCode ? $", error code 0x{f.ErrorCode:X}" : "")} at {f.Cs:X4}:{f.Eip:X8}",
        StopReason.Shutdown => $"shut down ({c.ShutdownCause ?? "triple fault"})",
        StopReason.Unimplemented => $"stopped: not implemented: {c.LastLimitation}",
        StopReason.Requested => "stopped by a device (debug exit)",
        StopReason.Halted or StopReason.HaltedForever => "halted (HLT)",
        _ => r.ToString(),
    };

    /// <summary>The step's code as the interpreter's memory holds it: <paramref name="count"/> instructions from CS:EIP.</summary>
    private List<string> Disassemble(uint csBase, uint eip, int count)
    {
        var lines = new List<string>();
        var bytes = new byte[15 * count];
        int n = 0;
        try
        {
            for (; n < bytes.Length; n++) bytes[n] = shadowMmu.FetchByte(csBase + eip + (uint)n);
        }
        catch (GuestFault)
        {
        }
        var decoder = Decoder.Create(shadow.Code32 ? 32 : 16, new ByteArrayCodeReader(bytes, 0, n), eip);
        var formatter = new NasmFormatter();
        formatter.Options.FirstOperandCharIndex = 0;
        var output = new StringOutput();
        for (int i = 0; i < count && decoder.IP < eip + (ulong)n; i++)
        {
            decoder.Decode(out Instruction ins);
            if (ins.IsInvalid) break;
            formatter.Format(ins, output);
            lines.Add($"{(uint)ins.IP:X8}  {output.ToStringAndReset()}");
        }
        if (lines.Count == 0) lines.Add("(code not readable)");
        return lines;
    }

    public void Dispose()
    {
        primary.TscSource = primaryTsc;
        if (primaryLine?.Controller is RecordingController r) primaryLine.Controller = r.Inner;
        primary.Io.Log = null;
        primary.Physical.Log = null;
        primary.Physical.TrackWrites = false;
        shadowMmu.Dispose();
        shadowMemory.Dispose();
    }

    /// <summary>The primary's interrupt controller, noting each vector it hands out.</summary>
    private sealed class RecordingController : IInterruptAcknowledge
    {
        private readonly IInterruptAcknowledge? inner;
        private readonly Queue<int> vectors;

        public IInterruptAcknowledge? Inner => inner;

        public RecordingController(IInterruptAcknowledge? inner, Queue<int> vectors)
        {
            this.inner = inner;
            this.vectors = vectors;
        }

        public int Acknowledge()
        {
            int v = inner?.Acknowledge() ?? 0;
            vectors.Enqueue(v);
            return v;
        }
    }

    /// <summary>The shadow's controller: the primary's vectors, in order (a shadow that takes one more gets vector 0, and diverges).</summary>
    private sealed class ReplayingController : IInterruptAcknowledge
    {
        private readonly Queue<int> vectors;

        public ReplayingController(Queue<int> vectors) => this.vectors = vectors;

        public int Acknowledge() => vectors.TryDequeue(out int v) ? v : 0;
    }
}
