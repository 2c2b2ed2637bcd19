using System;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Threading;

namespace Emu.Machine.Tests;

/// <summary>The repository the tests run in, and its scripts run as child processes.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (string? d = AppContext.BaseDirectory; d is not null; d = Path.GetDirectoryName(d))
            if (File.Exists(Path.Combine(d, "Emulator.sln")) && File.Exists(Path.Combine(d, "emu"))) return d;
        throw new InvalidOperationException($"no repository root (Emulator.sln and ./emu) above {AppContext.BaseDirectory}");
    }

    public sealed record ProcessResult(int ExitCode, byte[] Stdout, string Stderr)
    {
        public string StdoutText => Encoding.UTF8.GetString(Stdout);
    }

    /// <summary>Runs a program with arguments (no shell), capturing stdout as bytes; fails the test past the timeout.</summary>
    public static ProcessResult Run(string program, string[] args, TimeSpan timeout, Action<Process>? whileRunning = null, string? stdin = null)
    {
        var psi = new ProcessStartInfo(program)
        {
            WorkingDirectory = Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {program}");
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var stdout = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(stdout);
        var stderr = p.StandardError.ReadToEndAsync();
        whileRunning?.Invoke(p);
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in {timeout}");
        }
        p.WaitForExit();
        copy.Wait();
        return new ProcessResult(p.ExitCode, stdout.ToArray(), stderr.Result);
    }
}

/// <summary>Builds the firmware programs once per test run, with firmware/build.sh as the README does.</summary>
public sealed class FirmwareFixture
{
    private readonly Lazy<string> dir = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The path of build/firmware/NAME.elf, building the firmware first if needed.</summary>
    public string Elf(string name) => Path.Combine(dir.Value, name + ".elf");

    private static string Build()
    {
        Repository.ProcessResult r = Repository.Run("bash", new[] { Path.Combine(Repository.Root, "firmware", "build.sh") }, TimeSpan.FromMinutes(5));
        if (r.ExitCode != 0)
            throw new InvalidOperationException($"firmware/build.sh failed with status {r.ExitCode}:\n{r.StdoutText}{r.Stderr}");
        return Path.Combine(Repository.Root, "build", "firmware");
    }
}
