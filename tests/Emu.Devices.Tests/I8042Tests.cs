using System.Collections.Generic;
using Emu.Devices.Chipset;
using Emu.Devices.Input;
using Emu.Memory;

namespace Emu.Devices.Tests;

public class I8042Tests
{
    private sealed class Irqs : IIrqSink
    {
        public readonly Dictionary<int, bool> Level = new();
        public int Rises1;
        public void SetIrq(int irq, bool level)
        {
            Level.TryGetValue(irq, out bool was);
            if (irq == 1 && level && !was) Rises1++;
            Level[irq] = level;
        }
    }

    private sealed class A20 : IA20Line
    {
        public bool A20Enabled { get; set; }
    }

    private readonly Irqs irqs = new();
    private readonly A20 a20 = new();
    private readonly IoSpace io = new();
    private int resets;

    public I8042Tests()
    {
        var kbc = new I8042(irqs, a20, () => resets++);
        kbc.Attach(io);
        Kbc = kbc;
    }

    private I8042 Kbc { get; }

    private uint ReadData()
    {
        Assert.Equal(1u, io.In(0x64, 1) & 1);
        return io.In(0x60, 1);
    }

    [Fact]
    public void SelfTestsAnswer()
    {
        io.Out(0x64, 1, 0xAA);
        Assert.Equal(0x55u, ReadData());
        io.Out(0x64, 1, 0xAB);
        Assert.Equal(0x00u, ReadData());
        Assert.Equal(0u, io.In(0x64, 1) & 1);
    }

    [Fact]
    public void TheCommandByteIsReadAndWritten()
    {
        io.Out(0x64, 1, 0x60);
        io.Out(0x60, 1, 0x65);
        io.Out(0x64, 1, 0x20);
        Assert.Equal(0x65u, ReadData());
        Assert.Equal(0x04u, io.In(0x64, 1) & 0x04); // system flag follows
    }

    [Fact]
    public void KeyboardResetAcknowledgesAndPassesItsSelfTest()
    {
        io.Out(0x60, 1, 0xFF);
        Assert.Equal(0xFAu, ReadData());
        Assert.Equal(0xAAu, ReadData());
    }

    [Fact]
    public void EachByteIsANewIrq1Edge()
    {
        io.Out(0x60, 1, 0xF2); // identify: three bytes
        Assert.Equal(1, irqs.Rises1);
        ReadData();
        Assert.Equal(2, irqs.Rises1);
        ReadData();
        ReadData();
        Assert.Equal(3, irqs.Rises1);
        Assert.False(irqs.Level[1]);
    }

    [Fact]
    public void TheOutputPortDrivesA20AndReset()
    {
        io.Out(0x64, 1, 0xD1);
        io.Out(0x60, 1, 0x03);
        Assert.True(a20.A20Enabled);
        io.Out(0x64, 1, 0xD1);
        io.Out(0x60, 1, 0x01);
        Assert.False(a20.A20Enabled);
        Assert.Equal(0, resets);
        io.Out(0x64, 1, 0xFE);
        Assert.Equal(1, resets);
    }

    [Fact]
    public void Port92AlsoGatesA20()
    {
        var p92 = new SystemControlPortA(a20, () => resets++);
        p92.Attach(io);
        io.Out(0x92, 1, 0x02);
        Assert.True(a20.A20Enabled);
        Assert.Equal(2u, io.In(0x92, 1));
        io.Out(0x92, 1, 0x03);
        Assert.Equal(1, resets);
    }

    [Fact]
    public void AnswersNobodyReadsAreHeldOnlyAsFarAsTheKeyboardBuffer()
    {
        // Echo commands, a million of them, none of whose answers is read: the controller holds
        // its output buffer and 16 bytes behind it, and the rest are lost (host memory stays bounded).
        for (int i = 0; i < 1_000_000; i++) io.Out(0x60, 1, 0xEE);
        int held = 0;
        while ((io.In(0x64, 1) & 1) != 0)
        {
            Assert.Equal(0xEEu, io.In(0x60, 1));
            held++;
        }
        Assert.Equal(1 + I8042.QueueCapacity, held);
        // Once read, the controller answers again.
        io.Out(0x60, 1, 0xEE);
        Assert.Equal(0xEEu, ReadData());
    }

    [Fact]
    public void HostKeysArriveAsScanCodes()
    {
        Kbc.QueueScancodes(new byte[] { 0x1E, 0x9E }); // 'a' down and up
        Assert.Equal(0x1Eu, ReadData());
        Assert.Equal(0x9Eu, ReadData());
    }
}
