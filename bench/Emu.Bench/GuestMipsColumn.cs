using System.Collections.Concurrent;
using System.Linq;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Emu.Bench;

/// <summary>
/// Guest instructions per second of host time, in millions: the workload's retired
/// instruction count (deterministic, counted here once) over the mean time of one run.
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
    public string Legend => "Millions of guest instructions retired per second of host time";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        BenchmarkReport? report = summary[benchmarkCase];
        if (report?.ResultStatistics is not { } stats) return "-";
        var workload = (Workload)benchmarkCase.Parameters.Items.Single(p => p.Name == nameof(InterpreterBenchmarks.Workload)).Value;
        long instructions = Counts.GetOrAdd(workload.Name, _ =>
        {
            using var runner = new WorkloadRunner(workload);
            return runner.RunOnce();
        });
        double mips = instructions / stats.Mean * 1e3; // Mean is in nanoseconds
        return mips.ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
    }
}

public sealed class GuestMipsConfig : ManualConfig
{
    public GuestMipsConfig() => AddColumn(new GuestMipsColumn());
}
