using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using CommandLine;
using CommandLine.Text;
using Emu.Devices.Storage;
using Emu.Machine.Boot;
using Emu.X86;

namespace Emu.Machine.Cli;

/// <summary>
/// The command-line program: parses the verb and its options, runs it, and turns every
/// failure into a one-line message on stderr and an exit status from <see cref="ExitStatus"/>.
/// Nothing a user or a guest does ends it with a .NET stack trace.
/// </summary>
public static class CommandLineProgram
{
    /// <summary>Runs the program with <paramref name="args"/>; the guest's console goes to <paramref name="stdout"/>.</summary>
    public static int Run(string[] args, Stream stdout, TextWriter stderr, Func<Board, IDisposable?>? onStart = null)
    {
        if (MissingValue(args) is string option)
            return Fail(stderr, ExitStatus.Usage, $"{option} needs a value; try 'emu {args[0]} --help'");
        // No HelpWriter: the help text is built below, so asked-for help goes to stdout
        // and the help that comes with an error goes to stderr.
        using var parser = new Parser(s =>
        {
            s.HelpWriter = null;
            s.AutoVersion = true;
        });
        ParserResult<object> parsed = parser.ParseArguments(args, typeof(RunOptions), typeof(BenchOptions));
        return parsed.MapResult(
            (RunOptions o) => RunVerb(o, stdout, stderr, onStart),
            (BenchOptions o) => BenchVerb.Run(o, stdout, stderr),
            errors => errors.OfType<HelpVerbRequestedError>().FirstOrDefault() is { Matched: true } verbHelp
                ? Run(new[] { verbHelp.Verb, "--help" }, stdout, stderr) // "help run" is "run --help"
                : Help(parsed, errors.ToList(), stdout, stderr));
    }

    /// <summary>
    /// The first option of the run or bench verb that takes a value but has none: the last
    /// word, or followed by another of the verb's options (the parser would take that as the
    /// value, or leave the option unset without a word).
    /// </summary>
    private static string? MissingValue(string[] args)
    {
        if (args.Length == 0) return null;
        Type? verb = args[0] switch { "run" => typeof(RunOptions), "bench" => typeof(BenchOptions), _ => null };
        if (verb is null) return null;
        var all = new HashSet<string>(StringComparer.Ordinal);
        var valued = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in verb.GetProperties())
        {
            if (p.GetCustomAttributes(typeof(OptionAttribute), false).FirstOrDefault() is not OptionAttribute a) continue;
            all.Add("--" + a.LongName);
            if (p.PropertyType != typeof(bool)) valued.Add("--" + a.LongName);
        }
        for (int i = 1; i < args.Length; i++)
            if (valued.Contains(args[i]) && (i + 1 == args.Length || all.Contains(args[i + 1]))) return args[i];
        return null;
    }

    private static int Help(ParserResult<object> parsed, List<Error> errors, Stream stdout, TextWriter stderr)
    {
        bool asked = errors.All(e => e.Tag is ErrorType.HelpRequestedError or ErrorType.HelpVerbRequestedError or ErrorType.VersionRequestedError);
        if (!asked && !errors.Any(e => e.Tag == ErrorType.NoVerbSelectedError))
        {
            // A mistake on the command line: say what it is and where the help is, not the whole help.
            string verb = parsed.TypeInfo.Current == typeof(RunOptions) ? "run "
                : parsed.TypeInfo.Current == typeof(BenchOptions) ? "bench " : "";
            SentenceBuilder sentences = SentenceBuilder.Create();
            foreach (Error e in errors) stderr.WriteLine($"emu: {sentences.FormatError(e)}");
            stderr.WriteLine($"emu: try 'emu {verb}--help'");
            return ExitStatus.Usage;
        }
        string text;
        if (errors.Any(e => e.Tag == ErrorType.VersionRequestedError))
            text = Heading;
        else
            text = HelpText.AutoBuild(parsed, h =>
            {
                h.Heading = Heading;
                h.Copyright = "";
                h.AddDashesToOption = true;
                return HelpText.DefaultParsingErrorsHandler(parsed, h);
            }, e => e, verbsIndex: parsed.TypeInfo.Current == typeof(NullInstance)).ToString();
        if (asked)
        {
            using var w = new StreamWriter(stdout, leaveOpen: true);
            w.WriteLine(text);
            return ExitStatus.Success;
        }
        stderr.WriteLine(text);
        return ExitStatus.Usage;
    }

    private static string Heading =>
        $"emu {typeof(CommandLineProgram).Assembly.GetName().Version?.ToString(3)}: a full-system 32-bit x86 PC emulator";

    private static int RunVerb(RunOptions o, Stream stdout, TextWriter stderr, Func<Board, IDisposable?>? onStart)
    {
        if (!TryParseMemory(o.Memory, out uint ramMiB))
            return Fail(stderr, ExitStatus.Usage, $"--memory {o.Memory}: expected a size from {Board.MinRamMiB}M to {Board.MaxRamMiB}M (for example 128M or 1G)");
        if (!EngineKinds.TryParse(o.Engine, out EngineKind engineKind))
            return Fail(stderr, ExitStatus.Usage, $"--engine {o.Engine}: unknown engine; expected one of {EngineKinds.Names}");
        if (o.JitThreshold is int threshold)
        {
            if (engineKind == EngineKind.Interpreter)
                return Fail(stderr, ExitStatus.Usage, "--jit-threshold applies to --engine translator or lockstep; the interpreter compiles nothing");
            if (threshold < 1)
                return Fail(stderr, ExitStatus.Usage, $"--jit-threshold {threshold}: expected a number of block entries, at least 1");
        }
        if (o.MaxInstructions < 0)
            return Fail(stderr, ExitStatus.Usage, "--max-instructions must not be negative");
        if (o.Append.Contains('\0') || System.Text.Encoding.UTF8.GetByteCount(o.Append) > MultibootLoader.MaxCommandLineBytes)
            return Fail(stderr, ExitStatus.Usage, $"--append: the kernel command line must be at most {MultibootLoader.MaxCommandLineBytes} bytes");
        if (!DiskImage.TryParseMode(o.HdaMode, out DiskImageMode hdaMode))
            return Fail(stderr, ExitStatus.Usage, $"--hda-mode {o.HdaMode}: expected ro, cow or rw");
        if (!DiskImage.TryParseMode(o.HdbMode, out DiskImageMode hdbMode))
            return Fail(stderr, ExitStatus.Usage, $"--hdb-mode {o.HdbMode}: expected ro, cow or rw");
        if (o.Boot is not ("c" or "d"))
            return Fail(stderr, ExitStatus.Usage, $"--boot {o.Boot}: expected c (hard disk) or d (CD-ROM)");
        if (o.Kernel is null && (o.Initrd is not null || o.Append.Length > 0))
            return Fail(stderr, ExitStatus.Usage, "--initrd and --append need --kernel");
        if (o.Kernel is null && o.Hda is null && o.Cdrom is null)
            return Fail(stderr, ExitStatus.Usage, "nothing to boot: give --kernel FILE, or a drive (--hda FILE, --cdrom FILE) for the BIOS to boot");

        // Everything the guest needs is read and checked before it starts: images, kernel, BIOS.
        byte[]? image = null, initrd = null, bios = null, vgaBios = null;
        string? what = null;
        try
        {
            if (o.Kernel is not null)
            {
                what = $"--kernel {o.Kernel}";
                image = KernelFile.Read(o.Kernel, (ulong)ramMiB << 20);
                if (o.Initrd is not null)
                {
                    what = $"--initrd {o.Initrd}";
                    initrd = KernelFile.Read(o.Initrd, (ulong)ramMiB << 20);
                    if (!LinuxLoader.IsBzImage(image)) return Fail(stderr, ExitStatus.Usage, "--initrd needs a Linux bzImage --kernel");
                }
            }
            else
            {
                string biosFile = o.Bios ?? DefaultBios;
                what = $"--bios {biosFile}";
                bios = KernelFile.Read(biosFile, 1 << 20);
                if (bios.Length % 0x1_0000 != 0 || bios.Length > 0x4_0000)
                    return Fail(stderr, ExitStatus.BadImage, $"{what}: a BIOS image is 64, 128, 192 or 256 KiB; this one is {bios.Length} bytes");
                if (File.Exists(DefaultVgaBios)) vgaBios = File.ReadAllBytes(DefaultVgaBios);
            }
        }
        catch (BootImageException e)
        {
            return Fail(stderr, ExitStatus.BadImage, $"{what}: {e.Message}");
        }

        DiskImage? hda = null, hdb = null, cdrom = null;
        try
        {
            if (o.Hda is not null) hda = DiskImage.OpenHardDisk(o.Hda, hdaMode);
            if (o.Hdb is not null) hdb = DiskImage.OpenHardDisk(o.Hdb, hdbMode);
            if (o.Cdrom is not null) cdrom = DiskImage.OpenCdrom(o.Cdrom);
        }
        catch (DiskImageException e)
        {
            hda?.Dispose();
            hdb?.Dispose();
            return Fail(stderr, ExitStatus.BadImage, e.Message);
        }
        using var disposeHda = hda;
        using var disposeHdb = hdb;
        using var disposeCdrom = cdrom;

        IExecutionEngine? engine = EngineKinds.Create(engineKind, o.JitThreshold);
        using var board = new Board(ramMiB, stdout, engine,
            new BoardOptions { Deterministic = o.Deterministic, Hda = hda, Hdb = hdb, Cdrom = cdrom });
        try
        {
            if (image is not null && LinuxLoader.IsBzImage(image)) board.BootLinux(image, initrd ?? Array.Empty<byte>(), o.Append);
            else if (image is not null) board.BootMultiboot(image, o.Append);
            else board.BootBios(bios!, vgaBios, o.Boot[0]);
        }
        catch (BootImageException e)
        {
            return Fail(stderr, ExitStatus.BadImage, $"{what}: {e.Message}");
        }
        if (engineKind == EngineKind.Lockstep) board.StartLockstep("translator");
        board.Notice = message => stderr.WriteLine($"emu: {message}");

        RunResult r;
        // The host side of the run (the console) ends with it, before any message is printed.
        using (onStart?.Invoke(board)) r = board.Run(o.MaxInstructions);
        if (o.ScreenDump is not null)
        {
            try
            {
                File.WriteAllText(o.ScreenDump, board.Vga.ScreenDump());
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                stderr.WriteLine($"emu: --screen-dump {o.ScreenDump}: {e.Message}");
            }
        }
        if (o.Stats) stderr.Write(RunStatistics.Report(board));
        if (r.Message is not null)
        {
            stderr.WriteLine($"emu: {r.Message}");
            if (r.Details is not null)
                foreach (string line in r.Details.Split('\n')) stderr.WriteLine($"  {line}");
        }
        return r.ExitStatus;
    }

    public const string DefaultBios = "/usr/share/seabios/bios-256k.bin";
    public const string DefaultVgaBios = "/usr/share/seabios/vgabios-isavga.bin";

    private static int Fail(TextWriter stderr, int status, string message)
    {
        stderr.WriteLine($"emu: {message}");
        return status;
    }

    /// <summary>A RAM size: a number of MiB, optionally with an M (MiB) or G (GiB) suffix.</summary>
    public static bool TryParseMemory(string text, out uint mib)
    {
        mib = 0;
        string t = text.Trim();
        ulong scale = 1;
        if (t.EndsWith('M') || t.EndsWith('m')) t = t[..^1];
        else if (t.EndsWith('G') || t.EndsWith('g')) { t = t[..^1]; scale = 1024; }
        if (!ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out ulong n)) return false;
        if (n > Board.MaxRamMiB) return false;
        n *= scale;
        if (n < Board.MinRamMiB || n > Board.MaxRamMiB) return false;
        mib = (uint)n;
        return true;
    }
}
