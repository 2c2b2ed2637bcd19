using System.Collections.Generic;
using Emu.Devices.Chipset;
using Emu.Devices.Platform;
using Emu.Devices.Serial;
using Emu.Memory;

namespace Emu.Devices.Tests;

public class UartTests
{
    private sealed class IrqLevel : IIrqSink
    {
        public bool Level;
        public void SetIrq(int irq, bool level) { Assert.Equal(4, irq); Level = level; }
    }

    private readonly FakeClock clock = new();
    private readonly Scheduler scheduler;
    private readonly IrqLevel irq = new();
    private readonly IoSpace io = new();
    private readonly List<byte> sent = new();
    private readonly Uart16550 uart;

    public UartTests()
    {
        scheduler = new Scheduler(clock);
        uart = new Uart16550(Uart16550.Com1, 4, irq, scheduler, sent.Add);
        uart.Attach(io);
    }

    private uint R(int reg) => io.In((ushort)(0x3F8 + reg), 1);
    private void W(int reg, uint v) => io.Out((ushort)(0x3F8 + reg), 1, v);

    [Fact]
    public void TransmittedBytesReachTheHostAndThrStaysEmpty()
    {
        W(0, (uint)'h');
        W(0, (uint)'i');
        Assert.Equal("hi"u8.ToArray(), sent.ToArray());
        Assert.Equal(0x60u, R(5) & 0x60); // THRE and TEMT
    }

    [Fact]
    public void TheDivisorLatchSharesTheDataRegisters()
    {
        W(3, 0x80);
        W(0, 0x01);
        W(1, 0x00);
        Assert.Equal(1u, R(0));
        W(3, 0x03); // 8N1, DLAB off
        W(0, (uint)'x');
        Assert.Equal("x"u8.ToArray(), sent.ToArray());
    }

    [Fact]
    public void LoopbackEchoesAndMapsTheModemLines()
    {
        W(4, 0x10 | 0x0B); // loop, OUT2, RTS, DTR
        W(0, 0x5A);
        Assert.Empty(sent);
        Assert.Equal(1u, R(5) & 1);
        Assert.Equal(0x5Au, R(0));
        Assert.Equal(0xB0u, R(6) & 0xF0); // DCD (OUT2), DSR (DTR), CTS (RTS)
    }

    [Fact]
    public void ReceivedDataRaisesTheInterruptAtTheTriggerLevel()
    {
        W(4, 0x08);        // OUT2: let the IRQ out
        W(2, 0x41 | 0x06); // FIFO on, trigger 4, clear
        W(1, 0x01);        // data-available interrupt
        uart.QueueInput(new byte[] { 1, 2, 3 });
        uart.PumpInput();
        Assert.False(irq.Level);          // 3 < trigger
        Assert.Equal(0xC1u, R(2));       // FIFOs on, no interrupt yet
        uart.QueueInput(new byte[] { 4 });
        uart.PumpInput();
        Assert.True(irq.Level);
        Assert.Equal(0xC4u, R(2));
        Assert.Equal(1u, R(0));
        Assert.False(irq.Level);          // 3 left, below the trigger
    }

    /// <summary>
    /// Held input (a pipe) waits while the guest has not enabled the data-available interrupt,
    /// and while it is still setting the port up (a FIFO reset would lose it), then flows.
    /// </summary>
    [Fact]
    public void HeldInputWaitsUntilTheGuestListensAndTheSetupSettles()
    {
        uart.HoldInputUntilReceiverEnabled = true;
        clock.Now = 1_000_000_000;
        uart.QueueInput(new byte[] { (byte)'e', (byte)'c' });
        uart.PumpInput();
        Assert.Equal(0u, R(5) & 1);                       // interrupt off: nothing received yet
        W(1, 0x01);
        W(2, 0x07);                                       // FIFO on and reset: the setup goes on
        uart.PumpInput();
        Assert.Equal(0u, R(5) & 1);
        clock.Now += Uart16550.SettleNs;
        uart.PumpInput();
        Assert.Equal(1u, R(5) & 1);
        Assert.Equal((uint)'e', R(0));
        Assert.Equal((uint)'c', R(0));
        Assert.False(uart.HasQueuedInput);
    }

    /// <summary>
    /// Input the guest does not read is held up to <see cref="Uart16550.MaxQueuedInput"/>
    /// bytes; the console's writer then waits (so the host stops reading its input), and as the
    /// guest reads, the rest follows, none lost, in order.
    /// </summary>
    [Fact]
    public void HostInputBeyondTheLimitWaitsForTheGuest()
    {
        const int total = Uart16550.MaxQueuedInput * 3 + 123;
        var data = new byte[total];
        for (int i = 0; i < total; i++) data[i] = (byte)(i * 7 + (i >> 8));
        var writer = new System.Threading.Thread(() => uart.QueueInputWaiting(data)) { IsBackground = true };
        writer.Start();
        System.Threading.Thread.Sleep(300);
        Assert.True(writer.IsAlive, "all the input was taken with the guest reading none");
        Assert.Equal(Uart16550.MaxQueuedInput, uart.QueuedInput);
        Assert.Equal(0, uart.QueueInput(new byte[] { 1 })); // the non-waiting form takes nothing now

        var received = new List<byte>(total);
        var deadline = System.DateTime.UtcNow.AddSeconds(60);
        while (received.Count < total && System.DateTime.UtcNow < deadline)
        {
            uart.PumpInput();
            if ((R(5) & 1) == 0)
            {
                System.Threading.Thread.Yield();
                continue;
            }
            received.Add((byte)R(0));
            Assert.True(uart.QueuedInput <= Uart16550.MaxQueuedInput);
        }
        Assert.True(writer.Join(System.TimeSpan.FromSeconds(10)), "the writer still waits with everything read");
        Assert.Equal(data, received.ToArray());
        Assert.Equal(0, uart.QueuedInput);
    }

    [Fact]
    public void DataBelowTheTriggerTimesOut()
    {
        W(4, 0x08);
        W(2, 0xC1); // trigger 14
        W(1, 0x01);
        uart.QueueInput(new byte[] { 7 });
        uart.PumpInput();
        Assert.False(irq.Level);
        clock.Now = scheduler.NextDeadline;
        scheduler.RunDue(clock.Now);
        Assert.True(irq.Level);
        Assert.Equal(0xCCu, R(2)); // character timeout
        Assert.Equal(7u, R(0));
        Assert.False(irq.Level);
    }

    [Fact]
    public void TheThreInterruptComesOnEnableAndClearsWhenIdentified()
    {
        W(4, 0x08);
        W(1, 0x02);
        Assert.True(irq.Level);
        Assert.Equal(0x02u, R(2) & 0x0F);
        Assert.False(irq.Level);
        W(0, (uint)'a');
        Assert.True(irq.Level); // sent at once: empty again
    }

    [Fact]
    public void Out2GatesTheIrq()
    {
        W(1, 0x02);
        Assert.False(irq.Level);
        W(4, 0x08);
        Assert.True(irq.Level);
    }

    [Fact]
    public void TheHostQueueWaitsForRoomAndNothingIsLost()
    {
        W(2, 0x07);
        var data = new byte[40];
        for (int i = 0; i < data.Length; i++) data[i] = (byte)i;
        uart.QueueInput(data);
        uart.PumpInput();
        var got = new List<byte>();
        while ((R(5) & 1) != 0) got.Add((byte)R(0));
        Assert.Equal(data, got.ToArray());
        Assert.Equal(0u, R(5) & 2); // no overrun
    }

    [Fact]
    public void TheScratchRegisterHoldsAByte()
    {
        W(7, 0xA5);
        Assert.Equal(0xA5u, R(7));
    }
}
