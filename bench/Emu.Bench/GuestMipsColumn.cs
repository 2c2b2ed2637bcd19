using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Emu.Machine;
using Emu.Machine.Benchmarks;

namespace Emu.Bench;

/// <summary>
/// Guest instructions per second of host time, in millions, from the median invocation: the
/// instructions the invocation retired (architectural, so the same on every engine; recorded by
/// <see cref="EngineBenchmarks"/> in <see cref="Facts"/>) over its time. For QEMU: our count of
/// the instructions in the extra rounds of its long run over the difference of the medians of
/// its long and short runs.
/// </summary>
public sealed class GuestMipsColumn : IColumn
{
    public string Id => nameof(GuestMipsColumn);
    public string ColumnName => "Guest MIPS";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Millions of guest instructions retired per second of host time (from the median run; QEMU's by the difference of 4R and R rounds)";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double mips = Mips(summary, Parameter(benchmarkCase, nameof(EngineBenchmarks.Workload)), Parameter(benchmarkCase, nameof(EngineBenchmarks.Engine)));
        return double.IsFinite(mips) ? mips.ToString("F1", CultureInfo.InvariantCulture) : "-";
    }

    internal static string Parameter(BenchmarkCase c, string name) => (string)c.Parameters.Items.Single(p => p.Name == name).Value;

    /// <summary>The guest MIPS of a workload on an engine in this summary; NaN when it has no result.</summary>
    public static double Mips(Summary summary, string workload, string engine)
    {
        BenchmarkCase? c = summary.BenchmarksCases.FirstOrDefault(x =>
            Parameter(x, nameof(EngineBenchmarks.Workload)) == workload && Parameter(x, nameof(EngineBenchmarks.Engine)) == engine);
        if (c is null || summary[c]?.ResultStatistics is not { } stats) return double.NaN;
        Facts f = Facts.For(workload);
        double seconds = stats.Median / 1e9; // Median is in nanoseconds
        switch (engine)
        {
            case EngineBenchmarks.Steady:
                return f.SteadyInstructions.Count == 0 ? double.NaN : Median(f.SteadyInstructions.Select(x => (double)x)) / seconds / 1e6;
            case EngineBenchmarks.Qemu:
                if (f.QemuShortSeconds.Count == 0) return double.NaN;
                double extra = seconds - Median(f.QemuShortSeconds);
                return extra > 0 ? (f.LongInstructions - f.ShortInstructions) / extra / 1e6 : double.NaN;
            default:
                return f.Instructions / seconds / 1e6;
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        double[] v = values.OrderBy(x => x).ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }
}

/// <summary>A case's guest MIPS over QEMU's on the same workload.</summary>
public sealed class VersusQemuColumn : IColumn
{
    public string Id => nameof(VersusQemuColumn);
    public string ColumnName => "vs QEMU";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 1;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Guest MIPS over QEMU's (qemu-system-i386 -accel tcg) on the same workload";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double r = Ratio(summary, GuestMipsColumn.Parameter(benchmarkCase, nameof(EngineBenchmarks.Workload)),
            GuestMipsColumn.Parameter(benchmarkCase, nameof(EngineBenchmarks.Engine)));
        return double.IsFinite(r) ? r.ToString("F2", CultureInfo.InvariantCulture) + "x" : "-";
    }

    public static double Ratio(Summary summary, string workload, string engine) =>
        GuestMipsColumn.Mips(summary, workload, engine) / GuestMipsColumn.Mips(summary, workload, EngineBenchmarks.Qemu);
}

/// <summary>Cost of compiling, per region or per guest instruction, from the median time of compiling them all.</summary>
public sealed class CompileCostColumn : IColumn
{
    private readonly bool perInstruction;

    public CompileCostColumn(bool perInstruction) => this.perInstruction = perInstruction;

    public string Id => nameof(CompileCostColumn) + perInstruction;
    public string ColumnName => perInstruction ? "us/guest instr" : "us/region";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => perInstruction ? 1 : 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => perInstruction
        ? "Microseconds of IL generation and RyuJIT per guest instruction compiled"
        : "Microseconds of IL generation and RyuJIT per region compiled";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        if (summary[benchmarkCase]?.ResultStatistics is not { } stats) return "-";
        // The columns run in the host process, where the benchmark's static list was never
        // filled: collect the same regions (deterministic) to count them.
        if (CompileBenchmarks.Regions.Count == 0) new CompileBenchmarks().Setup();
        double n = perInstruction ? CompileCost.CountInstructions(CompileBenchmarks.Regions) : CompileBenchmarks.Regions.Count;
        return (stats.Median / 1e3 / n).ToString("F2", CultureInfo.InvariantCulture);
    }
}

public sealed class GuestMipsConfig : ManualConfig
{
    public GuestMipsConfig()
    {
        AddColumn(new GuestMipsColumn(), new VersusQemuColumn(), StatisticColumn.Median);
        // One invocation is a whole run (about a second); each iteration boots a fresh machine.
        // In process: the columns read what the runs recorded (the steady runs' timed
        // instructions, QEMU's short runs). Two warm-up runs: the translator's own code (the IL
        // emitter, RyuJIT's paths) is cold at first and compiles slowly.
        AddJob(Job.Default.WithInvocationCount(1).WithUnrollFactor(1).WithStrategy(RunStrategy.Monitoring)
            .WithWarmupCount(2).WithIterationCount(5).WithToolchain(InProcessEmitToolchain.Instance));
    }
}

public sealed class CompileCostConfig : ManualConfig
{
    public CompileCostConfig()
    {
        AddColumn(new CompileCostColumn(false), new CompileCostColumn(true), StatisticColumn.Median);
        AddJob(Job.Default.WithInvocationCount(1).WithUnrollFactor(1).WithStrategy(RunStrategy.Monitoring)
            .WithWarmupCount(1).WithIterationCount(5));
    }
}
