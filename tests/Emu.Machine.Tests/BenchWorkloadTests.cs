using System.Collections.Generic;
using System.IO;
using System.Linq;
using Emu.Machine.Benchmarks;

namespace Emu.Machine.Tests;

/// <summary>
/// The workloads shaped like real programs (bytecode, hash, recursion, pointers, x87): each runs
/// to a pass on the interpreter and on the translator and prints its result line; the round marks
/// the bench times by; the steady-state run; and QEMU running the same image to the same output.
/// </summary>
public sealed class BenchWorkloadTests : IClassFixture<FirmwareFixture>
{
    private readonly FirmwareFixture firmware;

    public BenchWorkloadTests(FirmwareFixture firmware) => this.firmware = firmware;

    private string Dir => Path.GetDirectoryName(firmware.Elf("hello"))!;

    public static TheoryData<string, string> NewWorkloads => new()
    {
        { "bytecode", "bytecode: 39198 Collatz steps below 700, 109 primes below 600 (126 words of bytecode); 2 rounds\n" },
        { "hash", "hash: MD5 1c6cd79540731fb05aebb461ede0a368 over 131072 bytes; 2 rounds\n" },
        { "recursion", "recursion: A(2, 100) = 203, A(3, 5) = 253, 352 solutions for 9 queens, 6000 elements sorted; 2 rounds\n" },
        { "pointers", "pointers: 4096 keys found in the tree, key sum 0x1cb27800, 2048 left in the hash table, list sum 4194304; 2 rounds\n" },
        { "x87", "x87: n-body energy -169075164 then -169087605 (x 1e-9) after 1000 steps, bits 0x7960634421fa4f74, Mandelbrot 32852; 2 rounds\n" },
    };

    [Theory]
    [MemberData(nameof(NewWorkloads))]
    public void RunsToAPassOnBothEnginesAndPrintsItsResult(string name, string expected)
    {
        Workload w = Workload.Find(name)!;
        Assert.NotNull(w);
        byte[] image = WorkloadRun.Load(Dir, w);

        WorkloadResult i = WorkloadRun.Run(w, image, EngineKind.Interpreter, rounds: 2);
        Assert.Equal(expected, i.Output);
        Assert.Equal(2, i.Rounds);

        // Threshold 1: every block is compiled at its first entry, so the second round runs compiled code.
        WorkloadResult t = WorkloadRun.Run(w, image, EngineKind.Translator, threshold: 1, rounds: 2);
        Assert.Equal(expected, t.Output);
        Assert.Equal(2, t.Rounds);
        Assert.True(t.CompiledBlocks > 0, "the translator compiled nothing");
    }

    [Fact]
    public void TheSteadyStateRunTimesOnlyRoundsAfterTheTranslatorSettled()
    {
        Workload w = Workload.Find("pointers")!;
        WorkloadResult r = WorkloadRun.RunSteady(w, WorkloadRun.Load(Dir, w), threshold: 1, rounds: 6);
        Assert.Equal(6, r.Rounds);
        SteadyPart s = Assert.IsType<SteadyPart>(r.Steady);
        Assert.InRange(s.WarmupRounds, WorkloadRun.MinWarmupRounds, 5);
        // The timed rounds' share of the instructions: each round is the same computation.
        double share = (double)s.Instructions / r.Instructions;
        Assert.InRange(share, (6 - s.WarmupRounds - 0.5) / 6, (6 - s.WarmupRounds + 0.5) / 6);
        Assert.True(s.Elapsed < r.Elapsed);
        // Only merges of code compiled already may form later (after MergeAfterLinks crossings).
        Assert.Equal(0, s.CompiledWhileTimed - s.MergedWhileTimed);
    }

    [Fact]
    public void TheCompileCostHarnessCollectsTheSameRegionsEveryTimeAndCompilesThem()
    {
        Workload w = Workload.Find("pointers")!;
        var images = new[] { (w, WorkloadRun.Load(Dir, w)) };
        List<Emu.Translator.Region> first = CompileCost.CollectRegions(images);
        List<Emu.Translator.Region> second = CompileCost.CollectRegions(images);
        Assert.NotEmpty(first);
        Assert.Equal(first.Select(r => r.ToString()), second.Select(r => r.ToString()));
        Assert.True(CompileCost.CountInstructions(first) >= first.Count);
        CompileCost.Cost cost = CompileCost.CompileAll(first);
        Assert.True(cost.Il > System.TimeSpan.Zero && cost.Jit > System.TimeSpan.Zero);
        Assert.All(first, r => Assert.NotEmpty(r.Links));
    }

    [Fact]
    public void QemuRunsAWorkloadToTheSameOutputAsOurs()
    {
        string? qemu = QemuRun.Find();
        if (qemu is null) Assert.Fail("qemu-system-i386 is not on PATH: tools/ensure-packages.sh qemu-system-x86 installs it");
        Workload w = Workload.Find("hash")!;
        string path = Path.Combine(Dir, w.FileName);
        QemuResult q = new QemuRun(qemu).Run(w, path, 2);
        Assert.Equal(WorkloadRun.Run(w, File.ReadAllBytes(path), EngineKind.Interpreter, rounds: 2).Output, q.Output);
        Assert.True(q.Elapsed.TotalSeconds > 0);
    }
}
