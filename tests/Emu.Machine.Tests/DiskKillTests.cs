using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text.RegularExpressions;
using System.Threading;

namespace Emu.Machine.Tests;

/// <summary>
/// Disks under a crash (issue 12): the emulator runs firmware/disk-writer on a --hda-mode rw
/// image (records written with ATA PIO WRITE SECTORS, FLUSH CACHE after every round or few
/// rounds, each step reported on the debug console) and is killed with SIGKILL at a random
/// moment. After every kill, every sector written by a round that the guest saw flushed holds
/// that round's record or a later one, no sector holds anything the guest did not write, and
/// the file's size is unchanged. The runs follow one another on the same file, alternating
/// the engines. EMU_KILL_RUNS=N runs N kills instead of the CI's 8.
/// </summary>
/// <remarks>
/// A killed process cannot lose what it handed to the host kernel, so the kill runs show that
/// the emulator keeps no write of its own back, and never truncates or extends the image. That
/// a flush reaches the host's disk before the guest hears of it (fsync, for a power cut or a
/// host crash) is shown by <see cref="FlushCacheCompletesOnlyAfterFsync"/>, under strace.
/// </remarks>
public sealed class DiskKillTests : IClassFixture<FirmwareFixture>, IDisposable
{
    private const int Sectors = 2048;   // a 1 MiB image
    private const uint Magic = 0x4C4C494B; // "KILL"

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    private readonly FirmwareFixture firmware;
    private readonly string dir = Directory.CreateTempSubdirectory("emu-kill-").FullName;

    public DiskKillTests(FirmwareFixture firmware) => this.firmware = firmware;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void EveryFlushedWriteSurvivesAKill()
    {
        int runs = int.TryParse(Environment.GetEnvironmentVariable("EMU_KILL_RUNS"), out int asked) && asked > 0 ? asked : 8;
        EnsureBuilt();
        string image = Path.Combine(dir, "disk.img");
        var initial = new byte[Sectors * 512];
        new Random(12).NextBytes(initial); // whatever the disk held before: never a valid record
        File.WriteAllBytes(image, initial);
        var random = new Random(2026);
        long flushedRounds = 0, checkedSectors = 0;
        for (int run = 1; run <= runs; run++)
        {
            byte[] before = File.ReadAllBytes(image);
            string engine = run % 2 == 0 ? "translator" : "interpreter";
            int seed = random.Next(1, int.MaxValue), every = random.Next(1, 4), delayMs = random.Next(0, 1500);
            List<string> lines = RunAndKill(image, $"run={run} seed={seed} flush={every}", engine, delayMs);

            string what = $"run {run} ({engine}, seed {seed}, flush every {every}, killed {delayMs} ms after the guest started writing)";
            byte[] after = File.ReadAllBytes(image);
            Assert.True(after.Length == before.Length, $"{what}: the image was {before.Length} bytes and is {after.Length}");
            var log = WriteLog.Parse(lines, what);
            Assert.True(log.Sectors == Sectors, $"{what}: the guest saw {log.Sectors} sectors");
            for (int s = 0; s < Sectors; s++)
            {
                string? problem = log.Check(run, s, before.AsSpan(s * 512, 512), after.AsSpan(s * 512, 512));
                Assert.True(problem is null, $"{what}: sector {s}: {problem}");
            }
            flushedRounds += log.Flushed;
            checkedSectors += log.WrittenSectors;
        }
        // The runs did what they are for: many rounds flushed before the kills.
        Assert.True(flushedRounds > runs * 10, $"only {flushedRounds} flushed rounds in {runs} runs");
        Assert.True(checkedSectors > 0);
    }

    /// <summary>
    /// Under strace: every "f R" line (FLUSH CACHE completed) is written after an fsync of the
    /// image that follows the last write into it, so a flush the guest has seen completed is on
    /// the host's disk, not just in its page cache.
    /// </summary>
    [Fact]
    public void FlushCacheCompletesOnlyAfterFsync()
    {
        EnsureBuilt();
        EnsureStrace();
        string image = Path.Combine(dir, "traced.img");
        File.WriteAllBytes(image, new byte[Sectors * 512]);
        string trace = Path.Combine(dir, "trace.txt");
        List<string> lines = RunAndKill(image, "run=1 seed=5 flush=2", "interpreter", 1500,
            new[] { "strace", "-f", "-qq", "-e", "trace=openat,pwrite64,pwritev,write,fsync,fdatasync", "-o", trace });
        var log = WriteLog.Parse(lines, "the traced run");
        Assert.True(log.Flushed >= 5, $"only {log.Flushed} flushes in the traced run");

        string? imageFd = null;
        bool dirty = false;
        int flushes = 0;
        foreach (string line in File.ReadLines(trace))
        {
            Match open = Regex.Match(line, @"openat\(AT_FDCWD, """ + Regex.Escape(image) + @""", O_RDWR.*\) = (\d+)");
            if (open.Success)
            {
                imageFd = open.Groups[1].Value;
                continue;
            }
            if (imageFd is null) continue;
            if (Regex.IsMatch(line, @"\bpwrite(64|v)\(" + imageFd + ","))
                dirty = true;
            else if (Regex.IsMatch(line, @"\b(fsync|fdatasync)\(" + imageFd + @"\)\s+= 0"))
                dirty = false;
            else if (Regex.IsMatch(line, @"\bwrite\(\d+, ""f \d+\\n"""))
            {
                Assert.False(dirty, $"the guest was told a flush completed before the image's writes were synced: {line}");
                flushes++;
            }
        }
        Assert.True(imageFd is not null, "strace saw no read-write open of the image");
        Assert.True(flushes >= 5, $"strace saw {flushes} completed flushes");
    }

    /// <summary>
    /// Under strace: in cow and ro mode the image is opened read-only and nothing is written to
    /// it, whatever the guest does (cow: the writes land in memory and the guest runs on; ro: the
    /// first WRITE SECTORS fails, the guest says so and stops).
    /// </summary>
    [Theory]
    [InlineData("cow")]
    [InlineData("ro")]
    public void CowAndRoImagesAreNeverOpenedForWriting(string mode)
    {
        EnsureBuilt();
        EnsureStrace();
        string image = Path.Combine(dir, mode + ".img");
        File.WriteAllBytes(image, new byte[Sectors * 512]);
        byte[] before = File.ReadAllBytes(image);
        string trace = Path.Combine(dir, "trace.txt");
        string[] wrapper = { "strace", "-f", "-qq", "-e", "trace=openat,pwrite64,pwritev,write,fsync,fdatasync", "-o", trace };
        if (mode == "cow")
        {
            var log = WriteLog.Parse(RunAndKill(image, "run=1 seed=9", "interpreter", 1000, wrapper, mode), "the cow run");
            Assert.True(log.Flushed >= 5, $"only {log.Flushed} flushes in the cow run");
        }
        else
        {
            List<string> command = Command(image, "run=1 seed=9", "interpreter", mode, wrapper);
            Repository.ProcessResult r = Repository.Run(command[0], command.GetRange(1, command.Count - 1).ToArray(), Timeout);
            Assert.Equal(35, r.ExitCode); // FW_EXIT_FAIL
            Assert.Contains("WRITE SECTORS: status 0x41, error 0x04", r.StdoutText, StringComparison.Ordinal); // DRDY ERR, ABRT
        }
        int opens = 0;
        var fds = new HashSet<string>();
        foreach (string line in File.ReadLines(trace))
        {
            Match open = Regex.Match(line, @"openat\(AT_FDCWD, """ + Regex.Escape(image) + @""", (\w+).*\) = (\d+)");
            if (open.Success)
            {
                Assert.True(open.Groups[1].Value == "O_RDONLY", $"the {mode} image was opened {open.Groups[1].Value}: {line}");
                fds.Add(open.Groups[2].Value);
                opens++;
            }
            foreach (string fd in fds)
                Assert.False(Regex.IsMatch(line, @"\b(pwrite64|pwritev|write)\(" + fd + ","), $"the {mode} image was written: {line}");
        }
        Assert.True(opens > 0, $"strace saw no open of the {mode} image");
        Assert.Equal(before, File.ReadAllBytes(image));
    }

    private static void EnsureStrace()
    {
        Repository.ProcessResult ensure = Repository.Run("bash", new[] { Path.Combine(Repository.Root, "tools", "ensure-packages.sh"), "strace" }, Timeout);
        Assert.True(ensure.ExitCode == 0, $"strace is needed and could not be installed: {ensure.Stderr}");
    }

    /// <summary>./emu builds the emulator when its sources changed: do that before anything is timed or traced.</summary>
    private static void EnsureBuilt()
    {
        Repository.ProcessResult r = Repository.Run(Path.Combine(Repository.Root, "emu"), new[] { "--version" }, Timeout);
        Assert.True(r.ExitCode == 0, $"./emu --version: {r.Stderr}");
    }

    /// <summary>The command line that runs the disk writer on <paramref name="image"/>, after the wrapper's words.</summary>
    private List<string> Command(string image, string append, string engine, string mode, string[]? wrapper) =>
        new List<string>(wrapper ?? Array.Empty<string>())
        {
            Path.Combine(Repository.Root, "emu"), "run", "--kernel", firmware.Elf("disk-writer"), "--memory", "16M",
            "--engine", engine, "--hda", image, "--hda-mode", mode, "--append", append,
        };

    /// <summary>
    /// Starts the disk writer on <paramref name="image"/>, waits until it has started writing
    /// and <paramref name="delayMs"/> more, kills the emulator with SIGKILL, and returns the
    /// whole lines it printed.
    /// </summary>
    private List<string> RunAndKill(string image, string append, string engine, int delayMs, string[]? wrapper = null, string mode = "rw")
    {
        List<string> args = Command(image, append, engine, mode, wrapper);
        var psi = new ProcessStartInfo(args[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args.GetRange(1, args.Count - 1)) psi.ArgumentList.Add(a);
        var lines = new List<string>();
        using var started = new ManualResetEventSlim();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {args[0]}");
        var reader = new Thread(() =>
        {
            // Whole lines only: the last one may be cut by the kill.
            var pending = new System.Text.StringBuilder();
            int c;
            while ((c = p.StandardOutput.Read()) >= 0)
            {
                if (c != '\n')
                {
                    pending.Append((char)c);
                    continue;
                }
                lock (lines) lines.Add(pending.ToString());
                pending.Clear();
                if (lines.Count >= 2) started.Set();
            }
            started.Set();
        }) { IsBackground = true };
        reader.Start();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(started.Wait(Timeout), "the disk writer did not start writing");
        Thread.Sleep(delayMs);
        bool exitedFirst = p.HasExited;
        // The emulator, not the wrapper, must die abruptly: with strace, kill the traced child too.
        p.Kill(entireProcessTree: true);
        Assert.True(p.WaitForExit(Timeout), "the emulator did not die");
        reader.Join();
        Assert.False(exitedFirst, $"the emulator ended on its own (status {p.ExitCode}): {stderr.Result}");
        lock (lines) return new List<string>(lines);
    }

    /// <summary>What the disk writer reported: the disk's size, each round's sectors, the last flushed round.</summary>
    private sealed class WriteLog
    {
        private readonly List<(uint Round, long First, int Count)> writes = new();

        public long Sectors { get; private set; }

        /// <summary>The last round reported flushed (0: none).</summary>
        public uint Flushed { get; private set; }

        /// <summary>The last round reported written.</summary>
        public uint LastWritten { get; private set; }

        public long WrittenSectors { get; private set; }

        public static WriteLog Parse(List<string> lines, string what)
        {
            var log = new WriteLog();
            foreach (string line in lines)
            {
                string[] f = line.Split(' ');
                if (f[0] == "disk" && f.Length == 2) log.Sectors = long.Parse(f[1]);
                else if (f[0] == "w" && f.Length == 4)
                {
                    uint round = uint.Parse(f[1]);
                    Assert.True(round == log.LastWritten + 1, $"{what}: round {round} reported after {log.LastWritten}");
                    log.writes.Add((round, long.Parse(f[2]), int.Parse(f[3])));
                    log.LastWritten = round;
                    log.WrittenSectors += int.Parse(f[3]);
                }
                else if (f[0] == "f" && f.Length == 2) log.Flushed = uint.Parse(f[1]);
                else Assert.Fail($"{what}: unexpected line from the guest: {line}");
            }
            return log;
        }

        private bool Wrote(uint round, long sector)
        {
            if (round == LastWritten + 1) return true; // in flight at the kill: may have written anything
            if (round == 0 || round > LastWritten) return false;
            var (_, first, count) = writes[(int)round - 1];
            return sector >= first && sector < first + count;
        }

        /// <summary>Null if the sector's content is one the guest's reports allow, else what is wrong.</summary>
        public string? Check(int run, long sector, ReadOnlySpan<byte> before, ReadOnlySpan<byte> after)
        {
            uint mustHave = 0; // the last flushed round that wrote the sector
            foreach (var (round, first, count) in writes)
                if (round <= Flushed && sector >= first && sector < first + count) mustHave = round;
            uint? found = RecordRound(run, sector, after);
            if (found is uint r)
            {
                if (!Wrote(r, sector)) return $"holds a record of round {r}, which did not write it";
                if (r < mustHave) return $"holds round {r}'s record, but round {mustHave} wrote it and was flushed";
                return null;
            }
            if (mustHave != 0) return $"round {mustHave} wrote it and was flushed, but it holds no record of this run";
            return after.SequenceEqual(before) ? null : "changed, but not to a record the guest wrote";
        }

        /// <summary>The round of this run's record for <paramref name="sector"/> held in <paramref name="data"/>, or null.</summary>
        private static uint? RecordRound(int run, long sector, ReadOnlySpan<byte> data)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(data) != Magic) return null;
            if (BinaryPrimitives.ReadUInt32LittleEndian(data[4..]) != (uint)run) return null;
            if (BinaryPrimitives.ReadUInt32LittleEndian(data[12..]) != (uint)sector) return null;
            uint round = BinaryPrimitives.ReadUInt32LittleEndian(data[8..]);
            Span<byte> expected = stackalloc byte[512];
            MakeRecord(expected, (uint)run, round, (uint)sector);
            return data.SequenceEqual(expected) ? round : null;
        }
    }

    /// <summary>The record firmware/disk-writer writes for (run, round, sector).</summary>
    private static void MakeRecord(Span<byte> r, uint run, uint round, uint sector)
    {
        Span<uint> w = stackalloc uint[128];
        w[0] = Magic;
        w[1] = run;
        w[2] = round;
        w[3] = sector;
        uint x = (run * 0x9E3779B9u) ^ (round * 0x85EBCA6Bu) ^ (sector * 0xC2B2AE35u) ^ 1u;
        for (int i = 4; i < 127; i++)
        {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            w[i] = x;
        }
        for (int i = 0; i < 127; i++) BinaryPrimitives.WriteUInt32LittleEndian(r[(i * 4)..], w[i]);
        BinaryPrimitives.WriteUInt32LittleEndian(r[508..], Crc32(r[..508]));
    }

    /// <summary>CRC-32 (IEEE 802.3, reflected), as the firmware runtime's fw_crc32.</summary>
    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFF_FFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB8_8320u & (0u - (crc & 1)));
        }
        return ~crc;
    }
}
