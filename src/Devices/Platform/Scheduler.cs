using System;
using System.Collections.Generic;

namespace Emu.Devices.Platform;

/// <summary>The board's one virtual clock, in nanoseconds since power-on (DESIGN.md principle 7).</summary>
public interface IClock
{
    long Now { get; }
}

/// <summary>
/// Device timers on the virtual clock. A device arms a timer for a moment; the board runs
/// the guest up to the earliest one and fires what is due. Nothing polls a device on every
/// instruction. A board has a handful of timers, so they are kept in a small list and the
/// earliest deadline is cached.
/// </summary>
public sealed class Scheduler
{
    public const long Never = long.MaxValue;

    /// <summary>A timer a device owns; at most one deadline at a time.</summary>
    public sealed class Timer
    {
        internal Timer(string name, Action<long> callback)
        {
            Name = name;
            Callback = callback;
        }

        public string Name { get; }
        internal Action<long> Callback { get; }
        internal long Deadline = Never;

        public bool Armed => Deadline != Never;
        public long DeadlineNs => Deadline;
        public override string ToString() => Armed ? $"{Name} at {Deadline} ns" : $"{Name} (idle)";
    }

    private readonly List<Timer> timers = new();
    private long next = Never;
    private bool nextStale;

    public Scheduler(IClock clock) => Clock = clock;

    public IClock Clock { get; }

    /// <summary>Called whenever the earliest deadline may have moved earlier (the run loop shortens its slice).</summary>
    public event Action? DeadlineChanged;

    public Timer CreateTimer(string name, Action<long> callback)
    {
        var t = new Timer(name, callback);
        timers.Add(t);
        return t;
    }

    /// <summary>Fires <paramref name="t"/> once the clock reaches <paramref name="deadline"/> (ns); replaces an earlier arming.</summary>
    public void Arm(Timer t, long deadline)
    {
        t.Deadline = deadline;
        if (deadline < next)
        {
            next = deadline;
            DeadlineChanged?.Invoke();
        }
        else
        {
            nextStale = true;
        }
    }

    public void Disarm(Timer t)
    {
        if (t.Deadline == Never) return;
        t.Deadline = Never;
        nextStale = true;
    }

    /// <summary>The earliest armed deadline, or <see cref="Never"/>.</summary>
    public long NextDeadline
    {
        get
        {
            if (nextStale)
            {
                long n = Never;
                foreach (Timer t in timers)
                    if (t.Deadline < n) n = t.Deadline;
                next = n;
                nextStale = false;
            }
            return next;
        }
    }

    /// <summary>Fires every timer due at <paramref name="now"/>, earliest first (a callback may re-arm its timer).</summary>
    public void RunDue(long now)
    {
        while (NextDeadline <= now)
        {
            Timer? first = null;
            foreach (Timer t in timers)
                if (t.Deadline <= now && (first is null || t.Deadline < first.Deadline)) first = t;
            if (first is null) break;
            long due = first.Deadline;
            first.Deadline = Never;
            nextStale = true;
            first.Callback(due);
        }
    }
}
