using System;
using Emu.Devices.Platform;
using Emu.Memory;

namespace Emu.Devices.Chipset;

/// <summary>
/// The MC146818 real-time clock and CMOS RAM at 70h/71h (Motorola MC146818A datasheet): the
/// time and date (BCD or binary, 12 or 24 hour), alarm, periodic, update-ended interrupts on
/// IRQ 8 with register C's flags, the update-in-progress window, and 114 bytes of CMOS memory
/// (the PC's memory-size, equipment and century fields live there). Bit 7 of the index port
/// is the NMI mask. Time runs on the board's virtual clock from a starting wall time.
/// </summary>
public sealed class Rtc146818 : IPortDevice
{
    public const ushort IndexPort = 0x70, DataPort = 0x71;
    public const int Irq = 8;

    private const int RegA = 0x0A, RegB = 0x0B, RegC = 0x0C, RegD = 0x0D;
    private const byte BSet = 0x80, BPie = 0x40, BAie = 0x20, BUie = 0x10, BBinary = 0x04, B24h = 0x02;
    private const byte CIrqf = 0x80, CPf = 0x40, CAf = 0x20, CUf = 0x10;
    private const long Second = 1_000_000_000;
    private const long UpdateWindowNs = 244_000; // UIP is set this long before each update (Intel SDM-era PC docs: 244 µs)

    private readonly byte[] cmos = new byte[128];
    private readonly IClock clock;
    private readonly Scheduler scheduler;
    private readonly IIrqSink irq;
    private readonly Scheduler.Timer periodicTimer, updateTimer;
    private byte index;
    private long baseSeconds;       // wall-clock seconds (Unix time) at virtual time baseNs
    private long baseNs;
    private long frozenSeconds = -1; // while register B.SET holds the clock

    /// <summary>
    /// While B.PIE is clear no timer runs for the periodic rate (an idle guest would wake 1024
    /// times a second for nothing): C.PF is worked out when C is read, from the periodic edges
    /// (multiples of the period on the clock) since this moment.
    /// </summary>
    private long pfSince;

    /// <param name="scheduler">The board's scheduler (and its clock).</param>
    /// <param name="irq">Where IRQ 8 goes.</param>
    /// <param name="start">The wall-clock time at virtual time zero.</param>
    public Rtc146818(Scheduler scheduler, IIrqSink irq, DateTimeOffset start)
    {
        this.scheduler = scheduler;
        clock = scheduler.Clock;
        this.irq = irq;
        baseSeconds = start.ToUnixTimeSeconds();
        baseNs = clock.Now;
        periodicTimer = scheduler.CreateTimer("RTC periodic", OnPeriodic);
        updateTimer = scheduler.CreateTimer("RTC update", OnUpdate);
        cmos[RegA] = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate
        cmos[RegB] = B24h; // BCD, 24-hour, interrupts off
        cmos[RegD] = 0x80; // valid RAM and time
        ArmUpdate();
    }

    /// <summary>Whether NMIs are masked (bit 7 of the last index written to 70h).</summary>
    public bool NmiMasked { get; private set; }

    public void Attach(IoSpace io) => io.Register(IndexPort, 2, this);

    /// <summary>A CMOS byte as firmware sees it (for the board to fill memory sizes, equipment...).</summary>
    public byte this[int register]
    {
        get => cmos[register & 0x7F];
        set => cmos[register & 0x7F] = value;
    }

    private long SecondsNow => frozenSeconds >= 0 ? frozenSeconds : baseSeconds + (clock.Now - baseNs) / Second;

    private bool Binary => (cmos[RegB] & BBinary) != 0;

    private byte Encode(int v) => Binary ? (byte)v : (byte)(((v / 10) << 4) | (v % 10));

    private int Decode(byte v) => Binary ? v : (v >> 4) * 10 + (v & 0xF);

    private byte EncodeHour(int h)
    {
        if ((cmos[RegB] & B24h) != 0) return Encode(h);
        int h12 = h % 12 == 0 ? 12 : h % 12;
        return (byte)(Encode(h12) | (h >= 12 ? 0x80 : 0));
    }

    private int DecodeHour(byte v)
    {
        if ((cmos[RegB] & B24h) != 0) return Decode(v);
        int h = Decode((byte)(v & 0x7F)) % 12;
        return (v & 0x80) != 0 ? h + 12 : h;
    }

    public uint In(ushort port, int size)
    {
        if (port == IndexPort) return 0xFF; // the index register is write-only
        int r = index;
        switch (r)
        {
            case 0x00: return Encode(Now().Second);
            case 0x02: return Encode(Now().Minute);
            case 0x04: return EncodeHour(Now().Hour);
            case 0x06: return Encode((int)Now().DayOfWeek + 1);
            case 0x07: return Encode(Now().Day);
            case 0x08: return Encode(Now().Month);
            case 0x09: return Encode(Now().Year % 100);
            case RegA:
            {
                // UIP: an update starts within the next 244 µs.
                long intoSecond = (clock.Now - baseNs) % Second;
                bool uip = frozenSeconds < 0 && intoSecond >= Second - UpdateWindowNs;
                return (uint)(cmos[RegA] & 0x7F) | (uip ? 0x80u : 0);
            }
            case RegC:
            {
                FoldLazyPf();
                byte v = cmos[RegC];
                cmos[RegC] = 0;
                irq.SetIrq(Irq, false);
                return v;
            }
            default:
                return cmos[r];
        }
    }

    private DateTime Now() => DateTimeOffset.FromUnixTimeSeconds(SecondsNow).UtcDateTime;

    public void Out(ushort port, int size, uint value)
    {
        byte v = (byte)value;
        if (port == IndexPort)
        {
            index = (byte)(v & 0x7F);
            NmiMasked = (v & 0x80) != 0;
            return;
        }
        switch (index)
        {
            case 0x00: case 0x02: case 0x04: case 0x06: case 0x07: case 0x08: case 0x09:
                SetTimeField(index, v);
                break;
            case RegA:
                FoldLazyPf();
                cmos[RegA] = (byte)(v & 0x7F);
                ArmPeriodic();
                break;
            case RegB:
            {
                FoldLazyPf();
                bool wasSet = (cmos[RegB] & BSet) != 0;
                if ((v & BSet) != 0 && !wasSet) frozenSeconds = SecondsNow;
                if ((v & BSet) == 0 && wasSet)
                {
                    baseSeconds = frozenSeconds;
                    baseNs = clock.Now;
                    frozenSeconds = -1;
                }
                cmos[RegB] = (byte)(v & ((v & BSet) != 0 ? ~BUie : 0xFF)); // SET clears UIE
                ArmPeriodic();
                ArmUpdate();
                break;
            }
            case RegC:
            case RegD:
                break; // read-only
            default:
                cmos[index] = v;
                break;
        }
    }

    private void SetTimeField(int register, byte value)
    {
        DateTime t = Now();
        int sec = t.Second, min = t.Minute, hour = t.Hour, day = t.Day, month = t.Month, year = t.Year;
        switch (register)
        {
            case 0x00: sec = Decode(value); break;
            case 0x02: min = Decode(value); break;
            case 0x04: hour = DecodeHour(value); break;
            case 0x07: day = Decode(value); break;
            case 0x08: month = Decode(value); break;
            case 0x09: year = 2000 + Decode(value) % 100; break;
            default: return; // the day of week follows the date
        }
        try
        {
            var nt = new DateTimeOffset(year, Math.Clamp(month, 1, 12), Math.Clamp(day, 1, DateTime.DaysInMonth(year, Math.Clamp(month, 1, 12))),
                Math.Clamp(hour, 0, 23), Math.Clamp(min, 0, 59), Math.Clamp(sec, 0, 59), TimeSpan.Zero);
            long s = nt.ToUnixTimeSeconds();
            if (frozenSeconds >= 0) frozenSeconds = s;
            else
            {
                baseSeconds = s;
                baseNs = clock.Now - (clock.Now - baseNs) % Second;
            }
        }
        catch (ArgumentOutOfRangeException)
        {
            // A nonsensical date from the guest leaves the clock as it was.
        }
    }

    // ---- interrupts ----

    private void Raise(byte flag)
    {
        byte enables = (byte)(cmos[RegB] & (BPie | BAie | BUie));
        cmos[RegC] |= flag;
        bool irqf = (cmos[RegC] & enables & (CPf | CAf | CUf)) != 0;
        if (irqf && (cmos[RegC] & CIrqf) == 0)
        {
            cmos[RegC] |= CIrqf;
            irq.SetIrq(Irq, false);
            irq.SetIrq(Irq, true);
        }
    }

    /// <summary>The periodic rate from register A's RS bits: 256 and 128 Hz for 1 and 2, else 65536 >> RS.</summary>
    private long PeriodicNs()
    {
        int rs = cmos[RegA] & 0xF;
        if (rs == 0 || (cmos[RegA] & 0x70) != 0x20) return 0;
        long hz = rs switch { 1 => 256, 2 => 128, _ => 65536 >> rs };
        return Second / hz;
    }

    /// <summary>With B.PIE clear, sets C.PF when a periodic edge has passed since <see cref="pfSince"/> (no interrupt: PIE is clear).</summary>
    private void FoldLazyPf()
    {
        long now = clock.Now;
        if ((cmos[RegB] & BPie) == 0)
        {
            long period = PeriodicNs();
            if (period != 0 && now / period > pfSince / period) cmos[RegC] |= CPf;
        }
        pfSince = now;
    }

    private void ArmPeriodic()
    {
        long period = PeriodicNs();
        if (period == 0 || (cmos[RegB] & BPie) == 0)
        {
            scheduler.Disarm(periodicTimer);
            return;
        }
        long now = clock.Now;
        scheduler.Arm(periodicTimer, now - now % period + period);
    }

    private void OnPeriodic(long due)
    {
        Raise(CPf);
        long period = PeriodicNs();
        if (period != 0 && (cmos[RegB] & BPie) != 0) scheduler.Arm(periodicTimer, due + period);
    }

    private void ArmUpdate()
    {
        if (frozenSeconds >= 0)
        {
            scheduler.Disarm(updateTimer);
            return;
        }
        long now = clock.Now;
        long into = (now - baseNs) % Second;
        scheduler.Arm(updateTimer, now - into + Second);
    }

    private void OnUpdate(long due)
    {
        Raise(CUf);
        DateTime t = Now();
        bool Match(int reg, int value) => (cmos[reg] & 0xC0) == 0xC0 || Decode(cmos[reg]) == value; // C0h-FFh: don't care
        if (Match(0x01, t.Second) && Match(0x03, t.Minute) && Match(0x05, t.Hour)) Raise(CAf);
        scheduler.Arm(updateTimer, due + Second);
    }
}
