using System.Collections.Generic;
using System.Linq;
using BenchmarkDotNet.Attributes;
using Emu.Machine.Benchmarks;
using Emu.X86;

namespace Emu.Bench;

/// <summary>
/// What translating costs: every distinct block the workloads run (one round each, collected on
/// the interpreter), compiled to a DynamicMethod and JIT-compiled by RyuJIT. The columns give
/// it per block and per guest instruction compiled.
/// </summary>
[Config(typeof(CompileCostConfig))]
public class CompileBenchmarks
{
    /// <summary>The blocks one invocation compiles (the columns read it).</summary>
    internal static List<Block> Blocks = new();

    [GlobalSetup]
    public void Setup()
    {
        string dir = Workload.DefaultDirectory();
        Blocks = CompileCost.CollectBlocks(Workload.All.Select(w => (w, WorkloadRun.Load(dir, w))));
    }

    [Benchmark]
    public double CompileAllBlocks() => CompileCost.CompileAll(Blocks).TotalSeconds;
}
