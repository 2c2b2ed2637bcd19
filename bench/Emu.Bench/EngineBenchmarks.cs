using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using BenchmarkDotNet.Attributes;
using Emu.Machine;
using Emu.Machine.Benchmarks;
using Emu.Translator;
using Emu.X86;

namespace Emu.Bench;

/// <summary>
/// Guest MIPS of each workload (firmware/bench-*) on four engines:
/// <list type="bullet">
/// <item><c>interpreter</c>, <c>translator</c> (tiered, as a user runs it): one invocation is one
/// run of the workload (its default R rounds) on a fresh machine, from its first instruction to
/// its exit; the translator's background compiles are inside it. Booting is outside.</item>
/// <item><c>steady</c>: the translator on 4R rounds. The iteration setup boots it and runs the
/// warm-up (as many instructions as <see cref="WorkloadRun.RunSteady"/> found it takes until a
/// round compiles nothing), then waits for the compile queue to drain; the invocation runs
/// the rest to the exit.</item>
/// <item><c>qemu</c>: qemu-system-i386 -accel tcg on 4R rounds; the iteration setup runs it on R
/// rounds, timed, and the Guest MIPS column takes the difference, so QEMU's start-up drops out
/// (our exact count of the instructions of the extra 3R rounds over the difference of the
/// medians).</item>
/// </list>
/// Runs in process (<see cref="GuestMipsConfig"/>) so that the columns can read what the runs recorded (<see cref="Facts"/>).
/// </summary>
[Config(typeof(GuestMipsConfig))]
public class EngineBenchmarks
{
    public const string Interpreter = "interpreter", Tiered = "translator", Steady = "steady", Qemu = "qemu";
    public const uint LongRunFactor = 4;

    private byte[] image = System.Array.Empty<byte>();
    private Board? board;
    private IExecutionEngine? engine;
    private long timedFrom;

    [ParamsSource(nameof(Workloads))]
    public string Workload { get; set; } = "";

    [Params(Interpreter, Tiered, Steady, Qemu)]
    public string Engine { get; set; } = "";

    /// <summary>Every workload, or those named in the environment variable EMU_BENCH_WORKLOADS (comma-separated).</summary>
    public static IEnumerable<string> Workloads()
    {
        string? only = System.Environment.GetEnvironmentVariable("EMU_BENCH_WORKLOADS");
        foreach (Workload w in Machine.Benchmarks.Workload.All)
            if (string.IsNullOrEmpty(only) || System.Array.IndexOf(only.Split(','), w.Name) >= 0)
                yield return w.Name;
    }

    private Workload W => Machine.Benchmarks.Workload.Find(Workload)!;

    private Facts F => Facts.For(Workload);

    [GlobalSetup]
    public void Setup()
    {
        image = WorkloadRun.Load(Machine.Benchmarks.Workload.DefaultDirectory(), W);
        Facts f = F;
        lock (f)
        {
            if (f.Rounds == 0)
            {
                // Checks the result before anything is timed, and learns the workload's rounds and instruction counts.
                WorkloadResult i = WorkloadRun.Run(W, image, EngineKind.Interpreter);
                WorkloadResult t = WorkloadRun.Run(W, image, EngineKind.Translator, null, (uint)i.Rounds);
                WorkloadResult s = WorkloadRun.RunSteady(W, image, null, (uint)i.Rounds * LongRunFactor);
                if (s.Steady is null) throw new WorkloadFailedException($"workload {Workload}: the translator did not settle before the last of {s.Rounds} rounds");
                f.Rounds = (uint)i.Rounds;
                f.Instructions = i.Instructions;
                f.ShortInstructions = t.Instructions;
                f.LongInstructions = s.Instructions;
                f.WarmupInstructions = s.Instructions - s.Steady.Instructions;
                f.ShortOutput = t.Output;
                f.LongOutput = s.Output;
            }
        }
        if (Engine == Qemu)
        {
            string? path = QemuRun.Find() ?? throw new FileNotFoundException("qemu-system-i386 is not on PATH: tools/ensure-packages.sh qemu-system-x86 installs it");
            F.Qemu = new QemuRun(path);
        }
    }

    [IterationSetup]
    public void Boot()
    {
        Facts f = F;
        switch (Engine)
        {
            case Qemu:
                QemuResult q = f.Qemu!.Run(W, ImagePath, f.Rounds);
                Check(q.Output, f.ShortOutput);
                f.QemuShortSeconds.Add(q.Elapsed.TotalSeconds);
                return;
            case Steady:
                var translator = new TranslatorEngine();
                engine = translator;
                board = new Board(32, Stream.Null, engine);
                board.BootMultiboot(image, $"rounds={f.Rounds * LongRunFactor}");
                board.Run(f.WarmupInstructions); // stops at the instruction limit, about where RunSteady began timing
                translator.Drain();
                timedFrom = board.Cpu.InstructionCount;
                return;
            default:
                engine = Engine == Tiered ? new TranslatorEngine() : null;
                board = new Board(32, Stream.Null, engine);
                board.BootMultiboot(image, "");
                timedFrom = 0;
                return;
        }
    }

    private string ImagePath => Path.Combine(Machine.Benchmarks.Workload.DefaultDirectory(), W.FileName);

    [Benchmark]
    public long Run()
    {
        if (Engine == Qemu)
        {
            QemuResult q = F.Qemu!.Run(W, ImagePath, F.Rounds * LongRunFactor);
            Check(q.Output, F.LongOutput);
            return 0;
        }
        RunResult r = board!.Run();
        if (r.ExitStatus != WorkloadRun.PassStatus)
            throw new WorkloadFailedException($"workload {Workload} on the {Engine} ended with status {r.ExitStatus}");
        if (Engine == Steady) F.SteadyInstructions.Add(r.Instructions - timedFrom);
        return r.Instructions;
    }

    private void Check(string output, string expected)
    {
        if (output != expected)
            throw new WorkloadFailedException($"workload {Workload} printed \"{output.Trim()}\" in QEMU, \"{expected.Trim()}\" on our interpreter");
    }

    [IterationCleanup]
    public void Cleanup()
    {
        board?.Dispose();
        (engine as System.IDisposable)?.Dispose();
        board = null;
        engine = null;
    }
}

/// <summary>What the runs of one workload recorded for the columns (the benchmarks run in process).</summary>
public sealed class Facts
{
    private static readonly Dictionary<string, Facts> All = new();

    public static Facts For(string workload)
    {
        lock (All)
        {
            if (!All.TryGetValue(workload, out Facts? f)) All[workload] = f = new Facts();
            return f;
        }
    }

    /// <summary>The workload's default rounds, R.</summary>
    public uint Rounds;
    /// <summary>Instructions of a run with the default command line (R rounds), with rounds=R and with rounds=4R (a command line's parsing counts too).</summary>
    public long Instructions, ShortInstructions, LongInstructions;
    /// <summary>Instructions the steady-state run warms up for.</summary>
    public long WarmupInstructions;
    public string ShortOutput = "", LongOutput = "";
    public QemuRun? Qemu;
    /// <summary>Wall times of QEMU's runs of R rounds (the iteration setups).</summary>
    public readonly List<double> QemuShortSeconds = new();
    /// <summary>Instructions each steady-state invocation timed.</summary>
    public readonly List<long> SteadyInstructions = new();
}
