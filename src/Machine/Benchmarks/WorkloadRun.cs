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
/// <param name="Rounds">Round marks the guest wrote (port 0xEA): the rounds it computed.</param>
/// <param name="Steady">The steady-state part of a <see cref="WorkloadRun.RunSteady"/> run; null otherwise, or when the translator never settled.</param>
public sealed record WorkloadResult(long Instructions, TimeSpan Elapsed, long CompiledBlocks, long CompiledInstructions,
    TimeSpan CompileTime, string Output, int Rounds = 0, SteadyPart? Steady = null)
{
    public double Mips => Instructions / Elapsed.TotalSeconds / 1e6;
}

/// <summary>
/// The timed part of a steady-state run: the rounds after the warm-up, from the round mark
/// where the translator had settled to the guest's exit.
/// </summary>
/// <param name="WarmupRounds">Rounds run before timing began.</param>
/// <param name="Instructions">Guest instructions retired in the timed part.</param>
/// <param name="Elapsed">Host time of the timed part.</param>
/// <param name="CompiledWhileTimed">Blocks of the regions the translator formed during the timed rounds, to the last round's mark (0 when everything was compiled before); the report after the last round is left out.</param>
/// <param name="MergedWhileTimed">Of those, the blocks of regions merging a page's regions: code that ran compiled already, merged once its regions had crossed into each other often enough (<see cref="TranslatorEngine.MergeAfterLinks"/>), which can take more rounds than the warm-up.</param>
public sealed record SteadyPart(int WarmupRounds, long Instructions, TimeSpan Elapsed, long CompiledWhileTimed, long MergedWhileTimed)
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
    public static WorkloadResult Run(Workload w, byte[] image, EngineKind engineKind, int? threshold = null, uint? rounds = null) =>
        Run(w, image, engineKind, threshold, rounds, steady: false);

    /// <summary>Fewest rounds a steady-state run warms up for.</summary>
    public const int MinWarmupRounds = 2;

    /// <summary>
    /// The translator at steady state: runs the workload on the translator (tiering as
    /// <paramref name="threshold"/> says, compiling in the background) and, at each round mark,
    /// waits for the compile queue to drain (<see cref="TranslatorEngine.Drain"/>, untimed);
    /// once at least <see cref="MinWarmupRounds"/> rounds have run and a whole round compiled
    /// nothing, it times the remaining rounds. <see cref="WorkloadResult.Steady"/> holds that
    /// part; it is null when no round was quiet before the last (give more rounds).
    /// </summary>
    public static WorkloadResult RunSteady(Workload w, byte[] image, int? threshold, uint? rounds) =>
        Run(w, image, EngineKind.Translator, threshold, rounds, steady: true);

    private static WorkloadResult Run(Workload w, byte[] image, EngineKind engineKind, int? threshold, uint? rounds, bool steady)
    {
        IExecutionEngine? engine = EngineKinds.Create(engineKind, threshold);
        try
        {
            var output = new MemoryStream();
            using var board = new Board(RamMiB, output, engine);
            board.BootMultiboot(image, rounds is uint r ? $"rounds={r}" : "");
            var translator = engine as TranslatorEngine;
            // Rounds are told apart by the blocks of the regions formed in them (counted as each
            // forms, so not by how far the compile thread got); the code after the last round
            // (the final report and the exit) is not part of the timed rounds' count.
            long compiledBefore = -1, compiledAtStart = 0, compiledAtLastMark = 0, startInstructions = 0, startTimestamp = 0;
            long mergedAtStart = 0, mergedAtLastMark = 0;
            int warmup = 0;
            var marks = new RoundMarks(board.Cpu, !steady || translator is null ? null : m =>
            {
                if (warmup > 0)
                {
                    compiledAtLastMark = translator.FormedBlocks;
                    mergedAtLastMark = translator.MergedBlocks;
                    return;
                }
                translator.Drain();
                long compiled = translator.FormedBlocks;
                if (m.Marks.Count >= MinWarmupRounds && compiled == compiledBefore)
                {
                    warmup = m.Marks.Count;
                    compiledAtStart = compiledAtLastMark = compiled;
                    mergedAtStart = mergedAtLastMark = translator.MergedBlocks;
                    startInstructions = board.Cpu.InstructionCount;
                    startTimestamp = Stopwatch.GetTimestamp(); // after the drain: waiting for the compiler is not timed
                }
                compiledBefore = compiled;
            });
            marks.Attach(board.Io);
            if (engineKind == EngineKind.Lockstep) board.StartLockstep();
            long t0 = Stopwatch.GetTimestamp();
            RunResult result = board.Run();
            long t1 = Stopwatch.GetTimestamp();
            TimeSpan elapsed = Stopwatch.GetElapsedTime(t0, t1);
            string text = Encoding.ASCII.GetString(output.ToArray());
            if (result.ExitStatus != PassStatus)
            {
                string why = result.Message is not null ? $": {result.Message}"
                    : text.Trim().Length > 0 ? $"; its last words: {text.Trim().Split('\n')[^1]}"
                    : ", printing nothing";
                throw new WorkloadFailedException(
                    $"workload {w.Name} on the {EngineKinds.Name(engineKind)} ended with status {result.ExitStatus} (33 is a pass){why}");
            }
            SteadyPart? steadyPart = warmup == 0 ? null
                : new SteadyPart(warmup, result.Instructions - startInstructions, Stopwatch.GetElapsedTime(startTimestamp, t1),
                    compiledAtLastMark - compiledAtStart, mergedAtLastMark - mergedAtStart);
            return new WorkloadResult(result.Instructions, elapsed, translator?.CompiledBlocks ?? 0, translator?.CompiledInstructions ?? 0,
                translator?.CompileTime ?? TimeSpan.Zero, text, marks.Marks.Count, steadyPart);
        }
        finally
        {
            (engine as IDisposable)?.Dispose();
        }
    }
}
