using System;
using System.Globalization;
using System.IO;
using BenchmarkDotNet.Running;
using Emu.Machine;
using Emu.Machine.Benchmarks;

namespace Emu.Bench;

/// <summary>
/// dotnet run -c Release --project bench/Emu.Bench                    the benchmarks (BenchmarkDotNet options follow --)
/// dotnet run -c Release --project bench/Emu.Bench -- --filter '*Engine*'
/// dotnet run -c Release --project bench/Emu.Bench -- --check         each workload once (one round) on each engine, checked
/// The workloads are build/firmware/bench-*.elf: firmware/build.sh builds them.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length == 1 && args[0] == "--check") return Check();
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
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
