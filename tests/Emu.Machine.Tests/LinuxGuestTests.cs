using System;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace Emu.Machine.Tests;

/// <summary>
/// The project's guest (guest/build-guest.sh: Debian's i386 kernel and busybox) boots on the
/// translator, directly and through SeaBIOS from its disk image, runs its workload and prints
/// exactly the values guest/README.md lists, then powers off through ACPI. tools/test.sh builds
/// the guest and passes its folder in EMU_GUEST_DIR.
/// </summary>
public class LinuxGuestTests
{
    /// <summary>Every line the workload prints, after the time where there is one.</summary>
    public static readonly string[] ExpectedLines =
    {
        "BOOT-OK <t>",
        "GUEST 6.1.0-50-686 i686 cpus=1",
        "MARK loop-start <t>",
        "MARK loop-done <t> s=670626",
        "MARK md5-start <t>",
        "MARK md5-done <t> md5=58f06dd588d8ffb3beb46ada6309436b",
        "MARK gen-start <t>",
        "MARK gen-done <t> size=8388608",
        "CHECK rand-md5=6c19394f5505443fc5e4945473fd7256",
        "MARK gzip-start <t>",
        "MARK gzip-done <t> size=4757631",
        "CHECK gz-md5=2400f320658ee9b7763fec0b97bc7e64",
        "MARK fork-start <t>",
        "MARK fork-done <t> forks=201",
        "ALL-DONE <t>",
    };

    /// <summary>How long a boot with the workload may take before the test fails (about a minute on the translator).</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(5);

    private readonly ITestOutputHelper output;

    public LinuxGuestTests(ITestOutputHelper output) => this.output = output;

    internal static string GuestDir()
    {
        string dir = Environment.GetEnvironmentVariable("EMU_GUEST_DIR") is { Length: > 0 } d ? d : Path.Combine(Repository.Root, "guest", "out");
        foreach (string f in new[] { "vmlinuz", "vmlinuz-pae", "initrd.gz", "disk.img" })
            if (!File.Exists(Path.Combine(dir, f)))
                throw new InvalidOperationException($"the guest is not built: {Path.Combine(dir, f)} is missing; run guest/build-guest.sh (tools/test.sh does)");
        return dir;
    }

    // The guest runs in ./emu (the Release build, as a user runs it): the tests themselves are a
    // Debug build, several times slower, and a boot would take minutes there.

    /// <summary>./emu boots the guest's kernel and initrd directly on the translator, its output logged.</summary>
    private Repository.ProcessResult DirectBoot(string append, string? stdin = null, string kernel = "vmlinuz")
    {
        string dir = GuestDir();
        Repository.ProcessResult r = Repository.Run(Path.Combine(Repository.Root, "emu"), new[]
        {
            "run", "--kernel", Path.Combine(dir, kernel), "--initrd", Path.Combine(dir, "initrd.gz"),
            "--append", append, "--memory", "256", "--engine", "translator",
        }, Bound, stdin: stdin);
        output.WriteLine(r.StdoutText);
        output.WriteLine(r.Stderr);
        return r;
    }

    [Fact]
    public void DirectBootRunsTheWorkloadAndPowersOff()
    {
        CheckWorkload(DirectBoot("console=ttyS0 quiet panic=-1"));
    }

    /// <summary>
    /// Debian's default flavour for anything newer than a Pentium Pro, 686-pae, turns on PAE
    /// paging in its first instructions and uses NX: the same workload prints the same values.
    /// </summary>
    [Fact]
    public void ThePaeKernelBootsWithNxAndRunsTheWorkload()
    {
        Repository.ProcessResult r = DirectBoot("console=ttyS0 panic=-1", kernel: "vmlinuz-pae");
        string[] expected = ExpectedLines.Select(l => l.StartsWith("GUEST ", StringComparison.Ordinal) ? "GUEST 6.1.0-50-686-pae i686 cpus=1" : l).ToArray();
        CheckWorkload(r.StdoutText, r.ExitCode, r.Stderr, expected);
        Assert.Contains("NX (Execute Disable) protection: active", r.StdoutText, StringComparison.Ordinal);
    }

    /// <summary>
    /// Commands piped in before the guest has booted wait for its serial port to listen, and
    /// none is lost: the shell runs them and the last powers the machine off.
    /// </summary>
    [Fact]
    public void PipedCommandsReachTheGuestsShell()
    {
        Repository.ProcessResult r = DirectBoot("console=ttyS0 quiet panic=-1 mode=shell", stdin: "echo hi-$((6*7))\npoweroff -f\n");
        Assert.Equal(ExitStatus.Success, r.ExitCode);
        Assert.Contains("\nhi-42", r.StdoutText.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Equal("emu: the guest powered the machine off\n", r.Stderr);
    }

    [Fact]
    public void SeaBiosBootsTheDiskImageAndTheWorkloadRuns()
    {
        string dir = GuestDir();
        string disk = Path.Combine(dir, "disk.img");
        string screen = Path.Combine(Path.GetTempPath(), $"emu-screen-{Environment.ProcessId}.txt");
        byte[] before = File.ReadAllBytes(disk);
        Repository.ProcessResult r = Repository.Run(Path.Combine(Repository.Root, "emu"), new[]
        {
            "run", "--hda", disk, "--memory", "256", "--engine", "translator", "--screen-dump", screen,
        }, Bound);
        output.WriteLine(r.StdoutText);
        output.WriteLine(r.Stderr);
        CheckWorkload(r);
        // SeaBIOS and syslinux wrote their banners on the VGA text screen.
        string text = File.ReadAllText(screen);
        File.Delete(screen);
        output.WriteLine(text);
        Assert.Contains("SeaBIOS (version 1.16.2", text, StringComparison.Ordinal);
        Assert.Contains("SYSLINUX", text, StringComparison.Ordinal);
        // Copy-on-write (the default) keeps the image file as it was, byte for byte.
        Assert.True(before.AsSpan().SequenceEqual(File.ReadAllBytes(disk)), "the disk image changed under --hda-mode cow");
    }

    [Fact]
    public void DeterministicRunsPrintTheSameBytes()
    {
        // --deterministic: the clock counts retired instructions, so every uptime the guest
        // prints, and every kernel timestamp, repeats exactly, even with the translator
        // compiling on its background thread.
        string dir = GuestDir();
        string[] args =
        {
            "run", "--kernel", Path.Combine(dir, "vmlinuz"), "--initrd", Path.Combine(dir, "initrd.gz"),
            "--append", "console=ttyS0 panic=-1", "--memory", "256", "--engine", "translator", "--deterministic",
        };
        Repository.ProcessResult first = Repository.Run(Path.Combine(Repository.Root, "emu"), args, Bound);
        Repository.ProcessResult second = Repository.Run(Path.Combine(Repository.Root, "emu"), args, Bound);
        output.WriteLine(first.StdoutText);
        CheckWorkload(first);
        Assert.Equal(first.StdoutText, second.StdoutText);
    }

    private static void CheckWorkload(Repository.ProcessResult r)
    {
        CheckWorkload(r.StdoutText, r.ExitCode, r.Stderr);
    }

    /// <summary>The workload's lines in order with the expected values, then the power-off.</summary>
    internal static void CheckWorkload(string text, int exitStatus, string stderr, string[]? expectedLines = null)
    {
        string[] lines = text.Replace("\r", "").Split('\n');
        int at = 0;
        var time = new Regex(@"^[0-9]+\.[0-9]+$");
        foreach (string expected in expectedLines ?? ExpectedLines)
        {
            string[] want = expected.Split(' ');
            bool found = false;
            for (; at < lines.Length && !found; at++)
            {
                string[] got = lines[at].Trim().Split(' ');
                if (got.Length != want.Length || got[0] != want[0]) continue;
                found = want.Zip(got).All(p => p.First == "<t>" ? time.IsMatch(p.Second) : p.First == p.Second);
                if (!found) Assert.Fail($"the guest printed \"{lines[at].Trim()}\", expected \"{expected}\"");
            }
            Assert.True(found, $"the guest never printed \"{expected}\" (the run ended with status {exitStatus}: {stderr.Trim()})");
        }
        Assert.Equal("emu: the guest powered the machine off", stderr.Trim());
        Assert.Equal(ExitStatus.Success, exitStatus);
    }
}
