using System.Collections.Concurrent;
using System.Globalization;
using System.Linq;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Emu.Machine;
using Emu.Machine.Benchmarks;

namespace Emu.Bench;

/// <summary>
/// Guest instructions per second of host time, in millions: the workload's retired instruction
/// count (architectural, so the same on every engine; counted here once, on the interpreter)
/// over the median time of one run.
/// </summary>
public sealed class GuestMipsColumn : IColumn
{
    private static readonly ConcurrentDictionary<string, long> Counts = new();

    public string Id => nameof(GuestMipsColumn);
    public string ColumnName => "Guest MIPS";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Millions of guest instructions retired per second of host time (from the median run)";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        BenchmarkReport? report = summary[benchmarkCase];
        if (report?.ResultStatistics is not { } stats) return "-";
        string name = (string)benchmarkCase.Parameters.Items.Single(p => p.Name == nameof(EngineBenchmarks.Workload)).Value;
        long instructions = Counts.GetOrAdd(name, n =>
        {
            Workload w = Workload.Find(n)!;
            return WorkloadRun.Run(w, WorkloadRun.Load(Workload.DefaultDirectory(), w), EngineKind.Interpreter).Instructions;
        });
        double mips = instructions / stats.Median * 1e3; // Median is in nanoseconds
        return mips.ToString("F1", CultureInfo.InvariantCulture);
    }
}

/// <summary>Cost of compiling, per block or per guest instruction, from the median time of compiling them all.</summary>
public sealed class CompileCostColumn : IColumn
{
    private readonly bool perInstruction;

    public CompileCostColumn(bool perInstruction) => this.perInstruction = perInstruction;

    public string Id => nameof(CompileCostColumn) + perInstruction;
    public string ColumnName => perInstruction ? "us/guest instr" : "us/block";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => perInstruction ? 1 : 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => perInstruction
        ? "Microseconds of IL generation and RyuJIT per guest instruction compiled"
        : "Microseconds of IL generation and RyuJIT per block compiled";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        if (summary[benchmarkCase]?.ResultStatistics is not { } stats) return "-";
        // The columns run in the host process, where the benchmark's static list was never
        // filled: collect the same blocks (deterministic) to count them.
        if (CompileBenchmarks.Blocks.Count == 0) new CompileBenchmarks().Setup();
        double n = perInstruction ? CompileCost.CountInstructions(CompileBenchmarks.Blocks) : CompileBenchmarks.Blocks.Count;
        return (stats.Median / 1e3 / n).ToString("F2", CultureInfo.InvariantCulture);
    }
}

public sealed class GuestMipsConfig : ManualConfig
{
    public GuestMipsConfig()
    {
        AddColumn(new GuestMipsColumn(), StatisticColumn.Median);
        // One invocation is a whole run (about a second); each iteration boots a fresh machine.
        // Three warm-up runs: each case runs in its own process, where the translator's own
        // code (the IL emitter, RyuJIT's paths) is cold at first and compiles slowly.
        AddJob(Job.Default.WithInvocationCount(1).WithUnrollFactor(1).WithStrategy(RunStrategy.Monitoring)
            .WithWarmupCount(3).WithIterationCount(7));
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
