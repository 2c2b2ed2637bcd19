using CommandLine;

namespace Emu.Machine.Cli;

/// <summary>The options of <c>emu bench</c>.</summary>
[Verb("bench", HelpText = "Run the benchmark workloads (firmware/bench-*) on the interpreter, the translator (tiered, and at steady state) and QEMU (qemu-system-i386 -accel tcg): guest MIPS, the ratios to QEMU, and the translator's compile cost.")]
public sealed class BenchOptions
{
    [Option("workloads", MetaValue = "LIST",
        HelpText = "Comma-separated workloads to run (default: all: sieve, crc32, matmul, calls, strings, bytecode, hash, recursion, pointers, x87).")]
    public string? Workloads { get; set; }

    [Option("runs", Default = 5, MetaValue = "N",
        HelpText = "Timed runs of each workload on each engine, after one warm-up run; the median is reported.")]
    public int Runs { get; set; } = 5;

    [Option("rounds", MetaValue = "N",
        HelpText = "Rounds each workload computes (its kernel command line rounds=N; default: the workload's own, about a second on the interpreter).")]
    public uint? Rounds { get; set; }

    [Option("jit-threshold", MetaValue = "N",
        HelpText = "The translator's tiering threshold (default: the translator's default).")]
    public int? JitThreshold { get; set; }

    [Option("sweep", MetaValue = "LIST",
        HelpText = "Instead of the MIPS table: the total time of each workload's run (compiles included) for each tiering threshold in LIST, e.g. 1,2,5,10,20,50,100,200,500.")]
    public string? Sweep { get; set; }

    [Option("check", Default = false,
        HelpText = "Run each workload once (one round) on the interpreter, the translator and in lockstep, and check the results; no timing.")]
    public bool Check { get; set; }

    [Option("compile-cost", Default = false,
        HelpText = "Only the translation cost: the regions the translator forms in the workloads' runs (compiling synchronously), compiled again and timed.")]
    public bool CompileCost { get; set; }

    [Option("no-qemu", Default = false,
        HelpText = "Leave QEMU out: our columns only.")]
    public bool NoQemu { get; set; }

    [Option("qemu", MetaValue = "PATH",
        HelpText = "The qemu-system-i386 to compare with (default: the one on PATH).")]
    public string? Qemu { get; set; }

    [Option("dir", MetaValue = "DIR",
        HelpText = "Where the built workloads are (default: build/firmware of this repository).")]
    public string? Dir { get; set; }
}
