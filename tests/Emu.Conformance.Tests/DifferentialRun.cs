using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Emu.X86;

namespace Emu.Conformance.Tests;

/// <summary>Settings of a run, from the environment: EMU_DIFF_CASES, EMU_DIFF_SEED, EMU_DIFF_FORMS.</summary>
public sealed record RunSettings(int CasesPerForm, ulong Seed, string[]? FormFilter)
{
    public const int DefaultCases = 200;

    public const ulong DefaultSeed = 20260101;

    public static RunSettings FromEnvironment()
    {
        int cases = int.TryParse(Environment.GetEnvironmentVariable("EMU_DIFF_CASES"), out int n) && n > 0 ? n : DefaultCases;
        ulong seed = ulong.TryParse(Environment.GetEnvironmentVariable("EMU_DIFF_SEED"), out ulong s) ? s : DefaultSeed;
        string? f = Environment.GetEnvironmentVariable("EMU_DIFF_FORMS");
        string[]? filter = string.IsNullOrWhiteSpace(f) ? null : f.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new RunSettings(cases, seed, filter);
    }

    public bool Selects(Form form) => FormFilter is null || FormFilter.Any(x => form.Key.Contains(x, StringComparison.OrdinalIgnoreCase));
}

/// <summary>The outcome of a differential run.</summary>
public sealed class RunSummary
{
    public int Forms;
    public long Cases;
    public long Mismatches;
    public TimeSpan Elapsed;
    public readonly ConcurrentDictionary<string, int> MismatchesByForm = new();
    public readonly ConcurrentQueue<string> Reports = new();
    public readonly ConcurrentDictionary<string, long> Outcomes = new();

    public string Text(RunSettings s, string engine)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Differential conformance (host CPU vs emulator, {engine}): {Forms} forms, {Cases} cases ({s.CasesPerForm} per form), " +
                      $"seed {s.Seed}, {Mismatches} mismatches, {Elapsed.TotalSeconds:F1} s.");
        sb.AppendLine("Host outcomes: " + string.Join(", ", Outcomes.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}")));
        if (!MismatchesByForm.IsEmpty)
        {
            sb.AppendLine($"Forms with mismatches ({MismatchesByForm.Count}):");
            foreach (var (form, n) in MismatchesByForm.OrderBy(k => k.Key)) sb.AppendLine($"  {form}: {n}");
        }
        return sb.ToString();
    }
}

/// <summary>
/// Generates the cases of every selected form, runs them natively in batches and on the
/// emulator (with the given engine), and compares. Two batches run at once: the machine
/// has two cores, and one batch's native run overlaps another's emulation.
/// </summary>
public static class DifferentialRun
{
    private const int BatchCases = 16384;
    private const int ReportsPerForm = 2;
    private const int MaxReports = 60;

    public static byte[] Image(ulong seed)
    {
        var rng = new Rng(seed ^ 0x1234_5678_9ABC_DEF0UL);
        var image = new byte[Layout.DataSize];
        for (int i = 0; i < image.Length; i++) image[i] = (byte)rng.Next32();
        return image;
    }

    public static RunSummary Run(IReadOnlyList<Form> forms, RunSettings s, Func<IExecutionEngine?> engine)
    {
        NativeHelper.RequireHost();
        var sw = Stopwatch.StartNew();
        var summary = new RunSummary { Forms = forms.Count };
        byte[] image = Image(s.Seed);
        var batches = new List<List<Form>>();
        var current = new List<Form>();
        foreach (Form f in forms)
        {
            current.Add(f);
            if ((current.Count + 1) * s.CasesPerForm > BatchCases)
            {
                batches.Add(current);
                current = new List<Form>();
            }
        }
        if (current.Count > 0) batches.Add(current);

        Parallel.ForEach(batches, new ParallelOptions { MaxDegreeOfParallelism = 2 }, batch =>
        {
            var cases = new List<TestCase>(batch.Count * s.CasesPerForm);
            foreach (Form f in batch)
            {
                var g = new CaseGenerator(f, image);
                ulong formSeed = Rng.Mix(s.Seed ^ Rng.Hash(f.Key));
                for (int i = 0; i < s.CasesPerForm; i++) cases.Add(g.Generate(i, Rng.Mix(formSeed + (ulong)i)));
            }
            var (host, results) = NativeHelper.RunBatch(image, cases);
            using var emu = new EmulatorHarness(image, host, engine());
            for (int i = 0; i < cases.Count; i++)
            {
                TestCase c = cases[i];
                CaseResult h = results[i];
                CaseResult e = emu.Run(c);
                summary.Outcomes.AddOrUpdate(Comparer.OutcomeKind(h), 1, (_, n) => n + 1);
                var diffs = Comparer.Differences(c, h, e);
                if (diffs.Count == 0) continue;
                Interlocked.Increment(ref summary.Mismatches);
                int seen = summary.MismatchesByForm.AddOrUpdate(c.Form.Key, 1, (_, n) => n + 1);
                if (seen <= ReportsPerForm && summary.Reports.Count < MaxReports) summary.Reports.Enqueue(Comparer.Report(c, h, e, diffs, s.Seed));
            }
            Interlocked.Add(ref summary.Cases, cases.Count);
        });
        summary.Elapsed = sw.Elapsed;
        return summary;
    }
}
