using System;
using System.Diagnostics;
using System.IO;
using System.Text;

namespace Emu.Machine.Benchmarks;

/// <summary>One run of a workload in QEMU: the wall time of the whole process and what the guest printed.</summary>
public sealed record QemuResult(TimeSpan Elapsed, string Output);

/// <summary>
/// Runs a workload in <c>qemu-system-i386 -accel tcg</c>, the peer the design measures us
/// against: the same Multiboot image, the same command line, the debug console (0xE9) into a
/// file and QEMU's isa-debug-exit at 0xF4, so a pass exits with status 33 as ours does.
/// </summary>
public sealed class QemuRun
{
    public const string DefaultProgram = "qemu-system-i386";

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    public QemuRun(string path) => Path = path;

    /// <summary>The qemu-system-i386 executable.</summary>
    public string Path { get; }

    /// <summary><paramref name="program"/> as given when it holds a directory separator, else the first on PATH; null when there is none.</summary>
    public static string? Find(string program = DefaultProgram)
    {
        if (program.Contains(System.IO.Path.DirectorySeparatorChar)) return File.Exists(program) ? System.IO.Path.GetFullPath(program) : null;
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = System.IO.Path.Combine(dir, program);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>The first line of <c>--version</c>, e.g. "QEMU emulator version 8.2.2".</summary>
    public string Version()
    {
        var psi = new ProcessStartInfo(Path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("--version");
        using Process p = Process.Start(psi) ?? throw new IOException($"cannot start {Path}");
        string text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return text.Split('\n')[0].Trim();
    }

    /// <summary>Boots the workload at <paramref name="imagePath"/> with <c>rounds=<paramref name="rounds"/></c> and waits for it; checks that it passed.</summary>
    public QemuResult Run(Workload w, string imagePath, uint rounds)
    {
        string console = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"emu-bench-qemu-{Environment.ProcessId}-{w.Name}.txt");
        var psi = new ProcessStartInfo(Path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[]
                 {
                     "-accel", "tcg", "-m", "32", "-display", "none", "-no-reboot", "-nodefaults",
                     "-kernel", imagePath, "-append", $"rounds={rounds}",
                     "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-debugcon", $"file:{console}",
                     "-serial", "none", "-monitor", "none",
                 })
            psi.ArgumentList.Add(a);
        try
        {
            long t0 = Stopwatch.GetTimestamp();
            using Process p = Process.Start(psi) ?? throw new IOException($"cannot start {Path}");
            var stderr = p.StandardError.ReadToEndAsync();
            p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(Timeout))
            {
                p.Kill();
                throw new WorkloadFailedException($"workload {w.Name} in QEMU did not finish within {Timeout.TotalMinutes} minutes");
            }
            TimeSpan elapsed = Stopwatch.GetElapsedTime(t0);
            string text = File.Exists(console) ? Encoding.ASCII.GetString(File.ReadAllBytes(console)) : "";
            if (p.ExitCode != WorkloadRun.PassStatus)
            {
                string why = stderr.Result.Trim().Length > 0 ? $"; QEMU said: {stderr.Result.Trim()}"
                    : text.Trim().Length > 0 ? $"; its last words: {text.Trim().Split('\n')[^1]}" : ", printing nothing";
                throw new WorkloadFailedException($"workload {w.Name} in QEMU ({Path}) ended with status {p.ExitCode} (33 is a pass){why}");
            }
            return new QemuResult(elapsed, text);
        }
        finally
        {
            File.Delete(console);
        }
    }
}
