using System.Diagnostics;
using Emu.Devices.Platform;
using Emu.X86;

namespace Emu.Machine;

/// <summary>
/// The board's one virtual clock (DESIGN.md principle 7), in nanoseconds since power-on. It
/// drives the PIT, the RTC, the PM timer and the TSC. Two kinds:
/// <list type="bullet">
/// <item>real time (the default): the host's monotonic clock, as QEMU's virtual clock; an idle
/// guest (HLT) sleeps until its next timer or host input;</item>
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

    public long Now => Deterministic
        ? cpu.RetiredInstructions * NsPerInstruction + skipped
        : (long)((Stopwatch.GetTimestamp() - startTicks) * (1e9 / Stopwatch.Frequency)) + skipped;

    /// <summary>Moves the clock forward to <paramref name="time"/> (an idle guest's next timer); never backward.</summary>
    public void SkipTo(long time)
    {
        long now = Now;
        if (time > now) skipped += time - now;
    }
}
