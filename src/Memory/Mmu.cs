using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Emu.Memory;

/// <summary>The kind of a linear access, as the page walker and the shadow TLB distinguish them.</summary>
public enum AccessKind
{
    Read,
    Write,
    Fetch,
}

/// <summary>
/// The linear address space: every guest linear access goes through here. A software TLB
/// maps a linear page to a host pointer for reads and, separately, for writes; a miss takes
/// the slow path, which translates the address (A20; paging plugs in here), checks it and
/// fills the entry when the page is plain RAM or ROM. MMIO pages, dropped ROM writes and
/// writes to pages that hold decoded code never enter the write side, so those stores
/// always reach the slow path. Misaligned and page-crossing accesses are split correctly:
/// both pages are translated before anything is written.
/// </summary>
public sealed unsafe partial class Mmu : IA20Line, IDisposable
{
    public const int TlbBits = 10;
    public const int TlbEntries = 1 << TlbBits;
    private const uint TlbIndexMask = TlbEntries - 1;
    private const uint InvalidTag = 0xFFFF_FFFF;

    /// <summary>
    /// The layout of a TLB entry, for compiled code that looks entries up itself: entry
    /// <c>(linear &gt;&gt; 12) &amp; (TlbEntries - 1)</c> of <see cref="ReadTlb"/> or <see cref="WriteTlb"/>
    /// is <see cref="TlbEntrySize"/> bytes; its uint tag at offset 0 is the linear page base
    /// (0xFFFFFFFF when empty); the host address of <c>linear</c> is the nint at
    /// <see cref="TlbAddendOffset"/> plus <c>linear</c>. A hit means the access is allowed.
    /// </summary>
    public const int TlbEntrySize = 16, TlbAddendOffset = 8;

    /// <summary>The read TLB for the current privilege (changes only with <see cref="UserMode"/> and <see cref="AlignmentCheck"/>).</summary>
    public nint ReadTlb => (nint)readTlb;

    /// <summary>The write TLB for the current privilege: pages holding code, ROM and MMIO are never in it.</summary>
    public nint WriteTlb => (nint)writeTlb;

    /// <summary>
    /// <see cref="WriteTlb"/> is always <see cref="ReadTlb"/> plus this many bytes, so compiled
    /// code reaches both from one base (one register fewer in its loops).
    /// </summary>
    public const int WriteTlbOffset = TlbEntries * TlbEntrySize;

    [StructLayout(LayoutKind.Sequential)]
    private struct TlbEntry
    {
        public uint Tag;     // linear page base, or InvalidTag
        public uint Phys;    // physical page base | PageFlags (Global: kept on CR3 loads; Large: part of a 4 MiB page)
        public nint Addend;  // host address = Addend + linear address
    }

    private readonly PhysicalMemory phys;
    // [0] read, [1] write; one pair per privilege (0 supervisor, 1 user).
    private readonly TlbEntry* tlbBlock;
    private TlbEntry* readTlb;
    private TlbEntry* writeTlb;

    /// <summary>
    /// The TLB code fetches use: the read TLB of the privilege, even while alignment checking
    /// keeps data accesses out of it (fetches are never checked for alignment). Without it a
    /// user program with EFLAGS.AC set would fetch with no TLB at all, walking the tables for
    /// every new block, where the processor goes on with the translation it has cached.
    /// </summary>
    private TlbEntry* fetchTlb;
    private uint a20Mask = 0xFFFF_FFFF;
    private bool disposed;

    /// <summary>log2 of a large page's size with 32-bit paging (4 MiB, CR4.PSE).</summary>
    public const int LargePageShift = 22;
    private const uint LargeMask = (1u << LargePageShift) - 1;

    /// <summary>
    /// One bit per 4 MiB of linear space: the TLB may hold an entry of a 4 MiB page there
    /// (cleared when an INVLPG drops them, or by a full flush), so INVLPG looks for the rest of
    /// such a page only where there can be one.
    /// </summary>
    private readonly uint[] largeRegions = new uint[1 << (32 - LargePageShift - 5)];

    public Mmu(PhysicalMemory physical)
    {
        phys = physical;
        tlbBlock = (TlbEntry*)NativeMemory.AlignedAlloc((nuint)(sizeof(TlbEntry) * TlbEntries * 6), 64);
        readTlb = fetchTlb = tlbBlock;
        writeTlb = tlbBlock + TlbEntries;
        FlushAll();
        phys.CodePageMarked += OnCodePageMarked;
        phys.WritePointersRevoked += () => FlushAll();
        // Shadow RAM switched: entries may hold host pointers into the ROM or RAM block that no
        // longer backs those physical pages. Rare (a few PAM writes per boot), so drop them all.
        phys.LayoutChanged += (_, _) => FlushAll();
    }

    public PhysicalMemory Physical => phys;

    /// <summary>Whether accesses are checked with user privilege (CPL 3): selects the TLB pair.</summary>
    public bool UserMode
    {
        get => user;
        set
        {
            user = value;
            SelectTlb();
        }
    }

    /// <summary>
    /// Alignment checking (CR0.AM, EFLAGS.AC at CPL 3): a misaligned user access raises #AC(0).
    /// While it is on, user accesses bypass the TLB (a pair of tables that is never filled), so
    /// the check costs nothing the rest of the time.
    /// </summary>
    public bool AlignmentCheck
    {
        get => alignmentCheck;
        set
        {
            alignmentCheck = value;
            SelectTlb();
        }
    }

    private bool user;
    private bool alignmentCheck;
    private bool uncached;

    private void SelectTlb()
    {
        uncached = alignmentCheck && user;
        fetchTlb = user ? tlbBlock + 2 * TlbEntries : tlbBlock;
        readTlb = uncached ? tlbBlock + 4 * TlbEntries : fetchTlb;
        writeTlb = readTlb + TlbEntries; // WriteTlbOffset bytes on
    }

    private void CheckAlignment(uint linear, int size)
    {
        if (uncached && (linear & (uint)(size - 1)) != 0) throw GuestFault.Create(ExceptionVectors.AC, 0);
    }

    /// <summary>The A20 gate: when disabled, physical address bit 20 is forced to zero (8086 wrap-around).</summary>
    public bool A20Enabled
    {
        get => a20Mask == 0xFFFF_FFFF;
        set
        {
            uint mask = value ? 0xFFFF_FFFFu : ~(1u << 20);
            if (mask == a20Mask) return;
            a20Mask = mask;
            FlushAll();
            A20Changed?.Invoke();
        }
    }

    /// <summary>
    /// Raised after the A20 gate changed. Linear addresses above 1 MiB now reach other physical
    /// memory, so whatever the CPU keys by linear address (its block lookup) must be dropped;
    /// the gate is driven by devices, which never see the CPU.
    /// </summary>
    public event Action? A20Changed;

    /// <summary>Drops every cached translation (both privileges, reads and writes); returns how many entries held one.</summary>
    public int FlushAll()
    {
        int dropped = 0;
        for (int i = 0; i < TlbEntries * 6; i++)
        {
            if (tlbBlock[i].Tag != InvalidTag) dropped++;
            tlbBlock[i].Tag = InvalidTag;
        }
        Array.Clear(largeRegions);
        Counters.FullFlushes++;
        return dropped;
    }

    /// <summary>What the MMU counted (<c>emu run --stats</c>); plain fields, written by the emulation thread only.</summary>
    public MmuCounters Counters;

    /// <summary>
    /// Drops the cached translations of the page holding <paramref name="linear"/> (INVLPG). When
    /// a 4 MiB page maps it, that is the whole 4 MiB page (Intel SDM Vol. 3, 4.10.4.1: "the page"
    /// of the address, whatever its size): the TLB holds it as 4 KiB entries, filled one by one,
    /// so each one of them goes.
    /// </summary>
    public void FlushPage(uint linear)
    {
        uint tag = linear & ~PhysicalMemory.PageMask;
        uint index = (linear >> PhysicalMemory.PageShift) & TlbIndexMask;
        for (int set = 0; set < 4; set++)
        {
            ref TlbEntry e = ref tlbBlock[set * TlbEntries + index];
            if (e.Tag == tag) e.Tag = InvalidTag;
        }
        uint region = linear >> LargePageShift;
        if ((largeRegions[region >> 5] & (1u << (int)region)) == 0) return;
        largeRegions[region >> 5] &= ~(1u << (int)region);
        Counters.LargePageFlushes++;
        uint first = region << LargePageShift;
        for (int i = 0; i < TlbEntries * 4; i++)
        {
            ref TlbEntry e = ref tlbBlock[i];
            if (e.Tag != InvalidTag && (e.Tag & ~LargeMask) == first && (e.Phys & (uint)PageFlags.Large) != 0) e.Tag = InvalidTag;
        }
    }

    private void OnCodePageMarked(uint physPage)
    {
        // The page now holds code: no write may reach it without the slow path seeing it.
        for (int set = 1; set < 4; set += 2)
        {
            TlbEntry* t = tlbBlock + set * TlbEntries;
            for (int i = 0; i < TlbEntries; i++)
                if (t[i].Tag != InvalidTag && (t[i].Phys & ~PhysicalMemory.PageMask) == physPage) t[i].Tag = InvalidTag;
        }
    }

    // ---- translation ----

    /// <summary>
    /// Translates a linear address to a physical one for an access of the given kind at the
    /// current privilege (<see cref="UserMode"/>), raising #PF if paging forbids it.
    /// </summary>
    public uint Translate(uint linear, AccessKind kind) => Translate(linear, kind, UserMode, out _);

    /// <summary>Translates for a read and fills the read TLB; returns the host page or null (slow page).</summary>
    private byte* FillRead(uint linear, out uint physical)
    {
        byte* host = TranslateAndFillRead(linear, AccessKind.Read, readTlb, out physical, out _);
        // A watched page's data accesses take the slow path, which records the hit.
        return host != null && watchCount != 0 && PageWatched(linear) ? null : host;
    }

    /// <summary>
    /// Translates for a read or a fetch (the same permission with 32-bit paging) and fills
    /// <paramref name="into"/> (the read or the fetch TLB), unless the page is watched or it is
    /// the set alignment checking keeps empty; returns the host page, or null when the page is
    /// not directly readable.
    /// </summary>
    private byte* TranslateAndFillRead(uint linear, AccessKind kind, TlbEntry* into, out uint physical, out PageFlags flags)
    {
        physical = Translate(linear, kind, UserMode, out flags);
        byte* host = phys.PageHostPointer(physical, write: false);
        // The alignment-checking set is never filled; a watched page stays out of every set
        // (after alignment checking ends, data reads use the fetch TLB too).
        if (host != null && into != tlbBlock + 4 * TlbEntries && (watchCount == 0 || !PageWatched(linear))) Fill(into, linear, physical, host, flags);
        return host;
    }

    /// <summary>Translates for a write and fills the write TLB; returns the host page or null (slow page).</summary>
    private byte* FillWrite(uint linear, out uint physical)
    {
        physical = Translate(linear, AccessKind.Write, UserMode, out PageFlags flags);
        byte* host = phys.PageHostPointer(physical, write: true);
        if (host != null && watchCount != 0 && PageWatched(linear)) return null;
        if (host != null && !uncached) Fill(writeTlb, linear, physical, host, flags);
        return host;
    }

    private void Fill(TlbEntry* tlb, uint linear, uint physical, byte* host, PageFlags flags)
    {
        uint tag = linear & ~PhysicalMemory.PageMask;
        ref TlbEntry e = ref tlb[(linear >> PhysicalMemory.PageShift) & TlbIndexMask];
        e.Tag = tag;
        e.Phys = (physical & ~PhysicalMemory.PageMask) | (uint)flags;
        if ((flags & PageFlags.Large) != 0) largeRegions[linear >> LargePageShift >> 5] |= 1u << (int)(linear >> LargePageShift);
        e.Addend = (nint)host - (nint)tag;
    }

    // ---- reads ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte Read8(uint linear)
    {
        TlbEntry* e = readTlb + ((linear >> PhysicalMemory.PageShift) & TlbIndexMask);
        if (e->Tag == (linear & ~PhysicalMemory.PageMask)) return *(byte*)(e->Addend + (nint)linear);
        return (byte)ReadSlow(linear, 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort Read16(uint linear)
    {
        TlbEntry* e = readTlb + ((linear >> PhysicalMemory.PageShift) & TlbIndexMask);
        if (e->Tag == (linear & ~PhysicalMemory.PageMask) && (linear & PhysicalMemory.PageMask) <= PhysicalMemory.PageSize - 2)
            return Unsafe.ReadUnaligned<ushort>((byte*)(e->Addend + (nint)linear));
        return (ushort)ReadSlow(linear, 2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Read32(uint linear)
    {
        TlbEntry* e = readTlb + ((linear >> PhysicalMemory.PageShift) & TlbIndexMask);
        if (e->Tag == (linear & ~PhysicalMemory.PageMask) && (linear & PhysicalMemory.PageMask) <= PhysicalMemory.PageSize - 4)
            return Unsafe.ReadUnaligned<uint>((byte*)(e->Addend + (nint)linear));
        return ReadSlow(linear, 4);
    }

    /// <summary>Eight bytes: one access when they lie in one page the TLB holds, else as two 4-byte reads.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Read64(uint linear)
    {
        TlbEntry* e = readTlb + ((linear >> PhysicalMemory.PageShift) & TlbIndexMask);
        if (e->Tag == (linear & ~PhysicalMemory.PageMask) && (linear & PhysicalMemory.PageMask) <= PhysicalMemory.PageSize - 8)
            return Unsafe.ReadUnaligned<ulong>((byte*)(e->Addend + (nint)linear));
        return Read32(linear) | ((ulong)Read32(linear + 4) << 32);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private uint ReadSlow(uint linear, int size)
    {
        Counters.ReadMisses++;
        CheckAlignment(linear, size);
        if (watchCount != 0) CheckWatches(linear, size, write: false);
        uint offset = linear & PhysicalMemory.PageMask;
        if (offset + (uint)size <= PhysicalMemory.PageSize)
        {
            byte* page = FillRead(linear, out uint p);
            if (page != null)
            {
                byte* h = page + offset;
                return size switch { 1 => *h, 2 => Unsafe.ReadUnaligned<ushort>(h), _ => Unsafe.ReadUnaligned<uint>(h) };
            }
            return phys.Read(p, size);
        }
        // Crosses into the next page: translate both pages before reading either.
        return ReadAcross(linear, size, AccessKind.Read);
    }

    // ---- writes ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write8(uint linear, byte value)
    {
        TlbEntry* e = writeTlb + ((linear >> PhysicalMemory.PageShift) & TlbIndexMask);
        if (e->Tag == (linear & ~PhysicalMemory.PageMask)) { *(byte*)(e->Addend + (nint)linear) = value; return; }
        WriteSlow(linear, 1, value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write16(uint linear, ushort value)
    {
        TlbEntry* e = writeTlb + ((linear >> PhysicalMemory.PageShift) & TlbIndexMask);
        if (e->Tag == (linear & ~PhysicalMemory.PageMask) && (linear & PhysicalMemory.PageMask) <= PhysicalMemory.PageSize - 2)
        {
            Unsafe.WriteUnaligned((byte*)(e->Addend + (nint)linear), value);
            return;
        }
        WriteSlow(linear, 2, value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write32(uint linear, uint value)
    {
        TlbEntry* e = writeTlb + ((linear >> PhysicalMemory.PageShift) & TlbIndexMask);
        if (e->Tag == (linear & ~PhysicalMemory.PageMask) && (linear & PhysicalMemory.PageMask) <= PhysicalMemory.PageSize - 4)
        {
            Unsafe.WriteUnaligned((byte*)(e->Addend + (nint)linear), value);
            return;
        }
        WriteSlow(linear, 4, value);
    }

    /// <summary>Eight bytes: one access when they lie in one page the TLB holds, else as two 4-byte writes (low first).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write64(uint linear, ulong value)
    {
        TlbEntry* e = writeTlb + ((linear >> PhysicalMemory.PageShift) & TlbIndexMask);
        if (e->Tag == (linear & ~PhysicalMemory.PageMask) && (linear & PhysicalMemory.PageMask) <= PhysicalMemory.PageSize - 8)
        {
            Unsafe.WriteUnaligned((byte*)(e->Addend + (nint)linear), value);
            return;
        }
        Write32(linear, (uint)value);
        Write32(linear + 4, (uint)(value >> 32));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteSlow(uint linear, int size, uint value)
    {
        Counters.WriteMisses++;
        CheckAlignment(linear, size);
        if (watchCount != 0) CheckWatches(linear, size, write: true);
        uint offset = linear & PhysicalMemory.PageMask;
        if (offset + (uint)size <= PhysicalMemory.PageSize)
        {
            byte* page = FillWrite(linear, out uint p);
            if (page != null)
            {
                byte* h = page + offset;
                switch (size)
                {
                    case 1: *h = (byte)value; break;
                    case 2: Unsafe.WriteUnaligned(h, (ushort)value); break;
                    default: Unsafe.WriteUnaligned(h, value); break;
                }
                return;
            }
            phys.Write(p, size, value);
            return;
        }
        uint p0 = Translate(linear, AccessKind.Write);
        uint p1 = Translate(SecondPage(linear, size), AccessKind.Write);
        int first = (int)(PhysicalMemory.PageSize - offset);
        for (int i = 0; i < size; i++)
        {
            byte b = (byte)(value >> (8 * i));
            if (i < first) phys.Write(p0 + (uint)i, 1, b);
            else phys.Write(p1 + (uint)(i - first), 1, b);
        }
    }

    /// <summary>
    /// Checks that [linear, linear + size) may be written, raising the fault a write would
    /// raise, without writing. Read-modify-write instructions call this before reading, so a
    /// fault leaves no state changed and reports a write access, as the CPU does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ProbeWrite(uint linear, int size)
    {
        if (WriteEntry(linear, size) == null) ProbeWriteSlow(linear, size);
    }

    /// <summary>The write TLB's entry for an access of <paramref name="size"/> bytes that it holds whole, else null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private TlbEntry* WriteEntry(uint linear, int size)
    {
        TlbEntry* e = writeTlb + ((linear >> PhysicalMemory.PageShift) & TlbIndexMask);
        return e->Tag == (linear & ~PhysicalMemory.PageMask) && (linear & PhysicalMemory.PageMask) <= PhysicalMemory.PageSize - (uint)size ? e : null;
    }

    /// <summary>
    /// <see cref="ProbeWrite"/> for a read-modify-write operand, whose read and write then go
    /// through the one translation the probe made (<see cref="ReadRmw"/>), as the processor
    /// translates such an operand once, for writing, and as compiled code does (it reads and
    /// writes the operand through the write TLB). On a miss both TLBs are filled from the one
    /// walk, where a read and a write each translating could see different mappings when the
    /// guest has changed its tables without INVLPG.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ProbeRmw(uint linear, int size)
    {
        if (WriteEntry(linear, size) == null) ProbeRmwSlow(linear, size);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ProbeRmwSlow(uint linear, int size)
    {
        if (((linear ^ (linear + (uint)size - 1)) & ~PhysicalMemory.PageMask) != 0 || uncached || (watchCount != 0 && PageWatched(linear)))
        {
            ProbeWriteSlow(linear, size);
            return;
        }
        uint p = Translate(linear, AccessKind.Write, UserMode, out PageFlags flags);
        byte* host = phys.PageHostPointer(p, write: false);
        if (host != null) Fill(readTlb, linear, p, host, flags);
        host = phys.PageHostPointer(p, write: true);
        if (host != null) Fill(writeTlb, linear, p, host, flags);
    }

    /// <summary>Reads a read-modify-write operand that <see cref="ProbeRmw"/> checked: through the write side's translation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint ReadRmw(uint linear, int size)
    {
        TlbEntry* e = WriteEntry(linear, size);
        if (e != null)
        {
            byte* h = (byte*)(e->Addend + (nint)linear);
            return size switch { 1 => *h, 2 => Unsafe.ReadUnaligned<ushort>(h), _ => Unsafe.ReadUnaligned<uint>(h) };
        }
        return ReadRmwSlow(linear, size);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private uint ReadRmwSlow(uint linear, int size)
    {
        Counters.ReadMisses++;
        if (watchCount != 0) CheckWatches(linear, size, write: false);
        uint offset = linear & PhysicalMemory.PageMask;
        if (offset + (uint)size <= PhysicalMemory.PageSize) return phys.Read(Translate(linear, AccessKind.Write), size);
        return ReadAcross(linear, size, AccessKind.Write);
    }

    /// <summary>A read that crosses into the next page: both pages translated (for <paramref name="kind"/>) before either is read.</summary>
    private uint ReadAcross(uint linear, int size, AccessKind kind)
    {
        uint p0 = Translate(linear, kind);
        uint p1 = Translate(SecondPage(linear, size), kind);
        int first = (int)(PhysicalMemory.PageSize - (linear & PhysicalMemory.PageMask));
        uint value = 0;
        for (int i = 0; i < size; i++)
        {
            uint b = i < first ? phys.Read8(p0 + (uint)i) : phys.Read8(p1 + (uint)(i - first));
            value |= b << (8 * i);
        }
        return value;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ProbeWriteSlow(uint linear, int size)
    {
        CheckAlignment(linear, size);
        Translate(linear, AccessKind.Write);
        if (((linear ^ (linear + (uint)size - 1)) & ~PhysicalMemory.PageMask) != 0)
            Translate(SecondPage(linear, size), AccessKind.Write);
    }

    // ---- runs (repeated string instructions) ----

    /// <summary>
    /// The host address of the byte at <paramref name="linear"/> for a run of reads that stays
    /// inside its page (the whole page is backed, so the run may go either way from it), or null
    /// when the page must take the element-by-element path: MMIO, an unmapped hole, a watched page
    /// (data breakpoints) or alignment checking. The page is translated as the first read of the
    /// run would translate it: through the TLB, else by the walker (accessed bits, #PF with CR2 =
    /// <paramref name="linear"/>), filling the TLB.
    /// </summary>
    public byte* ReadRunPointer(uint linear)
    {
        TlbEntry* e = readTlb + ((linear >> PhysicalMemory.PageShift) & TlbIndexMask);
        if (e->Tag == (linear & ~PhysicalMemory.PageMask)) return (byte*)(e->Addend + (nint)linear);
        // The slow path would check alignment and record watch hits before translating.
        if (uncached || watchCount != 0) return null;
        byte* page = FillRead(linear, out _);
        return page == null ? null : page + (linear & PhysicalMemory.PageMask);
    }

    /// <summary>
    /// The same for a run of writes: null also for ROM, pages that hold decoded code (their
    /// stores must reach <see cref="PhysicalMemory.CodeWritten"/>) and while writes are tracked.
    /// Translating sets the accessed and dirty bits, as the run's first store would.
    /// </summary>
    public byte* WriteRunPointer(uint linear)
    {
        TlbEntry* e = writeTlb + ((linear >> PhysicalMemory.PageShift) & TlbIndexMask);
        if (e->Tag == (linear & ~PhysicalMemory.PageMask)) return (byte*)(e->Addend + (nint)linear);
        if (uncached || watchCount != 0) return null;
        byte* page = FillWrite(linear, out _);
        return page == null ? null : page + (linear & PhysicalMemory.PageMask);
    }

    // ---- instruction fetch ----

    /// <summary>
    /// Translates a code address for fetching and returns its physical address; the host
    /// pointer to the start of its page, or null when the page is not directly readable.
    /// A page may be fetched from exactly when it may be read, unless PAE paging marks it
    /// execute-disable (Intel SDM Vol. 3, 4.6), so the read TLB answers, and a walk made for a
    /// fetch fills it.
    /// </summary>
    public uint TranslateFetch(uint linear, out byte* pageHost) => TranslateFetch(linear, out pageHost, out _);

    /// <summary>
    /// As <see cref="TranslateFetch(uint, out byte*)"/>; <paramref name="flags"/>: whether the page
    /// is global (CR4.PGE and G, so the translation survives CR3 loads) and part of a 4 MiB page
    /// (an INVLPG anywhere in it drops it).
    /// </summary>
    public uint TranslateFetch(uint linear, out byte* pageHost, out PageFlags flags)
    {
        uint tag = linear & ~PhysicalMemory.PageMask;
        TlbEntry* e = fetchTlb + ((linear >> PhysicalMemory.PageShift) & TlbIndexMask);
        // Reads and fetches share the TLB: an execute-disable page is found there by reads
        // only, and a fetch walks (and faults).
        if (e->Tag == tag && (e->Phys & (uint)PageFlags.NoExecute) == 0)
        {
            pageHost = (byte*)(e->Addend + (nint)tag);
            flags = (PageFlags)(e->Phys & (uint)(PageFlags.Global | PageFlags.Large));
            return (e->Phys & ~PhysicalMemory.PageMask) | (linear & PhysicalMemory.PageMask);
        }
        Counters.FetchTranslations++;
        pageHost = TranslateAndFillRead(linear, AccessKind.Fetch, fetchTlb, out uint p, out flags);
        return p;
    }

    /// <summary>One byte of code, fetched through translation (for instructions that cross pages).</summary>
    public byte FetchByte(uint linear) => phys.Read8(Translate(linear, AccessKind.Fetch));

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    ~Mmu() => Free();

    private void Free()
    {
        if (disposed) return;
        disposed = true;
        NativeMemory.AlignedFree(tlbBlock);
    }
}

/// <summary>The MMU's counts of slow work since the machine started (see <see cref="Mmu.Counters"/>).</summary>
public struct MmuCounters
{
    /// <summary>Reads and writes the TLB did not hold (a miss, a page-crossing access, or a page that never enters it: MMIO, ROM writes, code pages on the write side).</summary>
    public long ReadMisses, WriteMisses;

    /// <summary>Code fetch translations the read TLB did not hold (the block cache's, when its jump cache misses).</summary>
    public long FetchTranslations;

    /// <summary>Walks of the page tables (every translation while CR0.PG=1).</summary>
    public long PageWalks;

    /// <summary>Flushes of every translation (CR0, CR4, A20, layout changes; CR3 loads without CR4.PGE).</summary>
    public long FullFlushes;

    /// <summary>INVLPGs in a 4 MiB page whose entries the TLB held: each dropped the whole page.</summary>
    public long LargePageFlushes;
}

/// <summary>What a translation found besides the physical address (its low bits in a TLB entry).</summary>
[Flags]
public enum PageFlags : uint
{
    None = 0,

    /// <summary>A global page (CR4.PGE and G): the translation survives CR3 loads.</summary>
    Global = 1,

    /// <summary>Part of a large page: 4 MiB (CR4.PSE and PDE.PS), or 2 MiB with PAE paging.</summary>
    Large = 2,

    /// <summary>Execute-disable (PAE paging with IA32_EFER.NXE, XD in an entry): the page may be read, not fetched from.</summary>
    NoExecute = 4,
}
