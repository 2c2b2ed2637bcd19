using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using Emu.Machine.Benchmarks;
using Emu.Translator;
using Emu.X86;

namespace Emu.Machine.Cli;

/// <summary>
/// <c>emu bench</c>: the benchmark workloads on each engine without BenchmarkDotNet. Several
/// runs, each on a fresh machine, after a warm-up run; medians, because the machines are noisy.
/// </summary>
public static class BenchVerb
{
    private const int CompileRepeats = 3;

    public static int Run(BenchOptions o, Stream stdout, TextWriter stderr)
    {
        if (o.Runs < 1 || o.Runs > 1000) return Fail(stderr, $"--runs {o.Runs}: expected 1 to 1000 runs");
        if (o.Rounds is 0) return Fail(stderr, "--rounds 0: expected at least one round");
        if (o.JitThreshold is < 1) return Fail(stderr, $"--jit-threshold {o.JitThreshold}: expected a number of block entries, at least 1");
        if (o.Check && o.Sweep is not null) return Fail(stderr, "--check and --sweep do not go together");

        var workloads = new List<Workload>();
        foreach (string name in Split(o.Workloads ?? string.Join(',', Workload.All.Select(w => w.Name))))
        {
            if (Workload.Find(name) is not { } w)
                return Fail(stderr, $"--workloads: no workload named '{name}'; the workloads are {string.Join(", ", Workload.All.Select(x => x.Name))}");
            if (!workloads.Contains(w)) workloads.Add(w);
        }
        if (workloads.Count == 0) return Fail(stderr, "--workloads: no workload named");

        var thresholds = new List<int>();
        if (o.Sweep is not null)
        {
            foreach (string t in Split(o.Sweep))
            {
                if (!int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
                    return Fail(stderr, $"--sweep: '{t}' is not a threshold (a number of block entries, at least 1)");
                thresholds.Add(n);
            }
            if (thresholds.Count == 0) return Fail(stderr, "--sweep: no threshold given");
        }

        string dir = o.Dir ?? Workload.DefaultDirectory();
        var images = new List<(Workload, byte[])>();
        try
        {
            foreach (Workload w in workloads) images.Add((w, WorkloadRun.Load(dir, w)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"emu: {e.Message}");
            return ExitStatus.BadImage;
        }

        using var output = new StreamWriter(stdout, leaveOpen: true) { AutoFlush = true };
        try
        {
            if (o.Check) return Check(images, o.Rounds ?? 1, output);
            if (o.Sweep is not null) return Sweep(images, thresholds, o, output);
            return Table(images, o, output);
        }
        catch (WorkloadFailedException e)
        {
            output.Flush();
            stderr.WriteLine($"emu: bench: {e.Message}");
            return ExitStatus.WorkloadFailed;
        }
    }

    private static IEnumerable<string> Split(string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static int Fail(TextWriter stderr, string message)
    {
        stderr.WriteLine($"emu: {message}");
        return ExitStatus.Usage;
    }

    // ---- --check: every workload on every engine, once ----

    private static int Check(List<(Workload W, byte[] Image)> images, uint rounds, TextWriter output)
    {
        foreach ((Workload w, byte[] image) in images)
        {
            long n = 0;
            foreach (EngineKind e in new[] { EngineKind.Interpreter, EngineKind.Translator, EngineKind.Lockstep })
            {
                WorkloadResult r = WorkloadRun.Run(w, image, e, rounds: rounds);
                if (n != 0 && r.Instructions != n)
                    throw new WorkloadFailedException($"workload {w.Name} retired {r.Instructions} instructions on the {EngineKinds.Name(e)}, {n} on the interpreter");
                n = r.Instructions;
            }
            output.WriteLine(Invariant($"{w.Name,-8} ok on the interpreter, the translator and in lockstep: {n,12:N0} instructions ({rounds} round{(rounds == 1 ? "" : "s")})"));
        }
        return ExitStatus.Success;
    }

    // ---- the MIPS table and the compile cost ----

    private static int Table(List<(Workload W, byte[] Image)> images, BenchOptions o, TextWriter output)
    {
        int threshold = o.JitThreshold ?? TranslatorEngine.DefaultThreshold;
        output.WriteLine($"emu bench: guest MIPS of each workload, median of {o.Runs} run{(o.Runs == 1 ? "" : "s")} after a warm-up run; " +
                         "each run boots the workload on a fresh machine and is timed from its first instruction to its exit.");
        output.WriteLine($"translator: tiering threshold {threshold}, compiling on a background thread (its compiles are in its time). " +
                         $"Host: {Environment.ProcessorCount} CPUs, .NET {Environment.Version}.");
        output.WriteLine();

        var engines = new[] { EngineKind.Interpreter, EngineKind.Translator };
        var results = new Dictionary<(Workload, EngineKind), List<WorkloadResult>>();
        foreach ((Workload w, byte[] image) in images)
            foreach (EngineKind e in engines)
            {
                WorkloadRun.Run(w, image, e, threshold, o.Rounds); // warm-up: the emulator's own code gets JIT-compiled
                results[(w, e)] = new List<WorkloadResult>();
            }
        // Runs interleave workloads and engines, so a slow spell of the machine spreads over all of them.
        for (int run = 0; run < o.Runs; run++)
            foreach ((Workload w, byte[] image) in images)
                foreach (EngineKind e in engines)
                    results[(w, e)].Add(WorkloadRun.Run(w, image, e, threshold, o.Rounds));

        var rows = new List<string[]> { new[] { "workload", "instructions", "interpreter MIPS", "translator MIPS", "translator/interpreter", "compiled blocks" } };
        var ratios = new List<double>();
        foreach ((Workload w, _) in images)
        {
            List<WorkloadResult> i = results[(w, EngineKind.Interpreter)], t = results[(w, EngineKind.Translator)];
            double mi = Median(i.Select(r => r.Mips)), mt = Median(t.Select(r => r.Mips));
            ratios.Add(mt / mi);
            rows.Add(new[]
            {
                w.Name,
                Invariant($"{i[0].Instructions:N0}"),
                Invariant($"{mi:F1} ({i.Min(r => r.Mips):F1}-{i.Max(r => r.Mips):F1})"),
                Invariant($"{mt:F1} ({t.Min(r => r.Mips):F1}-{t.Max(r => r.Mips):F1})"),
                Invariant($"{mt / mi:F2}x"),
                Invariant($"{Median(t.Select(r => (double)r.CompiledBlocks)):F0}"),
            });
        }
        WriteTable(output, rows);
        output.WriteLine(Invariant($"geometric mean of the ratios: {Math.Exp(ratios.Average(Math.Log)):F2}x. MIPS: median (lowest-highest)."));
        output.WriteLine();

        WriteCompileCost(images, output);
        return ExitStatus.Success;
    }

    private static void WriteCompileCost(List<(Workload W, byte[] Image)> images, TextWriter output)
    {
        List<Block> blocks = CompileCost.CollectBlocks(images);
        long instructions = CompileCost.CountInstructions(blocks);
        CompileCost.CompileAll(blocks.Take(Math.Min(blocks.Count, 50)).ToList()); // warm-up: the compiler's own code
        var times = new List<double>();
        for (int i = 0; i < CompileRepeats; i++) times.Add(CompileCost.CompileAll(blocks).TotalSeconds);
        double t = Median(times);
        output.WriteLine(Invariant(
            $"translation cost: the {blocks.Count:N0} distinct blocks the workloads run ({instructions:N0} guest instructions, {(double)instructions / blocks.Count:F1} per block), each compiled to IL and by RyuJIT, median of {CompileRepeats}: {t:F3} s,"));
        output.WriteLine(Invariant(
            $"  {t * 1e6 / blocks.Count:F1} us per block, {t * 1e6 / instructions:F2} us per guest instruction compiled"));
    }

    // ---- --sweep: the tiering threshold ----

    private static int Sweep(List<(Workload W, byte[] Image)> images, List<int> thresholds, BenchOptions o, TextWriter output)
    {
        output.WriteLine($"emu bench --sweep: each workload's run time in ms (first instruction to exit, compiles included), " +
                         $"median of {o.Runs} run{(o.Runs == 1 ? "" : "s")} after a warm-up; translator compiling on a background thread.");
        output.WriteLine($"Host: {Environment.ProcessorCount} CPUs, .NET {Environment.Version}.");
        output.WriteLine();

        // Row 0 is the interpreter, then one row per threshold.
        int rowsCount = thresholds.Count + 1;
        var times = new List<double>[rowsCount, images.Count];
        var blocks = new List<double>[rowsCount, images.Count];
        var compile = new List<double>[rowsCount, images.Count];
        for (int r = 0; r < rowsCount; r++)
            for (int k = 0; k < images.Count; k++)
            {
                times[r, k] = new List<double>();
                blocks[r, k] = new List<double>();
                compile[r, k] = new List<double>();
            }
        for (int k = 0; k < images.Count; k++)
        {
            WorkloadRun.Run(images[k].W, images[k].Image, EngineKind.Interpreter, rounds: o.Rounds);
            WorkloadRun.Run(images[k].W, images[k].Image, EngineKind.Translator, thresholds[0], o.Rounds);
        }
        for (int run = 0; run < o.Runs; run++)
            for (int r = 0; r < rowsCount; r++)
                for (int k = 0; k < images.Count; k++)
                {
                    EngineKind e = r == 0 ? EngineKind.Interpreter : EngineKind.Translator;
                    int? threshold = r == 0 ? null : thresholds[r - 1];
                    WorkloadResult result = WorkloadRun.Run(images[k].W, images[k].Image, e, threshold, o.Rounds);
                    times[r, k].Add(result.Elapsed.TotalMilliseconds);
                    blocks[r, k].Add(result.CompiledBlocks);
                    compile[r, k].Add(result.CompileTime.TotalMilliseconds);
                }

        var header = new List<string> { "threshold" };
        header.AddRange(images.Select(i => i.W.Name));
        header.Add("total");
        header.Add("blocks compiled");
        header.Add("compile thread ms");
        var rows = new List<string[]> { header.ToArray() };
        int best = 1;
        double bestTotal = double.MaxValue;
        for (int r = 0; r < rowsCount; r++)
        {
            var row = new List<string> { r == 0 ? "interpreter" : thresholds[r - 1].ToString(CultureInfo.InvariantCulture) };
            double total = 0;
            for (int k = 0; k < images.Count; k++)
            {
                double m = Median(times[r, k]);
                total += m;
                row.Add(Invariant($"{m:F0}"));
            }
            row.Add(Invariant($"{total:F0}"));
            double blocksTotal = 0, compileTotal = 0;
            for (int k = 0; k < images.Count; k++)
            {
                blocksTotal += Median(blocks[r, k]);
                compileTotal += Median(compile[r, k]);
            }
            row.Add(r == 0 ? "-" : Invariant($"{blocksTotal:F0}"));
            row.Add(r == 0 ? "-" : Invariant($"{compileTotal:F0}"));
            rows.Add(row.ToArray());
            if (r > 0 && total < bestTotal)
            {
                bestTotal = total;
                best = r;
            }
        }
        WriteTable(output, rows);
        output.WriteLine(Invariant($"lowest total: threshold {thresholds[best - 1]} ({bestTotal:F0} ms)."));
        output.WriteLine("Blocks compiled and compile-thread time: over all workloads, each the median of its runs.");
        return ExitStatus.Success;
    }

    // ---- helpers ----

    private static double Median(IEnumerable<double> values)
    {
        double[] v = values.OrderBy(x => x).ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>Columns padded to their widest cell: the first left-aligned, the others right-aligned.</summary>
    private static void WriteTable(TextWriter output, List<string[]> rows)
    {
        int columns = rows[0].Length;
        var width = new int[columns];
        foreach (string[] row in rows)
            for (int c = 0; c < columns; c++) width[c] = Math.Max(width[c], row[c].Length);
        foreach (string[] row in rows)
        {
            var line = new System.Text.StringBuilder();
            for (int c = 0; c < columns; c++)
            {
                if (c > 0) line.Append("  ");
                line.Append(c == 0 ? row[c].PadRight(width[c]) : row[c].PadLeft(width[c]));
            }
            output.WriteLine(line.ToString().TrimEnd());
        }
    }
}
