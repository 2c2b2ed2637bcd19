using System;
using Emu.Memory;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// Finds and decodes blocks. A direct-mapped cache keyed by EIP answers most lookups
/// without translating the address; behind it a hash table keyed by (physical address,
/// EIP, code size) holds every decoded block, and a per-page list finds the blocks that a
/// store into a code page overwrites. No Dictionary is used on the lookup path.
/// </summary>
public sealed unsafe class BlockCache
{
    /// <summary>Most instructions in one block.</summary>
    public const int MaxInstructions = 64;

    private const int HashBits = 16;
    private const int JumpBits = 12;

    private readonly Cpu cpu;
    private readonly Block?[] hash = new Block?[1 << HashBits];
    private readonly Block?[] jump = new Block?[1 << JumpBits];

    /// <summary>
    /// The key each jump-cache entry was made under (see <see cref="MappingKey"/>): the address
    /// space of the time, or "any" for a block in a global page, whose linear address means the
    /// same in every address space (the TLB keeps such translations across CR3 loads too), and
    /// in both the privilege its fetch was checked at. A CR3 load starts a new address space
    /// instead of clearing the cache, so the kernel's blocks stay found from one process to the
    /// next. The privilege is part of the key because an entry made at CPL 0-2 says nothing of
    /// a fetch at CPL 3: a supervisor-only page must still fault (#PF, U/S) when user code
    /// jumps into it (Intel SDM Vol. 3, 4.6).
    /// </summary>
    private readonly long[] jumpSpace = new long[1 << JumpBits];

    /// <summary>
    /// Counts that only grow (64 bits never wrap): the address space, new at each CR3 load and
    /// each flush of the jump cache; and the epoch of global pages, new at each flush.
    /// </summary>
    private long addressSpace, globalEpoch;

    /// <summary>The keys a lookup matches now: this address space (0 and up), and any address space (negative), at the current privilege.</summary>
    private long spaceKey, anyKey = ~0L;

    /// <summary>Whether fetches are checked as user-mode (CPL 3) ones; the low bit of the keys.</summary>
    private int user;

    private readonly Block?[] pageLists;
    private readonly PointerCodeReader reader = new();
    private readonly Decoder decoder16;
    private readonly Decoder decoder32;
    private readonly Instruction[] scratch = new Instruction[MaxInstructions];

    /// <summary>
    /// The most blocks cached at once. Guest code can make any number of distinct blocks (one
    /// physical page mapped at many linear addresses, code generated without end); past this
    /// many, the whole cache is flushed, as QEMU flushes its translation buffer when it is full,
    /// and the guest only runs slower for a while. The Linux guest's workload peaks at about
    /// 60,000 (<c>--stats</c>, "blocks cached").
    /// </summary>
    public int MaxBlocks { get; set; } = 1 << 18;

    /// <summary>Blocks cached now, and the most cached at once.</summary>
    public int LiveBlocks { get; private set; }

    /// <summary>The most blocks cached at once.</summary>
    public int PeakBlocks { get; private set; }

    /// <summary>Whole-cache flushes because <see cref="MaxBlocks"/> was reached.</summary>
    public long CapacityFlushes;

    /// <summary>Blocks decoded since creation (a hot loop is decoded once).</summary>
    public long Decoded { get; private set; }

    /// <summary>Blocks invalidated by stores into their bytes.</summary>
    public long Invalidated { get; private set; }

    /// <summary>Block lookups (<see cref="Get"/>), those the EIP-keyed jump cache did not answer, and whole-cache flushes.</summary>
    public long Lookups, JumpMisses, Flushes;

    /// <summary>Clears of the jump cache (INVLPG of a page code was found in, paging mode changes, A20).</summary>
    public long JumpFlushes;

    /// <summary>Called for each block dropped (invalidated or flushed), so compiled code can go too.</summary>
    public Action<Block>? BlockDropped { get; set; }

    internal BlockCache(Cpu cpu)
    {
        this.cpu = cpu;
        pageLists = new Block?[cpu.Physical.RamSize >> PhysicalMemory.PageShift];
        decoder16 = Decoder.Create(16, reader, 0, DecoderOptions.None);
        decoder32 = Decoder.Create(32, reader, 0, DecoderOptions.None);
        cpu.Physical.CodeWritten = OnCodeWritten;
        cpu.Mmu.A20Changed += FlushJumpCache;
    }

    private static int HashIndex(uint phys, uint eip, bool code32) =>
        (int)((phys * 0x9E3779B1u ^ eip ^ (code32 ? 0x5bd1e995u : 0)) >> (32 - HashBits));

    /// <summary>The block at CS:EIP, decoding it if needed. May raise #GP (CS limit) or a fetch #PF.</summary>
    public Block Get()
    {
        Cpu c = cpu;
        Lookups++;
        uint eip = c.Eip;
        uint csBase = c.Seg[SegReg.CS].Base;
        bool code32 = c.Code32;
        // The page number folded in: code at the same offset of different pages (a kernel
        // and the process it runs) does not fight over one entry.
        int j = JumpIndex(eip);
        Block? b = jump[j];
        if (b is not null && b.Eip == eip && b.CsBase == csBase && b.Code32 == code32 && b.Valid
            && b.LastByte <= c.Seg[SegReg.CS].ValidHigh && (jumpSpace[j] == spaceKey || jumpSpace[j] == anyKey))
            return b;
        return GetSlow(eip, csBase, code32, j);
    }

    private Block GetSlow(uint eip, uint csBase, bool code32, int j)
    {
        JumpMisses++;
        ref SegmentCache cs = ref cpu.Seg[SegReg.CS];
        if (eip > cs.ValidHigh || eip < cs.ValidLow) throw GuestFault.Create(ExceptionVectors.GP, 0);
        uint linear = csBase + eip;
        uint phys = cpu.Mmu.TranslateFetch(linear, out byte* pageHost, out PageFlags flags);
        bool global = (flags & PageFlags.Global) != 0;
        bool large = (flags & PageFlags.Large) != 0;
        // Whatever is returned from here on may be remembered by linear address (here, or in a
        // link the translator makes from MappingKey): its page now matters to INVLPG.
        MarkMapped(linear, large);
        int h = HashIndex(phys, eip, code32);
        for (Block? b = hash[h]; b is not null; b = b.HashNext)
        {
            if (b.PhysStart == phys && b.Eip == eip && b.Code32 == code32 && b.LastByte <= cs.ValidHigh
                && (!b.Straddles || SecondPageOf(linear, b) == b.SecondPage))
            {
                if (b.Straddles) MarkSecondPage(linear, large);
                if (b.CsBase == csBase) Remember(j, b, global);
                return b;
            }
        }
        Block nb = Decode(eip, csBase, linear, phys, pageHost, code32, cs.ValidHigh);
        if (nb.Straddles) MarkSecondPage(linear, large);
        if (nb.Cacheable)
        {
            if (LiveBlocks >= MaxBlocks)
            {
                // Between blocks (every caller of Get is): nothing cached is running.
                CapacityFlushes++;
                Flush();
            }
            if (++LiveBlocks > PeakBlocks) PeakBlocks = LiveBlocks;
            nb.HashNext = hash[h];
            hash[h] = nb;
            uint page = phys >> PhysicalMemory.PageShift;
            if (page < (uint)pageLists.Length)
            {
                nb.PageNext = pageLists[page];
                pageLists[page] = nb;
                cpu.Physical.MarkCodePage(phys);
            }
            if (nb.Straddles)
            {
                // Its bytes in the next page are code too: a store there must find the block.
                uint page2 = nb.SecondPage >> PhysicalMemory.PageShift;
                nb.PageNext2 = pageLists[page2];
                pageLists[page2] = nb;
                cpu.Physical.MarkCodePage(nb.SecondPage);
            }
            Remember(j, nb, global);
        }
        return nb;
    }

    private void Remember(int j, Block b, bool global)
    {
        jump[j] = b;
        // A block running into the next page depends on that page's mapping as well.
        jumpSpace[j] = global && !b.Straddles ? anyKey : spaceKey;
    }

    private void UpdateKeys()
    {
        spaceKey = addressSpace << 1 | (long)user;
        anyKey = ~(globalEpoch << 1 | (long)user);
    }

    /// <summary>
    /// A CR3 load: the EIP-keyed shortcuts made in the old address space stop answering, those
    /// of global pages stay (see <see cref="jumpSpace"/>).
    /// </summary>
    public void NewAddressSpace()
    {
        addressSpace++;
        UpdateKeys();
    }

    /// <summary>
    /// The privilege fetches are checked at changed (CPL 3 or not, as the MMU's user mode):
    /// entries made at the other privilege stop answering (see <see cref="jumpSpace"/>).
    /// </summary>
    public void SetUserMode(bool userMode)
    {
        user = userMode ? 1 : 0;
        UpdateKeys();
    }

    /// <summary>
    /// Under what the linear address of <paramref name="b"/>, just returned by <see cref="Get"/>,
    /// leads to it: a key that <see cref="MappingHolds"/> accepts for as long as that stays so
    /// (no CR3 load unless the page is global, no INVLPG or other flush of the jump cache, the
    /// same privilege). The translator follows a link into another page only while it holds.
    /// </summary>
    public long MappingKey(Block b)
    {
        int j = JumpIndex(b.Eip);
        return ReferenceEquals(jump[j], b) ? jumpSpace[j] : spaceKey;
    }

    /// <summary>
    /// The key of the current address space and privilege: <see cref="MappingHolds"/> accepts it
    /// until CR3 is loaded, the jump cache is flushed (INVLPG and others) or the privilege changes.
    /// </summary>
    public long SpaceKey => spaceKey;

    /// <summary>Whether a <see cref="MappingKey"/> still holds.</summary>
    public bool MappingHolds(long key) => key == spaceKey || key == anyKey;

    private static int JumpIndex(uint eip) => (int)((eip ^ (eip >> JumpBits)) & ((1 << JumpBits) - 1));

    /// <summary>
    /// The cached block that starts at physical address <paramref name="phys"/> with this EIP,
    /// CS base and code size, or null; never decodes (the translator builds regions from
    /// blocks already run).
    /// </summary>
    public Block? Find(uint phys, uint eip, uint csBase, bool code32)
    {
        for (Block? b = hash[HashIndex(phys, eip, code32)]; b is not null; b = b.HashNext)
            if (b.PhysStart == phys && b.Eip == eip && b.Code32 == code32 && b.CsBase == csBase && b.Valid) return b;
        return null;
    }

    /// <summary>Calls <paramref name="visit"/> for each valid block cached in the physical page of <paramref name="phys"/>, stopping when it returns false.</summary>
    public void ForEachInPage(uint phys, Func<Block, bool> visit)
    {
        uint page = phys >> PhysicalMemory.PageShift;
        if (page >= (uint)pageLists.Length) return;
        uint pageBase = page << PhysicalMemory.PageShift;
        for (Block? b = pageLists[page]; b is not null;)
        {
            bool viaSecond = b.Straddles && b.SecondPage == pageBase && (b.PhysStart & ~PhysicalMemory.PageMask) != pageBase;
            Block? next = viaSecond ? b.PageNext2 : b.PageNext;
            if (!viaSecond && b.Valid && !visit(b)) return;
            b = next;
        }
    }

    /// <summary>Where the next page of a straddling block's first byte maps now (its cached bytes may be elsewhere).</summary>
    private uint SecondPageOf(uint linear, Block b) =>
        cpu.Mmu.Translate((linear | PhysicalMemory.PageMask) + 1, Emu.Memory.AccessKind.Fetch) & ~PhysicalMemory.PageMask;

    private Block Decode(uint eip, uint csBase, uint linear, uint phys, byte* pageHost, bool code32, uint csLimit)
    {
        Decoded++;
        Decoder decoder = code32 ? decoder32 : decoder16;
        uint pageOffset = phys & PhysicalMemory.PageMask;
        int available = (int)(PhysicalMemory.PageSize - pageOffset);
        // Bytes up to the CS limit only: an instruction reaching past it raises #GP when it runs.
        ulong toLimit = (ulong)csLimit - eip + 1;
        if ((ulong)available > toLimit) available = (int)toLimit;
        byte[]? copy = null;
        if (pageHost != null)
        {
            reader.Reset(pageHost + pageOffset, available);
        }
        else
        {
            // Code in a device's memory: read it through the bus, and decode it afresh each time.
            copy = new byte[available];
            cpu.Physical.ReadBytes(phys, copy);
            reader.Reset(null, 0, copy);
        }
        decoder.IP = eip;
        int count = 0;
        bool endsInBranch = false;
        uint next = eip;
        while (count < MaxInstructions)
        {
            decoder.Decode(out Instruction ins);
            if (decoder.LastError == DecoderError.NoMoreBytes)
            {
                if (count == 0) return DecodeCrossing(eip, csBase, linear, phys, code32, csLimit);
                break;
            }
            scratch[count++] = ins;
            next = (uint)ins.NextIP;
            // In 16-bit code IP wraps at 64 KiB after every instruction (as ExecuteAt and NextEip
            // have it): past FFFFh the block ends, and the next one starts at the wrapped IP. The
            // decoder would go on at 10000h, where a large CS limit (or an EIP above FFFFh left by
            // a 32-bit far transfer) lets it read.
            bool wraps = !code32 && ins.NextIP > 0xFFFF;
            if (!code32) next &= 0xFFFF;
            InstrFlags f = InstructionTable.Info[(int)ins.Code];
            if ((f & (InstrFlags.Branch | InstrFlags.EndsBlock)) != 0)
            {
                endsInBranch = (f & InstrFlags.Branch) != 0;
                break;
            }
            if (wraps) break;
            if (reader.Remaining == 0) break;
        }
        uint length = (uint)(next - eip) & (code32 ? 0xFFFF_FFFFu : 0xFFFFu);
        return Make(count, eip, next, csBase, phys, phys + length, code32, endsInBranch, cacheable: copy is null);
    }

    /// <summary>An instruction whose bytes run into the next page: decoded through the MMU, used once.</summary>
    private Block DecodeCrossing(uint eip, uint csBase, uint linear, uint phys, bool code32, uint csLimit)
    {
        var bytes = new byte[15];
        int n = 0;
        for (; n < bytes.Length && (ulong)eip + (uint)n <= csLimit; n++)
        {
            try
            {
                bytes[n] = cpu.Mmu.FetchByte(linear + (uint)n);
            }
            catch (GuestFault) when (n > 0)
            {
                // Decide below whether the instruction needed this byte; if so, fault on it.
                if (NeedsMoreThan(bytes, n, eip, code32)) throw;
                break;
            }
        }
        var d = Decoder.Create(code32 ? 32 : 16, new ByteArrayCodeReader(bytes, 0, n), eip, DecoderOptions.None);
        d.Decode(out Instruction ins);
        if (d.LastError == DecoderError.NoMoreBytes) throw GuestFault.Create(ExceptionVectors.GP, 0); // runs past CS limit
        scratch[0] = ins;
        uint next = (uint)ins.NextIP;
        if (!code32) next &= 0xFFFF;
        bool branch = ins.FlowControl != FlowControl.Next;
        // Cache it when both pages are RAM: it is keyed by its first byte and found again only
        // while the second page still maps to the same physical page.
        int first = (int)(PhysicalMemory.PageSize - (phys & PhysicalMemory.PageMask));
        uint second = cpu.Mmu.Translate((linear | PhysicalMemory.PageMask) + 1, Emu.Memory.AccessKind.Fetch) & ~PhysicalMemory.PageMask;
        bool ram = (phys >> PhysicalMemory.PageShift) < (uint)pageLists.Length && (second >> PhysicalMemory.PageShift) < (uint)pageLists.Length
                   && cpu.Physical.IsRam(phys & ~PhysicalMemory.PageMask, PhysicalMemory.PageSize) && cpu.Physical.IsRam(second, PhysicalMemory.PageSize);
        return Make(1, eip, next, csBase, phys, phys + (uint)first, code32, branch, cacheable: ram,
            secondPage: second, secondPageBytes: ins.Length - first);
    }

    private static bool NeedsMoreThan(byte[] bytes, int n, uint eip, bool code32)
    {
        var d = Decoder.Create(code32 ? 32 : 16, new ByteArrayCodeReader(bytes, 0, n), eip, DecoderOptions.None);
        d.Decode(out _);
        return d.LastError == DecoderError.NoMoreBytes;
    }

    private Block Make(int count, uint eip, uint next, uint csBase, uint physStart, uint physEnd, bool code32, bool endsInBranch, bool cacheable,
        uint secondPage = Block.NoSecondPage, int secondPageBytes = 0)
    {
        var code = new Instruction[count];
        var handlers = new delegate*<Cpu, ref Instruction, void>[count];
        for (int i = 0; i < count; i++)
        {
            code[i] = scratch[i];
            handlers[i] = InstructionTable.HandlerFor(ref code[i]);
        }
        return new Block(code, handlers, count, eip, next, csBase, physStart, physEnd, code32, endsInBranch, cacheable,
            secondPage, secondPageBytes);
    }

    // ---- invalidation ----

    private void OnCodeWritten(uint address, int size)
    {
        uint page = address >> PhysicalMemory.PageShift;
        if (page >= (uint)pageLists.Length) return;
        uint pageBase = page << PhysicalMemory.PageShift;
        uint end = address + (uint)size;
        Block? prev = null;
        Block? b = pageLists[page];
        while (b is not null)
        {
            // A straddling block is in two lists; in this page's list it links through the slot for this page.
            bool viaSecond = b.Straddles && b.SecondPage == pageBase && (b.PhysStart & ~PhysicalMemory.PageMask) != pageBase;
            Block? nextInPage = viaSecond ? b.PageNext2 : b.PageNext;
            uint lo = viaSecond ? b.SecondPage : b.PhysStart;
            uint hi = viaSecond ? b.SecondPage + (uint)b.SecondPageBytes : b.PhysEnd;
            bool hit = lo < end && address < hi;
            if (hit || !b.Valid)
            {
                if (prev is null) pageLists[page] = nextInPage;
                else if (prev.Straddles && prev.SecondPage == pageBase && (prev.PhysStart & ~PhysicalMemory.PageMask) != pageBase) prev.PageNext2 = nextInPage;
                else prev.PageNext = nextInPage;
                if (viaSecond) b.PageNext2 = null; else b.PageNext = null;
                if (b.Valid)
                {
                    Drop(b);
                    Invalidated++;
                    // The block running now (inside a compiled region, the one it says it is in)
                    // is left right after the store, so the rewritten code runs in its new form.
                    Block? running = cpu.CurrentBlocks is { } region ? region[cpu.RegionBlock] : cpu.CurrentBlock;
                    if (ReferenceEquals(b, running) && cpu.Eip - b.Eip < b.NextEip - b.Eip) cpu.BlockExit = BlockExitKind.ContinueAfter;
                }
            }
            else
            {
                prev = b;
            }
            b = nextInPage;
        }
        if (pageLists[page] is null) cpu.Physical.UnmarkCodePage(address);
    }

    private void Drop(Block b)
    {
        b.Valid = false;
        LiveBlocks--;
        int h = HashIndex(b.PhysStart, b.Eip, b.Code32);
        Block? prev = null;
        for (Block? x = hash[h]; x is not null; prev = x, x = x.HashNext)
        {
            if (!ReferenceEquals(x, b)) continue;
            if (prev is null) hash[h] = x.HashNext; else prev.HashNext = x.HashNext;
            break;
        }
        b.HashNext = null;
        BlockDropped?.Invoke(b);
    }

    /// <summary>Forgets every decoded block (reset, or a change the cache cannot track).</summary>
    public void Flush()
    {
        Flushes++;
        for (int i = 0; i < hash.Length; i++)
        {
            for (Block? b = hash[i]; b is not null;)
            {
                Block? n = b.HashNext;
                b.Valid = false;
                b.HashNext = null;
                b.PageNext = null;
                b.PageNext2 = null;
                BlockDropped?.Invoke(b);
                b = n;
            }
            hash[i] = null;
        }
        for (uint p = 0; p < (uint)pageLists.Length; p++)
        {
            if (pageLists[p] is not null) cpu.Physical.UnmarkCodePage(p << PhysicalMemory.PageShift);
            pageLists[p] = null;
        }
        Array.Clear(jump);
        LiveBlocks = 0;
    }

    /// <summary>
    /// One stamp per linear page and one per 4 MiB of linear space: equal to
    /// <see cref="markEpoch"/> when, since the last flush of the jump cache, a block was found
    /// there (<see cref="GetSlow"/>), the page being 4 KiB or 4 MiB. Only then can a shortcut
    /// (a jump-cache entry, a translator's link or return point, whose keys that flush changes)
    /// depend on the mapping of that page, and does an INVLPG of it need to flush. The kernel's
    /// INVLPGs are mostly of data pages (copy-on-write breaks after fork, unmaps), which leave
    /// the kernel's and the process's code reachable without the dispatcher.
    /// </summary>
    private readonly byte[] pageMarks = new byte[1 << (32 - PhysicalMemory.PageShift)];
    private readonly byte[] largeMarks = new byte[1 << (32 - Mmu.LargePageShift)];
    private byte markEpoch = 1;

    /// <summary>INVLPGs that left the jump cache as it was: no block had been found in their page since it was last flushed.</summary>
    public long InvlpgsKept;

    private void MarkMapped(uint linear, bool large)
    {
        pageMarks[linear >> PhysicalMemory.PageShift] = markEpoch;
        if (large) largeMarks[linear >> Mmu.LargePageShift] = markEpoch;
    }

    /// <summary>The next linear page of a block straddling into it (in another 4 MiB, that one may be a 4 MiB page too).</summary>
    private void MarkSecondPage(uint linear, bool large)
    {
        uint next = (linear | PhysicalMemory.PageMask) + 1;
        MarkMapped(next, large || (next >> Mmu.LargePageShift) != (linear >> Mmu.LargePageShift));
    }

    /// <summary>
    /// INVLPG of <paramref name="linear"/> (after the MMU dropped its translations): forgets the
    /// shortcuts that may lead into that page, or into the 4 MiB page holding it; when no block
    /// was found there since the last flush, there are none, and the rest stay.
    /// </summary>
    public void InvalidatePage(uint linear)
    {
        if (pageMarks[linear >> PhysicalMemory.PageShift] == markEpoch || largeMarks[linear >> Mmu.LargePageShift] == markEpoch)
            FlushJumpCache();
        else
            InvlpgsKept++;
    }

    /// <summary>
    /// Forgets the EIP-keyed shortcuts (after a change of linear-to-physical mapping): new keys
    /// for this address space and for global pages, so no entry made before answers again, and
    /// no <see cref="MappingKey"/> given before holds.
    /// </summary>
    public void FlushJumpCache()
    {
        JumpFlushes++;
        addressSpace++;
        globalEpoch++;
        UpdateKeys();
        // The marks of this epoch are cleared by a new epoch; a byte wraps, and then they all go.
        if (++markEpoch == 0)
        {
            Array.Clear(pageMarks);
            Array.Clear(largeMarks);
            markEpoch = 1;
        }
    }

    /// <summary>Reads code bytes from a host pointer or an array for Iced.</summary>
    private sealed class PointerCodeReader : CodeReader
    {
        private byte* ptr;
        private byte[]? array;
        private int pos;
        private int end;

        public int Remaining => end - pos;

        public void Reset(byte* p, int length, byte[]? arr = null)
        {
            ptr = p;
            array = arr;
            pos = 0;
            end = arr?.Length ?? length;
        }

        public override int ReadByte()
        {
            if (pos >= end) return -1;
            return array is not null ? array[pos++] : ptr[pos++];
        }
    }
}
