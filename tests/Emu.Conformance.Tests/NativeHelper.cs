using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace Emu.Conformance.Tests;

/// <summary>The host's selectors as the native helper saw them (the emulator loads the same values).</summary>
public readonly record struct HostSelectors(ushort Cs, ushort Ds, ushort Fs, ushort Gs);

/// <summary>
/// The native helper (native/*.c, *.S): a 64-bit program that runs the cases in 32-bit
/// compatibility mode (native/compat32.h), compiled at test time with gcc into the test's
/// output directory, rebuilt when a source is newer than the binary, and run once per batch.
/// </summary>
public static class NativeHelper
{
    private static readonly object BuildLock = new();
    private static string? built;

    public const string MissingCompiler = "gcc not available: install gcc (the README's test command does)";

    /// <summary>The helper's exit status when the machine cannot run 32-bit user code (compat32.h's EXIT_NO_COMPAT).</summary>
    public const int ExitNoCompat = 3;

    /// <summary>
    /// Fails once, with the helper's one-paragraph explanation, when this machine cannot run
    /// 32-bit code at all (rather than once per batch): call before running batches in parallel.
    /// </summary>
    public static void RequireHost() => RunBatch(DifferentialRun.Image(1), Array.Empty<TestCase>());

    /// <summary>The helper's path, building it first when needed.</summary>
    public static string EnsureBuilt()
    {
        lock (BuildLock)
        {
            if (built is not null) return built;
            string src = Path.Combine(AppContext.BaseDirectory, "native");
            string outDir = Path.Combine(AppContext.BaseDirectory, "native-bin");
            string exe = Path.Combine(outDir, "conformance_helper");
            string[] sources = Directory.GetFiles(src).Where(f => f.EndsWith(".c") || f.EndsWith(".S") || f.EndsWith(".h")).ToArray();
            if (sources.Length == 0) throw new InvalidOperationException($"native helper sources not found in {src}");
            DateTime newest = sources.Max(File.GetLastWriteTimeUtc);
            if (!File.Exists(exe) || File.GetLastWriteTimeUtc(exe) < newest)
            {
                Directory.CreateDirectory(outDir);
                // -no-pie: the 32-bit code reaches the helper's code and data with 32-bit addresses.
                var args = new List<string> { "-m64", "-O2", "-fno-pie", "-no-pie", "-fno-stack-protector", "-Wall", "-o", exe + ".tmp" };
                args.AddRange(sources.Where(f => !f.EndsWith(".h")));
                var (code, _, err) = Run("gcc", args, TimeSpan.FromMinutes(2));
                if (code != 0) throw new InvalidOperationException("building the native helper failed\n" + err);
                File.Move(exe + ".tmp", exe, overwrite: true);
            }
            built = exe;
            return exe;
        }
    }

    /// <summary>Runs <paramref name="cases"/> natively and returns the host's selectors and one result per case.</summary>
    public static (HostSelectors Host, CaseResult[] Results) RunBatch(byte[] image, IReadOnlyList<TestCase> cases)
    {
        string exe = EnsureBuilt();
        byte[] input = Encode(image, cases);
        var (code, output, err) = RunBinary(exe, input, TimeSpan.FromMinutes(5));
        if (code == ExitNoCompat) throw new InvalidOperationException(err.Trim());
        var (host, results, done) = Decode(output, cases.Count);
        if (code != 0 || done < cases.Count)
        {
            string at = done < cases.Count ? $" at case {cases[done].Index} of {cases[done].Form.Key} ({cases[done].CodeHex} {cases[done].Disassemble()})" : "";
            throw new InvalidOperationException($"native helper exited with {code} after {done} of {cases.Count} cases{at}: {err}");
        }
        return (host, results);
    }

    private static byte[] Encode(byte[] image, IReadOnlyList<TestCase> cases)
    {
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write("CNF1"u8);
        w.Write((uint)cases.Count);
        w.Write(image);
        foreach (TestCase c in cases)
        {
            foreach (uint r in c.Gpr) w.Write(r);
            w.Write(c.Eflags);
            w.Write(c.Mode);
            w.Write((byte)0);
            w.Write((ushort)c.Patches.Count);
            w.Write(c.Code);
            foreach (Patch p in c.Patches)
            {
                w.Write(p.Offset);
                w.Write((ushort)p.Bytes.Length);
                w.Write(p.Bytes);
            }
        }
        w.Flush();
        return ms.ToArray();
    }

    private static (HostSelectors, CaseResult[], int) Decode(byte[] output, int count)
    {
        var r = new BinaryReader(new MemoryStream(output));
        if (output.Length < 20 || r.ReadUInt32() != 0x31534552u) throw new InvalidOperationException("native helper: bad output header");
        var host = new HostSelectors((ushort)r.ReadUInt32(), (ushort)r.ReadUInt32(), (ushort)r.ReadUInt32(), (ushort)r.ReadUInt32());
        var results = new CaseResult[count];
        for (int n = 0; n < count; n++)
        {
            if (r.BaseStream.Position >= output.Length) return (host, results, n);
            try
            {
                results[n] = ReadResult(r);
            }
            catch (EndOfStreamException)
            {
                return (host, results, n); // the helper died while writing this record
            }
        }
        return (host, results, count);
    }

    private static CaseResult ReadResult(BinaryReader r)
    {
        var res = new CaseResult { Status = (int)r.ReadUInt32(), ExitId = (int)r.ReadUInt32() };
        for (int i = 0; i < 8; i++) res.Gpr[i] = r.ReadUInt32();
        res.Eflags = r.ReadUInt32();
        res.Eip = r.ReadUInt32();
        res.Vector = (int)r.ReadUInt32();
        res.ErrorCode = r.ReadUInt32();
        res.Cs = r.ReadUInt32();
        uint changed = r.ReadUInt32();
        for (uint i = 0; i < changed; i++)
        {
            ushort off = r.ReadUInt16();
            byte v = r.ReadByte();
            r.ReadByte();
            res.Changes.Add((off, v));
        }
        return res;
    }

    private static (int, byte[], string) RunBinary(string exe, byte[] input, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {exe}");
        var stdout = new MemoryStream();
        Task readOut = p.StandardOutput.BaseStream.CopyToAsync(stdout);
        Task<string> readErr = p.StandardError.ReadToEndAsync();
        Task write = Task.Run(() =>
        {
            try
            {
                p.StandardInput.BaseStream.Write(input);
                p.StandardInput.Close();
            }
            catch (IOException)
            {
                // The helper died early; its exit code and stderr say why.
            }
        });
        if (!p.WaitForExit(timeout))
        {
            p.Kill();
            throw new TimeoutException($"native helper did not finish in {timeout}");
        }
        write.Wait();
        readOut.Wait();
        return (p.ExitCode, stdout.ToArray(), readErr.Result);
    }

    private static (int, string, string) Run(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) psi.ArgumentList.Add(a);
        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{file} not found ({e.Message}): " + MissingCompiler);
        }
        using (p)
        {
            Task<string> o = p.StandardOutput.ReadToEndAsync();
            Task<string> e = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(timeout))
            {
                p.Kill();
                throw new TimeoutException($"{file} did not finish in {timeout}");
            }
            return (p.ExitCode, o.Result, e.Result);
        }
    }
}
