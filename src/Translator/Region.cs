using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using Emu.Memory;
using Emu.X86;
using Iced.Intel;

namespace Emu.Translator;

/// <summary>What a region's code returns besides an exit slot (0 and up).</summary>
public static class RegionExit
{
    /// <summary>Back to the dispatcher: a sensitive instruction ended the block, or an early exit.</summary>
    public const int Dispatcher = -2;

    /// <summary>
    /// Exits to a target known only at run time (RET, an indirect jump or call) made at the
    /// region's dynamic exit <c>k</c> return <c>FirstDynamicSite - k</c>: each such exit
    /// remembers its own last targets (<see cref="Region.Dynamics"/>).
    /// </summary>
    public const int FirstDynamicSite = -16;

    public static int DynamicSite(int k) => FirstDynamicSite - k;

    /// <summary>Where the targets remembered for dynamic exit value <paramref name="exit"/> start in <see cref="Region.Dynamics"/>.</summary>
    public static int FirstDynamicSlot(int exit) => Region.DynamicWays * (FirstDynamicSite - exit);
}

/// <summary>
/// Where a region's dynamic exit last went: the region and entry found for that EIP, and the
/// block cache's <see cref="BlockCache.MappingKey"/> then. The next exit from the same place to
/// the same EIP goes there directly while the target is valid and the mapping holds, as a
/// link would.
/// </summary>
public struct DynamicLink
{
    public Region? Target;
    public uint Eip;
    public int Entry;
    public long Mapping;
}

/// <summary>
/// A side exit of a region to a target known at translation time. Once the target has been
/// found compiled, the exit is linked to it, so the next time the engine goes straight there
/// (chaining). A link is followed only while its target is valid. Within one linear page
/// (<see cref="Linkable"/>) that is enough: the page's mapping cannot change while the region
/// runs. A link into another page is made only between flat regions, and followed only while
/// the mapping it was made under holds (<see cref="Mapping"/>: no CR3 load unless the target's
/// page is global, no INVLPG, the same privilege), as the block lookup's own shortcut would.
/// </summary>
public struct RegionLink
{
    public uint TargetEip;
    public bool Linkable;
    public Region? Target;
    public int Entry;

    /// <summary>For a link into another page: the block cache's <see cref="BlockCache.MappingKey"/> of the target when the link was made.</summary>
    public long Mapping;

    /// <summary>
    /// For a CALL out of the region whose return point is one of its blocks: that block's
    /// index (else -1) and EIP. Following the link, the engine remembers them, so the callee's
    /// RET comes back straight here (<see cref="TranslatorEngine.ReturnHits"/>).
    /// </summary>
    public int ReturnEntry;
    public uint ReturnEip;
}

/// <summary>
/// A unit of compiled code: hot blocks of one code page, reached from a head block through
/// branches known at translation time and held by no other region, compiled into one
/// DynamicMethod with IL branches between its blocks. Every block is an entry.
/// </summary>
public sealed class Region
{
    public readonly Block[] Blocks;
    public readonly uint CsBase;
    public readonly bool Code32;

    /// <summary>Compiled for flat segments (see <see cref="Cpu.FlatSegments"/>): entered only while they are.</summary>
    public readonly bool Flat;

    /// <summary>The physical page all its blocks are in.</summary>
    public readonly uint PhysPage;

    /// <summary>Guest instructions in the region.</summary>
    public readonly int Instructions;

    /// <summary>
    /// Formed by merging the regions of its page (<see cref="RegionBuilder.Merge"/>): it takes
    /// over their blocks as entries.
    /// </summary>
    public readonly bool Merged;

    /// <summary>
    /// Times the engine went from this region straight into another region of the same page
    /// through a dynamic exit's remembered target or the dispatcher's lookup (not a link);
    /// counted on the emulation thread up to <see cref="TranslatorEngine.MergeAfter"/>.
    /// </summary>
    public int PageCrossings;

    /// <summary>Times the engine followed a link from this region into another region of the same page (up to <see cref="TranslatorEngine.MergeAfterLinks"/>).</summary>
    public int PageLinkCrossings;

    public RegionLink[] Links = Array.Empty<RegionLink>();

    /// <summary>The compiled code: (cpu, entry) → exit slot or a <see cref="RegionExit"/> value.</summary>
    public Func<Cpu, int, int>? Code;

    /// <summary>Cleared when a block of the region is overwritten or dropped.</summary>
    public volatile bool Valid = true;

    /// <summary>When it was queued for compiling (a <see cref="System.Diagnostics.Stopwatch"/> timestamp).</summary>
    public long QueuedAt;

    /// <summary>Its first block's <see cref="Block.Hits"/> when it was queued (the compile queue orders by the hits since).</summary>
    public int HitsAtQueue;

    /// <summary>
    /// Per exit to a target known only at run time (a RET, an indirect jump or call; see
    /// <see cref="RegionExit.FirstDynamicSite"/>), where it last went in this flat region. One
    /// per exit rather than one per region: a region holding several functions' returns, or
    /// an interpreter's dispatch, sends its exits to different places.
    /// </summary>
    public DynamicLink[] Dynamics = Array.Empty<DynamicLink>();

    /// <summary>Targets remembered per dynamic exit (<see cref="Dynamics"/> holds this many per exit, newest first).</summary>
    public const int DynamicWays = 4;

    /// <summary>A GC handle of <see cref="Blocks"/>, which the CPU holds while the region runs (<see cref="Cpu.CurrentBlocksHandle"/>); freed with the region.</summary>
    public readonly nint BlocksHandle;

    /// <summary>A weak GC handle of the region itself (<see cref="TranslatorEngine"/> remembers a caller's region by it, without keeping it alive); freed with the region.</summary>
    public readonly nint SelfHandle;

    public Region(Block[] blocks, bool flat, bool merged = false)
    {
        Blocks = blocks;
        Merged = merged;
        BlocksHandle = GCHandle.ToIntPtr(GCHandle.Alloc(blocks));
        SelfHandle = GCHandle.ToIntPtr(GCHandle.Alloc(this, GCHandleType.Weak));
        CsBase = blocks[0].CsBase;
        Code32 = blocks[0].Code32;
        Flat = flat;
        PhysPage = blocks[0].PhysStart & ~PhysicalMemory.PageMask;
        foreach (Block b in blocks) Instructions += b.Count;
    }

    /// <summary>
    /// Frees <see cref="BlocksHandle"/> and <see cref="SelfHandle"/>. A region no longer
    /// reachable is not running, and the CPU clears its handle whenever a region stops running.
    /// </summary>
    ~Region()
    {
        GCHandle.FromIntPtr(BlocksHandle).Free();
        GCHandle.FromIntPtr(SelfHandle).Free();
    }

    /// <summary>The index of the block starting at <paramref name="eip"/>, or -1.</summary>
    public int IndexOf(uint eip)
    {
        for (int i = 0; i < Blocks.Length; i++)
            if (Blocks[i].Eip == eip) return i;
        return -1;
    }

    public override string ToString() => $"region {CsBase + Blocks[0].Eip:X8} ({Blocks.Length} blocks, {Instructions} instructions{(Flat ? ", flat" : "")}{(Merged ? ", merged" : "")})";
}

/// <summary>What a region's code keeps alive: its blocks and the decoded instructions (for handler calls).</summary>
public sealed class RegionConstants
{
    public readonly Region Region;
    public readonly Block[] Blocks;
    public readonly Instruction[][] Code;

    public RegionConstants(Region region)
    {
        Region = region;
        Blocks = region.Blocks;
        Code = new Instruction[region.Blocks.Length][];
        for (int i = 0; i < Code.Length; i++) Code[i] = region.Blocks[i].Code;
    }
}

/// <summary>
/// Forms a region around a hot block: the blocks already decoded in the same linear page,
/// with the same CS base and code size, that its branches reach (fall-through, Jcc and JMP
/// targets, CALL targets and return points), breadth first, up to a size cap. Blocks that
/// another region holds, compiled or waiting for the compile thread, are left out: their code
/// runs compiled there, and the region's exits link to it.
/// </summary>
/// <remarks>
/// Regions used to take every block they reached. In the Linux workload they held 175,000
/// instructions, of which only 97,000 distinct: the compile thread, which falls behind through
/// the boot and each new program, spent almost half its time compiling code again, and the
/// blocks waiting for it ran interpreted (190 of the 227 million instructions interpreted were
/// in queued blocks). Disjoint regions compile each block once. In steady state they exit to
/// each other more often, which cost less than the wait did in every phase of the workload.
/// </remarks>
public static class RegionBuilder
{
    /// <summary>Most blocks in one region.</summary>
    public const int MaxBlocks = 48;

    /// <summary>
    /// Most guest instructions in one region. RyuJIT's time grows with method size, and past
    /// some size (its counts of IL instructions and local references) it compiles the method
    /// without optimizing at all: in the Linux guest's boot, 31 of 1172 regions of 600
    /// instructions at most came out so, most above 400 instructions and none below 250.
    /// </summary>
    public const int MaxInstructions = 300;

    public static Region Form(Cpu cpu, Block head) => Form(cpu, new[] { head }, merge: false);

    /// <summary>
    /// A region that holds every block of <paramref name="from"/>, then those of
    /// <paramref name="to"/> (the region it keeps crossing into) when both fit, and takes in the
    /// blocks of the page's other compiled regions as well (blocks still waiting for the
    /// compile thread stay out): first those their branches reach, then the rest, up to the
    /// size cap. The pair comes first: in the hash workload the cap was reached by blocks that
    /// ran a few times, and the loop head the region crossed into was left out.
    /// </summary>
    public static Region Merge(Cpu cpu, Region from, Region to)
    {
        var seeds = new List<Block>(from.Blocks);
        if (to.Flat == from.Flat && from.Blocks.Length + to.Blocks.Length <= MaxBlocks && from.Instructions + to.Instructions <= MaxInstructions)
            foreach (Block b in to.Blocks)
                if (!seeds.Contains(b)) seeds.Add(b);
        return Form(cpu, seeds.ToArray(), merge: true);
    }

    private static Region Form(Cpu cpu, Block[] seeds, bool merge)
    {
        Block head = seeds[0];
        bool flat = cpu.FlatSegments();
        var blocks = new List<Block>(seeds);
        var seen = new HashSet<uint>();
        int instructions = 0;
        foreach (Block b in seeds)
        {
            seen.Add(b.Eip);
            instructions += b.Count;
        }
        uint linearPage = (head.CsBase + head.Eip) & ~PhysicalMemory.PageMask;
        uint physPage = head.PhysStart & ~PhysicalMemory.PageMask;
        Span<uint> next = stackalloc uint[3];
        for (int k = 0; k < blocks.Count && blocks.Count < MaxBlocks; k++)
        {
            Block b = blocks[k];
            int n = Successors(b, next);
            for (int s = 0; s < n; s++)
            {
                uint eip = next[s];
                uint linear = head.CsBase + eip;
                if ((linear & ~PhysicalMemory.PageMask) != linearPage || !seen.Add(eip)) continue;
                Block? t = cpu.Blocks.Find(physPage | (linear & PhysicalMemory.PageMask), eip, head.CsBase, head.Code32);
                if (t is null || !t.Cacheable || t.Straddles || !Available(t, merge, flat)) continue;
                if (instructions + t.Count > MaxInstructions || blocks.Count >= MaxBlocks) continue;
                if (t.LastByte > cpu.Seg[SegReg.CS].ValidHigh) continue;
                blocks.Add(t);
                instructions += t.Count;
            }
        }
        // Then the other warm blocks of the page (the cases of a switch reached through a jump
        // table, functions called through pointers): entries of the region, and targets its
        // indirect branches look for before leaving. Merging, the page's compiled blocks too.
        int warm = Math.Max(2, head.Hits / 8);
        cpu.Blocks.ForEachInPage(physPage, t =>
        {
            if (blocks.Count >= MaxBlocks) return false;
            if (!Available(t, merge, flat)) return true;
            bool compiled = t.Region is Region { Valid: true };
            if ((!compiled && t.Hits < warm) || t.CsBase != head.CsBase || t.Code32 != head.Code32 || !t.Cacheable || t.Straddles) return true;
            if (((t.CsBase + t.Eip) & ~PhysicalMemory.PageMask) != linearPage || t.LastByte > cpu.Seg[SegReg.CS].ValidHigh) return true;
            if (instructions + t.Count > MaxInstructions || !seen.Add(t.Eip)) return true;
            blocks.Add(t);
            instructions += t.Count;
            return true;
        });
        return new Region(blocks.ToArray(), flat, merge);
    }

    /// <summary>
    /// Whether a block may join a region being formed: one in no region yet (compiled or
    /// waiting for the compile thread); merging, also one of a compiled region of the same
    /// kind (flat or not).
    /// </summary>
    private static bool Available(Block t, bool merge, bool flat)
    {
        if (t.Region is Region r && r.Valid) return merge && r.Flat == flat;
        return !t.CompileQueued;
    }

    /// <summary>The EIPs a block goes to that are known at translation time.</summary>
    public static int Successors(Block b, Span<uint> into)
    {
        ref Instruction last = ref b.Code[b.Count - 1];
        int n = 0;
        if (!b.EndsInBranch)
        {
            if (!InstructionTable.Has(last.Code, InstrFlags.EndsBlock) || GoesOnAfter(ref last)) into[n++] = b.NextEip;
            return n;
        }
        if (InstructionTable.IsSensitive(last.Code)) return 0;
        switch (last.FlowControl)
        {
            case FlowControl.ConditionalBranch:
                if (IsNearRelative(ref last)) into[n++] = Target(b, ref last);
                into[n++] = b.NextEip;
                break;
            case FlowControl.UnconditionalBranch:
                if (IsNearRelative(ref last)) into[n++] = Target(b, ref last);
                break;
            case FlowControl.Call:
                if (IsNearRelative(ref last)) into[n++] = Target(b, ref last);
                into[n++] = b.NextEip;
                break;
            case FlowControl.IndirectCall:
                into[n++] = b.NextEip;
                break;
        }
        return n;
    }

    /// <summary>
    /// Whether a flat region goes straight on after this block-ending sensitive instruction
    /// when <see cref="Cpu.MayGoOnAfterSensitive"/> says it may (<see cref="InstrFlags.FlatGoesOn"/>:
    /// STI, POPF, and MOV or POP of DS, ES, FS or GS). Linux runs them on every system call and
    /// interrupt (its entry code reloads the data segments, and its spin_unlock_irqrestore is a
    /// POPF) and they went through the dispatcher each time. Not a load of SS, whose interrupt
    /// shadow the dispatcher keeps.
    /// </summary>
    public static bool GoesOnAfter(ref Instruction i) =>
        InstructionTable.Has(i.Code, InstrFlags.FlatGoesOn) && i.Op0Register != Register.SS;

    internal static bool IsNearRelative(ref Instruction i) => i.Op0Kind is OpKind.NearBranch16 or OpKind.NearBranch32;

    internal static uint Target(Block b, ref Instruction i) => b.Code32 ? (uint)i.NearBranchTarget : (uint)i.NearBranchTarget & 0xFFFF;
}
