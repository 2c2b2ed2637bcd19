using System;
using System.IO;
using System.Text;
using Emu.Machine.Cli;

namespace Emu.Machine.Tests;

/// <summary>The command-line program in-process: options, errors, and what it prints.</summary>
public sealed class CommandLineTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("emu-cli-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static (int Status, string Stdout, string Stderr) Run(params string[] args)
    {
        var stdout = new MemoryStream();
        var stderr = new StringWriter();
        int status = CommandLineProgram.Run(args, stdout, stderr);
        return (status, Encoding.UTF8.GetString(stdout.ToArray()), stderr.ToString());
    }

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static void OneLineError(string stderr, string expected)
    {
        Assert.StartsWith("emu: ", stderr, StringComparison.Ordinal);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void RunsAKernelAndPassesTheCommandLine()
    {
        // Prints the first byte of its command line, then exits with 7.
        string kernel = Write("k.elf", ElfBuilder.WithCode(0x10_0000, a =>
        {
            a.mov(Iced.Intel.AssemblerRegisters.esi, Iced.Intel.AssemblerRegisters.__dword_ptr[Iced.Intel.AssemblerRegisters.ebx + 16]);
            a.mov(Iced.Intel.AssemblerRegisters.al, Iced.Intel.AssemblerRegisters.__byte_ptr[Iced.Intel.AssemblerRegisters.esi]);
            a.@out(0xE9, Iced.Intel.AssemblerRegisters.al);
            a.mov(Iced.Intel.AssemblerRegisters.al, 7);
            a.@out(0xF4, Iced.Intel.AssemblerRegisters.al);
        }).Build());
        var (status, stdout, stderr) = Run("run", "--kernel", kernel, "--append", "Zebra", "--memory", "4M");
        Assert.Equal(15, status);
        Assert.Equal("Z", stdout);
        Assert.Equal("", stderr);
    }

    [Fact]
    public void StatsReportsTheRunOnStderr()
    {
        // Five OUTs to the debug console and the exit: the report (on stderr) counts the eight
        // instructions and the accesses to each port.
        string kernel = Write("k.elf", ElfBuilder.WithCode(0x10_0000, a =>
        {
            a.mov(Iced.Intel.AssemblerRegisters.al, (byte)'x');
            for (int i = 0; i < 5; i++) a.@out(0xE9, Iced.Intel.AssemblerRegisters.al);
            a.mov(Iced.Intel.AssemblerRegisters.al, 7);
            a.@out(0xF4, Iced.Intel.AssemblerRegisters.al);
        }).Build());
        var (status, stdout, stderr) = Run("run", "--kernel", kernel, "--memory", "4M", "--stats");
        Assert.Equal(15, status);
        Assert.Equal("xxxxx", stdout);
        Assert.Contains("emu statistics:", stderr);
        Assert.Contains("instructions: 8, all interpreted", stderr);
        Assert.Contains("DebugConsole@E9h 5", stderr);
        Assert.Contains("DebugExit@F4h 1", stderr);
        Assert.Contains("exceptions: none", stderr);
    }

    [Theory]
    [InlineData("interpreter")]
    [InlineData("translator")]
    [InlineData("lockstep")]
    public void EveryEngineRunsTheKernel(string engine)
    {
        // A loop long enough to get hot (so the translator compiles it), then "Z" and exit 7.
        string kernel = Write("k.elf", ElfBuilder.WithCode(0x10_0000, a =>
        {
            var loop = a.CreateLabel();
            a.mov(Iced.Intel.AssemblerRegisters.ecx, 1000);
            a.Label(ref loop);
            a.add(Iced.Intel.AssemblerRegisters.eax, Iced.Intel.AssemblerRegisters.ecx);
            a.dec(Iced.Intel.AssemblerRegisters.ecx);
            a.jnz(loop);
            a.mov(Iced.Intel.AssemblerRegisters.al, (byte)'Z');
            a.@out(0xE9, Iced.Intel.AssemblerRegisters.al);
            a.mov(Iced.Intel.AssemblerRegisters.al, 7);
            a.@out(0xF4, Iced.Intel.AssemblerRegisters.al);
        }).Build());
        var (status, stdout, stderr) = Run("run", "--kernel", kernel, "--memory", "4M", "--engine", engine);
        Assert.Equal("", stderr);
        Assert.Equal("Z", stdout);
        Assert.Equal(15, status);
    }

    [Theory]
    [InlineData("translator", "1")]
    [InlineData("translator", "1000000")]
    [InlineData("lockstep", "3")]
    public void TheJitThresholdIsTakenByTheTranslatorAndLockstep(string engine, string threshold)
    {
        string kernel = Write("k.elf", ElfBuilder.WithCode(0x10_0000, a => { a.mov(Iced.Intel.AssemblerRegisters.al, 1); a.@out(0xF4, Iced.Intel.AssemblerRegisters.al); }).Build());
        var (status, _, stderr) = Run("run", "--kernel", kernel, "--engine", engine, "--jit-threshold", threshold);
        Assert.Equal("", stderr);
        Assert.Equal(3, status);
    }

    [Theory]
    [InlineData("0", "--jit-threshold 0: expected a number of block entries, at least 1")]
    [InlineData("-2", "--jit-threshold -2: expected a number of block entries, at least 1")]
    public void BadJitThresholds(string threshold, string expected)
    {
        string kernel = Write("k.elf", ElfBuilder.WithCode(0x10_0000, a => a.hlt()).Build());
        var (status, _, stderr) = Run("run", "--kernel", kernel, "--engine", "translator", "--jit-threshold", threshold);
        Assert.Equal(ExitStatus.Usage, status);
        OneLineError(stderr, expected);
    }

    [Fact]
    public void ANonNumericJitThresholdIsAUsageError()
    {
        var (status, stdout, stderr) = Run("run", "--kernel", "k.elf", "--engine", "translator", "--jit-threshold", "many");
        Assert.Equal(ExitStatus.Usage, status);
        Assert.Equal("", stdout);
        Assert.Contains("Option 'jit-threshold' is defined with a bad format", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingKernelFile()
    {
        var (status, _, stderr) = Run("run", "--kernel", Path.Combine(dir, "nope.elf"));
        Assert.Equal(ExitStatus.BadImage, status);
        OneLineError(stderr, "nope.elf: no such file");
    }

    [Fact]
    public void KernelIsADirectory()
    {
        var (status, _, stderr) = Run("run", "--kernel", dir);
        Assert.Equal(ExitStatus.BadImage, status);
        OneLineError(stderr, "is a directory");
    }

    [Fact]
    public void MalformedKernel()
    {
        string kernel = Write("bad.elf", new ElfBuilder { Machine = 40 }.Build());
        var (status, _, stderr) = Run("run", "--kernel", kernel);
        Assert.Equal(ExitStatus.BadImage, status);
        OneLineError(stderr, "bad.elf: ELF machine is ARM (EM_ARM)");
    }

    [Fact]
    public void KernelLargerThanRam()
    {
        string kernel = Write("big.elf", new byte[3 << 20]);
        var (status, _, stderr) = Run("run", "--kernel", kernel, "--memory", "2");
        Assert.Equal(ExitStatus.BadImage, status);
        OneLineError(stderr, "larger than guest RAM (2 MiB)");
    }

    [Fact]
    public void KernelThatDoesNotFitTheChosenRam()
    {
        string kernel = Write("k.elf", new ElfBuilder { Entry = 0x40_0000, Segments = { new TestSegment(0x40_0000, new byte[16]) } }.Build());
        var (status, _, stderr) = Run("run", "--kernel", kernel, "--memory", "4");
        Assert.Equal(ExitStatus.BadImage, status);
        OneLineError(stderr, "does not fit in guest RAM (4 MiB); give more with --memory");
    }

    [Theory]
    [InlineData("--engine", "jit", "--engine jit: unknown engine; expected one of interpreter, translator, lockstep")]
    [InlineData("--engine", "Translator", "--engine Translator: unknown engine")]
    [InlineData("--jit-threshold", "5", "--jit-threshold applies to --engine translator or lockstep")]
    [InlineData("--memory", "1", "--memory 1: expected a size")]
    [InlineData("--memory", "4G", "--memory 4G: expected a size")]
    [InlineData("--memory", "lots", "--memory lots: expected a size")]
    [InlineData("--max-instructions", "-5", "must not be negative")]
    public void BadOptionValues(string option, string value, string expected)
    {
        string kernel = Write("k.elf", ElfBuilder.WithCode(0x10_0000, a => a.hlt()).Build());
        var (status, _, stderr) = Run("run", "--kernel", kernel, option, value);
        Assert.Equal(ExitStatus.Usage, status);
        OneLineError(stderr, expected);
    }

    [Fact]
    public void TooLongCommandLine()
    {
        string kernel = Write("k.elf", ElfBuilder.WithCode(0x10_0000, a => a.hlt()).Build());
        var (status, _, stderr) = Run("run", "--kernel", kernel, "--append", new string('x', 40000));
        Assert.Equal(ExitStatus.Usage, status);
        OneLineError(stderr, "--append");
    }

    [Theory]
    [InlineData("emu: Option 'no-such-option' is unknown.|emu: try 'emu run --help'", "run", "--no-such-option")]
    [InlineData("emu: Verb 'frobnicate' is not recognized.|emu: try 'emu --help'", "frobnicate")]
    [InlineData("emu: Option 'bogus' is unknown.|emu: try 'emu run --help'", "run", "--kernel", "x", "--bogus")]
    [InlineData("emu: --hda needs a value; try 'emu run --help'", "run", "--hda")]
    [InlineData("emu: --initrd needs a value; try 'emu run --help'", "run", "--kernel", "k", "--initrd", "--memory", "64")]
    [InlineData("emu: --runs needs a value; try 'emu bench --help'", "bench", "--runs")]
    public void UsageErrorsSayWhatIsWrongAndWhereTheHelpIs(string expected, params string[] args)
    {
        var (status, stdout, stderr) = Run(args);
        Assert.Equal(ExitStatus.Usage, status);
        Assert.Equal("", stdout);
        Assert.Equal(expected.Replace('|', '\n') + "\n", stderr.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void NoVerbPrintsTheHelpToStderr()
    {
        var (status, stdout, stderr) = Run();
        Assert.Equal(ExitStatus.Usage, status);
        Assert.Equal("", stdout);
        Assert.Contains("run", stderr, StringComparison.Ordinal);
        Assert.Contains("bench", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--help", "run")]
    [InlineData("run --help", "--kernel")]
    [InlineData("help run", "--max-instructions")]
    [InlineData("help run", "--jit-threshold")]
    [InlineData("help bench", "--sweep")]
    [InlineData("--help", "bench")]
    [InlineData("--version", "emu 0.1.0")]
    public void AskedForHelpGoesToStdout(string args, string expected)
    {
        var (status, stdout, stderr) = Run(args.Split(' '));
        Assert.Equal(ExitStatus.Success, status);
        Assert.Contains(expected, stdout, StringComparison.Ordinal);
        Assert.Equal("", stderr);
    }

    [Theory]
    [InlineData("128", 128u)]
    [InlineData("64M", 64u)]
    [InlineData("2m", 2u)]
    [InlineData("1G", 1024u)]
    [InlineData("3584M", 3584u)]
    public void MemorySizes(string text, uint mib)
    {
        Assert.True(CommandLineProgram.TryParseMemory(text, out uint got));
        Assert.Equal(mib, got);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("1M")]
    [InlineData("3585")]
    [InlineData("4G")]
    [InlineData("-1")]
    [InlineData("12K")]
    [InlineData("99999999999999999999")]
    public void BadMemorySizes(string text) => Assert.False(CommandLineProgram.TryParseMemory(text, out _));
}
