using System.Collections.Generic;
using System.Linq;
using BenchmarkDotNet.Attributes;
using Emu.Machine.Benchmarks;
using Emu.Translator;

namespace Emu.Bench;

/// <summary>
/// What translating costs: the regions the translator forms while it runs the workloads
/// (compiling synchronously, so the same regions every time), each compiled again to a
/// DynamicMethod and JIT-compiled by RyuJIT. The columns give it per region and per guest
/// instruction compiled.
/// </summary>
[Config(typeof(CompileCostConfig))]
public class CompileBenchmarks
{
    /// <summary>The regions one invocation compiles (the columns read it).</summary>
    internal static List<Region> Regions = new();

    [GlobalSetup]
    public void Setup()
    {
        string dir = Workload.DefaultDirectory();
        Regions = CompileCost.CollectRegions(Workload.All.Select(w => (w, WorkloadRun.Load(dir, w))));
    }

    [Benchmark]
    public double CompileAllRegions() => CompileCost.CompileAll(Regions).Total.TotalSeconds;
}
