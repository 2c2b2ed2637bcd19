using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using Emu.Translator;
using Emu.X86;

namespace Emu.Machine.Benchmarks;

/// <summary>
/// What the translator's compiling costs: the regions it forms while it runs the workloads,
/// compiled again to DynamicMethods and JIT-compiled by RyuJIT, per guest instruction.
/// </summary>
public static class CompileCost
{
    /// <summary>
    /// Runs each workload (its default rounds) on the translator compiling synchronously at the
    /// default threshold, so the same regions form at the same points on every run, and returns
    /// every region formed (a region that grows later is there once per form, as the translator
    /// compiles it once per form).
    /// </summary>
    public static List<Region> CollectRegions(IEnumerable<(Workload Workload, byte[] Image)> workloads)
    {
        var regions = new List<Region>();
        foreach ((Workload w, byte[] image) in workloads)
        {
            using var engine = new TranslatorEngine(TranslatorEngine.DefaultThreshold, synchronous: true);
            engine.RegionFormed = regions.Add;
            var output = new MemoryStream();
            using var board = new Board(32, output, engine);
            board.BootMultiboot(image, "");
            RunResult r = board.Run();
            if (r.ExitStatus != WorkloadRun.PassStatus)
                throw new WorkloadFailedException($"workload {w.Name} ended with status {r.ExitStatus} while its regions were collected");
        }
        return regions;
    }

    /// <summary>The time of one compile of every region: building the IL, and RyuJIT (through a call that returns at once).</summary>
    public readonly record struct Cost(TimeSpan Il, TimeSpan Jit)
    {
        public TimeSpan Total => Il + Jit;
    }

    /// <summary>Compiles every region once and returns the time it took, IL and RyuJIT apart.</summary>
    public static Cost CompileAll(IReadOnlyList<Region> regions)
    {
        long il = 0, jit = 0;
        foreach (Region r in regions)
        {
            long t0 = Stopwatch.GetTimestamp();
            Func<Cpu, int, int> code = RegionCompiler.Compile(r);
            long t1 = Stopwatch.GetTimestamp();
            code(null!, 0); // a null CPU returns at once: this call only makes RyuJIT compile the method
            jit += Stopwatch.GetTimestamp() - t1;
            il += t1 - t0;
        }
        return new Cost(Stopwatch.GetElapsedTime(0, il), Stopwatch.GetElapsedTime(0, jit));
    }

    public static long CountInstructions(IReadOnlyList<Region> regions)
    {
        long n = 0;
        foreach (Region r in regions) n += r.Instructions;
        return n;
    }
}
