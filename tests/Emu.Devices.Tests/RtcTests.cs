using System;
using System.Collections.Generic;
using Emu.Devices.Chipset;
using Emu.Devices.Platform;
using Emu.Memory;

namespace Emu.Devices.Tests;

public class RtcTests
{
    private sealed class IrqCount : IIrqSink
    {
        public int Rises;
        public void SetIrq(int irq, bool level) { if (level) Rises++; }
    }

    private readonly FakeClock clock = new();
    private readonly Scheduler scheduler;
    private readonly IrqCount irq = new();
    private readonly IoSpace io = new();
    private readonly Rtc146818 rtc;

    public RtcTests()
    {
        scheduler = new Scheduler(clock);
        rtc = new Rtc146818(scheduler, irq, new DateTimeOffset(2024, 2, 29, 23, 59, 58, TimeSpan.Zero));
        rtc.Attach(io);
    }

    private uint Read(int reg)
    {
        io.Out(0x70, 1, (uint)reg);
        return io.In(0x71, 1);
    }

    private void Write(int reg, uint v)
    {
        io.Out(0x70, 1, (uint)reg);
        io.Out(0x71, 1, v);
    }

    private void AdvanceTo(long ns)
    {
        while (scheduler.NextDeadline <= ns)
        {
            clock.Now = scheduler.NextDeadline;
            scheduler.RunDue(clock.Now);
        }
        clock.Now = ns;
    }

    [Fact]
    public void TimeAndDateReadInBcdAndRollOver()
    {
        Assert.Equal(0x58u, Read(0x00));
        Assert.Equal(0x59u, Read(0x02));
        Assert.Equal(0x23u, Read(0x04));
        Assert.Equal(0x29u, Read(0x07));
        Assert.Equal(0x02u, Read(0x08));
        Assert.Equal(0x24u, Read(0x09));
        AdvanceTo(3_000_000_000); // three seconds later: 1 March 2024, 00:00:01
        Assert.Equal(0x01u, Read(0x00));
        Assert.Equal(0x00u, Read(0x04));
        Assert.Equal(0x01u, Read(0x07));
        Assert.Equal(0x03u, Read(0x08));
    }

    [Fact]
    public void BinaryAnd12HourModes()
    {
        Write(0x0B, 0x04); // binary, 12-hour
        Assert.Equal(58u, Read(0x00));
        Assert.Equal(0x80u | 11u, Read(0x04)); // 11 PM
    }

    [Fact]
    public void PeriodicInterruptsAtTheRateOfRegisterA()
    {
        Write(0x0A, 0x26);     // 1024 Hz
        Write(0x0B, 0x42);     // PIE, 24-hour
        int seen = 0;
        for (int ms = 1; ms <= 100; ms++)
        {
            AdvanceTo(ms * 1_000_000L);
            if ((Read(0x0C) & 0xC0) == 0xC0) seen++; // reading C acknowledges
        }
        Assert.InRange(irq.Rises, 100, 104);
        Assert.InRange(seen, 99, 100);
        Assert.Equal(0u, Read(0x0C));
    }

    [Fact]
    public void WithoutPieThePeriodicFlagStillRisesButNoTimerRuns()
    {
        Write(0x0A, 0x26);     // 1024 Hz
        Write(0x0B, 0x02);     // PIE clear
        Read(0x0C);
        // No periodic timer: the next deadline is the once-a-second update.
        Assert.True(scheduler.NextDeadline >= 900_000_000, $"a timer is armed for {scheduler.NextDeadline} ns");
        AdvanceTo(100_000);    // within the first period (976.5 us): no edge yet
        Assert.Equal(0u, Read(0x0C) & 0x40);
        AdvanceTo(2_000_000);  // two edges later
        Assert.Equal(0x40u, Read(0x0C) & 0xC0); // PF, but no IRQF: PIE is clear
        Assert.Equal(0u, Read(0x0C) & 0x40);    // reading C cleared it
        Assert.Equal(0, irq.Rises);
        // Setting PIE starts the interrupts at the rate (each acknowledged by reading C).
        Write(0x0B, 0x42);
        for (int ms = 3; ms <= 12; ms++)
        {
            AdvanceTo(ms * 1_000_000L);
            Read(0x0C);
        }
        Assert.InRange(irq.Rises, 9, 11);
        // Clearing it stops the timer again.
        Write(0x0B, 0x02);
        Read(0x0C);
        Assert.True(scheduler.NextDeadline >= 900_000_000);
    }

    [Fact]
    public void UpdateInProgressShowsJustBeforeEachSecond()
    {
        AdvanceTo(500_000_000);
        Assert.Equal(0u, Read(0x0A) & 0x80);
        AdvanceTo(999_900_000);
        Assert.Equal(0x80u, Read(0x0A) & 0x80);
    }

    [Fact]
    public void SetFreezesTheClockAndWritesTakeEffectOnRelease()
    {
        Write(0x0B, 0x82);
        Write(0x00, 0x30);
        Write(0x02, 0x15);
        AdvanceTo(5_000_000_000);
        Assert.Equal(0x30u, Read(0x00));
        Write(0x0B, 0x02);
        AdvanceTo(7_000_000_000);
        Assert.Equal(0x32u, Read(0x00));
        Assert.Equal(0x15u, Read(0x02));
    }

    [Fact]
    public void CmosRamKeepsWhatIsWrittenAndBit7OfTheIndexMasksNmi()
    {
        Write(0x40, 0xA5);
        Assert.Equal(0xA5u, Read(0x40));
        io.Out(0x70, 1, 0x8F);
        Assert.True(rtc.NmiMasked);
        io.Out(0x70, 1, 0x0F);
        Assert.False(rtc.NmiMasked);
        Assert.Equal(0x80u, Read(0x0D)); // valid RAM and time
    }
}
