using System;
using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Running;

namespace Emu.Bench;

/// <summary>
/// dotnet run -c Release --project bench/Emu.Bench            the benchmarks (BenchmarkDotNet options follow --)
/// dotnet run -c Release --project bench/Emu.Bench -- --check each workload once: checked result, instructions, rough MIPS
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length == 1 && args[0] == "--check") return Check();
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }

    /// <summary>Runs every workload once (after a warm-up run) and checks its result; a quick sanity run for the test suite.</summary>
    private static int Check()
    {
        foreach (Workload w in Workload.All)
        {
            try
            {
                using var runner = new WorkloadRunner(w);
                runner.RunOnce();
                var sw = Stopwatch.StartNew();
                long n = runner.RunOnce();
                sw.Stop();
                Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0,-8} ok: {1,12:N0} instructions, {2,8:F1} guest MIPS (one run, interpreter)",
                    w.Name, n, n / sw.Elapsed.TotalSeconds / 1e6));
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine($"bench: {e.Message}");
                return 1;
            }
        }
        return 0;
    }
}
