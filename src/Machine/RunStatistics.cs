using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Emu.Memory;
using Emu.Translator;
using Emu.X86;

namespace Emu.Machine;

/// <summary>
/// Where a run went (<c>emu run --stats</c>, and Ctrl-A s while it runs): instructions by
/// engine, the translator's compiling, block lookups, TLB misses and page walks, CR3 loads,
/// the events delivered to the guest by vector, port and MMIO accesses by device, and the
/// host time the guest spent idle. The counters live where the work is done (CPU, block
/// cache, MMU, I/O space, physical memory, translator, board); this only reads and prints
/// them. Read from another thread while the guest runs, a figure may be a moment old.
/// </summary>
public static class RunStatistics
{
    /// <summary>The report, one line per subject, each starting with two spaces after the heading.</summary>
    public static string Report(Board board)
    {
        Cpu cpu = board.Cpu;
        var s = new StringBuilder();
        TimeSpan run = board.HostRunTime, idle = board.HostIdle;
        s.Append("\nemu statistics:\n");
        s.Append($"  host time: {Seconds(run)} running the guest, {Seconds(idle)} of it idle ({Percent(idle.Ticks, run.Ticks)}), {N(board.IdleWakeups)} host sleeps\n");

        long total = cpu.InstructionCount;
        if (cpu.Engine is TranslatorEngine t)
        {
            long compiled = Math.Min(t.CompiledRetired, total);
            s.Append($"  instructions: {N(total)}: {N(total - compiled)} interpreted ({Percent(total - compiled, total)}), {N(compiled)} compiled ({Percent(compiled, total)})\n");
            double usPer = t.CompiledInstructions == 0 ? 0 : t.CompileTime.TotalMilliseconds * 1000 / t.CompiledInstructions;
            s.Append($"  translator: {N(t.CompiledRegions)} regions compiled ({N(t.CompiledBlocks)} blocks, {N(t.CompiledInstructions)} instructions; {N(t.MergedRegions)} merging a page's regions)"
                     + $" in {Seconds(t.CompileTime)} ({usPer.ToString("F1", CultureInfo.InvariantCulture)} us per instruction); waited in the queue {Seconds(t.QueueWait)}; {N(t.Failures)} refused\n");
            s.Append($"  region entries: {N(t.DispatchedEntries)} from the dispatcher, {N(t.LinkedEntries)} linked, {N(t.DynamicHits)} after a return or indirect jump to a target its exit remembers, {N(t.ReturnHits)} after a return to the last call's return point; {N(t.ColdRuns)} blocks run interpreted\n");
        }
        else
        {
            s.Append($"  instructions: {N(total)}, all interpreted\n");
        }

        BlockCache blocks = cpu.Blocks;
        s.Append($"  block lookups: {N(blocks.Lookups)}, {N(blocks.JumpMisses)} past the jump cache ({N(blocks.JumpFlushes)} clears of it, {N(blocks.InvlpgsKept)} INVLPGs of pages without code that kept it), {N(blocks.Decoded)} decoded;"
                 + $" {N(blocks.Invalidated)} invalidated by stores into code (SMC); {N(blocks.Flushes)} flushes\n");
        s.Append($"  blocks cached: {N(blocks.LiveBlocks)}, at most {N(blocks.PeakBlocks)} (cap {N(blocks.MaxBlocks)}, {N(blocks.CapacityFlushes)} flushes at the cap)\n");

        MmuCounters m = board.Mmu.Counters;
        s.Append($"  TLB misses: {N(m.ReadMisses)} reads, {N(m.WriteMisses)} writes, {N(m.FetchTranslations)} code fetches;"
                 + $" {N(m.PageWalks)} page walks; {N(m.FullFlushes)} full flushes, {N(m.LargePageFlushes)} INVLPGs of 4 MiB pages\n");
        s.Append($"  CR3 loads: {N(cpu.Cr3Loads)}, dropping {N(cpu.Cr3EntriesFlushed)} TLB entries\n");

        s.Append("  exceptions: ").Append(Events(cpu, EventSource.Exception, v => ExceptionVectors.Name(v).Split(' ')[0])).Append('\n');
        s.Append("  interrupts: ").Append(Events(cpu, EventSource.External, v => $"vector {v:X2}h")).Append('\n');
        s.Append("  software interrupts: ").Append(Events(cpu, EventSource.Software, v => $"INT {v:X2}h")).Append('\n');

        s.Append("  port accesses: ").Append(Ports(board.Io)).Append('\n');
        var mmio = board.Physical.MmioAccesses().Where(r => r.Accesses > 0).OrderByDescending(r => r.Accesses).ToList();
        s.Append("  MMIO accesses: ").Append(mmio.Count == 0 ? "none" : string.Join(", ", mmio.Select(r => $"{r.Name} {N(r.Accesses)}"))).Append('\n');
        return s.ToString();
    }

    /// <summary>The vectors of one source delivered at least once, most frequent first.</summary>
    private static string Events(Cpu cpu, EventSource source, Func<int, string> name)
    {
        var list = new List<(int Vector, long Count)>();
        for (int v = 0; v < 256; v++)
        {
            long n = cpu.Events[(int)source * 256 + v];
            if (n > 0) list.Add((v, n));
        }
        if (list.Count == 0) return "none";
        long sum = list.Sum(e => e.Count);
        return $"{N(sum)}: " + string.Join(", ", list.OrderByDescending(e => e.Count).Select(e => $"{name(e.Vector)} {N(e.Count)}"));
    }

    /// <summary>Port accesses grouped by the device that claims them (named by its type and lowest port used), most first; unclaimed ports as one group.</summary>
    private static string Ports(IoSpace io)
    {
        var groups = new Dictionary<object, (string Kind, int First, long Count)>();
        object unclaimed = new();
        for (int p = 0; p < 0x10000; p++)
        {
            long n = io.Accesses[p];
            if (n == 0) continue;
            IPortDevice? d = io.DeviceAt((ushort)p);
            object key = d ?? unclaimed;
            string kind = d?.GetType().Name ?? "unclaimed";
            groups[key] = groups.TryGetValue(key, out var g) ? (g.Kind, g.First, g.Count + n) : (kind, p, n);
        }
        if (groups.Count == 0) return "none";
        return string.Join(", ", groups.Values.OrderByDescending(g => g.Count)
            .Select(g => $"{g.Kind}@{g.First:X}h {N(g.Count)}"));
    }

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture) + " s";

    private static string Percent(long part, long whole) =>
        whole == 0 ? "0%" : (100.0 * part / whole).ToString("F1", CultureInfo.InvariantCulture) + "%";
}
