using System;
using System.IO;
using System.Text;
using Emu.Devices.Storage;

namespace Emu.Devices.Tests.Storage;

public sealed class AtaDiskTests : IDisposable
{
    private const int Sectors = 2048; // 1 MiB

    private readonly TempImages tmp = new();

    public void Dispose() => tmp.Dispose();

    private (IdeHarness Ide, AtaDisk Disk, string Path) Disk(DiskImageMode mode = DiskImageMode.CopyOnWrite, int sectors = Sectors, IdeDevice? slave = null)
    {
        string p = tmp.Create("hd.img", sectors);
        var disk = new AtaDisk(tmp.Track(DiskImage.OpenHardDisk(p, mode)));
        return (new IdeHarness(disk, slave), disk, p);
    }

    private static string AtaString(byte[] id, int word, int words)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < words; i++)
        {
            sb.Append((char)id[(word + i) * 2 + 1]);
            sb.Append((char)id[(word + i) * 2]);
        }
        return sb.ToString().TrimEnd();
    }

    private static int Word(byte[] id, int w) => id[w * 2] | (id[w * 2 + 1] << 8);

    private static void AssertPattern(byte[] data, long firstSector)
    {
        for (int i = 0; i < data.Length; i++)
            Assert.True(TempImages.PatternByte(firstSector + i / 512, i % 512) == data[i], $"byte {i} of the transfer from sector {firstSector}");
    }

    [Fact]
    public void IdentifyDeviceDescribesTheDisk()
    {
        var (ide, _, _) = Disk();
        ide.Select(0);
        ide.Command(0xEC);
        Assert.True(ide.IrqLevel);
        Assert.Equal(0x58, ide.Status()); // DRDY DSC DRQ
        Assert.False(ide.IrqLevel);       // the status read acknowledged it
        byte[] id = ide.ReadData(512);
        Assert.Equal(0x50, ide.Status()); // done, no further DRQ
        Assert.Equal(0x0040, Word(id, 0));
        Assert.Equal("EMU HARDDISK", AtaString(id, 27, 20));
        Assert.Equal("EMU00000000000000001", AtaString(id, 10, 10));
        Assert.Equal(Sectors, Word(id, 60) | (Word(id, 61) << 16));
        Assert.Equal(Sectors, Word(id, 100) | (Word(id, 101) << 16));
        Assert.Equal(0, Word(id, 102) | Word(id, 103));
        Assert.NotEqual(0, Word(id, 83) & 0x0400); // 48-bit supported
        Assert.NotEqual(0, Word(id, 86) & 0x0400); // and enabled
        Assert.NotEqual(0, Word(id, 49) & 0x0200); // LBA
        Assert.Equal(0, Word(id, 49) & 0x0100);    // no DMA
        Assert.Equal(0, Word(id, 63));
        Assert.Equal(0, Word(id, 88));
        Assert.Equal(0x8010, Word(id, 47));
        Assert.Equal(0x0110, Word(id, 59));
        Assert.Equal(16, Word(id, 3));
        Assert.Equal(63, Word(id, 6));
        Assert.Equal(2, Word(id, 1)); // 2048 / (16 * 63)
        Assert.Equal(0xA5, id[510]);
        byte sum = 0;
        foreach (byte b in id) sum += b;
        Assert.Equal(0, sum);
    }

    [Fact]
    public void Lba28ReadRaisesAnInterruptPerSector()
    {
        var (ide, _, _) = Disk();
        ide.Lba28(0x20, 100, 3);
        var all = new byte[3 * 512];
        for (int s = 0; s < 3; s++)
        {
            Assert.True(ide.IrqLevel);
            Assert.Equal(s + 1, ide.IrqEdges);
            Assert.Equal(0x58, ide.Status());
            Assert.False(ide.IrqLevel);
            ide.ReadData(512).CopyTo(all, s * 512);
        }
        Assert.Equal(0x50, ide.AltStatus());
        Assert.False(ide.IrqLevel); // no interrupt after the last block of a read
        AssertPattern(all, 100);
    }

    [Fact]
    public void ACountOfZeroMeans256Sectors()
    {
        var (ide, _, _) = Disk();
        ide.Lba28(0x20, 0, 0);
        int blocks = 0;
        while ((ide.Status() & 0x08) != 0)
        {
            ide.ReadData(512);
            blocks++;
        }
        Assert.Equal(256, blocks);
    }

    [Fact]
    public void ThirtyTwoBitDataReadsMoveFourBytes()
    {
        var (ide, _, _) = Disk();
        ide.Lba28(0x20, 7, 1);
        ide.Status();
        var data = new byte[512];
        for (int i = 0; i < 512; i += 4) BitConverter.TryWriteBytes(data.AsSpan(i), ide.Data32());
        AssertPattern(data, 7);
        Assert.Equal(0x50, ide.Status());
    }

    [Fact]
    public void Lba28WriteThenReadBackInCopyOnWriteLeavesTheFileAlone()
    {
        var (ide, _, path) = Disk();
        byte[] before = File.ReadAllBytes(path);
        var data = new byte[2 * 512];
        for (int i = 0; i < data.Length; i++) data[i] = (byte)(i * 13 + 1);
        ide.Lba28(0x30, 50, 2);
        Assert.False(ide.IrqLevel); // the first block is asked for without an interrupt
        Assert.Equal(0x58, ide.AltStatus());
        ide.WriteData(data.AsSpan(0, 512));
        Assert.True(ide.IrqLevel);  // the next block
        Assert.Equal(0x58, ide.Status());
        ide.WriteData(data.AsSpan(512));
        Assert.True(ide.IrqLevel);  // completion
        Assert.Equal(0x50, ide.Status());

        ide.Lba28(0x20, 49, 4);
        var back = new byte[4 * 512];
        for (int s = 0; s < 4; s++)
        {
            ide.Status();
            ide.ReadData(512).CopyTo(back, s * 512);
        }
        AssertPattern(back.AsSpan(0, 512).ToArray(), 49);
        Assert.Equal(data, back.AsSpan(512, 1024).ToArray());
        AssertPattern(back.AsSpan(1536, 512).ToArray(), 52);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void ReadWriteModeWritesReachTheFile()
    {
        var (ide, disk, path) = Disk(DiskImageMode.ReadWrite);
        var data = new byte[512];
        Array.Fill(data, (byte)0xEE);
        ide.Lba48(0x34, 1000, 1);
        ide.WriteData(data);
        Assert.Equal(0x50, ide.Status());
        ide.Command(0xEA); // FLUSH CACHE EXT
        Assert.Equal(0x50, ide.Status());
        disk.Image.Dispose();
        byte[] file = File.ReadAllBytes(path);
        Assert.Equal(0xEE, file[1000 * 512]);
        Assert.Equal(0xEE, file[1001 * 512 - 1]);
        Assert.Equal(TempImages.PatternByte(1001, 0), file[1001 * 512]);
    }

    [Fact]
    public void ReadOnlyModeAbortsWrites()
    {
        var (ide, _, path) = Disk(DiskImageMode.ReadOnly);
        byte[] before = File.ReadAllBytes(path);
        ide.Lba28(0x30, 5, 1);
        Assert.True(ide.IrqLevel);
        Assert.Equal(0x41, ide.Status()); // DRDY ERR, no DRQ
        Assert.Equal(0x04, ide.Reg(1));   // ABRT
        ide.WriteData(new byte[512]);     // a driver that writes anyway changes nothing
        ide.Lba48(0x39, 5, 1);            // WRITE MULTIPLE EXT too
        Assert.Equal(0x04, ide.Reg(1));
        Assert.Equal(before, File.ReadAllBytes(path));
        ide.Lba28(0x20, 5, 1);            // reads still work
        Assert.Equal(0x58, ide.Status());
    }

    [Fact]
    public void Lba48UsesTheHighOrderBytes()
    {
        var (ide, _, _) = Disk();
        ide.Lba48(0x24, 2040, 0x0003);
        var all = new byte[3 * 512];
        for (int s = 0; s < 3; s++)
        {
            Assert.Equal(0x58, ide.Status());
            ide.ReadData(512).CopyTo(all, s * 512);
        }
        AssertPattern(all, 2040);
        // An address past 2^24 sectors is beyond this disk: ID not found.
        ide.Lba48(0x24, 1L << 24, 1);
        Assert.Equal(0x41, ide.Status());
        Assert.Equal(0x10, ide.Reg(1));
        // Reading past the end is refused before any data moves.
        ide.Lba48(0x24, Sectors - 1, 2);
        Assert.Equal(0x41, ide.Status());
    }

    [Fact]
    public void HobReadsThePreviousRegisterValues()
    {
        var (ide, _, _) = Disk();
        ide.Reg(3, 0x11);
        ide.Reg(3, 0x22);
        Assert.Equal(0x22, ide.Reg(3));
        ide.DeviceControl(0x80);
        Assert.Equal(0x11, ide.Reg(3));
        ide.Reg(2, 0x01); // a register write clears HOB
        Assert.Equal(0x22, ide.Reg(3));
    }

    [Fact]
    public void MultipleModeMovesBlocksPerInterrupt()
    {
        var (ide, _, _) = Disk();
        ide.Reg(2, 4);
        ide.Command(0xC6); // SET MULTIPLE MODE 4
        Assert.Equal(0x50, ide.Status());
        ide.Lba28(0xC4, 10, 10); // READ MULTIPLE: blocks of 4, 4, 2
        var all = new byte[10 * 512];
        int got = 0, interrupts = 0;
        while (ide.IrqLevel)
        {
            interrupts++;
            Assert.Equal(0x58, ide.Status());
            int block = Math.Min(4, 10 - got / 512) * 512;
            ide.ReadData(block).CopyTo(all, got);
            got += block;
        }
        Assert.Equal(3, interrupts);
        Assert.Equal(10 * 512, got);
        Assert.Equal(0x50, ide.Status());
        AssertPattern(all, 10);

        var data = new byte[6 * 512];
        new Random(1).NextBytes(data);
        ide.Lba48(0x39, 300, 6); // WRITE MULTIPLE EXT: blocks of 4 and 2
        ide.WriteData(data.AsSpan(0, 4 * 512));
        Assert.Equal(0x58, ide.Status());
        ide.WriteData(data.AsSpan(4 * 512));
        Assert.Equal(0x50, ide.Status());
        ide.Lba28(0xC4, 300, 6);
        ide.Status();
        byte[] back = ide.ReadData(4 * 512);
        ide.Status();
        Assert.Equal(data, Combine(back, ide.ReadData(2 * 512)));
    }

    private static byte[] Combine(byte[] a, byte[] b)
    {
        var r = new byte[a.Length + b.Length];
        a.CopyTo(r, 0);
        b.CopyTo(r, a.Length);
        return r;
    }

    [Fact]
    public void SetMultipleRejectsBadCountsAndMultipleCommandsNeedIt()
    {
        var (ide, _, _) = Disk();
        ide.Reg(2, 3);
        ide.Command(0xC6);
        Assert.Equal(0x41, ide.Status());
        ide.Reg(2, 0);
        ide.Command(0xC6); // multiple mode off
        Assert.Equal(0x50, ide.Status());
        ide.Lba28(0xC4, 0, 1);
        Assert.Equal(0x41, ide.Status());
        Assert.Equal(0x04, ide.Reg(1));
    }

    [Fact]
    public void ChsAddressingUsesTheIdentifyGeometry()
    {
        var (ide, disk, _) = Disk(sectors: 16 * 63 * 3);
        Assert.Equal((3, 16, 63), disk.DefaultChs);
        // Cylinder 1, head 2, sector 5: LBA (1 * 16 + 2) * 63 + 4.
        ide.Reg(6, 0xA0 | 2);
        ide.Reg(2, 1);
        ide.Reg(3, 5);
        ide.Reg(4, 1);
        ide.Reg(5, 0);
        ide.Command(0x20);
        Assert.Equal(0x58, ide.Status());
        AssertPattern(ide.ReadData(512), 18 * 63 + 4);
        // Sector 0 does not exist in CHS.
        ide.Reg(3, 0);
        ide.Command(0x20);
        Assert.Equal(0x41, ide.Status());
        Assert.Equal(0x10, ide.Reg(1));
        // INITIALIZE DEVICE PARAMETERS changes the translation: 4 heads, 32 sectors.
        ide.Reg(6, 0xA0 | 3);
        ide.Reg(2, 32);
        ide.Command(0x91);
        Assert.Equal(0x50, ide.Status());
        ide.Reg(6, 0xA0 | 1);
        ide.Reg(2, 1);
        ide.Reg(3, 1);
        ide.Reg(4, 2);
        ide.Command(0x20);
        ide.Status();
        AssertPattern(ide.ReadData(512), (2 * 4 + 1) * 32);
    }

    [Fact]
    public void UnsupportedCommandsAbort()
    {
        var (ide, _, _) = Disk();
        foreach (int c in new[] { 0xC8, 0xCA, 0x25, 0x35, 0xA0, 0xA1, 0x08, 0x00, 0xB0, 0xFF })
        {
            ide.Select(0);
            ide.Command(c);
            Assert.True(ide.IrqLevel, $"command {c:X2} completes with an interrupt");
            Assert.Equal(0x41, ide.Status());
            Assert.Equal(0x04, ide.Reg(1));
        }
    }

    [Fact]
    public void NonDataCommandsComplete()
    {
        var (ide, _, _) = Disk();
        foreach (int c in new[] { 0x10, 0x40, 0xE7, 0xEA, 0xE0, 0xE1, 0xE2, 0xE3, 0x70 })
        {
            ide.Lba28(c, 0, 1);
            Assert.True(ide.IrqLevel);
            Assert.Equal(0x50, ide.Status());
        }
        ide.Reg(1, 0x03);
        ide.Reg(2, 0x0C); // PIO mode 4
        ide.Command(0xEF);
        Assert.Equal(0x50, ide.Status());
        ide.Reg(1, 0x03);
        ide.Reg(2, 0x42); // UDMA 2: not offered
        ide.Command(0xEF);
        Assert.Equal(0x41, ide.Status());
        ide.Command(0xE5);
        Assert.Equal(0x50, ide.Status());
        Assert.Equal(0xFF, ide.Reg(2)); // active/idle
    }

    [Fact]
    public void ReadNativeMaxAddressGivesTheLastSector()
    {
        var (ide, _, _) = Disk();
        ide.Select(0, 0xE0);
        ide.Command(0xF8);
        Assert.Equal(0x50, ide.Status());
        Assert.Equal(Sectors - 1, ide.Reg(3) | (ide.Reg(4) << 8) | (ide.Reg(5) << 16) | ((ide.Reg(6) & 0xF) << 24));
        ide.Command(0x27);
        ide.DeviceControl(0x80);
        Assert.Equal(0, ide.Reg(3) | ide.Reg(4) | ide.Reg(5));
        ide.DeviceControl(0x00);
        Assert.Equal(Sectors - 1, ide.Reg(3) | (ide.Reg(4) << 8));
    }

    [Fact]
    public void NienMasksTheInterruptUntilCleared()
    {
        var (ide, _, _) = Disk();
        ide.DeviceControl(0x02);
        ide.Lba28(0x20, 0, 1);
        Assert.False(ide.IrqLevel);
        Assert.Equal(0x58, ide.AltStatus());
        ide.DeviceControl(0x00); // the pending interrupt now reaches the line
        Assert.True(ide.IrqLevel);
        ide.AltStatus();
        Assert.True(ide.IrqLevel); // the alternate status does not acknowledge
        ide.Status();
        Assert.False(ide.IrqLevel);
    }

    [Fact]
    public void WritingACommandClearsAPendingInterrupt()
    {
        var (ide, _, _) = Disk();
        ide.Command(0xE7);
        Assert.True(ide.IrqLevel);
        ide.DeviceControl(0x02);
        ide.Command(0xE7);
        ide.DeviceControl(0x00);
        Assert.True(ide.IrqLevel); // the second command's own interrupt
        Assert.Equal(2, ide.IrqEdges);
    }

    [Fact]
    public void SoftResetLeavesTheSignatures()
    {
        string iso = tmp.Create("cd.iso", 4, 2048);
        var cd = new AtapiCdrom(tmp.Track(DiskImage.OpenCdrom(iso)));
        var (ide, _, _) = Disk(slave: cd);
        ide.Select(1);
        ide.Reg(2, 0x55);
        ide.Lba28(0x20, 1, 1); // leave the master in the middle of a read
        ide.DeviceControl(0x04 | 0x02);
        Assert.Equal(0x80, ide.AltStatus()); // busy while SRST is held
        ide.DeviceControl(0x02);
        Assert.Equal(0x00, ide.Reg(6) & 0x10); // device 0 selected
        Assert.Equal(0x50, ide.Status());
        Assert.Equal(0x01, ide.Reg(1));
        Assert.Equal(0x01, ide.Reg(2));
        Assert.Equal(0x01, ide.Reg(3));
        Assert.Equal(0x00, ide.Reg(4));
        Assert.Equal(0x00, ide.Reg(5));
        ide.Select(1);
        Assert.Equal(0x00, ide.Status()); // a PACKET device: DRDY clear after reset
        Assert.Equal(0x01, ide.Reg(1));
        Assert.Equal(0x01, ide.Reg(2));
        Assert.Equal(0x01, ide.Reg(3));
        Assert.Equal(0x14, ide.Reg(4));
        Assert.Equal(0xEB, ide.Reg(5));
    }

    [Fact]
    public void ExecuteDeviceDiagnosticReportsThroughDevice0()
    {
        var (ide, _, _) = Disk();
        ide.Reg(4, 0x33);
        ide.Select(1);
        ide.Command(0x90);
        Assert.True(ide.IrqLevel);
        Assert.Equal(0x50, ide.Status());
        Assert.Equal(0x01, ide.Reg(1));
        Assert.Equal(0x00, ide.Reg(4));
    }

    [Fact]
    public void AnAbsentSlaveLooksAbsentToLibataAndSeaBios()
    {
        var (ide, _, _) = Disk();
        ide.Select(1, 0xA0);
        Assert.Equal(0xB0, ide.Reg(6)); // the device register reads back (SeaBIOS checks it)
        Assert.Equal(0x00, ide.Status());
        Assert.Equal(0x00, ide.AltStatus());
        // libata's ata_devchk: the pattern does not stick.
        ide.Reg(2, 0x55);
        ide.Reg(3, 0xAA);
        Assert.NotEqual(0x55, ide.Reg(2));
        Assert.NotEqual(0xAA, ide.Reg(3));
        ide.Command(0xEC); // nobody answers
        Assert.False(ide.IrqLevel);
        Assert.Equal(0x00, ide.Status());
        // The master still holds the pattern written while the slave was selected.
        ide.Select(0, 0xA0);
        Assert.Equal(0x55, ide.Reg(2));
        Assert.Equal(0xAA, ide.Reg(3));
    }

    [Fact]
    public void AChannelWithoutDevicesFloats()
    {
        var ide = new IdeHarness(null, null, primary: false);
        Assert.Equal(0xFF, ide.Status());
        Assert.Equal(0xFF, ide.AltStatus());
        ide.Reg(2, 0x55);
        Assert.Equal(0xFF, ide.Reg(2));
        Assert.Equal(0xFF, ide.Reg(6));
        Assert.Equal(0xFFFF, ide.Data16());
        ide.Command(0xEC);
        Assert.False(ide.IrqLevel);
    }

    [Fact]
    public void TheSlaveAnswersWhenSelected()
    {
        string p2 = tmp.Create("hdb.img", 64);
        var slave = new AtaDisk(tmp.Track(DiskImage.OpenHardDisk(p2)), serial: "SLAVE");
        var (ide, _, _) = Disk(slave: slave);
        ide.Lba28(0xEC, 0, 0, device: 1);
        ide.Status();
        byte[] id = ide.ReadData(512);
        Assert.Equal("SLAVE", AtaString(id, 10, 10));
        Assert.Equal(64, Word(id, 60));
        // The interrupt follows the selected device: a pending one on the slave is hidden while the master is selected.
        ide.Lba28(0xE7, 0, 0, device: 1);
        Assert.True(ide.IrqLevel);
        ide.Select(0);
        Assert.False(ide.IrqLevel);
        ide.Select(1);
        Assert.True(ide.IrqLevel);
    }

    [Fact]
    public void DataPortReadsWithoutDrqAreHarmless()
    {
        var (ide, _, _) = Disk();
        Assert.Equal(0xFFFF, ide.Data16());
        ide.Data16(0x1234);
        Assert.Equal(0x50, ide.Status());
    }

    /// <summary>libata's ata_devchk: does a pattern written to the task file stick?</summary>
    private static bool DevChk(IdeHarness ide, int device)
    {
        ide.Select(device, 0xA0);
        ide.Reg(2, 0x55); ide.Reg(3, 0xAA);
        ide.Reg(2, 0xAA); ide.Reg(3, 0x55);
        ide.Reg(2, 0x55); ide.Reg(3, 0xAA);
        return ide.Reg(2) == 0x55 && ide.Reg(3) == 0xAA;
    }

    /// <summary>libata's ata_sff_dev_classify after SRST: the error register, the signature, a zero status.</summary>
    private static string Classify(IdeHarness ide, int device, bool present)
    {
        ide.Select(device, 0xA0);
        byte err = ide.Reg(1);
        bool diagFailed = err == 0;
        if (err != 0 && err != 1 && !(device == 0 && err == 0x81)) return "none";
        int sig = ide.Reg(4) | (ide.Reg(5) << 8);
        if (sig == 0xEB14) return "atapi";
        if (sig == 0x0000) return ide.Status() == 0 ? "none" : "ata";
        return present && diagFailed ? "ata" : "none";
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void LibatasProbeFindsExactlyTheDevicesThere(bool withMaster, bool withCdSlave)
    {
        string p = tmp.Create("probe.img", 64);
        AtaDisk? master = withMaster ? new AtaDisk(tmp.Track(DiskImage.OpenHardDisk(p))) : null;
        AtapiCdrom? cd = withCdSlave ? new AtapiCdrom(null) : null;
        var ide = new IdeHarness(master, cd);
        bool p0 = DevChk(ide, 0), p1 = DevChk(ide, 1);
        ide.Select(0, 0xA0);
        ide.DeviceControl(0x02);
        ide.DeviceControl(0x06);
        ide.DeviceControl(0x02);
        Assert.Equal(withMaster, p0);
        Assert.Equal(withCdSlave, p1);
        Assert.Equal(withMaster ? "ata" : "none", Classify(ide, 0, p0));
        Assert.Equal(withCdSlave ? "atapi" : "none", Classify(ide, 1, p1));
    }
}
