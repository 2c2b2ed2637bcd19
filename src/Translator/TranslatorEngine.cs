using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using Emu.Memory;
using Emu.X86;

namespace Emu.Translator;

/// <summary>
/// The translating engine. A block is interpreted until it has been entered
/// <see cref="Threshold"/> times; then a <see cref="Region"/> is formed around it (the hot
/// blocks of its code page that its branches reach) and compiled to IL on a background
/// thread while the interpreter keeps running. Once installed, entering any of the region's
/// blocks runs the region; its exits to targets known at translation time are linked to the
/// regions found there, so compiled code runs region after region without the dispatcher
/// until the budget word (<see cref="Cpu.ExitAt"/>) says stop. Execution never waits for the JIT.
/// </summary>
public sealed class TranslatorEngine : IExecutionEngine, IDisposable
{
    /// <summary>The default tiering threshold: block entries before a region is formed around a block.</summary>
    /// <remarks>
    /// Chosen by measurement with single-block compilation (issue 3): the total time of the five
    /// benchmark workloads was flat within noise from 10 to 2000 entries on two cores, and 1 was
    /// 10-25% slower. Reproduce: <c>./emu bench --sweep 1,10,50,200,500,2000 --runs 9</c>.
    /// </remarks>
    public const int DefaultThreshold = 500;

    private readonly CompileQueue<Region>? queue;

    /// <summary>Regions queued and not yet compiled (the one being compiled included): what <see cref="Drain"/> waits for.</summary>
    private int queuedOrCompiling;
    private readonly ConcurrentQueue<Region> finished = new();
    private readonly Thread? worker;
    private readonly Dictionary<uint, List<Region>> byPage = new();
    private Cpu? attached;
    private int pendingInstalls;
    private long compiledRegions;
    private long compiledBlocks;
    private long compiledInstructions;
    private long compileTicks;
    private long queueWaitTicks;
    private long failures;

    /// <param name="threshold">Entries before a block is compiled (0 or 1: compile at first entry).</param>
    /// <param name="synchronous">Compile on the emulation thread before running a block (tests: every block runs compiled).</param>
    public TranslatorEngine(int threshold = DefaultThreshold, bool synchronous = false)
    {
        Threshold = Math.Max(threshold, 1);
        Synchronous = synchronous;
        if (!synchronous)
        {
            // Hottest first, then newest: under an operating system's boot the compile thread
            // falls hundreds of milliseconds behind. Newest first alone took the Linux guest to
            // BOOT-OK in 7.1 s instead of 8.1 (first in, first out); hottest first then gained
            // again, most in the md5 phase (0.6-0.7 s against 1.0-1.3 s, 4 alternating runs).
            // A merged region's blocks run compiled already, so their hits stand still: it
            // counts as hot as a block that reached the threshold again while queued.
            queue = new CompileQueue<Region>(r => r.Merged ? Threshold : Volatile.Read(ref r.Blocks[0].Hits) - r.HitsAtQueue);
            worker = new Thread(CompileLoop) { IsBackground = true, Name = "translator", Priority = ThreadPriority.BelowNormal };
            worker.Start();
        }
    }

    public int Threshold { get; }
    public bool Synchronous { get; }

    /// <summary>Regions compiled so far.</summary>
    public long CompiledRegions => Interlocked.Read(ref compiledRegions);

    /// <summary>Blocks in the compiled regions (a block in two regions counts twice).</summary>
    public long CompiledBlocks => Interlocked.Read(ref compiledBlocks);

    /// <summary>
    /// Blocks in the regions formed so far (queued for compiling, or compiled at once), counted
    /// on the emulation thread when each region forms: unlike <see cref="CompiledBlocks"/>, it
    /// does not depend on how far the compile thread has got.
    /// </summary>
    public long FormedBlocks { get; private set; }

    /// <summary>
    /// Called on the emulation thread with each region as it forms, before it is compiled
    /// (the compile-cost benchmark collects them to compile again).
    /// </summary>
    public Action<Region>? RegionFormed { get; set; }

    /// <summary>Guest instructions in the compiled regions.</summary>
    public long CompiledInstructions => Interlocked.Read(ref compiledInstructions);

    /// <summary>Time spent building IL and running RyuJIT on it.</summary>
    public TimeSpan CompileTime => FromStopwatchTicks(Interlocked.Read(ref compileTicks));

    /// <summary>Regions the compiler refused (their blocks stay interpreted).</summary>
    public long Failures => Interlocked.Read(ref failures);

    /// <summary>Region entries through the dispatcher, and through a link from another region.</summary>
    public long DispatchedEntries, LinkedEntries;

    /// <summary>Region entries after a RET or an indirect jump that went where the region's previous one went (its <see cref="Region.Dynamics"/>).</summary>
    public long DynamicHits;

    /// <summary>
    /// Region entries after a RET that none of its exit's remembered targets matched, to the
    /// return point of the last CALL a link followed (<see cref="RegionLink.ReturnEntry"/>).
    /// </summary>
    public long ReturnHits;

    /// <summary>
    /// The return point of the last CALL out of a region that a link followed: the caller's
    /// <see cref="Region.SelfHandle"/> (0: none), the block's entry and EIP, and the block
    /// cache's <see cref="BlockCache.SpaceKey"/> then. A function called from many places (in
    /// i386 position-independent code, <c>__x86.get_pc_thunk.bx</c>: <c>mov ebx, [esp]; ret</c>,
    /// called by every function's prologue) returns to more places than its RET's exit
    /// remembers; this takes it back to its caller without the dispatcher. One deep: such
    /// functions are leaves, and a deeper call only replaces it.
    /// </summary>
    private nint returnRegion;
    private int returnEntry;
    private uint returnEip;
    private long returnKey;

    /// <summary>Guest instructions retired by compiled code (a slow path's instruction, which the interpreter runs for it, included).</summary>
    public long CompiledRetired;

    /// <summary>Blocks the engine interpreted because no compiled region held them (yet).</summary>
    public long ColdRuns;

    /// <summary>Time regions waited in the compile queue before the compile thread took them.</summary>
    public TimeSpan QueueWait => FromStopwatchTicks(Interlocked.Read(ref queueWaitTicks));

    /// <summary>
    /// A sum of <see cref="Stopwatch"/> ticks as a time. Not ticks times 10^7 over the frequency
    /// in 64 bits: with a 1 GHz stopwatch that overflows past about 920 s, which the queue wait,
    /// summed over the regions of a Linux run, passes (--stats printed a negative wait).
    /// </summary>
    public static TimeSpan FromStopwatchTicks(long ticks) => TimeSpan.FromSeconds(ticks / (double)Stopwatch.Frequency);

    public void Execute(Cpu cpu, Block block)
    {
        if (!ReferenceEquals(attached, cpu)) Attach(cpu);
        if (pendingInstalls != 0) InstallFinished();
        if (block.Region is not Region r || !r.Valid || (r.Flat && !cpu.FlatSegments()))
        {
            Cold(cpu, block);
            return;
        }
        DispatchedEntries++;
        Run(cpu, r, block.RegionEntry);
    }

    /// <summary>Runs region after region while their exits lead to compiled code and the budget word allows.</summary>
    private void Run(Cpu cpu, Region r, int entry)
    {
        while (true)
        {
            cpu.CurrentBlocksHandle = r.BlocksHandle;
            long before = cpu.InstructionCount;
            int exit = r.Code!(cpu, entry);
            CompiledRetired += cpu.InstructionCount - before;
            cpu.CurrentBlocksHandle = 0;
            if (exit == RegionExit.Dispatcher || cpu.InstructionCount >= cpu.ExitAt) return;
            // Compiled code may run region after region for a long time: regions compiled
            // meanwhile (a merge that replaces the ones running) are installed here too.
            if (pendingInstalls != 0) InstallFinished();
            if (exit >= 0)
            {
                ref RegionLink link = ref r.Links[exit];
                Region? t = link.Target;
                if (t is not null && t.Valid && (link.Linkable || cpu.Blocks.MappingHolds(link.Mapping)))
                {
                    if (link.ReturnEntry >= 0)
                    {
                        returnRegion = r.SelfHandle;
                        returnEntry = link.ReturnEntry;
                        returnEip = link.ReturnEip;
                        returnKey = cpu.Blocks.SpaceKey;
                    }
                    LinkedEntries++;
                    if (t.PhysPage == r.PhysPage) CrossedInPage(cpu, r, t, linked: true);
                    r = t;
                    entry = link.Entry;
                    continue;
                }
            }
            else if (exit <= RegionExit.FirstDynamicSite)
            {
                // A RET or an indirect jump or call to where one of this exit's last few went.
                int k = RegionExit.FirstDynamicSlot(exit);
                DynamicLink[] dls = r.Dynamics;
                uint eip = cpu.Eip;
                for (int end = k + Region.DynamicWays - 1; k < end && dls[k].Eip != eip; k++) { }
                ref DynamicLink dl = ref dls[k];
                if (dl.Eip == eip && dl.Target is Region d && d.Valid && cpu.Blocks.MappingHolds(dl.Mapping))
                {
                    DynamicHits++;
                    if (d.PhysPage == r.PhysPage) CrossedInPage(cpu, r, d, linked: false);
                    entry = dl.Entry;
                    r = d;
                    continue;
                }
                // A return to the last call's return point, in the caller's region: the same
                // linear page as then while the address space and privilege are.
                if (eip == returnEip && returnRegion != 0 && r.Flat && cpu.Blocks.MappingHolds(returnKey)
                    && GCHandle.FromIntPtr(returnRegion).Target is Region caller && caller.Valid)
                {
                    ReturnHits++;
                    returnRegion = 0;
                    entry = returnEntry;
                    r = caller;
                    continue;
                }
            }
            // Find the block at EIP as the dispatcher would (this may fault: nothing runs then).
            cpu.CurrentBlock = null;
            Block next = cpu.Blocks.Get();
            cpu.CurrentBlock = next;
            if (next.Region is not Region n || !n.Valid || (n.Flat && !r.Flat))
            {
                Cold(cpu, next);
                return;
            }
            if (exit >= 0)
            {
                ref RegionLink link = ref r.Links[exit];
                if (link.Linkable)
                {
                    link.Target = n;
                    link.Entry = next.RegionEntry;
                }
                else if (r.Flat && n.Flat && n.Code32 == r.Code32)
                {
                    // Into another page: followed while the mapping found now holds.
                    link.Target = n;
                    link.Entry = next.RegionEntry;
                    link.Mapping = cpu.Blocks.MappingKey(next);
                }
            }
            else if (exit <= RegionExit.FirstDynamicSite && r.Flat && n.Flat)
            {
                // The newest target first, the older ones after it.
                int k = RegionExit.FirstDynamicSlot(exit);
                DynamicLink[] dls = r.Dynamics;
                for (int w = Region.DynamicWays - 1; w > 0; w--) dls[k + w] = dls[k + w - 1];
                ref DynamicLink dl = ref dls[k];
                dl.Target = n;
                dl.Eip = next.Eip;
                dl.Entry = next.RegionEntry;
                dl.Mapping = cpu.Blocks.MappingKey(next);
            }
            DispatchedEntries++;
            if (n.PhysPage == r.PhysPage) CrossedInPage(cpu, r, n, linked: false);
            r = n;
            entry = next.RegionEntry;
        }
    }

    /// <summary>
    /// Crossings from one region into another of the same page through a dynamic exit (a
    /// RET, an indirect JMP or CALL) or the dispatcher's lookup, before the first is merged
    /// with the page's other regions (<see cref="RegionBuilder.Merge"/>). Links count apart
    /// (<see cref="MergeAfterLinks"/>): counted as these, merging regions that only link to
    /// each other made the Linux workload's short phases slower (4 alternating runs: the shell
    /// loop 1.18 → 1.34 s, md5 0.64 → 0.74 s, fork 1.51 → 1.79 s), although it followed a third
    /// fewer links; a 7 s shell loop ran as fast either way, so the cost is the recompiles.
    /// </summary>
    /// <remarks>
    /// Regions are disjoint: each forms around a block as it gets hot, from the blocks no other
    /// region holds. A loop or an interpreter's dispatch whose blocks got hot at different times
    /// ends up split over several regions of one page, and crosses between them through the
    /// engine on every pass (the bytecode workload's switch: about one crossing per 12 guest
    /// instructions, most through the dispatcher's lookup, as its indirect JMP has more targets
    /// than its exit remembers). Merged, the crossings are IL branches. <c>./emu bench --runs 3</c>: bytecode 553 → 1847
    /// MIPS (0.46x → 1.53x QEMU).
    /// </remarks>
    public const int MergeAfter = 5000;

    /// <summary>Regions formed by merging (<see cref="MergeAfter"/>).</summary>
    public long MergedRegions { get; private set; }

    /// <summary>Blocks in the regions formed by merging (part of <see cref="FormedBlocks"/>).</summary>
    public long MergedBlocks { get; private set; }

    /// <summary>
    /// Merges per physical page at most, until its regions are dropped. Each merge holds every
    /// block of the region it grew from and more, but a page with more hot code than a region
    /// takes could otherwise merge over and over.
    /// </summary>
    public const int MaxMergesPerPage = 4;

    private readonly Dictionary<uint, int> mergesByPage = new();

    /// <summary>
    /// Links followed from one region into another of its page before the two are merged
    /// (with the page's other regions, as <see cref="MergeAfter"/>). Ten times
    /// <see cref="MergeAfter"/>: a link costs less than a dynamic exit, and merging regions
    /// that link to each other early made the Linux workload's short phases slower.
    /// </summary>
    public const int MergeAfterLinks = 50_000;

    /// <summary>
    /// The engine went from <paramref name="from"/> straight into <paramref name="to"/>, another
    /// region of its page: through a link, or through a dynamic exit or the dispatcher, each
    /// counted toward its own threshold.
    /// </summary>
    private void CrossedInPage(Cpu cpu, Region from, Region to, bool linked)
    {
        if (linked ? ++from.PageLinkCrossings == MergeAfterLinks : ++from.PageCrossings == MergeAfter) MergeFrom(cpu, from, to);
    }

    /// <summary>Forms and queues the merge of <paramref name="from"/>'s page's regions, starting with it and <paramref name="to"/>.</summary>
    private void MergeFrom(Cpu cpu, Region from, Region to)
    {
        if (ReferenceEquals(from, to)) return;
        // Formed under the segments the region was compiled for (the crossing changed none).
        if (!from.Valid || from.Flat != cpu.FlatSegments()) return;
        mergesByPage.TryGetValue(from.PhysPage, out int merges);
        if (merges >= MaxMergesPerPage) return;
        Region merged = RegionBuilder.Merge(cpu, from, to);
        if (merged.Blocks.Length == from.Blocks.Length) return; // nothing to take in
        mergesByPage[from.PhysPage] = merges + 1;
        foreach (Block b in merged.Blocks) b.CompileQueued = true;
        MergedRegions++;
        MergedBlocks += merged.Blocks.Length;
        Queue(merged);
    }

    /// <summary>A block without compiled code: counted toward its region, and interpreted.</summary>
    private void Cold(Cpu cpu, Block block)
    {
        ColdRuns++;
        if (++block.Hits >= Threshold && !block.CompileQueued && block.Cacheable && !block.Straddles)
        {
            Region region = RegionBuilder.Form(cpu, block);
            foreach (Block b in region.Blocks) b.CompileQueued = true;
            Queue(region);
            if (Synchronous)
            {
                InstallFinished();
                if (block.Region is Region r && r.Valid && (!r.Flat || cpu.FlatSegments()))
                {
                    DispatchedEntries++;
                    Run(cpu, r, block.RegionEntry);
                    return;
                }
            }
        }
        Interpreter.Execute(cpu, block);
    }

    /// <summary>
    /// A region formed: compiled now when synchronous (installed at the next
    /// <see cref="InstallFinished"/>), else queued for the compile thread.
    /// </summary>
    private void Queue(Region region)
    {
        FormedBlocks += region.Blocks.Length;
        RegionFormed?.Invoke(region);
        if (Synchronous)
        {
            CompileOne(region);
            return;
        }
        Interlocked.Increment(ref queuedOrCompiling);
        region.QueuedAt = Stopwatch.GetTimestamp();
        region.HitsAtQueue = region.Blocks[0].Hits;
        queue!.Add(region);
    }

    private void Attach(Cpu cpu)
    {
        attached = cpu;
        cpu.Blocks.BlockDropped = OnBlockDropped;
    }

    /// <summary>Installs compiled regions on the emulation thread, unless a block of theirs was dropped meanwhile.</summary>
    private void InstallFinished()
    {
        Interlocked.Exchange(ref pendingInstalls, 0);
        while (finished.TryDequeue(out Region? r))
        {
            bool valid = r.Valid;
            foreach (Block b in r.Blocks) valid &= b.Valid;
            if (!valid)
            {
                Abandon(r);
                continue;
            }
            if (!byPage.TryGetValue(r.PhysPage, out List<Region>? list)) byPage[r.PhysPage] = list = new List<Region>();
            list.Add(r);
            for (int i = 0; i < r.Blocks.Length; i++)
            {
                Block b = r.Blocks[i];
                // The first region to hold a block is its entry, unless a merged one takes it over.
                if (!r.Merged && b.Region is Region old && old.Valid) continue;
                b.Region = r;
                b.RegionEntry = i;
            }
            if (r.Merged) RetireSuperseded(list);
        }
    }

    /// <summary>
    /// After a merge: the page's regions none of whose blocks enters them any more stop being
    /// valid, so the links into them are made again, into the merged region.
    /// </summary>
    private static void RetireSuperseded(List<Region> list)
    {
        list.RemoveAll(o =>
        {
            foreach (Block b in o.Blocks)
                if (ReferenceEquals(b.Region, o)) return false;
            o.Valid = false;
            return true;
        });
    }

    /// <summary>A region that will not run: its blocks may form regions again.</summary>
    private static void Abandon(Region r)
    {
        r.Valid = false;
        foreach (Block b in r.Blocks)
        {
            if (ReferenceEquals(b.Region, r)) b.Region = null;
            if (b.Region is null)
            {
                b.CompileQueued = false;
                b.Hits = 0;
            }
        }
    }

    /// <summary>
    /// A block was overwritten or flushed: every region of its page goes. When the running
    /// region is one of them, it leaves at the end of the block it is in (the budget word is
    /// poked), exactly where the interpreter would next look up a block, so it never goes on
    /// into code that may have changed. A store into the running block itself is left right
    /// after the store, by the block cache, as in the interpreter.
    /// </summary>
    private void OnBlockDropped(Block dropped)
    {
        uint page = dropped.PhysStart & ~PhysicalMemory.PageMask;
        dropped.Region = null;
        mergesByPage.Remove(page);
        if (!byPage.Remove(page, out List<Region>? list)) return;
        Cpu? cpu = attached;
        foreach (Region r in list)
        {
            if (cpu is not null && cpu.CurrentBlocksHandle == r.BlocksHandle) cpu.Poke();
            Abandon(r);
        }
    }

    /// <summary>Waits until every queued region has been compiled (benchmarks and tests).</summary>
    public void Drain()
    {
        if (queue is null) return;
        // Not the queue's count: the compile thread takes a region out of the queue before it
        // compiles it, and the wait must cover that one too.
        while (Volatile.Read(ref queuedOrCompiling) > 0) Thread.Sleep(1);
    }

    private void CompileLoop()
    {
        while (queue!.Take() is Region r)
        {
            CompileOne(r);
            Interlocked.Decrement(ref queuedOrCompiling);
        }
    }

    private void CompileOne(Region r)
    {
        long t0 = Stopwatch.GetTimestamp();
        if (r.QueuedAt != 0) Interlocked.Add(ref queueWaitTicks, t0 - r.QueuedAt);
        try
        {
            Func<Cpu, int, int> code = RegionCompiler.Compile(r);
            code(null!, 0); // JIT it here (a null CPU returns at once), not on the emulation thread
            r.Code = code;
            Interlocked.Increment(ref compiledRegions);
            Interlocked.Add(ref compiledBlocks, r.Blocks.Length);
            Interlocked.Add(ref compiledInstructions, r.Instructions);
            finished.Enqueue(r);
            Interlocked.Exchange(ref pendingInstalls, 1);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A region the compiler cannot handle stays interpreted; one message per failure.
            Interlocked.Increment(ref failures);
            Console.Error.WriteLine($"translator: cannot compile {r}: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            Interlocked.Add(ref compileTicks, Stopwatch.GetTimestamp() - t0);
        }
    }

    public void Dispose()
    {
        queue?.Close();
    }
}
