using System;
using Emu.Devices.Pci;
using Emu.Devices.Storage;
using Emu.Memory;

namespace Emu.Devices.Tests.Storage;

public sealed class Piix3IdeTests : IDisposable
{
    private readonly TempImages tmp = new();
    private readonly IoSpace io = new();
    private readonly IrqRecorder irq = new();
    private readonly PciBus bus = new(() => { });
    private readonly IdeChannel primary;
    private readonly Piix3Ide ide;

    public Piix3IdeTests()
    {
        var disk = new AtaDisk(tmp.Track(DiskImage.OpenHardDisk(tmp.Create("hd.img", 64))));
        primary = IdeChannel.Primary(irq, disk, null);
        primary.Attach(io);
        IdeChannel secondary = IdeChannel.Secondary(irq, null, null);
        secondary.Attach(io);
        ide = new Piix3Ide(primary, secondary, io);
        bus.Attach(io);
        bus.Add(Piix3Ide.PciDevice, Piix3Ide.PciFunctionNumber, ide);
    }

    public void Dispose() => tmp.Dispose();

    private uint Cfg(int offset, int size)
    {
        io.Out(0xCF8, 4, 0x8000_0000u | (1u << 11) | (1u << 8) | (uint)(offset & 0xFC));
        return io.In((ushort)(0xCFC + (offset & 3)), size);
    }

    private void Cfg(int offset, int size, uint value)
    {
        io.Out(0xCF8, 4, 0x8000_0000u | (1u << 11) | (1u << 8) | (uint)(offset & 0xFC));
        io.Out((ushort)(0xCFC + (offset & 3)), size, value);
    }

    [Fact]
    public void IdentifiesAsThePiix3IdeInLegacyMode()
    {
        Assert.Equal(0x7010_8086u, Cfg(0, 4));
        Assert.Equal(0x0101_8000u, Cfg(8, 4) & 0xFFFF_FF00);
        Assert.Equal(0x00u, Cfg(0x0E, 1));
        Assert.Equal(0u, Cfg(0x10, 4)); // no BAR0-3: the channels are at their legacy ports
    }

    [Fact]
    public void TimingRegistersKeepWhatIsWritten()
    {
        Assert.Equal(0u, Cfg(0x40, 2));
        Cfg(0x40, 2, 0xA307);
        Cfg(0x42, 2, 0x8000);
        Cfg(0x44, 1, 0x5A);
        Assert.Equal(0xA307u & 0xF3FF, Cfg(0x40, 2));
        Assert.Equal(0x8000u, Cfg(0x42, 2));
        Assert.Equal(0x5Au, Cfg(0x44, 1));
        ide.Reset();
        ide.EnableChannelsAsFirmwareWould();
        Assert.Equal(0x8000_8000u, Cfg(0x40, 4));
    }

    [Fact]
    public void Bar4IsA16ByteIoBlockMappedWhenEnabled()
    {
        Cfg(0x20, 4, 0xFFFF_FFFF);
        Assert.Equal(0xFFFF_FFF1u, Cfg(0x20, 4));
        Cfg(0x20, 4, 0xC000);
        Assert.Equal(0xC001u, Cfg(0x20, 4));
        Assert.Equal(0, ide.BusMasterBase); // I/O space still disabled
        Cfg(0x04, 2, 0x0005);
        Assert.Equal(0xC000, ide.BusMasterBase);
        Assert.Same(ide, io.DeviceAt(0xC000));
        Assert.Same(ide, io.DeviceAt(0xC00F));
        Cfg(0x20, 4, 0xD000); // moved
        Assert.Null(io.DeviceAt(0xC000));
        Assert.Same(ide, io.DeviceAt(0xD008));
        Cfg(0x20, 4, 0x1F0); // onto the primary channel's ports: refused, nothing breaks
        Assert.Equal(0, ide.BusMasterBase);
        Assert.IsType<IdeChannel>(io.DeviceAt(0x1F0));
    }

    [Theory]
    [InlineData(0xFFFF_FFF0u)]
    [InlineData(0x0001_FFF0u)]
    [InlineData(0x1_0000u)]
    public void ABar4PastThe64KiBIoSpaceDecodesNothing(uint bar)
    {
        // The BAR holds all 32 bits, but I/O space ends at FFFFh: the block is not mapped
        // (0xFFFF_FFF0 + 16 wrapped to 0 in 32 bits and once put it at FFF0h).
        Cfg(0x04, 2, 0x0005);
        Cfg(0x20, 4, bar);
        Assert.Equal(bar | 1, Cfg(0x20, 4));
        Assert.Equal(0, ide.BusMasterBase);
        Assert.Null(io.DeviceAt((ushort)bar));
        Cfg(0x20, 4, 0xFFF0); // the last 16 ports are still a place for it
        Assert.Equal(0xFFF0, ide.BusMasterBase);
    }

    [Fact]
    public void BusMasterRegistersAndTheInterruptBit()
    {
        Cfg(0x20, 4, 0xC000);
        Cfg(0x04, 2, 0x0005);
        io.Out(0xC004, 4, 0x0012_3457);
        Assert.Equal(0x0012_3454u, io.In(0xC004, 4));
        io.Out(0xC002, 1, 0x60); // drive DMA capable bits are plain storage
        Assert.Equal(0x60u, io.In(0xC002, 1));
        // A drive interrupt sets the primary channel's interrupt bit; writing 1 clears it.
        io.Out(0x1F6, 1, 0xE0);
        io.Out(0x1F7, 1, 0xE7);
        Assert.True(irq.Level[14]);
        Assert.Equal(0x64u, io.In(0xC002, 1));
        Assert.Equal(0u, io.In(0xC00A, 1) & 0x04); // not the secondary's
        io.Out(0xC002, 1, 0x04 | 0x60);
        Assert.Equal(0x60u, io.In(0xC002, 1));
        io.Out(0xC000, 1, 0x09);
        Assert.Equal(0x09u, io.In(0xC000, 1));
        Assert.Equal(0x61u, io.In(0xC002, 1)); // started, waiting for a DMA request that never comes
        io.Out(0xC000, 1, 0x00);
        Assert.Equal(0x60u, io.In(0xC002, 1));
    }
}
