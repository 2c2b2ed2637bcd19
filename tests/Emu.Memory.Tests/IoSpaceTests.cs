using System;

namespace Emu.Memory.Tests;

public class IoSpaceTests
{
    [Theory]
    [InlineData((ushort)0x0000, 1, 0xFFu)]
    [InlineData((ushort)0x0080, 2, 0xFFFFu)]
    [InlineData((ushort)0xFFFF, 4, 0xFFFF_FFFFu)]
    public void UnclaimedPortsReadAllOnesAndIgnoreWrites(ushort port, int size, uint ones)
    {
        var io = new IoSpace();
        Assert.Equal(ones, io.In(port, size));
        io.Out(port, size, 0); // no device, no effect, no exception
        Assert.Null(io.DeviceAt(port));
    }

    [Theory]
    [InlineData((ushort)0x60, 1, 0x5Au)]
    [InlineData((ushort)0x64, 1, 0xA5u)]
    [InlineData((ushort)0x62, 2, 0xBEEFu)]
    [InlineData((ushort)0x60, 4, 0xDEAD_BEEFu)]
    public void ClaimedPortsReachTheirDeviceWithPortSizeAndValue(ushort port, int size, uint value)
    {
        var io = new IoSpace();
        var dev = new RecordingPorts();
        io.Register(0x60, 5, dev);
        Assert.Equal(RecordingPorts.Answer(port, size), io.In(port, size));
        io.Out(port, size, value);
        Assert.Equal(new[] { (false, port, size, RecordingPorts.Answer(port, size)), (true, port, size, value) }, dev.Log);
        Assert.Equal(0xFFu, io.In(0x5F, 1));
        Assert.Equal(0xFFu, io.In(0x65, 1));
        Assert.Equal(2, dev.Log.Count);
    }

    [Fact]
    public void AConflictingClaimFailsAndChangesNothing()
    {
        var io = new IoSpace();
        var a = new RecordingPorts();
        var b = new RecordingPorts();
        io.Register(0x3F8, 8, a);
        Assert.Throws<InvalidOperationException>(() => io.Register(0x3F0, 0x10, b));
        for (int p = 0x3F0; p < 0x3F8; p++) Assert.Null(io.DeviceAt((ushort)p));
        for (int p = 0x3F8; p < 0x400; p++) Assert.Same(a, io.DeviceAt((ushort)p));
        Assert.Throws<InvalidOperationException>(() => io.Register(0x3FF, 2, b));
        Assert.Null(io.DeviceAt(0x400));
    }

    [Fact]
    public void TheSameDeviceMayClaimItsPortsAgain()
    {
        var io = new IoSpace();
        var a = new RecordingPorts();
        io.Register(0x70, 2, a);
        io.Register(0x70, 4, a);
        for (int p = 0x70; p < 0x74; p++) Assert.Same(a, io.DeviceAt((ushort)p));
    }

    [Theory]
    [InlineData((ushort)0x10, 0)]
    [InlineData((ushort)0x10, -1)]
    [InlineData((ushort)0xFFFF, 2)]
    [InlineData((ushort)0x0001, 0x10000)]
    public void RangesMustBeNonEmptyAndInsideThePortSpace(ushort first, int count)
    {
        var io = new IoSpace();
        Assert.Throws<ArgumentOutOfRangeException>(() => io.Register(first, count, new RecordingPorts()));
    }

    [Fact]
    public void TheLastPortAndTheWholeSpaceCanBeClaimed()
    {
        var io = new IoSpace();
        var a = new RecordingPorts();
        io.Register(0xFFFF, 1, a);
        Assert.Same(a, io.DeviceAt(0xFFFF));
        var io2 = new IoSpace();
        io2.Register(0, 0x10000, a);
        Assert.Same(a, io2.DeviceAt(0));
        Assert.Same(a, io2.DeviceAt(0xFFFF));
    }

    [Fact]
    public void UnregisterFreesThePortsForAnotherDevice()
    {
        var io = new IoSpace();
        var a = new RecordingPorts();
        var b = new RecordingPorts();
        io.Register(0x1F0, 8, a);
        io.Unregister(0x1F0, 8);
        Assert.Null(io.DeviceAt(0x1F0));
        Assert.Equal(0xFFu, io.In(0x1F7, 1));
        io.Register(0x1F0, 8, b);
        Assert.Same(b, io.DeviceAt(0x1F7));
        io.Unregister(0xFFF0, 0x100); // clipped at the end of the space
    }
}
