using System;
using Emu.Devices.Platform;
using Emu.Memory;

namespace Emu.Devices.Chipset;

/// <summary>
/// The 8254 programmable interval timer at 40h-43h (Intel 8254 datasheet): three 16-bit
/// counters clocked at 1.193182 MHz, modes 0-5, binary or BCD counting, LSB/MSB/LSB-then-MSB
/// access, counter latch and read-back commands. Counter 0's output drives IRQ 0; counter 2's
/// gate and output belong to port 61h. Counts are computed from the virtual clock when read,
/// and the scheduler fires only at counter 0's output edges, so nothing ticks per instruction.
/// </summary>
public sealed class Pit8254 : IPortDevice
{
    public const ushort BasePort = 0x40;
    public const long InputHz = 1_193_182;

    private sealed class Counter
    {
        public int Mode;
        public int Access = 3;       // 1 LSB, 2 MSB, 3 LSB then MSB
        public bool Bcd;
        public uint Reload;          // the count register (0 means 65536 or 10000 in BCD)
        public bool Loaded;          // a count has been written since the mode was set
        public bool NullCount = true;
        public long Start;           // clock tick at which counting of Reload began
        public bool Gate = true;
        public bool Triggered;       // modes 1 and 5: a gate edge started a cycle
        public long GateLowAt = -1;  // tick at which the gate went low (modes 0, 2, 3, 4 pause)
        public bool WriteMsbNext, ReadMsbNext;
        public byte WriteLsb;
        public bool CountLatched, StatusLatched;
        public ushort LatchedCount;
        public byte LatchedStatus;
        public bool LatchedMsbNext;
    }

    private readonly Counter[] counters = { new(), new(), new() };
    private readonly IClock clock;
    private readonly Scheduler scheduler;
    private readonly Scheduler.Timer irqTimer;
    private readonly IIrqSink irq;

    public Pit8254(Scheduler scheduler, IIrqSink irq)
    {
        this.scheduler = scheduler;
        clock = scheduler.Clock;
        this.irq = irq;
        irqTimer = scheduler.CreateTimer("PIT counter 0", OnCounter0Edge);
        foreach (Counter c in counters) c.Mode = 0;
    }

    public void Attach(IoSpace io) => io.Register(BasePort, 4, this);

    /// <summary>The PIT clock tick at a virtual time.</summary>
    private static long TickAt(long ns) => (long)((UInt128)(ulong)ns * InputHz / 1_000_000_000UL);

    /// <summary>The virtual time of a PIT clock tick (rounded up, so the tick has happened by then).</summary>
    private static long NsAt(long tick) => (long)(((UInt128)(ulong)tick * 1_000_000_000UL + InputHz - 1) / InputHz);

    private long Now => TickAt(clock.Now);

    private static long Period(Counter c) => c.Reload == 0 ? (c.Bcd ? 10000 : 65536) : c.Reload;

    /// <summary>Ticks counted so far in the current run (a paused gate stops time for the counter).</summary>
    private long Elapsed(Counter c, long now)
    {
        long end = c.GateLowAt >= 0 && c.Mode is 0 or 2 or 3 or 4 ? c.GateLowAt : now;
        return Math.Max(0, end - c.Start);
    }

    /// <summary>The counting element's value now.</summary>
    private uint CurrentCount(Counter c, long now)
    {
        if (!c.Loaded) return c.Reload & 0xFFFF;
        long n = Period(c);
        long t = Elapsed(c, now);
        long value;
        switch (c.Mode)
        {
            case 0:
            case 4:
                value = n - t; // keeps counting down through zero and wraps
                break;
            case 1:
            case 5:
                value = c.Triggered ? n - t : n;
                break;
            case 2:
                value = n - (t % n);
                break;
            default: // 3: counts down by two, twice per period
                long half = (n + 1) / 2;
                long within = t % n;
                value = within < half ? n - 2 * within : n - 2 * (within - half);
                value &= ~1L;
                if (value <= 0) value += n & ~1L;
                break;
        }
        long modulus = c.Bcd ? 10000 : 65536;
        value %= modulus;
        if (value < 0) value += modulus;
        return c.Bcd ? ToBcd((uint)value) : (uint)value;
    }

    /// <summary>The counter's OUT pin now.</summary>
    private bool Output(Counter c, long now)
    {
        if (!c.Loaded) return c.Mode != 0;
        long n = Period(c);
        long t = Elapsed(c, now);
        switch (c.Mode)
        {
            case 0: return t >= n;
            case 1: return !c.Triggered || t >= n;
            case 2: return !c.Gate || t % n != n - 1;
            case 3: return !c.Gate || t % n < (n + 1) / 2;
            case 4: return t != n;
            default: return !c.Triggered || t != n;
        }
    }

    private static uint ToBcd(uint v) => (v % 10) | ((v / 10 % 10) << 4) | ((v / 100 % 10) << 8) | ((v / 1000 % 10) << 12);

    private static uint FromBcd(uint v) => (v & 0xF) + ((v >> 4) & 0xF) * 10 + ((v >> 8) & 0xF) * 100 + ((v >> 12) & 0xF) * 1000;

    // ---- counter 0 and IRQ 0 ----

    /// <summary>Arms the scheduler for counter 0's next rising output edge.</summary>
    private void ScheduleIrq()
    {
        Counter c = counters[0];
        if (!c.Loaded || !c.Gate)
        {
            scheduler.Disarm(irqTimer);
            return;
        }
        long n = Period(c);
        long t = Elapsed(c, Now);
        long edgeTick;
        switch (c.Mode)
        {
            case 0:
                if (t >= n) { scheduler.Disarm(irqTimer); return; }
                edgeTick = c.Start + n;
                break;
            case 2:
            case 3:
                // Mode 2 rises after its one-clock low pulse, mode 3 at the start of each high half.
                edgeTick = c.Start + (t / n + 1) * n;
                break;
            case 4:
                if (t > n) { scheduler.Disarm(irqTimer); return; }
                edgeTick = c.Start + n + 1;
                break;
            default:
                scheduler.Disarm(irqTimer);
                return;
        }
        scheduler.Arm(irqTimer, NsAt(edgeTick));
    }

    private void OnCounter0Edge(long due)
    {
        // An edge-triggered IRQ 0: a low-to-high transition latches the request.
        irq.SetIrq(0, false);
        irq.SetIrq(0, true);
        ScheduleIrq();
    }

    // ---- counter 2 and port 61h ----

    /// <summary>Counter 2's gate (port 61h bit 0).</summary>
    public bool Gate2
    {
        get => counters[2].Gate;
        set => SetGate(2, value);
    }

    /// <summary>Counter 2's output (port 61h bit 5).</summary>
    public bool Out2 => Output(counters[2], Now);

    private void SetGate(int index, bool level)
    {
        Counter c = counters[index];
        long now = Now;
        if (level == c.Gate) return;
        if (level)
        {
            switch (c.Mode)
            {
                case 1:
                case 5:
                    c.Triggered = true;
                    c.Start = now;
                    break;
                case 2:
                case 3:
                    c.Start = now; // a rising gate restarts the count
                    break;
                default:
                    if (c.GateLowAt >= 0) c.Start += now - c.GateLowAt; // resume where it paused
                    break;
            }
            c.GateLowAt = -1;
        }
        else if (c.Mode is 0 or 2 or 3 or 4)
        {
            c.GateLowAt = now;
        }
        c.Gate = level;
        if (index == 0) ScheduleIrq();
    }

    // ---- I/O ----

    public uint In(ushort port, int size)
    {
        int i = port - BasePort;
        if (i == 3) return 0xFF; // the control word register cannot be read
        Counter c = counters[i];
        if (c.StatusLatched)
        {
            c.StatusLatched = false;
            return c.LatchedStatus;
        }
        uint value;
        if (c.CountLatched)
        {
            value = c.LatchedCount;
            if (c.Access == 3 && !c.LatchedMsbNext)
            {
                c.LatchedMsbNext = true;
                return value & 0xFF;
            }
            c.CountLatched = false;
            c.LatchedMsbNext = false;
            return c.Access == 2 || c.Access == 3 ? (value >> 8) & 0xFF : value & 0xFF;
        }
        value = CurrentCount(c, Now);
        switch (c.Access)
        {
            case 1: return value & 0xFF;
            case 2: return (value >> 8) & 0xFF;
            default:
                c.ReadMsbNext = !c.ReadMsbNext;
                return c.ReadMsbNext ? value & 0xFF : (value >> 8) & 0xFF;
        }
    }

    public void Out(ushort port, int size, uint value)
    {
        byte v = (byte)value;
        int i = port - BasePort;
        if (i == 3)
        {
            ControlWord(v);
            return;
        }
        Counter c = counters[i];
        switch (c.Access)
        {
            case 1:
                LoadCount(i, v);
                break;
            case 2:
                LoadCount(i, (uint)v << 8);
                break;
            default:
                if (!c.WriteMsbNext)
                {
                    c.WriteLsb = v;
                    c.WriteMsbNext = true;
                    if (c.Mode == 0) c.Loaded = false; // writing the first byte stops a mode-0 count
                }
                else
                {
                    c.WriteMsbNext = false;
                    LoadCount(i, c.WriteLsb | ((uint)v << 8));
                }
                break;
        }
    }

    private void ControlWord(byte v)
    {
        int select = v >> 6;
        if (select == 3)
        {
            ReadBack(v);
            return;
        }
        Counter c = counters[select];
        int access = (v >> 4) & 3;
        long now = Now;
        if (access == 0)
        {
            // Counter latch command: the count is frozen for reading until read out.
            if (!c.CountLatched)
            {
                c.LatchedCount = (ushort)CurrentCount(c, now);
                c.CountLatched = true;
                c.LatchedMsbNext = false;
            }
            return;
        }
        int mode = (v >> 1) & 7;
        if (mode > 5) mode -= 4; // 110 and 111 are modes 2 and 3
        c.Access = access;
        c.Mode = mode;
        c.Bcd = (v & 1) != 0;
        c.Loaded = false;
        c.NullCount = true;
        c.Triggered = false;
        c.WriteMsbNext = c.ReadMsbNext = false;
        c.CountLatched = c.StatusLatched = false;
        if (select == 0) ScheduleIrq();
        if (select == 0) irq.SetIrq(0, mode != 0); // mode 0 sets OUT low, the others high
    }

    private void ReadBack(byte v)
    {
        long now = Now;
        for (int i = 0; i < 3; i++)
        {
            if ((v & (2 << i)) == 0) continue;
            Counter c = counters[i];
            if ((v & 0x20) == 0 && !c.CountLatched)
            {
                c.LatchedCount = (ushort)CurrentCount(c, now);
                c.CountLatched = true;
                c.LatchedMsbNext = false;
            }
            if ((v & 0x10) == 0 && !c.StatusLatched)
            {
                c.LatchedStatus = (byte)((Output(c, now) ? 0x80 : 0) | (c.NullCount && !c.Loaded ? 0x40 : 0)
                                         | (c.Access << 4) | (c.Mode << 1) | (c.Bcd ? 1 : 0));
                c.StatusLatched = true;
            }
        }
    }

    private void LoadCount(int i, uint count)
    {
        Counter c = counters[i];
        // Kept in binary; 0 stands for the full period (65536, or 10000 in BCD).
        c.Reload = c.Bcd ? FromBcd(count & 0xFFFF) % 10000 : count & 0xFFFF;
        bool wasLoaded = c.Loaded;
        c.Loaded = true;
        c.NullCount = false;
        long now = Now;
        // Modes 0 and 4 start on every write; 2 and 3 take a new count at the end of the current
        // period but start at once if nothing was counting; 1 and 5 wait for a gate edge.
        if (c.Mode is 0 or 4 || !wasLoaded)
        {
            c.Start = now + 1; // the count is loaded on the next clock
            c.GateLowAt = c.Gate ? -1 : c.Start;
        }
        if (i == 0)
        {
            if (c.Mode == 0) irq.SetIrq(0, false);
            ScheduleIrq();
        }
    }

    /// <summary>Counter 0's OUT pin now (tests).</summary>
    public bool Out0 => Output(counters[0], Now);

    /// <summary>A counter's count now (tests).</summary>
    public uint Count(int counter) => CurrentCount(counters[counter], Now);
}
