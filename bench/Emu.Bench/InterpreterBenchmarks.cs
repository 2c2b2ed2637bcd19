using System.Collections.Generic;
using BenchmarkDotNet.Attributes;

namespace Emu.Bench;

/// <summary>
/// Guest MIPS of the interpreter on small compute workloads. The translator issue adds an
/// engine parameter here, so both engines run the same workloads in one table.
/// </summary>
[Config(typeof(GuestMipsConfig))]
public class InterpreterBenchmarks
{
    private WorkloadRunner? runner;

    [ParamsSource(nameof(Workloads))]
    public Workload Workload { get; set; } = Workload.All[0];

    public static IEnumerable<Workload> Workloads => Workload.All;

    [GlobalSetup]
    public void Setup()
    {
        runner = new WorkloadRunner(Workload);
        runner.RunOnce(); // checks the result before anything is timed
    }

    [GlobalCleanup]
    public void Cleanup() => runner?.Dispose();

    [Benchmark]
    public long Interpreter() => runner!.RunOnce();
}
