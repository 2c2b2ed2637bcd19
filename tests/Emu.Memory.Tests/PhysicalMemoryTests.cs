using System;
using System.Collections.Generic;

namespace Emu.Memory.Tests;

public unsafe class PhysicalMemoryTests
{
    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(0xFFFu)]
    [InlineData(0x1001u)]
    [InlineData(0x10_0800u)]
    [InlineData(0xF000_1000u)] // leaves no room below 4 GiB for ROM and devices
    [InlineData(0xFFFF_F000u)]
    public void RejectsInvalidRamSizes(uint size) =>
        Assert.Throws<ArgumentException>(() => new PhysicalMemory(size));

    [Theory]
    [InlineData(0x1000u)]
    [InlineData(0x10_0000u)]
    [InlineData(0x123_4000u)]
    public void AcceptsPageMultiplesAndStartsZeroed(uint size)
    {
        using var p = new PhysicalMemory(size);
        Assert.Equal(size, p.RamSize);
        for (uint a = 0; a < size; a += 0x3F1) Assert.Equal(0, p.Read8(a));
        Assert.Equal(0u, p.Read(size - 4, 4));
        Assert.True(p.IsRam(0, size));
        Assert.False(p.IsRam(0, size + 1));
        Assert.False(p.IsRam(size, 1));
    }

    [Theory]
    [InlineData(0x10_0000u, 1)]
    [InlineData(0x10_0000u, 2)]
    [InlineData(0x10_0000u, 4)]
    [InlineData(0x8000_0000u, 4)]
    [InlineData(0xFFFF_FFFCu, 4)]
    [InlineData(0xFFFF_FFFFu, 1)]
    public void UnmappedReadsAllOnesAndDropsWrites(uint address, int size)
    {
        using var p = new PhysicalMemory(0x10_0000);
        uint ones = size == 4 ? 0xFFFF_FFFFu : (1u << (8 * size)) - 1;
        Assert.Equal(ones, p.Read(address, size));
        p.Write(address, size, 0);
        Assert.Equal(ones, p.Read(address, size));
        Assert.Equal(0xFF, p.Read8(address));
        Assert.True(p.PageHostPointer(address, write: false) == null);
        Assert.True(p.PageHostPointer(address, write: true) == null);
    }

    [Fact]
    public void RomHoldsACopyOfItsImagePaddedWithOnesAndDropsWrites()
    {
        using var p = new PhysicalMemory(0x10_0000);
        byte[] image = { 1, 2, 3, 4, 5 };
        p.MapRom(0xFFFF_E000, image);
        image[0] = 99; // the ROM keeps its own copy
        Assert.Equal(0x0403_0201u, p.Read(0xFFFF_E000, 4));
        Assert.Equal(0xFFFF_FF05u, p.Read(0xFFFF_E004, 4));
        Assert.Equal(0xFF, p.Read8(0xFFFF_EFFF));
        Assert.Equal(0xFF, p.Read8(0xFFFF_F000)); // the page after the image is unmapped
        p.Write(0xFFFF_E000, 4, 0);
        p.Write(0xFFFF_E001, 1, 0);
        p.WriteBytes(0xFFFF_E002, new byte[] { 0, 0 });
        Assert.Equal(0x0403_0201u, p.Read(0xFFFF_E000, 4));
        Assert.True(p.PageHostPointer(0xFFFF_E123, write: false) != null);
        Assert.True(p.PageHostPointer(0xFFFF_E123, write: true) == null);
        Assert.False(p.IsRam(0xFFFF_E000, 1));
    }

    [Fact]
    public void RomOverRamHidesItAndIsReadOnly()
    {
        using var p = new PhysicalMemory(0x10_0000);
        p.Write(0xF0000, 4, 0x1122_3344);
        p.MapRom(0xF0000, new byte[] { 0xEA, 0x5B, 0xE0, 0x00 });
        Assert.Equal(0x00E0_5BEAu, p.Read(0xF0000, 4));
        p.Write(0xF0000, 4, 0);
        Assert.Equal(0x00E0_5BEAu, p.Read(0xF0000, 4));
        Assert.False(p.IsRam(0xF0000, 4));
        Assert.True(p.IsRam(0xEF000, 0x1000));
    }

    [Theory]
    [InlineData(0x0000u, 0x4000u, true)]
    [InlineData(0x0000u, 0x1_0000u, false)] // the whole of RAM includes the ROM and MMIO pages
    [InlineData(0x4000u, 0x1000u, false)]   // the ROM page over RAM
    [InlineData(0x3000u, 0x2000u, false)]   // runs from RAM into the ROM page
    [InlineData(0x3FFFu, 2u, false)]
    [InlineData(0x5000u, 0x1000u, true)]
    [InlineData(0x5FFFu, 0x1001u, false)]   // runs into the MMIO page
    [InlineData(0x7000u, 0x9000u, true)]    // up to the end of RAM
    [InlineData(0x7000u, 0x9001u, false)]   // one byte past it
    [InlineData(0xFFFF_FFFFu, 2u, false)]   // wraps at 4 GiB
    public void IsRamChecksEveryPageOfTheRange(uint address, uint length, bool expected)
    {
        using var p = new PhysicalMemory(0x1_0000);
        p.MapRom(0x4000, new byte[16]);
        p.MapMmio(0x6000, 0x1000, new RecordingMmio());
        if (expected) Assert.True(p.IsRam(address, length));
        else Assert.False(p.IsRam(address, length));
    }

    [Theory]
    [InlineData(0x1234u, 0x1000u)]       // not page-aligned
    [InlineData(0xFFFF_F000u, 0x2000u)]  // leaves the 4 GiB space
    [InlineData(0x1000u, 0u)]            // empty
    [InlineData(0x1000u, 0x800u)]        // not a page multiple
    public void MmioRegionsMustBePageAlignedAndInside4GiB(uint address, uint size)
    {
        using var p = new PhysicalMemory(0x1000);
        Assert.Throws<ArgumentException>(() => p.MapMmio(address, size, new RecordingMmio()));
    }

    [Theory]
    [InlineData(0x1234u, 16)]
    [InlineData(0xFFFF_F000u, 0x1001)]
    [InlineData(0x2000u, 0)]
    public void RomRegionsMustBePageAlignedAndInside4GiB(uint address, int length)
    {
        using var p = new PhysicalMemory(0x1000);
        Assert.Throws<ArgumentException>(() => p.MapRom(address, new byte[length]));
    }

    [Theory]
    [InlineData(0u, 1)]
    [InlineData(1u, 1)]
    [InlineData(0x10u, 2)]
    [InlineData(0x11u, 2)]
    [InlineData(0x20u, 4)]
    [InlineData(0x1FFDu, 2)] // the last bytes of the region
    [InlineData(0x1FFCu, 4)]
    public void MmioSeesPhysicalAddressSizeAndValue(uint offset, int size)
    {
        using var p = new PhysicalMemory(0x1000);
        var dev = new RecordingMmio();
        p.MapMmio(0xFEC0_0000, 0x2000, dev);
        uint a = 0xFEC0_0000 + offset;
        uint v = p.Read(a, size);
        Assert.Equal((false, a, size, v), Assert.Single(dev.Log));
        uint expected = 0;
        for (int k = 0; k < size; k++) expected |= (uint)RecordingMmio.Pattern(a + (uint)k) << (8 * k);
        Assert.Equal(expected, v);
        dev.Log.Clear();
        uint value = size == 4 ? 0xDEAD_BEEF : size == 2 ? 0xBEEFu : 0xEFu;
        p.Write(a, size, value);
        Assert.Equal((true, a, size, value), Assert.Single(dev.Log));
        Assert.True(p.PageHostPointer(a, write: false) == null);
        Assert.True(p.PageHostPointer(a, write: true) == null);
    }

    [Fact]
    public void MmioOutsideItsPagesIsNotCalled()
    {
        using var p = new PhysicalMemory(0x1000);
        var dev = new RecordingMmio();
        p.MapMmio(0xFEC0_1000, 0x1000, dev);
        Assert.Equal(0xFFFF_FFFFu, p.Read(0xFEC0_0FFC, 4));
        Assert.Equal(0xFFFF_FFFFu, p.Read(0xFEC0_2000, 4));
        p.Write(0xFEC0_2000, 4, 0);
        Assert.Empty(dev.Log);
    }

    [Fact]
    public void RamPagesHandOutPointersIntoTheRamBlock()
    {
        using var p = new PhysicalMemory(0x4000);
        Assert.True(p.PageHostPointer(0x2345, write: false) == p.Ram + 0x2000);
        Assert.True(p.PageHostPointer(0x3FFF, write: true) == p.Ram + 0x3000);
        Assert.True(p.PageHostPointer(0x4000, write: false) == null);
    }

    [Fact]
    public void WritesToACodePageReportAddressAndLength()
    {
        using var p = new PhysicalMemory(0x10000);
        var reports = new List<(uint, int)>();
        var marked = new List<uint>();
        p.CodeWritten = (a, n) => reports.Add((a, n));
        p.CodePageMarked += page => marked.Add(page);

        p.Write(0x3010, 4, 1);
        Assert.Empty(reports); // not a code page yet

        p.MarkCodePage(0x3456);
        p.MarkCodePage(0x3000); // already marked: no second event
        Assert.Equal(new[] { 0x3000u }, marked);
        Assert.True(p.IsCodePage(0x3FFF));
        Assert.False(p.IsCodePage(0x4000));
        Assert.True(p.PageHostPointer(0x3000, write: true) == null);  // writes must take the slow path
        Assert.True(p.PageHostPointer(0x3000, write: false) != null); // reads need not

        p.Write(0x3010, 4, 2);
        p.Write(0x3FFF, 1, 3);
        p.Write(0x2FFE, 4, 0xAABB_CCDD); // crosses into the code page: only its bytes there are reported
        p.WriteBytes(0x3100, new byte[] { 9, 9 });
        Assert.Equal(new[] { (0x3010u, 4), (0x3FFFu, 1), (0x3000u, 1), (0x3001u, 1), (0x3100u, 1), (0x3101u, 1) }, reports);
        Assert.Equal(2u, p.Read(0x3010, 4));
        Assert.Equal(0xAABB_CCDDu, p.Read(0x2FFE, 4));

        reports.Clear();
        p.UnmarkCodePage(0x3000);
        Assert.False(p.IsCodePage(0x3000));
        p.Write(0x3010, 4, 4);
        Assert.Empty(reports);
    }

    [Fact]
    public void OnlyRamPagesCanBecomeCodePages()
    {
        using var p = new PhysicalMemory(0x10000);
        var marked = new List<uint>();
        p.CodePageMarked += page => marked.Add(page);
        p.MapRom(0xF000, new byte[16]);
        p.MapMmio(0xE000, 0x1000, new RecordingMmio());
        p.MarkCodePage(0xF000);        // ROM over RAM
        p.MarkCodePage(0xE000);        // MMIO over RAM
        p.MarkCodePage(0x10000);       // unmapped
        p.MarkCodePage(0xFFFF_F000);   // top of the space
        p.UnmarkCodePage(0xFFFF_F000); // harmless
        Assert.Empty(marked);
        Assert.False(p.IsCodePage(0xF000));
        Assert.False(p.IsCodePage(0xE000));
        Assert.False(p.IsCodePage(0x10000));
    }
}
