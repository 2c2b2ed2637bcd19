using System;
using System.Diagnostics;
using System.Threading;
using Emu.Devices.Platform;
using Emu.X86;

namespace Emu.Machine;

/// <summary>
/// The board's one virtual clock (DESIGN.md principle 7), in nanoseconds since power-on. It
/// drives the PIT, the RTC, the PM timer and the TSC. Two kinds:
/// <list type="bullet">
/// <item>real time (the default): the host's monotonic clock, as QEMU's virtual clock, less
/// the emulator's stalls while the guest runs (<see cref="GuestRunning"/>); an idle guest (HLT)
/// sleeps until its next timer or host input;</item>
/// <item>deterministic: retired instructions times <see cref="NsPerInstruction"/>, plus the idle
/// time skipped when the guest halts with a timer armed. Two runs with the same input see the
/// same times at the same instruction counts.</item>
/// </list>
/// </summary>
public sealed class VirtualClock : IClock
{
    /// <summary>Deterministic time per retired instruction: a guest sees a 1000-MIPS processor.</summary>
    public const long NsPerInstruction = 1;

    private readonly Cpu cpu;
    private readonly long startTicks = Stopwatch.GetTimestamp();
    private long skipped;

    public VirtualClock(Cpu cpu, bool deterministic)
    {
        this.cpu = cpu;
        Deterministic = deterministic;
    }

    public bool Deterministic { get; }

    public long Now => Deterministic ? cpu.RetiredInstructions * NsPerInstruction + skipped : RealTime();

    /// <summary>
    /// The most guest time one retired instruction may take while the guest runs (real-time
    /// clock): a guest polling a timer sees at least 4 MIPS between two looks at it.
    /// </summary>
    public const long MaxNsPerInstruction = 250;

    /// <summary>
    /// Whether the guest is running (the board sets it around each slice): then the time the
    /// guest sees pass between two looks at the clock is at most <see cref="MaxNsPerInstruction"/>
    /// per instruction retired in between, and the rest is hidden from it for good. That is
    /// the emulator's stalls: the first run of cold code (decoding, .NET compiling the
    /// emulator's own methods), a garbage collection. Linux's fast PIT calibration polls the
    /// PIT every few instructions and fails when one poll comes more than a few microseconds
    /// after the last; a stall of a few hundred microseconds in the first run of that loop
    /// made it fail. While the guest is idle the clock follows the host exactly.
    /// </summary>
    public bool GuestRunning
    {
        get => guestRunning;
        set
        {
            if (value && !guestRunning)
            {
                lastNow = RealTime();
                lastRetired = cpu.RetiredInstructions;
            }
            guestRunning = value;
        }
    }

    private bool guestRunning;
    private long lastNow, lastRetired, hidden;

    /// <summary>The thread that runs the guest: only its looks at the clock are capped (others see the host time less what was hidden so far).</summary>
    private int emulationThread = Environment.CurrentManagedThreadId;

    /// <summary>The thread that runs the guest from now on (a board built on one thread and run on another).</summary>
    public void RunsOnThisThread() => emulationThread = Environment.CurrentManagedThreadId;

    /// <summary>
    /// Real-time clock: how far the guest's time is behind the host's for now (ns), at most
    /// <see cref="MaxLagNs"/>. An idle guest's host sleep may go past its next timer (the board
    /// wakes once for several periodic ticks, see <see cref="HoldAt"/>); the guest's clock then
    /// resumes at that timer, and its next idle waits are taken from this instead of slept
    /// (<see cref="CatchUp"/>), until it is back in step. Unlike the stalls hidden for good,
    /// this time is only owed: the guest's clock never ends up behind by more than this.
    /// </summary>
    public long Lag => Volatile.Read(ref lag);

    /// <summary>The most the guest's real-time clock may lag behind the host's (see <see cref="Lag"/>): the board's longest idle batch and some.</summary>
    public const long MaxLagNs = 56_000_000;

    private long lag;

    /// <summary>
    /// The guest is idle, and its clock resumes at <paramref name="time"/> (its next timer),
    /// where the host's time has gone past it: the difference, up to <see cref="MaxLagNs"/> in
    /// all, becomes <see cref="Lag"/>. Never moves the clock backward from a time it gave.
    /// </summary>
    public void HoldAt(long time)
    {
        if (Deterministic) return;
        long given = lastNow;
        long now = RealTime();
        long owe = Math.Min(now - Math.Max(time, given), MaxLagNs - lag);
        if (owe <= 0) return;
        Volatile.Write(ref lag, lag + owe);
        lastNow = now - owe;
    }

    /// <summary>
    /// The guest is idle with its next timer <paramref name="wait"/> ns away: up to that much of
    /// the <see cref="Lag"/> is paid, so its clock gets there without a host sleep; returns
    /// how much was.
    /// </summary>
    public long CatchUp(long wait)
    {
        long take = Math.Min(lag, Math.Max(wait, 0));
        Volatile.Write(ref lag, lag - take);
        return take;
    }

    private long RealTime()
    {
        long t = (long)((Stopwatch.GetTimestamp() - startTicks) * (1e9 / Stopwatch.Frequency)) + skipped - Volatile.Read(ref hidden) - Volatile.Read(ref lag);
        if (Environment.CurrentManagedThreadId != emulationThread) return t;
        if (guestRunning)
        {
            long retired = cpu.RetiredInstructions;
            long allowed = lastNow + (retired - lastRetired) * MaxNsPerInstruction;
            if (t > allowed)
            {
                Volatile.Write(ref hidden, hidden + (t - allowed));
                t = allowed;
            }
            lastRetired = retired;
        }
        if (t < lastNow) t = lastNow; // never backward
        lastNow = t;
        return t;
    }

    /// <summary>Moves the clock forward to <paramref name="time"/> (an idle guest's next timer); never backward.</summary>
    public void SkipTo(long time)
    {
        long now = Now;
        if (time > now) skipped += time - now;
    }
}
