using System;
using System.Diagnostics;
using System.IO;
using System.Text;
using Emu.Translator;
using Emu.X86;

namespace Emu.Machine.Benchmarks;

/// <summary>One run of a workload: what it retired, how long it took, and what the translator compiled.</summary>
/// <param name="Instructions">Guest instructions retired (the same on every engine).</param>
/// <param name="Elapsed">Host time of the run, from the kernel's first instruction to its exit (the translator's compiles included).</param>
/// <param name="CompiledBlocks">Blocks the translator compiled during the run (0 on the interpreter).</param>
/// <param name="CompiledInstructions">Guest instructions in them.</param>
/// <param name="CompileTime">Time the compile thread spent building IL and running RyuJIT.</param>
/// <param name="Output">What the guest printed.</param>
public sealed record WorkloadResult(long Instructions, TimeSpan Elapsed, long CompiledBlocks, long CompiledInstructions,
    TimeSpan CompileTime, string Output)
{
    public double Mips => Instructions / Elapsed.TotalSeconds / 1e6;
}

/// <summary>Raised when a workload does not exit as it must (status 33): a broken workload or engine.</summary>
public sealed class WorkloadFailedException : Exception
{
    public WorkloadFailedException(string message) : base(message) { }
}

/// <summary>Runs workloads on a fresh board each time, as a user's run would start.</summary>
public static class WorkloadRun
{
    /// <summary>The status of a guest that wrote FW_EXIT_PASS (0x10) to the debug-exit port.</summary>
    public const int PassStatus = 33;

    private const uint RamMiB = 32;

    /// <summary>Reads a workload's program, with a clear message when it has not been built.</summary>
    public static byte[] Load(string directory, Workload w)
    {
        string path = Path.Combine(directory, w.FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path} is missing: build the workloads with firmware/build.sh", path);
        return File.ReadAllBytes(path);
    }

    /// <summary>
    /// Boots <paramref name="image"/> on a new board with the engine asked for and runs it to its
    /// exit; checks that it passed. <paramref name="threshold"/> and <paramref name="rounds"/>
    /// null take the defaults (the translator's and the workload's).
    /// </summary>
    public static WorkloadResult Run(Workload w, byte[] image, EngineKind engineKind, int? threshold = null, uint? rounds = null)
    {
        IExecutionEngine? engine = EngineKinds.Create(engineKind, threshold);
        try
        {
            var output = new MemoryStream();
            using var board = new Board(RamMiB, output, engine);
            board.BootMultiboot(image, rounds is uint r ? $"rounds={r}" : "");
            if (engineKind == EngineKind.Lockstep) board.StartLockstep();
            long t0 = Stopwatch.GetTimestamp();
            RunResult result = board.Run();
            TimeSpan elapsed = Stopwatch.GetElapsedTime(t0);
            string text = Encoding.ASCII.GetString(output.ToArray());
            if (result.ExitStatus != PassStatus)
            {
                string why = result.Message is not null ? $": {result.Message}"
                    : text.Trim().Length > 0 ? $"; its last words: {text.Trim().Split('\n')[^1]}"
                    : ", printing nothing";
                throw new WorkloadFailedException(
                    $"workload {w.Name} on the {EngineKinds.Name(engineKind)} ended with status {result.ExitStatus} (33 is a pass){why}");
            }
            var t = engine as TranslatorEngine;
            return new WorkloadResult(result.Instructions, elapsed, t?.CompiledBlocks ?? 0, t?.CompiledInstructions ?? 0,
                t?.CompileTime ?? TimeSpan.Zero, text);
        }
        finally
        {
            (engine as IDisposable)?.Dispose();
        }
    }
}
