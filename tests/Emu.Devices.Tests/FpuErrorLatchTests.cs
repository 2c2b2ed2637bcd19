using Emu.Devices.Chipset;

namespace Emu.Devices.Tests;

/// <summary>FERR# to IRQ 13 and the port F0h handshake (Intel SDM Vol. 1, appendix D).</summary>
public sealed class FpuErrorLatchTests
{
    private readonly IrqRecorder irqs = new();
    private readonly FpuErrorLatch latch;

    public FpuErrorLatchTests() => latch = new FpuErrorLatch(irqs);

    [Fact]
    public void FerrRaisesIrq13AndAWriteToF0hClearsItAndAssertsIgnne()
    {
        latch.SetFerr(true);
        Assert.True(irqs.Level[13]);
        Assert.False(latch.IgnneAsserted);
        latch.Out(0xF0, 1, 0);
        Assert.False(irqs.Level[13]);
        Assert.True(latch.IgnneAsserted);
        // The handler clears the exception (FNCLEX): FERR# goes away, and IGNNE# with it.
        latch.SetFerr(false);
        Assert.False(latch.IgnneAsserted);
        Assert.False(irqs.Level[13]);
    }

    [Fact]
    public void FerrWhileIgnneIsAssertedDoesNotRaiseIrq13Again()
    {
        latch.SetFerr(true);
        latch.Out(0xF0, 1, 0);
        irqs.Events.Clear();
        latch.SetFerr(true); // still asserted: no new edge
        Assert.Empty(irqs.Events);
    }

    [Fact]
    public void AWriteWithoutFerrAssertsNothing()
    {
        latch.Out(0xF0, 1, 0);
        Assert.False(latch.IgnneAsserted);
        Assert.Empty(irqs.Events);
    }
}
