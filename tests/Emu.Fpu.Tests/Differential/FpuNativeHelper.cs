using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using Emu.Conformance.Tests;

namespace Emu.Fpu.Tests.Differential;

/// <summary>The host's selectors as the native helper saw them (the emulator loads the same values).</summary>
public readonly record struct HostSelectors(ushort Cs, ushort Ds, ushort Fs, ushort Gs);

/// <summary>
/// The native helper (native/fpu_helper.c, fpu_trampoline.S, and the integer suite's
/// layout.h and compat32.h): a 64-bit program that runs the cases in 32-bit compatibility
/// mode, compiled at test time with gcc into the output directory, rebuilt when a source is
/// newer than the binary, and run once per batch of cases.
/// </summary>
public static class FpuNativeHelper
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
    public static void RequireHost() => RunBatch(new byte[Layout.DataSize], Array.Empty<FpuCase>());

    public static string EnsureBuilt()
    {
        lock (BuildLock)
        {
            if (built is not null) return built;
            string src = Path.Combine(AppContext.BaseDirectory, "native");
            string outDir = Path.Combine(AppContext.BaseDirectory, "native-bin");
            string exe = Path.Combine(outDir, "fpu_helper");
            // Not x87_oracle64.c: that is FastPathHostTests' own program.
            string[] sources = Directory.GetFiles(src).Where(f => Path.GetFileName(f).StartsWith("fpu_") && (f.EndsWith(".c") || f.EndsWith(".S"))
                || f.EndsWith(".h")).ToArray();
            if (sources.Length == 0) throw new InvalidOperationException($"native helper sources not found in {src}");
            DateTime newest = sources.Max(File.GetLastWriteTimeUtc);
            if (!File.Exists(exe) || File.GetLastWriteTimeUtc(exe) < newest)
            {
                Directory.CreateDirectory(outDir);
                var psi = new ProcessStartInfo("gcc") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                // -no-pie: the 32-bit code reaches the helper's code and data with 32-bit addresses.
                foreach (string a in new[] { "-m64", "-O2", "-fno-pie", "-no-pie", "-fno-stack-protector", "-Wall", "-o", exe + ".tmp" }) psi.ArgumentList.Add(a);
                foreach (string s in sources.Where(f => !f.EndsWith(".h"))) psi.ArgumentList.Add(s);
                Process p;
                try
                {
                    p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start gcc");
                }
                catch (System.ComponentModel.Win32Exception e)
                {
                    throw new InvalidOperationException($"gcc not found ({e.Message}): " + MissingCompiler);
                }
                using (p)
                {
                    Task<string> err = p.StandardError.ReadToEndAsync();
                    p.StandardOutput.ReadToEnd();
                    p.WaitForExit();
                    if (p.ExitCode != 0) throw new InvalidOperationException("building fpu_helper failed\n" + err.Result);
                }
                File.Move(exe + ".tmp", exe, overwrite: true);
            }
            built = exe;
            return exe;
        }
    }

    public static (HostSelectors Host, FpuResult[] Results) RunBatch(byte[] image, IReadOnlyList<FpuCase> cases)
    {
        string exe = EnsureBuilt();
        byte[] input = Encode(image, cases);
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
        if (!p.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            p.Kill();
            throw new TimeoutException("fpu_helper did not finish in 5 minutes");
        }
        write.Wait();
        readOut.Wait();
        if (p.ExitCode == ExitNoCompat) throw new InvalidOperationException(readErr.Result.Trim());
        byte[] output = stdout.ToArray();
        var r = new BinaryReader(new MemoryStream(output));
        if (output.Length < 20 || r.ReadUInt32() != 0x31535246u) throw new InvalidOperationException("fpu_helper: bad output header: " + readErr.Result);
        var host = new HostSelectors((ushort)r.ReadUInt32(), (ushort)r.ReadUInt32(), (ushort)r.ReadUInt32(), (ushort)r.ReadUInt32());
        var results = new FpuResult[cases.Count];
        int done = 0;
        try
        {
            for (; done < cases.Count; done++) results[done] = ReadResult(r);
        }
        catch (EndOfStreamException)
        {
        }
        if (p.ExitCode != 0 || done < cases.Count)
        {
            string at = done < cases.Count ? $" at case {cases[done].Index} of {cases[done].Form.Key} ({cases[done].CodeHex} {cases[done].Disassemble()})" : "";
            throw new InvalidOperationException($"fpu_helper exited with {p.ExitCode} after {done} of {cases.Count} cases{at}: {readErr.Result}");
        }
        return (host, results);
    }

    private static byte[] Encode(byte[] image, IReadOnlyList<FpuCase> cases)
    {
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write("FPU1"u8);
        w.Write((uint)cases.Count);
        w.Write(image);
        foreach (FpuCase c in cases)
        {
            foreach (uint g in c.Gpr) w.Write(g);
            w.Write(c.Eflags);
            w.Write(c.Mode);
            w.Write((byte)0);
            w.Write((ushort)c.Patches.Count);
            w.Write(c.FpuImage);
            w.Write(c.Code);
            foreach (MemPatch p in c.Patches)
            {
                w.Write(p.Offset);
                w.Write((ushort)p.Bytes.Length);
                w.Write(p.Bytes);
            }
        }
        w.Flush();
        return ms.ToArray();
    }

    private static FpuResult ReadResult(BinaryReader r)
    {
        var res = new FpuResult { Status = (int)r.ReadUInt32(), ExitId = (int)r.ReadUInt32() };
        for (int i = 0; i < 8; i++) res.Gpr[i] = r.ReadUInt32();
        res.Eflags = r.ReadUInt32();
        res.Eip = r.ReadUInt32();
        res.Vector = (int)r.ReadUInt32();
        res.ErrorCode = r.ReadUInt32();
        res.Cs = r.ReadUInt32();
        byte[] fsave = r.ReadBytes(108);
        byte[] fxsave = r.ReadBytes(512);
        if (fxsave.Length != 512) throw new EndOfStreamException();
        res.Fpu = FpuSnapshot.FromImages(fsave, fxsave);
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
}
