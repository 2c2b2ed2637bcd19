using System;
using System.Globalization;
using System.IO;
using System.Linq;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Emu.Machine;
using Emu.Machine.Benchmarks;

namespace Emu.Bench;

/// <summary>
/// dotnet run -c Release --project bench/Emu.Bench                    the benchmarks (BenchmarkDotNet options follow --)
/// dotnet run -c Release --project bench/Emu.Bench -- --filter '*Engine*'     guest MIPS: interpreter, translator (tiered, steady), QEMU
/// dotnet run -c Release --project bench/Emu.Bench -- --check         each workload once (one round) on each engine, checked
/// The workloads are build/firmware/bench-*.elf: firmware/build.sh builds them.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length == 1 && args[0] == "--check") return Check();
        foreach (Summary summary in BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args))
            WriteGeometricMeans(summary);
        return 0;
    }

    /// <summary>After an EngineBenchmarks summary: the geometric mean over the workloads of each engine's ratio to QEMU.</summary>
    private static void WriteGeometricMeans(Summary summary)
    {
        if (!summary.BenchmarksCases.Any(c => c.Descriptor.Type == typeof(EngineBenchmarks))) return;
        string[] workloads = summary.BenchmarksCases.Select(c => GuestMipsColumn.Parameter(c, nameof(EngineBenchmarks.Workload))).Distinct().ToArray();
        foreach (string engine in new[] { EngineBenchmarks.Interpreter, EngineBenchmarks.Tiered, EngineBenchmarks.Steady })
        {
            double[] ratios = workloads.Select(w => VersusQemuColumn.Ratio(summary, w, engine)).Where(double.IsFinite).ToArray();
            if (ratios.Length == 0) continue;
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0} vs QEMU, geometric mean over {1} workload{2}: {3:F2}x",
                engine, ratios.Length, ratios.Length == 1 ? "" : "s", Math.Exp(ratios.Average(Math.Log))));
        }
    }

    /// <summary>Runs every workload once, one round, on the interpreter and the translator; a quick check for the test suite.</summary>
    private static int Check()
    {
        string dir = Workload.DefaultDirectory();
        foreach (Workload w in Workload.All)
        {
            try
            {
                byte[] image = WorkloadRun.Load(dir, w);
                WorkloadResult i = WorkloadRun.Run(w, image, EngineKind.Interpreter, rounds: 1);
                WorkloadResult t = WorkloadRun.Run(w, image, EngineKind.Translator, threshold: 1, rounds: 1);
                if (i.Instructions != t.Instructions || i.Output != t.Output)
                    throw new WorkloadFailedException($"workload {w.Name}: the translator retired {t.Instructions} instructions and printed \"{t.Output.Trim()}\", " +
                                                      $"the interpreter {i.Instructions} and \"{i.Output.Trim()}\"");
                Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0,-9} ok on the interpreter and the translator: {1,12:N0} instructions (one round)",
                    w.Name, i.Instructions));
            }
            catch (Exception e) when (e is WorkloadFailedException or IOException)
            {
                Console.Error.WriteLine($"bench: {e.Message}");
                return 1;
            }
        }
        return 0;
    }
}
