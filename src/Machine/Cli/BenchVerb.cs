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
/// <c>emu bench</c>: the benchmark workloads on each engine without BenchmarkDotNet, and in
/// QEMU for comparison. Several runs, each on a fresh machine, after a warm-up run; medians,
/// because the machines are noisy.
/// </summary>
public static class BenchVerb
{
    private const int CompileRepeats = 5;

    public static int Run(BenchOptions o, Stream stdout, TextWriter stderr)
    {
        if (o.Runs < 1 || o.Runs > 1000) return Fail(stderr, $"--runs {o.Runs}: expected 1 to 1000 runs");
        if (o.Rounds is 0) return Fail(stderr, "--rounds 0: expected at least one round");
        if (o.JitThreshold is < 1) return Fail(stderr, $"--jit-threshold {o.JitThreshold}: expected a number of block entries, at least 1");
        if (o.Check && o.Sweep is not null) return Fail(stderr, "--check and --sweep do not go together");
        if (o.NoQemu && o.Qemu is not null) return Fail(stderr, "--no-qemu and --qemu do not go together");
        if (o.CompileCost && (o.Check || o.Sweep is not null)) return Fail(stderr, "--compile-cost goes alone, without --check or --sweep");

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
            if (o.CompileCost)
            {
                WriteCompileCost(images, output);
                return ExitStatus.Success;
            }
            if (o.Sweep is not null) return Sweep(images, thresholds, o, output);
            QemuRun? qemu = null;
            if (!o.NoQemu)
            {
                if (QemuRun.Find(o.Qemu ?? QemuRun.DefaultProgram) is { } path) qemu = new QemuRun(path);
                else if (o.Qemu is not null) return Fail(stderr, $"--qemu {o.Qemu}: no such file");
                else
                {
                    output.WriteLine($"emu bench: {QemuRun.DefaultProgram} is not on PATH (tools/ensure-packages.sh qemu-system-x86 installs it): " +
                                     "no QEMU columns, our engines only.");
                    output.WriteLine();
                }
            }
            return Table(images, o, dir, qemu, output);
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
            output.WriteLine(Invariant($"{w.Name,-9} ok on the interpreter, the translator and in lockstep: {n,12:N0} instructions ({rounds} round{(rounds == 1 ? "" : "s")})"));
        }
        return ExitStatus.Success;
    }

    // ---- the MIPS table and the compile cost ----

    /// <summary>The steady-state run and QEMU's longer run compute this many times the rounds of the others.</summary>
    private const uint LongRunFactor = 4;

    private static int Table(List<(Workload W, byte[] Image)> images, BenchOptions o, string dir, QemuRun? qemu, TextWriter output)
    {
        int threshold = o.JitThreshold ?? TranslatorEngine.DefaultThreshold;
        output.WriteLine($"emu bench: guest MIPS of each workload, median of {o.Runs} run{(o.Runs == 1 ? "" : "s")} (lowest-highest) after a warm-up run; " +
                         "runs interleave workloads and engines; each run boots the workload on a fresh machine.");
        output.WriteLine("  interpreter, tiered: R rounds (the workload's default, or --rounds), timed from the first instruction to the exit.");
        output.WriteLine($"  tiered: the translator as a user runs it: tiering threshold {threshold}, compiling on a background thread, its compiles in its time.");
        output.WriteLine($"  steady: the same translator on {LongRunFactor}R rounds; at each round's end (port 0xEA) it waits, untimed, for the compile queue to drain;");
        output.WriteLine($"    the first round that compiled nothing (at least the {WorkloadRun.MinWarmupRounds}nd) ends the warm-up, and the rounds after it are timed, to the exit.");
        if (qemu is not null)
        {
            output.WriteLine($"  qemu: {qemu.Path} -accel tcg ({qemu.Version()}), the same image, R and {LongRunFactor}R rounds; its MIPS are");
            output.WriteLine($"    our exact count of the instructions in the extra {LongRunFactor - 1}R rounds over the difference of the two runs' wall times,");
            output.WriteLine("    so QEMU's start-up (about 0.2 s) and the first rounds' translations drop out. Each run's output must equal ours.");
        }
        output.WriteLine($"Host: {Environment.ProcessorCount} CPUs, .NET {Environment.Version}.");
        output.WriteLine();

        var rounds = new Dictionary<Workload, uint>();
        var interpreter = new Dictionary<Workload, List<WorkloadResult>>();
        var tiered = new Dictionary<Workload, List<WorkloadResult>>();
        var steady = new Dictionary<Workload, List<WorkloadResult>>();
        var qemuMips = new Dictionary<Workload, List<double>>();
        var expected = new Dictionary<Workload, (string Short, string Long, long ShortInstructions, long LongInstructions)>();
        foreach ((Workload w, byte[] image) in images)
        {
            // Warm-up runs (the emulator's own code gets JIT-compiled), which also give the
            // workload's default rounds, R, and the output and instruction count every later run
            // must match (the runs after this one all pass rounds=R: a different command line
            // would retire a different number of instructions parsing it).
            WorkloadResult first = WorkloadRun.Run(w, image, EngineKind.Interpreter, rounds: o.Rounds);
            uint r = o.Rounds ?? (uint)first.Rounds;
            if (r == 0) throw new WorkloadFailedException($"workload {w.Name} marked no rounds (port 0xEA): rebuild it with firmware/build.sh");
            rounds[w] = r;
            WorkloadResult t = WorkloadRun.Run(w, image, EngineKind.Translator, threshold, r);
            SameOutput(w, "the translator", t.Output, first.Output);
            WorkloadResult l = WorkloadRun.RunSteady(w, image, threshold, r * LongRunFactor);
            expected[w] = (t.Output, l.Output, t.Instructions, l.Instructions);
            if (qemu is not null)
            {
                string path = Path.Combine(dir, w.FileName);
                SameOutput(w, "QEMU", qemu.Run(w, path, r).Output, t.Output);
                SameOutput(w, "QEMU", qemu.Run(w, path, r * LongRunFactor).Output, l.Output);
            }
            interpreter[w] = new();
            tiered[w] = new();
            steady[w] = new();
            qemuMips[w] = new();
        }
        for (int run = 0; run < o.Runs; run++)
            foreach ((Workload w, byte[] image) in images)
            {
                uint r = rounds[w];
                var e = expected[w];
                WorkloadResult i = WorkloadRun.Run(w, image, EngineKind.Interpreter, rounds: r);
                Same(w, "the interpreter", i, e.Short, e.ShortInstructions);
                interpreter[w].Add(i);
                WorkloadResult t = WorkloadRun.Run(w, image, EngineKind.Translator, threshold, r);
                Same(w, "the translator", t, e.Short, e.ShortInstructions);
                tiered[w].Add(t);
                WorkloadResult s = WorkloadRun.RunSteady(w, image, threshold, r * LongRunFactor);
                Same(w, "the translator", s, e.Long, e.LongInstructions);
                steady[w].Add(s);
                if (qemu is not null)
                {
                    string path = Path.Combine(dir, w.FileName);
                    QemuResult shortRun = qemu.Run(w, path, r), longRun = qemu.Run(w, path, r * LongRunFactor);
                    SameOutput(w, "QEMU", shortRun.Output, e.Short);
                    SameOutput(w, "QEMU", longRun.Output, e.Long);
                    double seconds = (longRun.Elapsed - shortRun.Elapsed).TotalSeconds;
                    if (seconds > 0) qemuMips[w].Add((e.LongInstructions - e.ShortInstructions) / seconds / 1e6);
                }
            }

        var header = new List<string> { "workload", "rounds", "instructions", "interpreter", "tiered", "steady" };
        if (qemu is not null) header.AddRange(new[] { "qemu", "tiered/qemu", "steady/qemu" });
        header.Add("tiered/interp");
        var rows = new List<string[]> { header.ToArray() };
        var tieredQemu = new List<double>();
        var steadyQemu = new List<double>();
        var tieredInterpreter = new List<double>();
        var warmups = new List<double>();
        long compiledWhileTimed = 0, mergedWhileTimed = 0;
        bool unsettled = false;
        foreach ((Workload w, _) in images)
        {
            List<double> mi = interpreter[w].Select(x => x.Mips).ToList(), mt = tiered[w].Select(x => x.Mips).ToList();
            List<double> ms = steady[w].Where(x => x.Steady is not null).Select(x => x.Steady!.Mips).ToList();
            unsettled |= ms.Count < steady[w].Count;
            foreach (WorkloadResult x in steady[w])
                if (x.Steady is { } p)
                {
                    warmups.Add(p.WarmupRounds);
                    compiledWhileTimed += p.CompiledWhileTimed;
                    mergedWhileTimed += p.MergedWhileTimed;
                }
            double i = Median(mi), t = Median(mt), s = ms.Count > 0 ? Median(ms) : double.NaN;
            var row = new List<string> { w.Name, Invariant($"{rounds[w]}"), Invariant($"{interpreter[w][0].Instructions:N0}"), Cell(mi), Cell(mt), Cell(ms) };
            if (qemu is not null)
            {
                List<double> mq = qemuMips[w];
                double q = mq.Count > 0 ? Median(mq) : double.NaN;
                row.Add(Cell(mq));
                row.Add(Ratio(t / q));
                row.Add(Ratio(s / q));
                if (double.IsFinite(t / q)) tieredQemu.Add(t / q);
                if (double.IsFinite(s / q)) steadyQemu.Add(s / q);
            }
            row.Add(Ratio(t / i));
            tieredInterpreter.Add(t / i);
            rows.Add(row.ToArray());
        }
        WriteTable(output, rows);
        output.WriteLine("MIPS: millions of guest instructions per second of host time, median (lowest-highest).");
        if (qemu is not null)
            output.WriteLine(Invariant($"geometric mean over the workloads: tiered/qemu {GeoMean(tieredQemu)}, steady/qemu {GeoMean(steadyQemu)}, tiered/interpreter {GeoMean(tieredInterpreter)}."));
        else
            output.WriteLine(Invariant($"geometric mean over the workloads: tiered/interpreter {GeoMean(tieredInterpreter)}."));
        if (warmups.Count > 0)
            output.WriteLine(Invariant($"steady: warm-up of {warmups.Min():F0}-{warmups.Max():F0} rounds (median {Median(warmups):F0}); blocks compiled while timed, over all runs: {compiledWhileTimed} ({mergedWhileTimed} of them merging regions of code compiled already)."));
        if (unsettled)
            output.WriteLine($"steady: in some runs no round compiled nothing before the last round: those runs have no steady figure (try more --rounds).");
        long regionInstructions = 0;
        double regionSeconds = 0;
        foreach ((Workload w, _) in images)
            foreach (WorkloadResult x in tiered[w])
            {
                regionInstructions += x.CompiledInstructions;
                regionSeconds += x.CompileTime.TotalSeconds;
            }
        if (regionInstructions > 0)
            output.WriteLine(Invariant(
                $"compiling in the tiered runs (regions, on the background thread): {regionInstructions / (double)o.Runs:N0} guest instructions per set of runs, {regionSeconds * 1e6 / regionInstructions:F1} us per guest instruction compiled."));
        output.WriteLine();

        WriteCompileCost(images, output);
        return ExitStatus.Success;
    }

    private static void SameOutput(Workload w, string engine, string output, string expected)
    {
        if (output != expected)
            throw new WorkloadFailedException($"workload {w.Name} printed \"{output.Trim()}\" on {engine}, \"{expected.Trim()}\" in its first run");
    }

    private static void Same(Workload w, string engine, WorkloadResult r, string output, long instructions)
    {
        SameOutput(w, engine, r.Output, output);
        if (r.Instructions != instructions)
            throw new WorkloadFailedException($"workload {w.Name} retired {r.Instructions} instructions on {engine}, {instructions} in its first run of as many rounds");
    }

    private static string Cell(List<double> mips) =>
        mips.Count == 0 ? "-" : Invariant($"{Median(mips):F1} ({mips.Min():F1}-{mips.Max():F1})");

    private static string Ratio(double r) => double.IsFinite(r) ? Invariant($"{r:F2}x") : "-";

    private static string GeoMean(List<double> ratios) => ratios.Count == 0 ? "-" : Ratio(Math.Exp(ratios.Average(Math.Log)));

    private static void WriteCompileCost(List<(Workload W, byte[] Image)> images, TextWriter output)
    {
        List<Region> regions = CompileCost.CollectRegions(images);
        long instructions = CompileCost.CountInstructions(regions);
        long blocks = 0;
        foreach (Region r in regions) blocks += r.Blocks.Length;
        CompileCost.CompileAll(regions); // warm-up: the compiler's own code
        var costs = new List<CompileCost.Cost>();
        for (int i = 0; i < CompileRepeats; i++) costs.Add(CompileCost.CompileAll(regions));
        costs.Sort((a, b) => a.Total.CompareTo(b.Total));
        CompileCost.Cost median = costs[costs.Count / 2];
        double us = 1e6 / instructions;
        output.WriteLine(Invariant(
            $"translation cost: the {regions.Count:N0} regions the translator forms in the workloads' runs (threshold {TranslatorEngine.DefaultThreshold}; {blocks:N0} blocks, {instructions:N0} guest instructions),"));
        output.WriteLine(Invariant(
            $"  compiled again, each to IL and by RyuJIT, median of {CompileRepeats}: {median.Total.TotalSeconds:F3} s, {median.Total.TotalMicroseconds / regions.Count:F0} us per region,"));
        output.WriteLine(Invariant(
            $"  {median.Total.TotalSeconds * us:F1} us per guest instruction compiled (IL {median.Il.TotalSeconds * us:F1}, RyuJIT {median.Jit.TotalSeconds * us:F1})"));
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
