using System;
using System.Collections.Generic;

namespace Emu.Memory.Tests;

/// <summary>Shadow RAM in C0000h-FFFFFh, as the i440FX's PAM registers route it, and what it means for the MMU.</summary>
public unsafe class ShadowRamTests : IDisposable
{
    private const uint BiosLow = 0xE_0000;       // the BIOS's last 128 KiB, mapped below 1 MiB
    private readonly PhysicalMemory phys = new(0x20_0000);
    private readonly Mmu mmu;
    private readonly List<(uint Start, uint Length)> changes = new();
    private readonly byte[] bios = new byte[0x2_0000];

    public ShadowRamTests()
    {
        mmu = new Mmu(phys);
        for (int i = 0; i < bios.Length; i++) bios[i] = (byte)(i * 7 + 3);
        phys.MapRom(BiosLow, bios, "BIOS");
        phys.LayoutChanged += (s, n) => changes.Add((s, n));
    }

    public void Dispose()
    {
        mmu.Dispose();
        phys.Dispose();
    }

    private byte Rom(uint address) => bios[address - BiosLow];

    [Fact]
    public void BeforeAChipsetTakesOverTheWindowIsRamWithTheRomOverIt()
    {
        phys.Write(0xC_0000, 1, 0x5A);
        Assert.Equal(0x5Au, phys.Read(0xC_0000, 1));
        Assert.Equal(Rom(0xF_0010), phys.Read8(0xF_0010));
        phys.Write(0xF_0010, 1, (byte)~Rom(0xF_0010));
        Assert.Equal(Rom(0xF_0010), phys.Read8(0xF_0010)); // ROM drops writes
        Assert.Empty(changes);
    }

    [Fact]
    public void ReadsComeFromRomOrRamAndWritesGoToRamOrAreDropped()
    {
        const uint seg = 0xF_0000, len = 0x1_0000;
        // PAM = 0: both to the bus. The ROM answers reads; writes vanish.
        phys.SetShadow(seg, len, readRam: false, writeRam: false);
        phys.Write(seg + 0x100, 1, 0x11);
        Assert.Equal(Rom(seg + 0x100), phys.Read8(seg + 0x100));
        Assert.Equal(0, phys.Ram[seg + 0x100]);

        // Write-only to RAM (what SeaBIOS's copy would use on a real board): reads still from ROM.
        phys.SetShadow(seg, len, readRam: false, writeRam: true);
        phys.Write(seg + 0x100, 1, 0x22);
        Assert.Equal(Rom(seg + 0x100), phys.Read8(seg + 0x100));
        Assert.Equal(0x22, phys.Ram[seg + 0x100]);

        // Read and write RAM.
        phys.SetShadow(seg, len, readRam: true, writeRam: true);
        Assert.Equal(0x22, phys.Read8(seg + 0x100));
        phys.Write(seg + 0x100, 4, 0xAABBCCDD);
        Assert.Equal(0xAABBCCDDu, phys.Read(seg + 0x100, 4));

        // Read-only RAM (write-protected shadow): reads RAM, writes dropped.
        phys.SetShadow(seg, len, readRam: true, writeRam: false);
        phys.Write(seg + 0x100, 4, 0x01020304);
        Assert.Equal(0xAABBCCDDu, phys.Read(seg + 0x100, 4));
        Assert.Equal((true, false), phys.ShadowRouting(seg + 0x100));
    }

    [Fact]
    public void SegmentsAreIndependent()
    {
        phys.SetShadow(PhysicalMemory.ShadowStart, PhysicalMemory.ShadowEnd - PhysicalMemory.ShadowStart, false, false);
        phys.SetShadow(0xE_4000, 0x4000, readRam: true, writeRam: true);
        phys.Write(0xE_4000, 1, 0x77);
        phys.Write(0xE_0000, 1, 0x77);
        Assert.Equal(0x77, phys.Read8(0xE_4000));
        Assert.Equal(Rom(0xE_0000), phys.Read8(0xE_0000));
        Assert.Equal(Rom(0xE_8000), phys.Read8(0xE_8000));
    }

    [Fact]
    public void AnEmptyBusReadsAllOnesOnceTheChipsetOwnsTheWindow()
    {
        phys.Write(0xC_8000, 1, 0x42);
        phys.SetShadow(PhysicalMemory.ShadowStart, PhysicalMemory.ShadowEnd - PhysicalMemory.ShadowStart, false, false);
        Assert.Equal(0xFFu, phys.Read(0xC_8000, 1));
        phys.Write(0xC_8000, 1, 0x43);
        Assert.Equal(0x42, phys.Ram[0xC_8000]);
        Assert.False(phys.IsRam(0xC_8000, 1));
        phys.SetShadow(0xC_8000, 0x4000, true, true);
        Assert.Equal(0x42u, phys.Read(0xC_8000, 1));
        Assert.True(phys.IsRam(0xC_8000, 0x4000));
    }

    [Fact]
    public void SeaBiosCopyThenWriteProtectFlowWorks()
    {
        // SeaBIOS (fw/shadow.c): all PAM to read/write RAM, copy itself from the high ROM alias,
        // run from RAM, then make the BIOS read-only.
        phys.MapRom(0xFFFE_0000, bios, "BIOS high alias");
        const uint all = PhysicalMemory.ShadowEnd - PhysicalMemory.ShadowStart;
        phys.SetShadow(PhysicalMemory.ShadowStart, all, false, false); // reset
        phys.SetShadow(PhysicalMemory.ShadowStart, all, true, true);
        var copy = new byte[0x2_0000];
        phys.ReadBytes(0xFFFE_0000, copy);
        phys.WriteBytes(BiosLow, copy);
        phys.Write(0xE_F000, 1, 0x99); // a variable the BIOS keeps in its own segment
        phys.SetShadow(0xE_0000, 0x2_0000, true, false);
        phys.Write(0xF_0000, 1, (byte)~Rom(0xF_0000));
        Assert.Equal(Rom(0xF_0000), phys.Read8(0xF_0000));
        Assert.Equal(0x99, phys.Read8(0xE_F000));
        Assert.Equal(Rom(0xF_FFF0), phys.Read8(0xF_FFF0));
    }

    [Fact]
    public void ChangesAreReportedForTheAffectedPagesOnly()
    {
        phys.SetShadow(PhysicalMemory.ShadowStart, PhysicalMemory.ShadowEnd - PhysicalMemory.ShadowStart, false, false);
        changes.Clear();
        phys.SetShadow(0xD_0000, 0x4000, true, true);
        Assert.Equal(new[] { (0xD_0000u, 0x4000u) }, changes);
        changes.Clear();
        phys.SetShadow(0xD_0000, 0x4000, true, true); // same routing again: nothing changed
        Assert.Empty(changes);
        phys.SetShadow(0xD_0000, 0x4000, true, false);
        Assert.Equal(new[] { (0xD_0000u, 0x4000u) }, changes);
    }

    [Fact]
    public void TheTlbNeverKeepsAPointerToTheOldBacking()
    {
        const uint a = 0xF_0040;
        phys.SetShadow(0xF_0000, 0x1_0000, readRam: false, writeRam: true);
        Assert.Equal(Rom(a), mmu.Read8(a)); // fills the read TLB with the ROM page
        mmu.Write8(a, 0x5C);               // fills the write TLB with the RAM page
        Assert.Equal(Rom(a), mmu.Read8(a));
        phys.SetShadow(0xF_0000, 0x1_0000, readRam: true, writeRam: false);
        Assert.Equal(0x5C, mmu.Read8(a));  // now RAM, not the cached ROM pointer
        mmu.Write8(a, 0x6D);               // dropped, not stored through the cached RAM pointer
        Assert.Equal(0x5C, mmu.Read8(a));
        Assert.Equal(0x5C, phys.Ram[a]);
    }

    [Fact]
    public void RejectsRangesOutsideTheWindow()
    {
        Assert.Throws<ArgumentException>(() => phys.SetShadow(0xB_F000, 0x2000, true, true));
        Assert.Throws<ArgumentException>(() => phys.SetShadow(0xF_F000, 0x2000, true, true));
        Assert.Throws<ArgumentException>(() => phys.SetShadow(0xC_0800, 0x1000, true, true));
    }

    [Fact]
    public void TheLockstepShadowCopiesTheRouting()
    {
        phys.SetShadow(PhysicalMemory.ShadowStart, PhysicalMemory.ShadowEnd - PhysicalMemory.ShadowStart, true, false);
        phys.Ram[0xF_0000] = 0x3C;
        using PhysicalMemory copy = phys.CreateShadow();
        Assert.Equal(0x3C, copy.Read8(0xF_0000));
        copy.Write(0xF_0000, 1, 0);
        Assert.Equal(0x3C, copy.Read8(0xF_0000));
    }
}
