using System;
using System.Collections.Generic;
using System.Linq;
using Emu.Cpu.Tests.Support;
using Emu.Memory;
using Emu.TestSupport;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.ProtectedMode;

/// <summary>
/// Repeated string instructions work on whole runs of elements inside a page at a time
/// (<see cref="Strings"/>); the result must be exactly the element-by-element one: overlapping
/// copies, the direction flag, 16-bit address wrap, faults part way (#PF with CR2 at the first
/// failing element, segment limits) with ECX/ESI/EDI counting exactly the elements done, and
/// stores into pages that hold code. The reference is the interpreter with
/// <see cref="Emu.X86.Cpu.RepLimit"/> = 1, which takes every element through the element path.
/// </summary>
public class StringRunTests
{
    private const uint Code = 0x1000;
    private const uint PageDirectory = 0x10_0000, PageTable = 0x10_1000;
    private const uint Src = 0x20_0000, Dst = 0x30_0000;
    private const uint MissingSrcPage = 0x20_5000, MissingDstPage = 0x30_5000, ReadOnlyDstPage = 0x30_7000;

    /// <summary>A flat CPU with paging on: 0-4 MiB identity-mapped but for two not-present pages and a read-only one (CR0.WP).</summary>
    private static TestCpu Paged(string engine)
    {
        var t = TestCpu.Flat32(engine);
        t.Write32(PageDirectory, PageTable | 3);
        for (uint i = 0; i < 1024; i++) t.Write32(PageTable + i * 4, (i << 12) | 3);
        t.Write32(PageTable + (MissingSrcPage >> 12) * 4, 0);
        t.Write32(PageTable + (MissingDstPage >> 12) * 4, 0);
        t.Write32(PageTable + (ReadOnlyDstPage >> 12) * 4, ReadOnlyDstPage | 1);
        var data = new byte[0x1_0000];
        for (int i = 0; i < data.Length; i++) data[i] = (byte)(i * 13 + (i >> 8) + 1);
        t.Physical.WriteBytes(Src, data);
        for (int i = 0; i < data.Length; i++) data[i] = (byte)~data[i];
        t.Physical.WriteBytes(Dst, data);
        t.Cpu.WriteCr3(PageDirectory);
        t.Cpu.WriteCr0(t.Cpu.Cr0 | Cr0Bits.PG | Cr0Bits.WP);
        return t;
    }

    private static byte[] Bytes(TestCpu t, uint at, int n)
    {
        var b = new byte[n];
        t.Physical.ReadBytes(at, b);
        return b;
    }

    // ---- faults part way ----

    [Theory]
    [InlineDataOnEveryEngine(0, Src + 0x4F00, Dst, 0x200u, 0x100u, MissingSrcPage, 0u)]          // movsb: the source runs into a missing page
    [InlineDataOnEveryEngine(0, Src, Dst + 0x4F80, 0x200u, 0x80u, MissingDstPage, 2u)]            // movsb: the destination does
    [InlineDataOnEveryEngine(2, Src + 0x4F02, Dst, 0x100u, 0x3Fu, MissingSrcPage, 0u)]            // movsd: the faulting element straddles the pages
    [InlineDataOnEveryEngine(2, Src, Dst + 0x4F01, 0x100u, 0x3Fu, MissingDstPage, 2u)]
    [InlineDataOnEveryEngine(2, Src, Dst + 0x6F00, 0x100u, 0x40u, ReadOnlyDstPage, 3u)]      // movsd: into a read-only page (protection)
    public void RepMovsIntoAMissingPageFaultsAtTheFirstElementThere(int size, uint src, uint dst, uint count, uint done, uint cr2, uint error, string engine)
    {
        using var t = Paged(engine);
        byte[] before = Bytes(t, dst, (int)(count << size));
        t.Load(Code, a =>
        {
            a.mov(esi, src);
            a.mov(edi, dst);
            a.mov(ecx, count);
            if (size == 0) a.rep.movsb(); else a.rep.movsd();
            a.hlt();
        });
        uint at = Code + (uint)Asm.Length(32, a => { a.mov(esi, 0); a.mov(edi, 0); a.mov(ecx, 0); });
        Faults.AssertFault(t.Cpu, t.Run(Code), ExceptionVectors.PF, at, error);
        Assert.Equal(cr2, t.Cpu.Cr2);
        Assert.Equal(count - done, t.Cpu.Ecx);
        Assert.Equal(src + (done << size), t.Cpu.Esi);
        Assert.Equal(dst + (done << size), t.Cpu.Edi);
        int moved = (int)(done << size);
        Assert.Equal(Bytes(t, src, moved), Bytes(t, dst, moved));
        // Nothing of the faulting element or after it was written (where the destination is mapped).
        int mapped = (int)Math.Min(count << size, (cr2 & ~0xFFFu) - dst);
        Assert.Equal(before[moved..mapped], Bytes(t, dst + (uint)moved, mapped - moved));
    }

    [Theory]
    [InlineDataOnEveryEngine(false)]
    [InlineDataOnEveryEngine(true)]
    public void RepStosdPastTheEsLimitFaultsAtTheElementBeyondIt(bool expandDown, string engine)
    {
        using var t = TestCpu.Flat32(engine);
        const uint esBase = 0x30_0000;
        uint rights = SegmentCache.RightsP | SegmentCache.RightsS | SegmentCache.RightsDB | (expandDown ? 7u : 3u);
        // Upward: offsets 0-FFFh valid, the run goes up from F02h. Expand-down: offsets 1000h up valid, the run goes down from 10FEh.
        t.Cpu.Seg[SegReg.ES].Load(0x10, esBase, 0xFFF, rights);
        uint start = expandDown ? 0x10FEu : 0xF02u;
        t.Load(Code, a =>
        {
            if (expandDown) a.std();
            a.mov(edi, start);
            a.mov(ecx, 0x200);
            a.mov(eax, 0x1234_5678);
            a.rep.stosd();
            a.hlt();
        });
        uint at = Code + (uint)Asm.Length(32, a => { if (expandDown) a.std(); a.mov(edi, 0); a.mov(ecx, 0); a.mov(eax, 0); });
        Faults.AssertFault(t.Cpu, t.Run(Code), ExceptionVectors.GP, at, 0);
        // Up: F02h + 4i + 3 <= FFFh for i < 3Fh. Down: 10FEh - 4i >= 1000h for i < 40h.
        uint done = expandDown ? 0x40u : 0x3Fu;
        Assert.Equal(0x200 - done, t.Cpu.Ecx);
        Assert.Equal(expandDown ? 0x10FE - 4 * done : 0xF02 + 4 * done, t.Cpu.Edi);
        uint lowest = expandDown ? 0x10FE - 4 * (done - 1) : 0xF02;
        for (uint i = 0; i < done; i++) Assert.Equal(0x1234_5678u, t.Read32(esBase + lowest + 4 * i));
        Assert.Equal(0u, t.Read32(esBase + (expandDown ? lowest - 4 : 0xFFE)));
    }

    [Theory, OnEveryEngine]
    public void RepMovsbFromBeyondTheSsLimitIsAStackFault(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.Cpu.Seg[SegReg.SS].Load(0x10, 0x30_0000, 0x1FFF, SegmentCache.RightsP | SegmentCache.RightsS | SegmentCache.RightsDB | 3);
        t.Cpu.UpdateModes();
        t.Load(Code, a =>
        {
            a.mov(esi, 0x1F00);
            a.mov(edi, 0x40_0000 - 0x1000);
            a.mov(ecx, 0x1000);
            a.db(0x36, 0xF3, 0xA4); // rep movsb from ss:[esi]
            a.hlt();
        });
        uint at = Code + (uint)Asm.Length(32, a => { a.mov(esi, 0); a.mov(edi, 0); a.mov(ecx, 0); });
        Faults.AssertFault(t.Cpu, t.Run(Code), ExceptionVectors.SS, at, 0);
        Assert.Equal(0x1000u - 0x100, t.Cpu.Ecx);
        Assert.Equal(0x2000u, t.Cpu.Esi);
    }

    // ---- overlap and direction ----

    [Theory, OnEveryEngine]
    public void AnOverlappingForwardRepMovsbRepeatsTheFirstByte(string engine)
    {
        using var t = Paged(engine);
        const uint from = Src + 0xF00, n = 3000;
        byte first = t.Read8(from);
        t.RunToHalt(Code, a =>
        {
            a.mov(esi, from);
            a.mov(edi, from + 1);
            a.mov(ecx, n);
            a.rep.movsb();
        });
        Assert.All(Bytes(t, from, (int)n + 1), b => Assert.Equal(first, b));
        Assert.Equal(0u, t.Cpu.Ecx);
        Assert.Equal(from + n, t.Cpu.Esi);
    }

    [Theory]
    [InlineDataOnEveryEngine(false, 2, 1)]   // movsd, destination one byte after the source: a pattern of period 1 per element...
    [InlineDataOnEveryEngine(false, 2, 6)]   // ... and of 6 bytes
    [InlineDataOnEveryEngine(false, 1, -1)]  // destination before the source: a plain move
    [InlineDataOnEveryEngine(true, 0, -1)]   // backward, destination just below the source: smears downward
    [InlineDataOnEveryEngine(true, 2, -3)]
    [InlineDataOnEveryEngine(true, 2, 5)]
    [InlineDataOnEveryEngine(true, 1, 0)]
    public void OverlappingCopiesBehaveAsElementByElement(bool down, int size, int gap, string engine)
    {
        uint start = down ? Src + 0x2F10 : Src + 0xF10;
        byte[] Run(TestCpu m)
        {
            m.RunToHalt(Code, a =>
            {
                if (down) a.std();
                a.mov(esi, start);
                a.mov(edi, (uint)(start + gap));
                a.mov(ecx, 1500);
                if (size == 0) a.rep.movsb(); else if (size == 1) a.rep.movsw(); else a.rep.movsd();
            });
            return Bytes(m, Src, 0x4000);
        }
        using var reference = Paged(Engines.Interpreter);
        reference.Cpu.RepLimit = 1;
        using var t = Paged(engine);
        byte[] expected = Run(reference);
        Assert.Equal(expected, Run(t));
        Assert.Equal(reference.Cpu.Esi, t.Cpu.Esi);
        Assert.Equal(reference.Cpu.Edi, t.Cpu.Edi);
        Assert.Equal(0u, t.Cpu.Ecx);
    }

    [Theory, OnEveryEngine]
    public void ABackwardRepMovsdCopiesAcrossPages(string engine)
    {
        using var t = Paged(engine);
        const uint n = 0x900; // dwords: 9 KiB, three pages
        t.RunToHalt(Code, a =>
        {
            a.std();
            a.mov(esi, Src + 0x3000 - 4 + 2);
            a.mov(edi, Dst + 0x3000 - 4 + 1);
            a.mov(ecx, n);
            a.rep.movsd();
            a.cld();
        });
        Assert.Equal(Bytes(t, Src + 0x3000 + 2 - 4 * n, (int)(4 * n)), Bytes(t, Dst + 0x3000 + 1 - 4 * n, (int)(4 * n)));
        Assert.Equal(Src + 0x3000 - 4 + 2 - 4 * n, t.Cpu.Esi);
        Assert.Equal(Dst + 0x3000 - 4 + 1 - 4 * n, t.Cpu.Edi);
        Assert.Equal(0u, t.Cpu.Ecx);
    }

    [Theory, OnEveryEngine]
    public void A16BitAddressRunWrapsSiAndDiAtSixtyFourKilobytes(string engine)
    {
        using var t = Paged(engine);
        const uint rights = SegmentCache.RightsP | SegmentCache.RightsS | SegmentCache.RightsDB | 3;
        t.Cpu.Seg[SegReg.DS].Load(0x10, Src, 0xFFFF, rights);
        t.Cpu.Seg[SegReg.ES].Load(0x10, Dst, 0xFFFF, rights);
        t.RunToHalt(Code, a =>
        {
            a.mov(esi, 0x1234_FFF0);
            a.mov(edi, 0x5678_FFF8);
            a.mov(ecx, 0x9999_0020);
            a.db(0x67, 0xF3, 0xA4); // rep movsb with SI, DI, CX
        });
        Assert.Equal(0x1234_0010u, t.Cpu.Esi);
        Assert.Equal(0x5678_0018u, t.Cpu.Edi);
        Assert.Equal(0x9999_0000u, t.Cpu.Ecx);
        Assert.Equal(Bytes(t, Src + 0xFFF0, 8), Bytes(t, Dst + 0xFFF8, 8));
        Assert.Equal(Bytes(t, Src + 0xFFF8, 8), Bytes(t, Dst, 8));
        Assert.Equal(Bytes(t, Src, 16), Bytes(t, Dst + 8, 16));
    }

    // ---- compares and scans ----

    [Theory]
    [InlineDataOnEveryEngine(0x123)]
    [InlineDataOnEveryEngine(0xF7F)]
    public void RepeCmpsbStopsAtTheFirstDifferenceInThePage(int at, string engine)
    {
        using var t = TestCpu.Flat32(engine);
        var data = new byte[0x3000];
        for (int i = 0; i < data.Length; i++) data[i] = (byte)(i * 7 + 3);
        t.Physical.WriteBytes(Src + 0x80, data);
        data[at] = (byte)(data[at] + 1); // the destination's byte is the larger: CF=1 after src - dst
        data[at + 5] ^= 0xFF;            // a later difference the compare must not reach
        t.Physical.WriteBytes(Dst + 0x40, data);
        t.RunToHalt(Code, a =>
        {
            a.mov(esi, Src + 0x80);
            a.mov(edi, Dst + 0x40);
            a.mov(ecx, 0x3000);
            a.repe.cmpsb();
        });
        Assert.Equal(0x3000u - (uint)at - 1, t.Cpu.Ecx);
        Assert.Equal(Src + 0x80 + (uint)at + 1, t.Cpu.Esi);
        Assert.Equal(Dst + 0x40 + (uint)at + 1, t.Cpu.Edi);
        Assert.False(t.Cpu.ZF);
        Assert.True(t.Cpu.CF);
    }

    [Theory, OnEveryEngine]
    public void RepneScasbFindsTheByte(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        var data = new byte[0x3000];
        for (int i = 0; i < data.Length; i++) data[i] = (byte)(i % 250 + 1);
        data[0x2345] = 0;
        data[0x2800] = 0;
        t.Physical.WriteBytes(Dst + 0xF00, data);
        t.RunToHalt(Code, a =>
        {
            a.mov(edi, Dst + 0xF00);
            a.mov(ecx, 0xFFFF_FFFF);
            a.xor(eax, eax);
            a.repne.scasb();
        });
        Assert.Equal(0xFFFF_FFFFu - 0x2346, t.Cpu.Ecx);
        Assert.Equal(Dst + 0xF00 + 0x2346, t.Cpu.Edi);
        Assert.True(t.Cpu.ZF);
    }

    [Theory, OnEveryEngine]
    public void RepneScaswThatFindsNothingRunsOutTheCount(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        for (uint i = 0; i < 0x1800; i += 4) t.Write32(Dst + i, 0x0001_0002);
        t.RunToHalt(Code, a =>
        {
            a.std();
            a.mov(edi, Dst + 0x1800 - 2);
            a.mov(ecx, 0xC00);
            a.mov(eax, 0x0003);
            a.repne.scasw();
            a.cld();
        });
        Assert.Equal(0u, t.Cpu.Ecx);
        Assert.Equal(Dst - 2, t.Cpu.Edi);
        Assert.False(t.Cpu.ZF);
    }

    // ---- self-modifying code ----

    [Theory, OnEveryEngine]
    public void RepStosdOverCodeThatRanInvalidatesIt(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        const uint function = 0x5F00; // the stores run from this page into the next
        t.Load(function, a => { a.mov(eax, 1); a.ret(); });
        t.WriteBytes(function + 0x200, 0xC3); // ret, past the stores
        t.RunToHalt(Code, a =>
        {
            a.call(function);
            a.mov(ebx, eax);            // 1: the old code
            a.mov(edi, function);
            a.mov(ecx, 0x80);           // 512 bytes of NOPs over it and into the next page
            a.mov(eax, 0x9090_9090);
            a.rep.stosd();
            a.mov(eax, 7);
            a.call(function);           // now NOPs up to the RET: EAX stays 7
        });
        Assert.Equal(1u, t.Cpu.Ebx);
        Assert.Equal(7u, t.Cpu.Eax);
        Assert.True(t.Cpu.Blocks.Invalidated >= 1);
    }

    // ---- everything against the element loop ----

    public static TheoryData<int> Cases()
    {
        var d = new TheoryData<int>();
        for (int i = 0; i < 80; i++) d.Add(i);
        return d;
    }

    /// <summary>
    /// Random forms, sizes, directions, address sizes, segments and placements (near page
    /// boundaries, missing and read-only pages, segment limits, overlapping operands): the
    /// registers, flags, CR2, memory and how the run ended must match the element loop's.
    /// </summary>
    [Theory]
    [MemberDataOnEveryEngine(nameof(Cases))]
    public void ARandomRepeatedStringInstructionMatchesTheElementLoop(int seed, string engine)
    {
        var r = new Random(seed * 7919 + 1);
        int form = r.Next(7);          // movs, stos, lods, repe cmps, repne cmps, repe scas, repne scas
        int size = r.Next(3);
        bool down = r.Next(4) == 0;
        bool a16 = r.Next(4) == 0;
        bool small = r.Next(3) == 0;   // DS and ES limited to 64 KiB (or expand-down)
        bool expandDown = small && r.Next(2) == 0;
        uint Place() => r.Next(3) switch
        {
            0 => (uint)r.Next(0x1_0000),
            1 => (uint)(0x1000 * r.Next(1, 16) + r.Next(-24, 24)) & 0xFFFF,
            _ => (uint)r.Next(0x100, 0x800),
        };
        uint si = Place(), di = Place();
        bool sameBase = r.Next(3) == 0; // overlapping source and destination
        if (sameBase) di = (uint)(si + r.Next(-9, 10)) & 0xFFFF;
        if (sameBase && r.Next(2) == 0) form = 0; // mostly copies, where overlap matters
        uint count = r.Next(3) == 0 ? (uint)r.Next(1, 8) : (uint)r.Next(1, 0x3000);
        uint acc = (uint)r.Next();
        bool matchy = r.Next(2) == 0;  // scans and compares over data that mostly matches
        var code = new List<byte>();
        if (down) code.Add(0xFD);
        if (a16) code.Add(0x67);
        if (size == 1) code.Add(0x66);
        code.Add(form switch { 3 or 5 => 0xF3, 4 or 6 => 0xF2, _ => 0xF3 });
        byte op = form switch { 0 => 0xA4, 1 => 0xAA, 2 => 0xAC, 3 or 4 => 0xA6, _ => 0xAE };
        code.Add((byte)(op + (size == 0 ? 0 : 1)));
        code.Add(0xF4);

        TestCpu Prepare(string e)
        {
            var t = Paged(e);
            var c = t.Cpu;
            uint rights = SegmentCache.RightsP | SegmentCache.RightsS | SegmentCache.RightsDB | (expandDown ? 7u : 3u);
            uint limit = !small ? 0xFFFF_FFFFu : expandDown ? 0x0FFFu : 0xBFFFu;
            c.Seg[SegReg.DS].Load(0x10, Src, limit, rights);
            c.Seg[SegReg.ES].Load(0x10, sameBase ? Src : Dst, limit, rights);
            if (matchy)
            {
                var fill = new byte[0x1_0000];
                for (int i = 0; i < fill.Length; i++) fill[i] = (byte)(acc >> (8 * (i % (1 << size))));
                for (int i = 0; i < 6; i++) fill[Flip(seed, i)] ^= 1;
                t.Physical.WriteBytes(Src, fill);
                t.Physical.WriteBytes(Dst, fill);
            }
            c.Eax = acc;
            c.Ecx = count | (a16 ? 0xABCD_0000u : 0);
            c.Esi = si | (a16 ? 0x1111_0000u : 0);
            c.Edi = di | (a16 ? 0x2222_0000u : 0);
            t.Physical.WriteBytes(Code, code.ToArray());
            return t;
        }

        using var reference = Prepare(Engines.Interpreter);
        reference.Cpu.RepLimit = 1;
        using var t = Prepare(engine);
        StopReason expected = reference.Run(Code, 1_000_000);
        StopReason actual = t.Run(Code, 1_000_000);
        string what = $"form {form} size {size} down {down} a16 {a16} small {small} expandDown {expandDown} esi {si:X} edi {di:X} ecx {count:X}";
        Assert.True(expected == actual, $"{what}: stopped with {actual}, expected {expected}");
        if (expected == StopReason.UnhandledException)
        {
            Assert.Equal(reference.Cpu.LastFault!.Value.Name, t.Cpu.LastFault!.Value.Name);
            Assert.Equal(reference.Cpu.Cr2, t.Cpu.Cr2);
        }
        Assert.Equal(reference.Cpu.Eip, t.Cpu.Eip);
        for (int g = 0; g < 8; g++)
            Assert.True(reference.Cpu.Gpr[g] == t.Cpu.Gpr[g], $"{what}: {Reg.Names32[g]} is {t.Cpu.Gpr[g]:X8}, expected {reference.Cpu.Gpr[g]:X8}");
        Assert.Equal(reference.Cpu.GetEflags(), t.Cpu.GetEflags());
        Assert.True(Bytes(reference, Src, 0x1_0000).SequenceEqual(Bytes(t, Src, 0x1_0000)), $"{what}: source memory differs");
        Assert.True(Bytes(reference, Dst, 0x1_0000).SequenceEqual(Bytes(t, Dst, 0x1_0000)), $"{what}: destination memory differs");
        Assert.Equal(Bytes(reference, PageTable + 0x200 * 4, 0x100), Bytes(t, PageTable + 0x200 * 4, 0x100)); // accessed and dirty bits
        Assert.Equal(Bytes(reference, PageTable + 0x300 * 4, 0x100), Bytes(t, PageTable + 0x300 * 4, 0x100));
    }

    private static int Flip(int seed, int i) => (int)((uint)(seed * 2654435761u + (uint)i * 40503u) % 0x1_0000u);
}
