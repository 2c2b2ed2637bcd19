using System;
using System.IO;
using System.Text;
using Emu.Machine.Cli;
using Emu.Translator;

namespace Emu.Machine.Tests;

/// <summary>
/// The demo in firmware/hello, built with firmware/build.sh (gcc -m32), run in-process and
/// through the ./emu script as a user runs it.
/// </summary>
public sealed class FirmwareTests : IClassFixture<FirmwareFixture>
{
    private static readonly TimeSpan EmuTimeout = TimeSpan.FromMinutes(5); // the first ./emu builds the emulator

    private readonly FirmwareFixture firmware;

    public FirmwareTests(FirmwareFixture firmware) => this.firmware = firmware;

    /// <summary>What hello prints with 32 MiB of RAM and the command line "from the test".</summary>
    private const string HelloOutput =
        "Hello from emu's firmware demo!\n" +
        "loader: emu flat runner\n" +
        "command line: \"from the test\"\n" +
        "memory: lower 639 KiB, upper 31744 KiB\n" +
        "  00000000-0009fbff available\n" +
        "  0009fc00-0009ffff reserved\n" +
        "  000f0000-000fffff reserved\n" +
        "  00100000-01ffffff available\n" +
        "available: 32383 KiB\n" +
        "primes: 2 3 5 7 11 13 17 19 23 29 ...\n" +
        "9592 primes below 100000, the largest 99991, CRC-32 of them 0xdc49f864\n" +
        "fib(90) = 2880067194370816120\n" +
        "bye\n";

    /// <summary>hello exits with 0x10 (FW_EXIT_PASS): status (0x10 &lt;&lt; 1) | 1.</summary>
    private const int HelloStatus = 33;

    [Theory, OnEveryEngine]
    public void HelloRunsOnTheBoard(string engine)
    {
        var output = new MemoryStream();
        using var board = new Board(32, output, Engines.Create(engine));
        board.BootMultiboot(File.ReadAllBytes(firmware.Elf("hello")), "from the test");
        RunResult r = board.Run();
        Engines.CheckHealthy(board.Cpu.Engine);
        Assert.Equal(HelloOutput, Encoding.ASCII.GetString(output.ToArray()));
        Assert.Null(r.Message);
        Assert.Equal(HelloStatus, r.ExitStatus);
    }

    [Fact]
    public void HelloRunsOnTheTranslatorAsItShips()
    {
        // The translator rows above compile every block at its first entry, on the emulation
        // thread; this run uses the default tiering: blocks stay interpreted until they are
        // hot, are compiled on the background thread, and switch to compiled code mid-run.
        var engine = new TranslatorEngine();
        var output = new MemoryStream();
        using var board = new Board(32, output, engine);
        board.BootMultiboot(File.ReadAllBytes(firmware.Elf("hello")), "from the test");
        RunResult r = board.Run();
        engine.Drain();
        Assert.Equal(HelloOutput, Encoding.ASCII.GetString(output.ToArray()));
        Assert.Equal(HelloStatus, r.ExitStatus);
        Assert.True(engine.CompiledBlocks > 0, "no block became hot enough to compile");
        Assert.Equal(0, engine.Failures);
    }

    // The command line chooses its engine with --engine (the lockstep work adds the translator
    // there); until then the tests through the command line and ./emu run the interpreter,
    // and the board-level tests above and below cover both engines.

    [Fact]
    public void HelloRunsInProcess()
    {
        var stdout = new MemoryStream();
        var stderr = new StringWriter();
        int status = CommandLineProgram.Run(
            new[] { "run", "--kernel", firmware.Elf("hello"), "--memory", "32M", "--append", "from the test" }, stdout, stderr);
        Assert.Equal("", stderr.ToString());
        Assert.Equal(HelloOutput, Encoding.ASCII.GetString(stdout.ToArray()));
        Assert.Equal(HelloStatus, status);
    }

    [Fact]
    public void HelloRunsThroughTheEmuScript()
    {
        Repository.ProcessResult r = Emu("run", "--kernel", firmware.Elf("hello"), "--memory", "32M", "--append", "from the test");
        Assert.Equal("", r.Stderr);
        Assert.Equal(Encoding.ASCII.GetBytes(HelloOutput), r.Stdout);
        Assert.Equal(HelloStatus, r.ExitCode);
    }

    [Theory, OnEveryEngine]
    public void HelloFailsItsOwnCheckWhenNotStartedByAMultibootLoader(string engine)
    {
        // Its checks are real: with EAX spoiled after the boot, it must refuse to go on and
        // exit with 0x11 (FW_EXIT_FAIL, status 35).
        var output = new MemoryStream();
        using var board = new Board(32, output, Engines.Create(engine));
        board.BootMultiboot(File.ReadAllBytes(firmware.Elf("hello")), "");
        board.Cpu.Eax = 0x1234_5678;
        RunResult r = board.Run();
        Engines.CheckHealthy(board.Cpu.Engine);
        Assert.Equal("FAIL: EAX is 0x12345678, not the Multiboot magic 0x2BADB002\n", Encoding.ASCII.GetString(output.ToArray()));
        Assert.Equal(35, r.ExitStatus);
    }

    [Fact]
    public void EmuScriptReportsAMissingKernel()
    {
        Repository.ProcessResult r = Emu("run", "--kernel", "build/no-such-kernel.elf");
        Assert.Equal(ExitStatus.BadImage, r.ExitCode);
        Assert.Empty(r.Stdout);
        Assert.Equal("emu: --kernel build/no-such-kernel.elf: no such file\n", r.Stderr);
    }

    [Fact]
    public void EmuScriptReportsAMalformedElf()
    {
        string path = Path.Combine(Path.GetTempPath(), $"emu-truncated-{Environment.ProcessId}.elf");
        byte[] hello = File.ReadAllBytes(firmware.Elf("hello"));
        File.WriteAllBytes(path, hello.AsSpan(0, 60).ToArray());
        try
        {
            Repository.ProcessResult r = Emu("run", "--kernel", path);
            Assert.Equal(ExitStatus.BadImage, r.ExitCode);
            Assert.Equal($"emu: --kernel {path}: ELF program headers (offset 0x34, 2 entries) extend past the end of the file (60 bytes)\n", r.Stderr);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void EmuScriptReportsAGuestFault()
    {
        string path = Path.Combine(Path.GetTempPath(), $"emu-ud2-{Environment.ProcessId}.elf");
        File.WriteAllBytes(path, ElfBuilder.WithCode(0x10_0000, a => a.ud2()).Build());
        try
        {
            Repository.ProcessResult r = Emu("run", "--kernel", path);
            Assert.Equal(ExitStatus.Shutdown, r.ExitCode);
            Assert.StartsWith("emu: the processor shut down (triple fault: #UD (invalid opcode), then", r.Stderr, StringComparison.Ordinal);
            Assert.Contains("the first exception was raised at 0008:00100000: ud2", r.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal); // no .NET stack trace
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// SIGTERM ends a run as Ctrl-C does: the guest's buffered output is written, so is the
    /// screen dump, one line says what happened, and the status is 143 as shells report it.
    /// </summary>
    [Fact]
    public void SigtermEndsTheRunWithItsOutputAndScreenDump()
    {
        string dir = Directory.CreateTempSubdirectory("emu-term-").FullName;
        try
        {
            string kernel = Path.Combine(dir, "spin.elf");
            File.WriteAllBytes(kernel, ElfBuilder.WithCode(0x10_0000, a =>
            {
                a.mov(Iced.Intel.AssemblerRegisters.al, (byte)'t');
                a.@out(0xE9, Iced.Intel.AssemblerRegisters.al);
                var spin = a.CreateLabel();
                a.Label(ref spin);
                a.jmp(spin);
            }).Build());
            string dump = Path.Combine(dir, "screen.txt");
            Repository.ProcessResult r = Repository.Run(Path.Combine(Repository.Root, "emu"),
                new[] { "run", "--kernel", kernel, "--screen-dump", dump }, EmuTimeout, p =>
                {
                    // ./emu builds when it must, then execs the emulator: wait for that, and for the guest to run.
                    for (int i = 0; i < 3000 && !File.ReadAllText($"/proc/{p.Id}/cmdline").Contains("emu.dll", StringComparison.Ordinal); i++)
                        System.Threading.Thread.Sleep(100);
                    System.Threading.Thread.Sleep(3000);
                    using var kill = System.Diagnostics.Process.Start("kill", new[] { "-TERM", p.Id.ToString() });
                    kill.WaitForExit();
                });
            Assert.Equal(ExitStatus.Terminated, r.ExitCode);
            Assert.Equal("t", r.StdoutText);
            Assert.StartsWith("emu: terminated (SIGTERM) at 0008:0010000", r.Stderr, StringComparison.Ordinal);
            Assert.True(File.Exists(dump), "no screen dump");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// On a terminal (a pseudo-terminal from util-linux's script): the guest's bare line feeds
    /// still start lines at the left edge, and the keypad and cursor keys are back in normal
    /// mode at the end (.NET's console leaves ESC [?1h ESC = behind otherwise).
    /// </summary>
    [Fact]
    public void OnATerminalLinesStartAtTheLeftAndTheKeypadIsPutBack()
    {
        string command = $"{Path.Combine(Repository.Root, "emu")} run --kernel {firmware.Elf("hello")} --memory 32M --append 'from the test'";
        Repository.ProcessResult r = Repository.Run("script", new[] { "-qec", command, "/dev/null" }, EmuTimeout);
        Assert.Equal(HelloStatus, r.ExitCode);
        string text = Encoding.Latin1.GetString(r.Stdout);
        Assert.Contains(HelloOutput.Replace("\n", "\r\n"), text, StringComparison.Ordinal);
        int keypadOn = text.LastIndexOf("\x1b[?1h", StringComparison.Ordinal);
        int keypadOff = text.LastIndexOf("\x1b[?1l\x1b>", StringComparison.Ordinal);
        Assert.True(keypadOff > keypadOn, $"the terminal is left in application keypad mode: {text[Math.Max(0, text.Length - 80)..]}");
    }

    private static Repository.ProcessResult Emu(params string[] args) =>
        Repository.Run(Path.Combine(Repository.Root, "emu"), args, EmuTimeout);
}
