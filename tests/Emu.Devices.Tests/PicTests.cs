using Emu.Devices.Chipset;
using Emu.Memory;

namespace Emu.Devices.Tests;

public class PicTests
{
    private readonly InterruptLine line = new();
    private readonly IoSpace io = new();
    private readonly Pic8259 pic;

    public PicTests()
    {
        pic = new Pic8259(line);
        pic.Attach(io);
        // The usual initialisation: edge triggered, cascade, ICW4; master at 20h, slave at 28h.
        io.Out(0x20, 1, 0x11);
        io.Out(0x21, 1, 0x20);
        io.Out(0x21, 1, 0x04);
        io.Out(0x21, 1, 0x01);
        io.Out(0xA0, 1, 0x11);
        io.Out(0xA1, 1, 0x28);
        io.Out(0xA1, 1, 0x02);
        io.Out(0xA1, 1, 0x01);
    }

    private void Pulse(int irq)
    {
        pic.SetIrq(irq, true);
    }

    [Fact]
    public void AnEdgeRaisesIntrAndTheAcknowledgeGivesItsVector()
    {
        Assert.False(line.Intr);
        Pulse(1);
        Assert.True(line.Intr);
        Assert.Equal(0x21, pic.Acknowledge());
        Assert.False(line.Intr); // in service, nothing else pending
        Assert.Equal(0x02, pic.Master.Isr);
    }

    [Fact]
    public void ALowerPriorityRequestWaitsForTheEoi()
    {
        Pulse(3);
        Assert.Equal(0x23, pic.Acknowledge());
        Pulse(5);
        Assert.False(line.Intr); // IR5 is below IR3 in service
        io.Out(0x20, 1, 0x20);   // non-specific EOI
        Assert.True(line.Intr);
        Assert.Equal(0x25, pic.Acknowledge());
    }

    [Fact]
    public void AHigherPriorityRequestNests()
    {
        Pulse(5);
        Assert.Equal(0x25, pic.Acknowledge());
        Pulse(1);
        Assert.True(line.Intr);
        Assert.Equal(0x21, pic.Acknowledge());
        Assert.Equal(0x22, pic.Master.Isr);
        io.Out(0x20, 1, 0x20); // EOI goes to the highest in service: IR1
        Assert.Equal(0x20, pic.Master.Isr);
    }

    [Fact]
    public void MaskedRequestsStayPendingUntilUnmasked()
    {
        io.Out(0x21, 1, 0x01); // mask IR0
        Pulse(0);
        Assert.False(line.Intr);
        Assert.Equal(0x01, pic.Master.Irr);
        io.Out(0x21, 1, 0x00);
        Assert.True(line.Intr);
        Assert.Equal(0x20, pic.Acknowledge());
    }

    [Fact]
    public void SlaveRequestsComeThroughTheCascade()
    {
        Pulse(12);
        Assert.True(line.Intr);
        Assert.Equal(0x2C, pic.Acknowledge());
        Assert.Equal(0x04, pic.Master.Isr);
        Assert.Equal(0x10, pic.Slave.Isr);
        io.Out(0xA0, 1, 0x20);
        io.Out(0x20, 1, 0x20);
        Assert.Equal(0, pic.Master.Isr);
        Assert.Equal(0, pic.Slave.Isr);
    }

    [Fact]
    public void ARequestGoneBeforeTheAcknowledgeIsSpuriousIrq7()
    {
        Pulse(4);
        Assert.True(line.Intr);
        pic.SetIrq(4, false);
        Assert.Equal(0x27, pic.Acknowledge());
        Assert.Equal(0, pic.Master.Isr); // a spurious IRQ 7 sets no in-service bit
    }

    [Fact]
    public void LevelTriggeredInputsFollowTheLine()
    {
        io.Out(0x4D1, 1, 0x08); // IRQ 11 level-triggered
        pic.SetIrq(11, true);
        Assert.Equal(0x2B, pic.Acknowledge());
        io.Out(0xA0, 1, 0x20);
        io.Out(0x20, 1, 0x20);
        Assert.True(line.Intr); // still asserted: a level request comes back
        pic.SetIrq(11, false);
        Assert.False(line.Intr);
    }

    [Fact]
    public void Ocw3SelectsIrrOrIsrForReading()
    {
        io.Out(0x21, 1, 0xFF);
        Pulse(6);
        io.Out(0x20, 1, 0x0A); // read IRR
        Assert.Equal(0x40u, io.In(0x20, 1));
        io.Out(0x20, 1, 0x0B); // read ISR
        Assert.Equal(0x00u, io.In(0x20, 1));
        Assert.Equal(0xFFu, io.In(0x21, 1)); // IMR
    }

    [Fact]
    public void AutomaticEoiLeavesNothingInService()
    {
        io.Out(0x20, 1, 0x11);
        io.Out(0x21, 1, 0x20);
        io.Out(0x21, 1, 0x04);
        io.Out(0x21, 1, 0x03); // ICW4: 8086 mode, AEOI
        Pulse(2 + 1);
        Assert.Equal(0x23, pic.Acknowledge());
        Assert.Equal(0, pic.Master.Isr);
    }

    [Fact]
    public void PollReturnsTheRequestWithoutAnAcknowledgeCycle()
    {
        Pulse(5);
        io.Out(0x20, 1, 0x0C); // OCW3 poll
        Assert.Equal(0x85u, io.In(0x20, 1));
        Assert.Equal(0x20, pic.Master.Isr);
    }
}
