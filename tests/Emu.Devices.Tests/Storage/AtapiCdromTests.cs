using System;
using System.Text;
using Emu.Devices.Storage;

namespace Emu.Devices.Tests.Storage;

public sealed class AtapiCdromTests : IDisposable
{
    private const int IsoSectors = 40;

    private readonly TempImages tmp = new();

    public void Dispose() => tmp.Dispose();

    /// <summary>A CD-ROM as the secondary master, the usual QEMU/PC layout.</summary>
    private (IdeHarness Ide, AtapiCdrom Cd) Cd(bool withMedium = true)
    {
        DiskImage? iso = withMedium ? tmp.Track(DiskImage.OpenCdrom(tmp.Create("cd.iso", IsoSectors, 2048))) : null;
        var cd = new AtapiCdrom(iso);
        return (new IdeHarness(cd, null, primary: false), cd);
    }

    private static void AssertIsoPattern(byte[] data, long firstSector)
    {
        for (int i = 0; i < data.Length; i++)
            Assert.True(TempImages.PatternByte(firstSector + i / 2048, i % 2048) == data[i], $"byte {i} of the read from sector {firstSector}");
    }

    private static byte[] Read10(long lba, int count) =>
        new byte[] { 0x28, 0, (byte)(lba >> 24), (byte)(lba >> 16), (byte)(lba >> 8), (byte)lba, 0, (byte)(count >> 8), (byte)count, 0, 0, 0 };

    private static (int Key, int Asc, int Ascq) Sense(IdeHarness ide)
    {
        byte st = ide.Packet(new byte[] { 0x03, 0, 0, 0, 18, 0 }, 18);
        Assert.Equal(0x08, st & 0x08);
        var (data, _) = ide.ReadPacketData();
        Assert.Equal(18, data.Length);
        Assert.Equal(0x70, data[0]);
        return (data[2] & 0x0F, data[12], data[13]);
    }

    [Fact]
    public void IdentifyPacketDeviceDescribesACdRom()
    {
        var (ide, _) = Cd();
        ide.Select(0, 0xA0);
        ide.Command(0xA1);
        Assert.True(ide.IrqLevel);
        Assert.Equal(0x08, ide.Status() & 0x89);
        byte[] id = ide.ReadData(512);
        int w0 = id[0] | (id[1] << 8);
        Assert.Equal(2, w0 >> 14);          // ATAPI
        Assert.Equal(5, (w0 >> 8) & 0x1F);  // CD-ROM
        Assert.Equal(0x80, w0 & 0x80);      // removable
        Assert.Equal(0, w0 & 3);            // 12-byte packets
        Assert.Equal(0, id[49 * 2 + 1] & 0x01); // no DMA
        Assert.Equal(0, ide.Status() & 0x89);
    }

    [Fact]
    public void IdentifyDeviceAbortsWithThePacketSignature()
    {
        var (ide, _) = Cd();
        ide.Reg(4, 0);
        ide.Reg(5, 0);
        ide.Command(0xEC);
        Assert.True(ide.IrqLevel);
        Assert.Equal(0x01, ide.Status() & 0x01);
        Assert.Equal(0x04, ide.Reg(1));
        Assert.Equal(0x14, ide.Reg(4));
        Assert.Equal(0xEB, ide.Reg(5));
    }

    [Fact]
    public void InquiryThroughPacket()
    {
        var (ide, _) = Cd();
        byte st = ide.Packet(new byte[] { 0x12, 0, 0, 0, 36, 0 }, 0x200);
        Assert.Equal(0x08, st & 0x88);
        Assert.True(ide.IrqLevel);       // data ready
        Assert.Equal(2, ide.Reg(2) & 3); // IO=1, CoD=0
        var (data, blocks) = ide.ReadPacketData();
        Assert.Equal(new[] { 36 }, blocks);
        Assert.Equal(0x05, data[0]);
        Assert.Equal(0x80, data[1]);
        Assert.Equal("EMU", Encoding.ASCII.GetString(data, 8, 8).TrimEnd());
        Assert.StartsWith("EMU DVD-ROM", Encoding.ASCII.GetString(data, 16, 16));
        // Completion: an interrupt, IO=1 CoD=1, no DRQ, no error.
        Assert.True(ide.IrqLevel);
        Assert.Equal(3, ide.Reg(2) & 3);
        Assert.Equal(0, ide.Status() & 0x89);
        Assert.False(ide.IrqLevel);
    }

    [Fact]
    public void TheAllocationLengthCutsTheReply()
    {
        var (ide, _) = Cd();
        ide.Packet(new byte[] { 0x12, 0, 0, 0, 5, 0 }, 0x200);
        var (data, _) = ide.ReadPacketData();
        Assert.Equal(5, data.Length);
        Assert.Equal(0x05, data[0]);
    }

    [Fact]
    public void ReadCapacityGivesTheLastBlockAndItsSize()
    {
        var (ide, _) = Cd();
        ide.Packet(new byte[] { 0x25 }, 8);
        var (data, _) = ide.ReadPacketData();
        Assert.Equal(new byte[] { 0, 0, 0, IsoSectors - 1, 0, 0, 0x08, 0 }, data);
    }

    [Fact]
    public void Read10SplitsTheDataAtTheByteCountLimit()
    {
        var (ide, _) = Cd();
        int edgesBefore = ide.IrqEdges;
        ide.Packet(Read10(5, 3), 2048); // SeaBIOS asks one sector per DRQ
        var (data, blocks) = ide.ReadPacketData();
        Assert.Equal(new[] { 2048, 2048, 2048 }, blocks);
        Assert.Equal(edgesBefore + 4, ide.IrqEdges); // three data blocks and the completion
        AssertIsoPattern(data, 5);
        Assert.Equal(0x00, ide.Status() & 0x89);
    }

    [Fact]
    public void Read10InOneBlockWhenTheLimitAllows()
    {
        var (ide, _) = Cd();
        ide.Packet(Read10(30, 10), 0xFFFF);
        var (data, blocks) = ide.ReadPacketData();
        Assert.Equal(new[] { 10 * 2048 }, blocks);
        AssertIsoPattern(data, 30);
    }

    [Fact]
    public void ASmallLimitCutsInsideSectors()
    {
        var (ide, _) = Cd();
        ide.Packet(Read10(1, 2), 1000);
        var (data, blocks) = ide.ReadPacketData();
        Assert.Equal(new[] { 1000, 1000, 1000, 1000, 96 }, blocks);
        AssertIsoPattern(data, 1);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void AnOddLimitStillMovesData(int limit)
    {
        // Blocks that are not the last have an even length (a limit of 3 gives 2 bytes); a limit
        // of 1 gives the smallest even block, 2 bytes, not empty blocks that never finish the read.
        var (ide, _) = Cd();
        ide.Packet(Read10(1, 1), limit);
        var (data, blocks) = ide.ReadPacketData();
        Assert.Equal(2048, data.Length);
        Assert.All(blocks, n => Assert.Equal(2, n));
        AssertIsoPattern(data, 1);
        Assert.Equal(0, ide.AltStatus() & 0x09); // done: neither DRQ nor ERR
    }

    [Fact]
    public void Read12AndTheEndOfTheDisc()
    {
        var (ide, _) = Cd();
        ide.Packet(new byte[] { 0xA8, 0, 0, 0, 0, IsoSectors - 2, 0, 0, 0, 2, 0, 0 }, 0xF800);
        var (data, _) = ide.ReadPacketData();
        AssertIsoPattern(data, IsoSectors - 2);
        ide.Packet(Read10(IsoSectors - 1, 2), 0xF800);
        Assert.True(ide.IrqLevel);
        byte st = ide.Status();
        Assert.Equal(0x01, st & 0x09); // CHECK CONDITION, no data
        Assert.Equal(0x50, ide.Reg(1)); // ILLEGAL REQUEST in the error register's high nibble
        Assert.Equal((5, 0x21, 0), Sense(ide)); // LBA out of range
    }

    [Fact]
    public void AnUnknownCommandIsAnIllegalRequest()
    {
        var (ide, _) = Cd();
        ide.Packet(new byte[] { 0xFF }, 0x100);
        Assert.Equal(0x01, ide.Status() & 0x01);
        Assert.Equal((5, 0x20, 0), Sense(ide));
        Assert.Equal((0, 0, 0), Sense(ide)); // sense is consumed
    }

    [Fact]
    public void AnEmptyDriveIsNotReady()
    {
        var (ide, _) = Cd(withMedium: false);
        ide.Packet(new byte[12], 0); // TEST UNIT READY
        Assert.Equal(0x01, ide.Status() & 0x01);
        Assert.Equal((2, 0x3A, 0), Sense(ide));
        ide.Packet(new byte[] { 0x25 }, 8);
        Assert.Equal(0x01, ide.Status() & 0x01);
    }

    [Fact]
    public void InsertingADiscRaisesAUnitAttention()
    {
        var (ide, cd) = Cd(withMedium: false);
        cd.InsertMedium(tmp.Track(DiskImage.OpenCdrom(tmp.Create("other.iso", 3, 2048))));
        ide.Packet(new byte[12], 0);
        Assert.Equal(0x01, ide.Status() & 0x01);
        Assert.Equal(0x60, ide.Reg(1));
        Assert.Equal((6, 0x28, 0), Sense(ide));
        ide.Packet(new byte[12], 0);
        Assert.Equal(0x00, ide.Status() & 0x01);
        // The media event is reported once.
        ide.Packet(new byte[] { 0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8, 0 }, 8);
        var (ev, _) = ide.ReadPacketData();
        Assert.Equal(2, ev[4]); // new media
        Assert.Equal(2, ev[5]); // present
        ide.Packet(new byte[] { 0x4A, 1, 0, 0, 0x10, 0, 0, 0, 8, 0 }, 8);
        (ev, _) = ide.ReadPacketData();
        Assert.Equal(0, ev[4]);
    }

    [Fact]
    public void ReadTocFormat0ForBootAndLinux()
    {
        var (ide, _) = Cd();
        ide.Packet(new byte[] { 0x43, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0 }, 0x20);
        var (toc, _) = ide.ReadPacketData();
        Assert.Equal(20, toc.Length);
        Assert.Equal(18, (toc[0] << 8) | toc[1]);
        Assert.Equal(1, toc[2]);
        Assert.Equal(1, toc[3]);
        Assert.Equal(0x14, toc[5]);
        Assert.Equal(1, toc[6]);
        Assert.Equal(0xAA, toc[14]);
        Assert.Equal(IsoSectors, toc[19]);
        // MSF: track 1 at 00:02:00.
        ide.Packet(new byte[] { 0x43, 2, 0, 0, 0, 0, 0, 0, 0x0C, 0, 0, 0 }, 0x20);
        (toc, _) = ide.ReadPacketData();
        Assert.Equal(new byte[] { 0, 2, 0 }, toc.AsSpan(9, 3).ToArray());
        // Format 1: session information.
        ide.Packet(new byte[] { 0x43, 0, 1, 0, 0, 0, 0, 0, 0x0C, 0, 0, 0 }, 0x20);
        (toc, _) = ide.ReadPacketData();
        Assert.Equal(12, toc.Length);
        Assert.Equal(1, toc[6]);
    }

    [Fact]
    public void ModeSenseCapabilitiesAndLocking()
    {
        var (ide, cd) = Cd();
        ide.Packet(new byte[] { 0x1E, 0, 0, 0, 1, 0 }, 0); // PREVENT MEDIUM REMOVAL
        Assert.Equal(0, ide.Status() & 0x01);
        Assert.True(cd.Locked);
        ide.Packet(new byte[] { 0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 0x40, 0 }, 0x40);
        var (page, _) = ide.ReadPacketData();
        Assert.Equal(28, page.Length);
        Assert.Equal(0x2A, page[8]);
        Assert.Equal(0x02, page[8 + 6] & 0x02); // locked
        ide.Packet(new byte[] { 0x1B, 0, 0, 0, 0x02, 0 }, 0); // eject: refused while locked
        Assert.Equal(0x01, ide.Status() & 0x01);
        Assert.NotNull(cd.Medium);
        ide.Packet(new byte[] { 0x5A, 0, 0x05, 0, 0, 0, 0, 0, 0x40, 0 }, 0x40); // a page it lacks
        Assert.Equal(0x01, ide.Status() & 0x01);
    }

    [Fact]
    public void GetConfigurationReportsTheCdRomProfile()
    {
        var (ide, _) = Cd();
        ide.Packet(new byte[] { 0x46, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0 }, 0x40);
        var (cfg, _) = ide.ReadPacketData();
        Assert.Equal(0x0008, (cfg[6] << 8) | cfg[7]);
        Assert.Equal(cfg.Length - 4, (cfg[2] << 8) | cfg[3]);
    }

    [Fact]
    public void ThePacketIsNotTakenWithDma()
    {
        var (ide, _) = Cd();
        ide.Reg(1, 1);
        ide.Command(0xA0);
        Assert.Equal(0x01, ide.Status() & 0x09);
        Assert.Equal(0x04, ide.Reg(1));
    }

    [Fact]
    public void DeviceResetRestoresTheSignatureWithoutAnInterrupt()
    {
        var (ide, _) = Cd();
        ide.Packet(Read10(0, 2), 2048);
        ide.Status();
        ide.Command(0x08);
        Assert.False(ide.IrqLevel);
        Assert.Equal(0x00, ide.Status());
        Assert.Equal(0x14, ide.Reg(4));
        Assert.Equal(0xEB, ide.Reg(5));
        Assert.Equal(0xFFFF, ide.Data16()); // the read in progress is gone
    }
}
