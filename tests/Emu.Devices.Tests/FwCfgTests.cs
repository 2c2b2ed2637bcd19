using System;
using System.Buffers.Binary;
using System.Text;
using Emu.Devices.Firmware;
using Emu.Memory;

namespace Emu.Devices.Tests;

public sealed unsafe class FwCfgTests : IDisposable
{
    private readonly PhysicalMemory memory = new(0x20_0000);
    private readonly IoSpace io = new();
    private readonly FwCfg cfg;

    public FwCfgTests()
    {
        cfg = new FwCfg(memory);
        cfg.Attach(io);
    }

    public void Dispose() => memory.Dispose();

    private byte[] ReadItem(ushort key, int length)
    {
        io.Out(FwCfg.SelectorPort, 2, key);
        var b = new byte[length];
        for (int i = 0; i < length; i++) b[i] = (byte)io.In(FwCfg.DataPort, 1);
        return b;
    }

    /// <summary>Puts an FWCfgDmaAccess at <paramref name="at"/> and starts it as SeaBIOS does (one 32-bit OUT of the big-endian low half).</summary>
    private uint Dma(uint at, uint control, uint length, ulong address)
    {
        Span<byte> d = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(d, control);
        BinaryPrimitives.WriteUInt32BigEndian(d[4..], length);
        BinaryPrimitives.WriteUInt64BigEndian(d[8..], address);
        memory.WriteBytes(at, d);
        io.Out(FwCfg.DmaLowPort, 4, BinaryPrimitives.ReverseEndianness(at));
        return BinaryPrimitives.ReadUInt32BigEndian(new ReadOnlySpan<byte>(memory.Ram + at, 4));
    }

    [Fact]
    public void SignatureAndIdThroughTheDataPort()
    {
        Assert.Equal("QEMU", Encoding.ASCII.GetString(ReadItem(FwCfg.Signature, 4)));
        Assert.Equal(FwCfg.FeatureTraditional | FwCfg.FeatureDma, BinaryPrimitives.ReadUInt32LittleEndian(ReadItem(FwCfg.Id, 4)));
        Assert.Equal(0x20_0000ul, BinaryPrimitives.ReadUInt64LittleEndian(ReadItem(FwCfg.RamSize, 8)));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(ReadItem(FwCfg.MaxCpus, 2)));
    }

    [Fact]
    public void ReadsPastTheEndAndAbsentItemsGiveZeros()
    {
        Assert.Equal(new byte[] { (byte)'Q', (byte)'E', (byte)'M', (byte)'U', 0, 0 }, ReadItem(FwCfg.Signature, 6));
        Assert.Equal(new byte[4], ReadItem(FwCfg.AcpiTables, 4)); // SeaBIOS reads a count of 0
        Assert.Equal(new byte[2], ReadItem(0x1234, 2));
    }

    [Fact]
    public void SelectingAgainRestartsTheItem()
    {
        ReadItem(FwCfg.Signature, 2);
        Assert.Equal((byte)'Q', ReadItem(FwCfg.Signature, 1)[0]);
    }

    [Fact]
    public void FileDirectoryListsFilesBigEndian()
    {
        byte[] e820 = FwCfg.E820((0, 0x20_0000, 1));
        ushort k1 = cfg.AddFile("etc/e820", e820);
        ushort k2 = cfg.AddFile("bootorder", Encoding.ASCII.GetBytes("/pci@i0cf8/ide@1,1/drive@0/disk@0\n"));
        Assert.Equal(FwCfg.FileFirst, k1);
        byte[] count = ReadItem(FwCfg.FileDir, 4);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32BigEndian(count));
        byte[] dir = ReadItem(FwCfg.FileDir, 4 + 128);
        ReadOnlySpan<byte> first = dir.AsSpan(4, 64), second = dir.AsSpan(68, 64);
        Assert.Equal((uint)e820.Length, BinaryPrimitives.ReadUInt32BigEndian(first));
        Assert.Equal(k1, BinaryPrimitives.ReadUInt16BigEndian(first[4..]));
        Assert.Equal("etc/e820", Encoding.ASCII.GetString(first.Slice(8, 8)));
        Assert.Equal(0, first[16]); // zero-terminated
        Assert.Equal(k2, BinaryPrimitives.ReadUInt16BigEndian(second[4..]));
        Assert.Equal("bootorder", Encoding.ASCII.GetString(second.Slice(8, 9)));

        // The content through its key.
        byte[] back = ReadItem(k1, 20);
        Assert.Equal(e820, back);
        Assert.Equal(0x20_0000ul, BinaryPrimitives.ReadUInt64LittleEndian(back.AsSpan(8)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(back.AsSpan(16)));
    }

    [Fact]
    public void ReplacingAFileKeepsItsKey()
    {
        ushort k = cfg.AddFile("etc/boot-fail-wait", FwCfg.Le32(1000));
        Assert.Equal(k, cfg.AddFile("etc/boot-fail-wait", FwCfg.Le32(5)));
        Assert.Equal(5u, BinaryPrimitives.ReadUInt32LittleEndian(ReadItem(k, 4)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(ReadItem(FwCfg.FileDir, 4)));
    }

    [Fact]
    public void RejectsBadFileNames()
    {
        Assert.Throws<ArgumentException>(() => cfg.AddFile("", new byte[1]));
        Assert.Throws<ArgumentException>(() => cfg.AddFile(new string('x', 56), new byte[1]));
    }

    [Fact]
    public void DmaReadWithSelectCopiesIntoGuestMemory()
    {
        byte[] rom = new byte[0x1800];
        for (int i = 0; i < rom.Length; i++) rom[i] = (byte)(i * 13);
        ushort key = cfg.AddFile("genroms/test.bin", rom);
        uint control = ((uint)key << 16) | FwCfg.DmaSelect | FwCfg.DmaRead;
        Assert.Equal(0u, Dma(0x1000, control, (uint)rom.Length, 0x8_0000));
        Assert.Equal(rom, new ReadOnlySpan<byte>(memory.Ram + 0x8_0000, rom.Length).ToArray());
        // A read past the end fills zeros and is no error.
        memory.Write(0x9_0000, 4, 0xFFFF_FFFF);
        Assert.Equal(0u, Dma(0x1000, FwCfg.DmaRead, 4, 0x9_0000));
        Assert.Equal(0u, memory.Read(0x9_0000, 4));
    }

    [Fact]
    public void DmaSkipThenReadContinuesWhereTheSkipEnded()
    {
        ushort key = cfg.AddFile("etc/table", new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 });
        io.Out(FwCfg.SelectorPort, 2, key);
        Assert.Equal(0u, Dma(0x1000, FwCfg.DmaSkip, 5, 0));
        Assert.Equal(0u, Dma(0x1000, FwCfg.DmaRead, 3, 0x2000));
        Assert.Equal(0x08_0706u, memory.Read(0x2000, 4) & 0xFF_FFFF);
    }

    [Fact]
    public void DmaReadOfTheIdUsesTheDescriptorsBigEndianFields()
    {
        // SeaBIOS's first DMA: qemu_cfg_read_entry(&id, FW_CFG_ID, 4).
        Assert.Equal(0u, Dma(0x3000, (1u << 16) | FwCfg.DmaSelect | FwCfg.DmaRead, 4, 0x3100));
        Assert.Equal(3u, memory.Read(0x3100, 4));
    }

    [Fact]
    public void DmaErrorBitOnABadSelectForWriteAndOnMemoryThatIsNotRam()
    {
        // Selecting an item that does not exist and writing to it: error.
        Assert.Equal(FwCfg.DmaError, Dma(0x1000, (0x3FF0u << 16) | FwCfg.DmaSelect | FwCfg.DmaWrite, 4, 0x2000));
        // Writing to a read-only item: error.
        Assert.Equal(FwCfg.DmaError, Dma(0x1000, ((uint)FwCfg.Signature << 16) | FwCfg.DmaSelect | FwCfg.DmaWrite, 4, 0x2000));
        // Reading into memory beyond RAM: error, nothing written anywhere.
        Assert.Equal(FwCfg.DmaError, Dma(0x1000, ((uint)FwCfg.Signature << 16) | FwCfg.DmaSelect | FwCfg.DmaRead, 4, 0xFEC0_0000));
        Assert.Equal(FwCfg.DmaError, Dma(0x1000, ((uint)FwCfg.Signature << 16) | FwCfg.DmaSelect | FwCfg.DmaRead, 4, 0x1_0000_0000));
        // A hostile length fails at once.
        Assert.Equal(FwCfg.DmaError, Dma(0x1000, FwCfg.DmaRead, 0xFFFF_FFF0, 0x10));
    }

    [Fact]
    public void DmaWriteReachesAWritableFile()
    {
        ushort key = cfg.AddFile("etc/writable", new byte[4], writable: true);
        memory.Write(0x2000, 4, 0xA1B2C3D4);
        Assert.Equal(0u, Dma(0x1000, ((uint)key << 16) | FwCfg.DmaSelect | FwCfg.DmaWrite, 4, 0x2000));
        Assert.Equal(new byte[] { 0xD4, 0xC3, 0xB2, 0xA1 }, cfg.Get("etc/writable"));
        // Past its end: error.
        Assert.Equal(FwCfg.DmaError, Dma(0x1000, ((uint)key << 16) | FwCfg.DmaSelect | FwCfg.DmaWrite, 8, 0x2000));
    }

    [Fact]
    public void ADescriptorOutsideRamIsIgnored()
    {
        io.Out(FwCfg.DmaLowPort, 4, BinaryPrimitives.ReverseEndianness(0xFFFF_FFF8u));
        io.Out(FwCfg.DmaPort, 4, BinaryPrimitives.ReverseEndianness(1u));
        io.Out(FwCfg.DmaLowPort, 4, 0); // high half 1: above 4 GiB
        Assert.Equal("QEMU", Encoding.ASCII.GetString(ReadItem(FwCfg.Signature, 4)));
    }

    [Fact]
    public void TheDmaRegisterReadsItsSignature()
    {
        uint hi = io.In(FwCfg.DmaPort, 4), lo = io.In(FwCfg.DmaLowPort, 4);
        Assert.Equal("QEMU CFG", Encoding.ASCII.GetString(BitConverter.GetBytes(hi)) + Encoding.ASCII.GetString(BitConverter.GetBytes(lo)));
    }

    [Fact]
    public void WithoutDmaTheIdSaysSoAndThePortsAreFree()
    {
        var io2 = new IoSpace();
        var plain = new FwCfg(memory, dma: false);
        plain.Attach(io2);
        io2.Out(FwCfg.SelectorPort, 2, FwCfg.Id);
        Assert.Equal(FwCfg.FeatureTraditional, io2.In(FwCfg.DataPort, 1));
        Assert.Null(io2.DeviceAt(FwCfg.DmaPort));
    }
}
