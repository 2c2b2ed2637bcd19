using System;
using System.IO;
using System.Text;
using Emu.Machine.Benchmarks;
using Emu.Machine.Cli;

namespace Emu.Machine.Tests;

/// <summary><c>emu bench</c>: its checks and its errors (timing is not tested; the figures are the bench's business).</summary>
public sealed class BenchCommandTests : IClassFixture<FirmwareFixture>
{
    private readonly FirmwareFixture firmware;

    public BenchCommandTests(FirmwareFixture firmware) => this.firmware = firmware;

    private static (int Status, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new MemoryStream();
        var stderr = new StringWriter();
        int status = CommandLineProgram.Run(args, stdout, stderr);
        return (status, Encoding.UTF8.GetString(stdout.ToArray()), stderr.ToString());
    }

    private string Dir => Path.GetDirectoryName(firmware.Elf("hello"))!;

    [Fact]
    public void EveryWorkloadHasAFirmwareProgram()
    {
        foreach (Workload w in Workload.All)
            Assert.True(File.Exists(Path.Combine(Repository.Root, "firmware", "bench-" + w.Name, "main.c")), $"firmware/bench-{w.Name}/main.c");
        foreach (string dir in Directory.GetDirectories(Path.Combine(Repository.Root, "firmware"), "bench-*"))
            Assert.NotNull(Workload.Find(Path.GetFileName(dir)["bench-".Length..]));
    }

    [Fact]
    public void CheckRunsAWorkloadOnEveryEngine()
    {
        var (status, stdout, stderr) = Run("bench", "--check", "--workloads", "matmul", "--dir", Dir);
        Assert.Equal("", stderr);
        Assert.Equal(ExitStatus.Success, status);
        Assert.Equal("matmul    ok on the interpreter, the translator and in lockstep:    2,051,324 instructions (1 round)\n", stdout);
    }

    [Fact]
    public void AWorkloadThatFailsItsCheckFailsTheBench()
    {
        // A program that exits with FW_EXIT_FAIL under a workload's name.
        string dir = Directory.CreateTempSubdirectory("emu-bench-").FullName;
        try
        {
            File.WriteAllBytes(Path.Combine(dir, "bench-calls.elf"), ElfBuilder.WithCode(0x10_0000, a =>
            {
                a.mov(Iced.Intel.AssemblerRegisters.al, 0x11);
                a.@out(0xF4, Iced.Intel.AssemblerRegisters.al);
            }).Build());
            var (status, _, stderr) = Run("bench", "--check", "--workloads", "calls", "--dir", dir);
            Assert.Equal(ExitStatus.WorkloadFailed, status);
            Assert.Equal("emu: bench: workload calls on the interpreter ended with status 35 (33 is a pass), printing nothing\n", stderr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("--workloads", "nope", "--workloads: no workload named 'nope'; the workloads are sieve, crc32, matmul, calls, strings, bytecode, hash, recursion, pointers, x87")]
    [InlineData("--runs", "0", "--runs 0: expected 1 to 1000 runs")]
    [InlineData("--rounds", "0", "--rounds 0: expected at least one round")]
    [InlineData("--jit-threshold", "0", "--jit-threshold 0: expected a number of block entries, at least 1")]
    [InlineData("--sweep", "1,x,5", "--sweep: 'x' is not a threshold (a number of block entries, at least 1)")]
    [InlineData("--sweep", "0", "--sweep: '0' is not a threshold")]
    public void BadOptionValues(string option, string value, string expected)
    {
        var (status, stdout, stderr) = Run("bench", option, value, "--dir", Dir);
        Assert.Equal(ExitStatus.Usage, status);
        Assert.Equal("", stdout);
        Assert.StartsWith("emu: " + expected, stderr, StringComparison.Ordinal);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void TheTableHasEveryEngineAndQemu()
    {
        if (Benchmarks.QemuRun.Find() is null) Assert.Fail("qemu-system-i386 is not on PATH: tools/ensure-packages.sh qemu-system-x86 installs it");
        var (status, stdout, stderr) = Run("bench", "--runs", "1", "--rounds", "3", "--workloads", "pointers", "--dir", Dir);
        Assert.Equal("", stderr);
        Assert.Equal(ExitStatus.Success, status);
        string[] lines = stdout.Split('\n');
        string header = Array.Find(lines, l => l.StartsWith("workload ", StringComparison.Ordinal))!;
        Assert.Equal(new[] { "workload", "rounds", "instructions", "interpreter", "tiered", "steady", "qemu", "tiered/qemu", "steady/qemu", "tiered/interp" },
            header.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        string row = Array.Find(lines, l => l.StartsWith("pointers ", StringComparison.Ordinal))!;
        // Interpreter and tiered always have figures; steady and QEMU have "-" when a loaded
        // machine left no settled round or no time between QEMU's two run lengths.
        Assert.Matches(@"^pointers +3 +[0-9,]+( +[0-9.]+ \([0-9.]+-[0-9.]+\)){2}( +([0-9.]+ \([0-9.]+-[0-9.]+\)|-)){2}( +([0-9.]+x|-)){2} +[0-9.]+x$", row);
        Assert.Contains(lines, l => l.StartsWith("geometric mean over the workloads: tiered/qemu ", StringComparison.Ordinal));
    }

    [Fact]
    public void NoQemuLeavesTheQemuColumnsOut()
    {
        var (status, stdout, stderr) = Run("bench", "--no-qemu", "--runs", "1", "--rounds", "3", "--workloads", "pointers", "--dir", Dir);
        Assert.Equal("", stderr);
        Assert.Equal(ExitStatus.Success, status);
        Assert.DoesNotContain("qemu", stdout);
        Assert.Matches(@"\npointers +3 +[0-9,]+( +[0-9.]+ \([0-9.]+-[0-9.]+\)){2} +([0-9.]+ \([0-9.]+-[0-9.]+\)|-) +[0-9.]+x\n", stdout);
    }

    [Fact]
    public void NoQemuAndQemuDoNotGoTogether()
    {
        var (status, stdout, stderr) = Run("bench", "--no-qemu", "--qemu", "/usr/bin/qemu-system-i386", "--dir", Dir);
        Assert.Equal(ExitStatus.Usage, status);
        Assert.Equal("", stdout);
        Assert.Equal("emu: --no-qemu and --qemu do not go together\n", stderr);
    }

    [Fact]
    public void AQemuThatIsNotThereIsAUsageError()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"emu-no-qemu-{Environment.ProcessId}", "qemu-system-i386");
        var (status, stdout, stderr) = Run("bench", "--qemu", missing, "--workloads", "calls", "--dir", Dir);
        Assert.Equal(ExitStatus.Usage, status);
        Assert.Equal("", stdout);
        Assert.Equal($"emu: --qemu {missing}: no such file\n", stderr);
    }

    [Fact]
    public void MissingWorkloadsSayHowToBuildThem()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"emu-no-workloads-{Environment.ProcessId}");
        var (status, _, stderr) = Run("bench", "--check", "--dir", dir);
        Assert.Equal(ExitStatus.BadImage, status);
        Assert.Equal($"emu: {Path.Combine(dir, "bench-sieve.elf")} is missing: build the workloads with firmware/build.sh\n", stderr);
    }
}
