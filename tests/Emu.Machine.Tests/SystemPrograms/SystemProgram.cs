using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Emu.Translator;
using Emu.X86;

namespace Emu.Machine.Tests.SystemPrograms;

/// <summary>
/// Builds the NASM programs of firmware/systests once per test run (firmware/systests/build.sh,
/// which installs nasm when it is missing) and runs them: in-process on the interpreter and on
/// the translator (every block compiled before it runs), and in qemu-system-i386.
/// </summary>
public sealed class SystemProgramFixture
{
    private readonly Lazy<string> dir = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    public string Image(string name) => Path.Combine(dir.Value, name + ".bin");

    private static string Build()
    {
        Repository.ProcessResult r = Repository.Run("bash", new[] { Path.Combine(Repository.Root, "firmware", "systests", "build.sh") },
            TimeSpan.FromMinutes(5));
        if (r.ExitCode != 0)
            throw new InvalidOperationException($"firmware/systests/build.sh failed with status {r.ExitCode}:\n{r.StdoutText}{r.Stderr}");
        return Path.Combine(Repository.Root, "build", "systests");
    }
}

/// <summary>What one run of a program printed and how it ended (<paramref name="Message"/>: the emulator's report of the stop, if any).</summary>
public sealed record ProgramRun(string Runner, string Output, int ExitStatus, string? Message = null)
{
    public string[] Lines => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The line that starts with "<paramref name="key"/>:" (a probe's name), or a failure.</summary>
    public string Line(string key)
    {
        string[] found = Lines.Where(l => l.StartsWith(key + ":", StringComparison.Ordinal)).ToArray();
        if (found.Length != 1)
            throw new Xunit.Sdk.XunitException($"{Runner}: expected one line \"{key}: ...\", found {found.Length}; the output was:\n{Output}");
        return found[0];
    }
}

/// <summary>The three runs of one program, compared.</summary>
public sealed class SystemProgram
{
    public const uint RamMiB = 32;
    private const long MaxInstructions = 200_000_000;
    private static readonly TimeSpan QemuTimeout = TimeSpan.FromSeconds(60);

    public ProgramRun Interpreter { get; }
    public ProgramRun Translator { get; }
    public ProgramRun Qemu { get; }

    private SystemProgram(ProgramRun interpreter, ProgramRun translator, ProgramRun qemu)
    {
        Interpreter = interpreter;
        Translator = translator;
        Qemu = qemu;
    }

    /// <summary>Runs the program on both engines and in QEMU (QEMU in parallel with the in-process runs).</summary>
    public static SystemProgram Run(SystemProgramFixture fixture, string name)
    {
        byte[] image = File.ReadAllBytes(fixture.Image(name));
        Task<ProgramRun> qemu = Task.Run(() => RunQemu(fixture.Image(name)));
        ProgramRun interpreter = RunEmulator(image, null, "interpreter");
        using var engine = new TranslatorEngine(threshold: 1, synchronous: true);
        ProgramRun translator = RunEmulator(image, engine, "translator");
        // The translator really ran the program: every block compiled, none refused.
        Assert.True(engine.CompiledBlocks > 0, $"{name}: the translator compiled nothing");
        Assert.Equal(0, engine.Failures);
        return new SystemProgram(interpreter, translator, qemu.GetAwaiter().GetResult());
    }

    private static ProgramRun RunEmulator(byte[] image, IExecutionEngine? engine, string runner)
    {
        var output = new MemoryStream();
        using var board = new Board(RamMiB, output, engine);
        board.BootMultiboot(image, "");
        RunResult r = board.Run(MaxInstructions);
        return new ProgramRun(runner, Encoding.ASCII.GetString(output.ToArray()), r.ExitStatus, r.Message);
    }

    private static ProgramRun RunQemu(string image)
    {
        const string qemu = "qemu-system-i386";
        if (!File.Exists("/usr/bin/" + qemu) && !File.Exists("/usr/local/bin/" + qemu))
            throw new InvalidOperationException(
                $"{qemu} is missing: install the Debian package qemu-system-x86 (tools/test.sh installs it when it runs as root)");
        Repository.ProcessResult r = Repository.Run(qemu, new[]
        {
            "-kernel", image, "-m", $"{RamMiB}",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-debugcon", "stdio", "-display", "none", "-no-reboot", "-nodefaults", "-accel", "tcg",
            "-cpu", "pentium2",
        }, QemuTimeout);
        if (r.Stderr.Length > 0 && r.ExitCode != 1 && r.ExitCode % 2 == 0 && r.ExitCode != 0)
            throw new InvalidOperationException($"{qemu} failed with status {r.ExitCode}: {r.Stderr}");
        return new ProgramRun("qemu", r.StdoutText, r.ExitCode);
    }

    /// <summary>Deviation entries for <see cref="AssertAgree"/>: each line is the SDM's answer, keyed by its probe name.</summary>
    public static void AddDeviations(Dictionary<string, (string Sdm, string Why)> into, string why, params string[] sdmLines)
    {
        foreach (string line in sdmLines) into.Add(line.Split(':')[0], (line, why));
    }

    /// <summary>
    /// QEMU's TCG does not check segment limits, types or null selectors on data accesses
    /// (seen with QEMU 7.2: such a probe runs to its end); the SDM raises #GP(0), or #SS(0)
    /// for SS (Intel SDM Vol. 3, 5.3 "Limit Checking", 5.4 "Type Checking", 3.4.2 null selectors).
    /// </summary>
    public const string QemuSkipsSegmentChecks = "QEMU does not check data-segment limits, types or null selectors";

    private static readonly Regex FlagsField = new("fl=([0-9a-f]{8})", RegexOptions.Compiled);

    /// <summary>
    /// QEMU pushes RF=0 for faults, where the SDM (Vol. 3, 17.3.1.1 "Instruction-Breakpoint
    /// Exception Condition") says "for any fault-class exception except a debug exception
    /// generated in response to an instruction breakpoint, the value pushed for RF is 1", as
    /// the emulator does. RF is left out of every printed EFLAGS for the comparison with QEMU;
    /// the tests assert RF in the emulator's lines.
    /// </summary>
    private static string WithoutRf(string line) =>
        FlagsField.Replace(line, m => "fl=" + (Convert.ToUInt32(m.Groups[1].Value, 16) & ~Flags.RF).ToString("x8"));

    /// <summary>
    /// Asserts that the interpreter and the translator printed exactly the same and ended the
    /// same, and that QEMU printed the same lines too, but for RF (see <see cref="WithoutRf"/>)
    /// and for the probes named in <paramref name="qemuDeviations"/>: there QEMU departs from
    /// the SDM (each entry says how), and the emulator's line must be the SDM's answer given.
    /// </summary>
    public void AssertAgree(IReadOnlyDictionary<string, (string Sdm, string Why)>? qemuDeviations = null, int expectedStatus = 33,
        int qemuStatus = 33)
    {
        Assert.Equal(Interpreter.Output, Translator.Output);
        Assert.Equal(Interpreter.ExitStatus, Translator.ExitStatus);
        Assert.Equal(Interpreter.Message, Translator.Message);
        Assert.True(expectedStatus == Interpreter.ExitStatus,
            $"the emulator ended with status {Interpreter.ExitStatus} ({Interpreter.Message}), expected {expectedStatus}; it printed:\n{Interpreter.Output}");
        Assert.Equal(qemuStatus, Qemu.ExitStatus);
        string[] emu = Interpreter.Lines, q = Qemu.Lines;
        var diff = new StringBuilder();
        for (int i = 0; i < Math.Max(emu.Length, q.Length); i++)
        {
            string e = i < emu.Length ? emu[i] : "(none)";
            string o = i < q.Length ? q[i] : "(none)";
            string key = e.Split(':')[0];
            if (qemuDeviations is not null && qemuDeviations.TryGetValue(key, out var dev))
            {
                if (e != dev.Sdm) diff.Append($"line {i + 1}: the emulator printed  {e}\n        the SDM says           {dev.Sdm}\n");
                if (o.Split(':')[0] != key) diff.Append($"line {i + 1}: QEMU printed {o} where the emulator printed {e}\n");
                continue;
            }
            if (WithoutRf(e) != WithoutRf(o)) diff.Append($"line {i + 1}: emulator {e}\n        qemu     {o}\n");
        }
        if (diff.Length > 0)
            Assert.Fail($"the emulator and QEMU disagree:\n{diff}\nemulator output:\n{Interpreter.Output}\nqemu output:\n{Qemu.Output}");
    }
}
