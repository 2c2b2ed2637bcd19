using System;
using System.Collections.Generic;

namespace Emu.Memory.Tests;

public unsafe class MmuTests
{
    private sealed class Rig : IDisposable
    {
        public readonly PhysicalMemory Physical;
        public readonly Mmu Mmu;
        public readonly List<(uint Address, int Length)> CodeWrites = new();

        public Rig(uint ram = 0x40_0000)
        {
            Physical = new PhysicalMemory(ram);
            Mmu = new Mmu(Physical);
            Physical.CodeWritten = (a, n) => CodeWrites.Add((a, n));
        }

        public byte Ram(uint a) => Physical.Ram[a];

        public void Dispose()
        {
            Mmu.Dispose();
            Physical.Dispose();
        }
    }

    // ---- misaligned and page-crossing accesses inside RAM ----

    public static TheoryData<uint, int> MisalignedOffsets()
    {
        var d = new TheoryData<uint, int>();
        foreach (uint off in new uint[] { 0x001, 0x002, 0x003, 0x7FF, 0xFFB, 0xFFC, 0xFFD, 0xFFE, 0xFFF })
            foreach (int size in new[] { 2, 4, 8 })
                d.Add(0x5000 + off, size);
        return d;
    }

    [Theory]
    [MemberData(nameof(MisalignedOffsets))]
    public void MisalignedAccessesReadAndWriteExactlyTheirBytes(uint address, int size)
    {
        using var r = new Rig();
        for (uint a = 0x4FF0; a < 0x6010; a++) r.Physical.Ram[a] = (byte)(a * 31 + 3);
        ulong expected = 0;
        for (int k = 0; k < size; k++) expected |= (ulong)r.Ram(address + (uint)k) << (8 * k);
        for (int pass = 0; pass < 2; pass++)
        {
            ulong got = size switch { 2 => r.Mmu.Read16(address), 4 => r.Mmu.Read32(address), _ => r.Mmu.Read64(address) };
            Assert.Equal(expected, got);
        }

        ulong value = 0xF1E2_D3C4_B5A6_9788;
        var before = new byte[0x20];
        for (int i = 0; i < before.Length; i++) before[i] = r.Ram(address - 0x10 + (uint)i);
        switch (size)
        {
            case 2: r.Mmu.Write16(address, (ushort)value); break;
            case 4: r.Mmu.Write32(address, (uint)value); break;
            default: r.Mmu.Write32(address, (uint)value); r.Mmu.Write32(address + 4, (uint)(value >> 32)); break;
        }
        for (int i = 0; i < before.Length; i++)
        {
            uint a = address - 0x10 + (uint)i;
            int k = (int)(a - address);
            byte want = k >= 0 && k < size ? (byte)(value >> (8 * k)) : before[i];
            Assert.Equal(want, r.Ram(a));
        }
    }

    [Fact]
    public void TlbSlotsSharedByDistantPagesKeepThemApart()
    {
        using var r = new Rig(0x100_0000);
        // Pages 1024 apart use the same slot of the direct-mapped TLB.
        uint a = 0x1234, b = a + (Mmu.TlbEntries << PhysicalMemory.PageShift), c = b + (Mmu.TlbEntries << PhysicalMemory.PageShift);
        r.Mmu.Write32(a, 0xAAAA_AAAA);
        r.Mmu.Write32(b, 0xBBBB_BBBB);
        r.Mmu.Write32(c, 0xCCCC_CCCC);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(0xAAAA_AAAAu, r.Mmu.Read32(a));
            Assert.Equal(0xBBBB_BBBBu, r.Mmu.Read32(b));
            Assert.Equal(0xCCCC_CCCCu, r.Mmu.Read32(c));
        }
    }

    [Fact]
    public void ProbeWriteWritesNothingAndReportsNothing()
    {
        using var r = new Rig();
        r.Physical.MarkCodePage(0x3000);
        r.Physical.Ram[0x2FFF] = 0x11;
        r.Physical.Ram[0x3000] = 0x22;
        r.Mmu.ProbeWrite(0x2FFF, 2);
        r.Mmu.ProbeWrite(0x3000, 4);
        r.Mmu.ProbeWrite(0xFFFF_FFFE, 4); // wraps at 4 GiB: no fault without paging
        Assert.Equal(0x11, r.Ram(0x2FFF));
        Assert.Equal(0x22, r.Ram(0x3000));
        Assert.Empty(r.CodeWrites);
    }

    // ---- MMIO through the MMU ----

    [Theory]
    [InlineData(0u, 1)]
    [InlineData(3u, 1)]
    [InlineData(2u, 2)]
    [InlineData(5u, 2)]
    [InlineData(4u, 4)]
    [InlineData(6u, 4)]
    [InlineData(0xFFCu, 4)]
    public void MmioIsCalledOnEveryAccessWithItsPhysicalAddressAndSize(uint offset, int size)
    {
        using var r = new Rig();
        var dev = new RecordingMmio();
        r.Physical.MapMmio(0xFEE0_0000, 0x1000, dev);
        uint a = 0xFEE0_0000 + offset;
        for (int pass = 0; pass < 3; pass++) // never cached: each access reaches the device
        {
            uint v = size switch { 1 => r.Mmu.Read8(a), 2 => r.Mmu.Read16(a), _ => r.Mmu.Read32(a) };
            Assert.Equal((false, a, size, v), dev.Log[^1]);
        }
        Assert.Equal(3, dev.Log.Count);
        uint value = 0x8765_4321u & (size == 4 ? 0xFFFF_FFFFu : (1u << (8 * size)) - 1);
        for (int pass = 0; pass < 2; pass++)
        {
            switch (size)
            {
                case 1: r.Mmu.Write8(a, (byte)value); break;
                case 2: r.Mmu.Write16(a, (ushort)value); break;
                default: r.Mmu.Write32(a, value); break;
            }
            Assert.Equal((true, a, size, value), dev.Log[^1]);
        }
        Assert.Equal(5, dev.Log.Count);
    }

    [Fact]
    public void RomIsReadThroughTheTlbButWritesAreDroppedEveryTime()
    {
        using var r = new Rig(0x10_0000);
        r.Physical.MapRom(0xFFFF_0000, new byte[] { 0x11, 0x22, 0x33, 0x44 });
        for (int pass = 0; pass < 2; pass++)
        {
            r.Mmu.Write32(0xFFFF_0000, 0);
            r.Mmu.Write8(0xFFFF_0001, 0);
            Assert.Equal(0x4433_2211u, r.Mmu.Read32(0xFFFF_0000));
        }
    }

    // ---- A20 ----

    [Fact]
    public void A20DisabledClearsAddressBit20()
    {
        using var r = new Rig();
        Assert.True(r.Mmu.A20Enabled);
        r.Physical.Write(0x00_0123, 1, 0x11);
        r.Physical.Write(0x10_0123, 1, 0x22);
        r.Physical.Write(0x20_0123, 1, 0x33);
        r.Physical.Write(0x30_0123, 1, 0x44);
        Assert.Equal(0x22, r.Mmu.Read8(0x10_0123));
        Assert.Equal(0x44, r.Mmu.Read8(0x30_0123));

        r.Mmu.A20Enabled = false;
        Assert.False(r.Mmu.A20Enabled);
        Assert.Equal(0x11, r.Mmu.Read8(0x10_0123));
        Assert.Equal(0x33, r.Mmu.Read8(0x30_0123)); // only bit 20 is masked
        Assert.Equal(0x11, r.Mmu.Read8(0x00_0123));
        Assert.Equal(0x10_0123u & ~(1u << 20), r.Mmu.Translate(0x10_0123, AccessKind.Read));
        Assert.Equal(0x0123u, r.Mmu.TranslateFetch(0x10_0123, out byte* host));
        Assert.True(host == r.Physical.Ram);
        Assert.Equal(0x11, r.Mmu.FetchByte(0x10_0123));

        r.Mmu.Write8(0x10_0456, 0x55);
        Assert.Equal(0x55, r.Ram(0x456));
        Assert.Equal(0, r.Ram(0x10_0456));
    }

    [Fact]
    public void SegmentWrapAt1MiBReadsAcrossTheWrap()
    {
        // FFFF:FFFE in real mode is linear 10FFEEh; a dword at 0FFFFEh crosses into 100000h, i.e. 0 with A20 off.
        using var r = new Rig();
        r.Physical.Write(0x0F_FFFE, 2, 0xBBAA);
        r.Physical.Write(0x00_0000, 2, 0xDDCC);
        r.Physical.Write(0x10_0000, 2, 0x9988);
        Assert.Equal(0x9988_BBAAu, r.Mmu.Read32(0x0F_FFFE));
        r.Mmu.A20Enabled = false;
        Assert.Equal(0xDDCC_BBAAu, r.Mmu.Read32(0x0F_FFFE));
        r.Mmu.Write32(0x0F_FFFE, 0x1234_5678);
        Assert.Equal(0x1234u, r.Physical.Read(0, 2));
        Assert.Equal(0x9988u, r.Physical.Read(0x10_0000, 2));
    }

    [Fact]
    public void ChangingA20FlushesCachedTranslations()
    {
        using var r = new Rig();
        r.Physical.Write(0x00_0010, 4, 0x1111_1111);
        r.Physical.Write(0x10_0010, 4, 0x2222_2222);
        // Warm both TLB sides for the linear page 100000h while it maps to 100000h.
        Assert.Equal(0x2222_2222u, r.Mmu.Read32(0x10_0010));
        r.Mmu.Write32(0x10_0020, 0xAAAA_AAAA);
        Assert.Equal(0xAAAA_AAAAu, r.Physical.Read(0x10_0020, 4));

        r.Mmu.A20Enabled = false;
        Assert.Equal(0x1111_1111u, r.Mmu.Read32(0x10_0010));
        r.Mmu.Write32(0x10_0020, 0xBBBB_BBBB);
        Assert.Equal(0xBBBB_BBBBu, r.Physical.Read(0x20, 4));
        Assert.Equal(0xAAAA_AAAAu, r.Physical.Read(0x10_0020, 4));

        r.Mmu.A20Enabled = true;
        Assert.Equal(0x2222_2222u, r.Mmu.Read32(0x10_0010));
        r.Mmu.Write32(0x10_0020, 0xCCCC_CCCC);
        Assert.Equal(0xCCCC_CCCCu, r.Physical.Read(0x10_0020, 4));
        Assert.Equal(0xBBBB_BBBBu, r.Physical.Read(0x20, 4));
    }

    [Fact]
    public void A20ChangedIsRaisedOnlyWhenTheGateChanges()
    {
        using var r = new Rig();
        int raised = 0;
        r.Mmu.A20Changed += () => raised++;
        r.Mmu.A20Enabled = true;
        Assert.Equal(0, raised);
        r.Mmu.A20Enabled = false;
        r.Mmu.A20Enabled = false;
        Assert.Equal(1, raised);
        r.Mmu.A20Enabled = true;
        Assert.Equal(2, raised);
    }

    [Fact]
    public void A20AliasOfACodePageStillReportsTheWrite()
    {
        using var r = new Rig();
        r.Mmu.A20Enabled = false;
        r.Mmu.Write8(0x10_3005, 1); // fills the write TLB for linear 103000h -> 3000h
        r.Physical.MarkCodePage(0x3000);
        r.Mmu.Write8(0x10_3005, 2);
        Assert.Equal(new[] { (0x3005u, 1) }, r.CodeWrites);
        Assert.Equal(2, r.Ram(0x3005));
    }

    // ---- TLB flushes ----

    /// <summary>
    /// Without paging the only way a linear page can change what it maps to is a change of the
    /// physical map; after one, the cached translation is stale until flushed.
    /// </summary>
    [Fact]
    public void FlushPageDropsEveryCachedTranslationOfThatPage()
    {
        using var r = new Rig();
        var dev = new RecordingMmio();
        r.Physical.Write(0x5000, 4, 0x5555_5555);
        r.Physical.Write(0x6000, 4, 0x6666_6666);
        foreach (bool user in new[] { false, true })
        {
            r.Mmu.UserMode = user;
            Assert.Equal(0x5555_5555u, r.Mmu.Read32(0x5000));
            r.Mmu.Write32(0x5004, 0x5151_5151);
            Assert.Equal(0x6666_6666u, r.Mmu.Read32(0x6000));
        }
        r.Physical.MapMmio(0x5000, 0x2000, dev); // a device moves over both pages
        Assert.Equal(0x5555_5555u, r.Mmu.Read32(0x5000)); // stale until flushed
        Assert.Empty(dev.Log);

        r.Mmu.FlushPage(0x5ABC); // any address in the page
        foreach (bool user in new[] { false, true })
        {
            r.Mmu.UserMode = user;
            dev.Log.Clear();
            Assert.Equal(dev.Read(0x5000, 4), r.Mmu.Read32(0x5000));
            r.Mmu.Write32(0x5004, 0x1234_5678);
            Assert.Equal((true, 0x5004u, 4, 0x1234_5678u), dev.Log[^1]);
            Assert.Equal(0x6666_6666u, r.Mmu.Read32(0x6000)); // the other page is untouched by FlushPage
        }

        r.Mmu.FlushAll();
        foreach (bool user in new[] { false, true })
        {
            r.Mmu.UserMode = user;
            Assert.Equal(dev.Read(0x6000, 4), r.Mmu.Read32(0x6000));
        }
    }

    /// <summary>
    /// INVLPG of any address in a 4 MiB page drops the whole page (Intel SDM Vol. 3, 4.10.4.1),
    /// although the TLB holds it as 4 KiB entries; 4 KiB pages elsewhere keep theirs.
    /// </summary>
    [Fact]
    public void FlushPageInA4MiBPageDropsEveryEntryOfThatPage()
    {
        const uint Pd = 0x1000, Pt = 0x2000;
        using var r = new Rig(0xC0_0000);
        r.Physical.Write(Pd, 4, Pt | 7);                   // 0-4 MiB: 4 KiB pages, identity
        for (uint i = 0; i < 1024; i++) r.Physical.Write(Pt + i * 4, 4, (i << 12) | 7);
        r.Physical.Write(Pd + 4, 4, 0x40_0000 | 0x87);     // 4-8 MiB: one 4 MiB page
        foreach (uint page in new uint[] { 0x40_1000, 0x40_5000, 0x7F_F000 })
        {
            r.Physical.Write(page, 4, 0x1111_0000 | page >> 12);
            r.Physical.Write(page + 0x40_0000, 4, 0x2222_0000 | page >> 12);
        }
        r.Physical.Write(0x6000, 4, 0x6666_6666);
        r.Mmu.SetPaging(true, Pd, pageSizeExtensions: true, globalPages: false, wp: false);
        foreach (bool user in new[] { false, true })
        {
            r.Mmu.UserMode = user;
            Assert.Equal(0x1111_0401u, r.Mmu.Read32(0x40_1000));
            Assert.Equal(0x1111_0405u, r.Mmu.Read32(0x40_5000));
            Assert.Equal(0x6666_6666u, r.Mmu.Read32(0x6000));
        }
        r.Physical.Write(Pd + 4, 4, 0x80_0000 | 0x87);     // the 4 MiB page moves
        r.Physical.Write(Pt + 6 * 4, 4, 0x7000 | 7);       // and so does 6000h, unflushed
        Assert.Equal(0x1111_0405u, r.Mmu.Read32(0x40_5000)); // stale until flushed

        r.Mmu.FlushPage(0x7F_F123); // another 4 KiB of the 4 MiB page
        Assert.Equal(1L, r.Mmu.Counters.LargePageFlushes);
        foreach (bool user in new[] { false, true })
        {
            r.Mmu.UserMode = user;
            Assert.Equal(0x2222_0401u, r.Mmu.Read32(0x40_1000));
            Assert.Equal(0x2222_0405u, r.Mmu.Read32(0x40_5000));
            Assert.Equal(0x6666_6666u, r.Mmu.Read32(0x6000)); // a 4 KiB page elsewhere keeps its entry
        }
    }

    /// <summary>Compiled code reaches the write TLB from the read TLB's base (one register for both).</summary>
    [Fact]
    public void TheWriteTlbLiesAFixedDistanceAfterTheReadTlbAtEveryPrivilege()
    {
        using var r = new Rig();
        var seen = new System.Collections.Generic.HashSet<nint>();
        foreach (bool user in new[] { false, true })
            foreach (bool ac in new[] { false, true })
            {
                r.Mmu.UserMode = user;
                r.Mmu.AlignmentCheck = ac;
                Assert.Equal(r.Mmu.ReadTlb + Mmu.WriteTlbOffset, r.Mmu.WriteTlb);
                seen.Add(r.Mmu.ReadTlb);
            }
        Assert.Equal(3, seen.Count); // supervisor, user, user with alignment checks
    }

    [Fact]
    public void UserAndSupervisorTranslationsAreCachedSeparately()
    {
        using var r = new Rig();
        r.Mmu.UserMode = true;
        Assert.True(r.Mmu.UserMode);
        r.Mmu.Write32(0x7000, 0x7777_7777);
        r.Mmu.UserMode = false;
        Assert.False(r.Mmu.UserMode);
        Assert.Equal(0x7777_7777u, r.Mmu.Read32(0x7000));
        r.Mmu.Write32(0x7000, 0x8888_8888);
        r.Mmu.UserMode = true;
        Assert.Equal(0x8888_8888u, r.Mmu.Read32(0x7000));
    }

    // ---- code pages ----

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void StoreToANewCodePageBypassesTheWarmWriteTlb(bool user)
    {
        using var r = new Rig();
        r.Mmu.UserMode = user;
        r.Mmu.Write32(0x3010, 1); // fills the write TLB
        r.Mmu.Write16(0x3020, 1);
        r.Mmu.Write8(0x3030, 1);
        Assert.Empty(r.CodeWrites);

        r.Mmu.UserMode = false;
        r.Physical.MarkCodePage(0x3000); // as the block cache does when it decodes there
        r.Mmu.UserMode = user;

        r.Mmu.Write32(0x3010, 0xAABB_CCDD);
        r.Mmu.Write16(0x3020, 0xEEFF);
        r.Mmu.Write8(0x3030, 0x77);
        Assert.Equal(new[] { (0x3010u, 4), (0x3020u, 2), (0x3030u, 1) }, r.CodeWrites);
        Assert.Equal(0xAABB_CCDDu, r.Physical.Read(0x3010, 4));
        Assert.Equal(0xEEFFu, r.Physical.Read(0x3020, 2));
        Assert.Equal(0x77, r.Ram(0x3030));
    }

    [Fact]
    public void CrossingStoreIntoACodePageReportsItsBytesThere()
    {
        using var r = new Rig();
        r.Physical.MarkCodePage(0x3000);
        r.Mmu.Write32(0x2FFE, 0x4433_2211);
        var reported = new SortedSet<uint>();
        foreach (var (a, n) in r.CodeWrites)
            for (int k = 0; k < n; k++) reported.Add(a + (uint)k);
        Assert.Equal(new[] { 0x3000u, 0x3001u }, reported);
        Assert.Equal(0x4433_2211u, r.Physical.Read(0x2FFE, 4));

        r.CodeWrites.Clear();
        r.Physical.MarkCodePage(0x5000);
        r.Mmu.Write32(0x5FFD, 0x8877_6655);
        reported.Clear();
        foreach (var (a, n) in r.CodeWrites)
            for (int k = 0; k < n; k++) reported.Add(a + (uint)k);
        Assert.Equal(new[] { 0x5FFDu, 0x5FFEu, 0x5FFFu }, reported);
    }

    [Fact]
    public void ReadsOfACodePageAreNotReported()
    {
        using var r = new Rig();
        r.Physical.MarkCodePage(0x3000);
        r.Mmu.Read32(0x3000);
        r.Mmu.Read32(0x3FFE);
        r.Mmu.Read8(0x3123);
        Assert.Empty(r.CodeWrites);
    }

    [Fact]
    public void AfterUnmarkingWritesStopBeingReported()
    {
        using var r = new Rig();
        r.Physical.MarkCodePage(0x3000);
        r.Mmu.Write32(0x3000, 1);
        r.Physical.UnmarkCodePage(0x3000);
        r.Mmu.Write32(0x3000, 2);
        r.Mmu.Write32(0x3000, 3);
        Assert.Equal(new[] { (0x3000u, 4) }, r.CodeWrites);
        Assert.Equal(3u, r.Physical.Read(0x3000, 4));
    }
}
