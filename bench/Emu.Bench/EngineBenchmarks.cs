using System.Collections.Generic;
using System.IO;
using BenchmarkDotNet.Attributes;
using Emu.Machine;
using Emu.Machine.Benchmarks;
using Emu.X86;

namespace Emu.Bench;

/// <summary>
/// Guest MIPS of each workload (firmware/bench-*) on the interpreter and on the translator.
/// One invocation is one run of the workload on a fresh machine, from its first instruction to
/// its exit: the translator's background compiles are inside it, as in a user's run. The
/// machine is built and the workload booted outside the timed part.
/// </summary>
[Config(typeof(GuestMipsConfig))]
public class EngineBenchmarks
{
    private byte[] image = System.Array.Empty<byte>();
    private Board? board;
    private IExecutionEngine? engine;

    [ParamsSource(nameof(Workloads))]
    public string Workload { get; set; } = "";

    [Params("interpreter", "translator")]
    public string Engine { get; set; } = "";

    public static IEnumerable<string> Workloads()
    {
        foreach (Workload w in Machine.Benchmarks.Workload.All) yield return w.Name;
    }

    private Workload W => Machine.Benchmarks.Workload.Find(Workload)!;

    private EngineKind Kind => EngineKinds.TryParse(Engine, out EngineKind k) ? k : EngineKind.Interpreter;

    [GlobalSetup]
    public void Setup()
    {
        image = WorkloadRun.Load(Machine.Benchmarks.Workload.DefaultDirectory(), W);
        WorkloadRun.Run(W, image, Kind); // checks the result before anything is timed
    }

    [IterationSetup]
    public void Boot()
    {
        engine = EngineKinds.Create(Kind);
        board = new Board(32, Stream.Null, engine);
        board.BootMultiboot(image, "");
    }

    [Benchmark]
    public long Run()
    {
        RunResult r = board!.Run();
        if (r.ExitStatus != WorkloadRun.PassStatus)
            throw new WorkloadFailedException($"workload {Workload} on the {Engine} ended with status {r.ExitStatus}");
        return r.Instructions;
    }

    [IterationCleanup]
    public void Cleanup()
    {
        board?.Dispose();
        (engine as System.IDisposable)?.Dispose();
    }
}
