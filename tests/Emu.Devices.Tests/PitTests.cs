using System.Collections.Generic;
using Emu.Devices.Chipset;
using Emu.Devices.Platform;
using Emu.Memory;

namespace Emu.Devices.Tests;

public class PitTests
{
    private sealed class IrqLog : IIrqSink
    {
        public readonly List<(long Time, int Irq, bool Level)> Events = new();
        public FakeClock? Clock;
        public void SetIrq(int irq, bool level) => Events.Add((Clock!.Now, irq, level));
        public int Rises(int irq) => Events.FindAll(e => e.Irq == irq && e.Level).Count;
    }

    private readonly FakeClock clock = new();
    private readonly Scheduler scheduler;
    private readonly IrqLog irqs = new();
    private readonly IoSpace io = new();
    private readonly Pit8254 pit;

    public PitTests()
    {
        irqs.Clock = clock;
        scheduler = new Scheduler(clock);
        pit = new Pit8254(scheduler, irqs);
        pit.Attach(io);
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

    private static long Ns(long ticks) => ticks * 1_000_000_000L / Pit8254.InputHz;

    [Fact]
    public void Mode2RaisesIrq0OncePerPeriod()
    {
        io.Out(0x43, 1, 0x34); // counter 0, LSB then MSB, mode 2
        io.Out(0x40, 1, 1193 & 0xFF);
        io.Out(0x40, 1, 1193 >> 8); // about 1 ms
        int before = irqs.Rises(0);
        AdvanceTo(100_000_000); // 100 ms
        int periods = irqs.Rises(0) - before;
        Assert.InRange(periods, 99, 101);
    }

    [Fact]
    public void Mode0OutputGoesHighAfterTheCount()
    {
        io.Out(0x43, 1, 0x30); // counter 0, LSB then MSB, mode 0
        io.Out(0x40, 1, 100);
        io.Out(0x40, 1, 0);
        Assert.False(pit.Out0);
        AdvanceTo(Ns(50));
        Assert.False(pit.Out0);
        int rises = irqs.Rises(0);
        AdvanceTo(Ns(200));
        Assert.True(pit.Out0);
        Assert.Equal(rises + 1, irqs.Rises(0)); // exactly one interrupt, at terminal count
        AdvanceTo(Ns(100_000));
        Assert.Equal(rises + 1, irqs.Rises(0));
    }

    [Fact]
    public void TheCounterLatchFreezesTheCountForReading()
    {
        io.Out(0x43, 1, 0x34);
        io.Out(0x40, 1, 0x00);
        io.Out(0x40, 1, 0x10); // 1000h
        AdvanceTo(Ns(0x100));
        io.Out(0x43, 1, 0x00); // latch counter 0
        AdvanceTo(Ns(0x500));
        uint lo = io.In(0x40, 1), hi = io.In(0x40, 1);
        uint latched = lo | (hi << 8);
        Assert.InRange(latched, 0x1000u - 0x102, 0x1000u - 0xFD);
        // Unlatched reads see time move on.
        lo = io.In(0x40, 1);
        hi = io.In(0x40, 1);
        Assert.InRange(lo | (hi << 8), 0x1000u - 0x502, 0x1000u - 0x4FD);
    }

    [Fact]
    public void ReadBackGivesTheStatusByte()
    {
        io.Out(0x43, 1, 0xB0); // counter 2, LSB then MSB, mode 0, binary
        io.Out(0x42, 1, 0x34);
        io.Out(0x42, 1, 0x12);
        io.Out(0x43, 1, 0xE8); // read-back: status only (COUNT#=1), counter 2
        uint status = io.In(0x42, 1);
        Assert.Equal(0x30u, status & 0x3F); // access 3, mode 0, binary
        Assert.Equal(0u, status & 0x40);    // count loaded
    }

    [Fact]
    public void Counter2RunsOnlyWhileItsGateIsOpen()
    {
        var port61 = new SystemControlPort(pit, clock);
        port61.Attach(io);
        io.Out(0x43, 1, 0xB0); // counter 2, mode 0
        io.Out(0x42, 1, 100);
        io.Out(0x42, 1, 0);
        io.Out(0x61, 1, 0x00); // gate closed: counting paused
        AdvanceTo(Ns(1000));
        Assert.Equal(0u, io.In(0x61, 1) & 0x20);
        io.Out(0x61, 1, 0x01); // gate open
        AdvanceTo(Ns(1050));
        Assert.Equal(0u, io.In(0x61, 1) & 0x20);
        AdvanceTo(Ns(1200));
        Assert.Equal(0x20u, io.In(0x61, 1) & 0x20); // OUT2 high after the count
    }

    [Fact]
    public void Mode3IsASquareWave()
    {
        io.Out(0x43, 1, 0x36); // counter 0, mode 3
        io.Out(0x40, 1, 100);
        io.Out(0x40, 1, 0);
        int highs = 0;
        for (int t = 0; t < 1000; t++)
        {
            AdvanceTo(Ns(t) + 1);
            if (pit.Out0) highs++;
        }
        Assert.InRange(highs, 480, 520);
    }
}
