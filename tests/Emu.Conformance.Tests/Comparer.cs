using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Emu.X86;

namespace Emu.Conformance.Tests;

/// <summary>Compares the host's result with the emulator's, less what the SDM leaves undefined.</summary>
public static class Comparer
{
    /// <summary>Exceptions that push an error code (Intel SDM Vol. 3, Table 6-1): only those are compared.</summary>
    private static bool HasErrorCode(int vector) => vector is 8 or 10 or 11 or 12 or 13 or 14 or 17;

    /// <summary>The differences, or an empty list when the results agree.</summary>
    public static List<string> Differences(TestCase c, CaseResult host, CaseResult emu)
    {
        var d = new List<string>();
        if (host.Status != emu.Status)
        {
            d.Add($"outcome: host {Outcome(host)}, emulator {Outcome(emu)}");
            return d;
        }
        bool completed = host.Status == CaseResult.Exited;
        if (completed && host.ExitId != emu.ExitId) d.Add($"exit: host {Exit(host.ExitId)}, emulator {Exit(emu.ExitId)}");
        if (host.Status == CaseResult.Faulted)
        {
            if (host.Vector != emu.Vector) d.Add($"vector: host {host.Vector}, emulator {emu.Vector}");
            if (host.Eip != emu.Eip) d.Add($"fault EIP: host {host.Eip:X8}, emulator {emu.Eip:X8}");
            if (host.Cs != emu.Cs) d.Add($"fault CS: host {host.Cs:X4}, emulator {emu.Cs:X4}");
            if (host.Vector == emu.Vector && HasErrorCode(host.Vector) && host.ErrorCode != emu.ErrorCode)
                d.Add($"error code: host {host.ErrorCode:X}, emulator {emu.ErrorCode:X}");
        }
        for (int i = 0; i < 8; i++)
        {
            if (host.Status == CaseResult.Faulted && (c.FaultIgnoredRegisters & (1u << i)) != 0) continue;
            uint mask = completed && i == c.IgnoreRegister ? ~c.IgnoreRegisterMask : 0xFFFF_FFFFu;
            if (((host.Gpr[i] ^ emu.Gpr[i]) & mask) != 0) d.Add($"{Reg.Names32[i]}: host {host.Gpr[i]:X8}, emulator {emu.Gpr[i]:X8}");
        }
        // RF: the host sets it in the image of a faulting instruction (Intel SDM Vol. 3, 17.3.1.1).
        uint flagMask = ~Flags.RF & (completed ? ~c.UndefinedFlags : 0xFFFF_FFFFu);
        if (((host.Eflags ^ emu.Eflags) & flagMask) != 0)
            d.Add($"EFLAGS: host {host.Eflags:X8}, emulator {emu.Eflags:X8} (differ in {FlagNames((host.Eflags ^ emu.Eflags) & flagMask)}; compared {flagMask:X8})");
        var hm = Memory(c, host, completed);
        var em = Memory(c, emu, completed);
        if (!hm.SequenceEqual(em))
        {
            var keys = hm.Keys.Union(em.Keys).OrderBy(k => k).Where(k => !hm.TryGetValue(k, out byte a) || !em.TryGetValue(k, out byte b) || a != b).ToList();
            var sb = new StringBuilder("memory (offset: host/emulator, - = unchanged):");
            foreach (ushort k in keys.Take(24))
                sb.Append($" {k:X4}:{(hm.TryGetValue(k, out byte a) ? a.ToString("X2") : "-")}/{(em.TryGetValue(k, out byte b) ? b.ToString("X2") : "-")}");
            if (keys.Count > 24) sb.Append($" ... ({keys.Count} bytes)");
            d.Add(sb.ToString());
        }
        return d;
    }

    private static SortedDictionary<ushort, byte> Memory(TestCase c, CaseResult r, bool completed)
    {
        var m = new SortedDictionary<ushort, byte>();
        foreach (var (off, v) in r.Changes)
        {
            if (completed && c.IgnoreMemoryLength > 0 && off >= c.IgnoreMemoryOffset && off < c.IgnoreMemoryOffset + c.IgnoreMemoryLength) continue;
            m[off] = v;
        }
        return m;
    }

    /// <summary>A short class of outcome for the summary's statistics.</summary>
    public static string OutcomeKind(CaseResult r) => r.Status switch
    {
        CaseResult.Exited => r.ExitId == 2 ? "taken" : "fell-through",
        CaseResult.Faulted => $"#{r.Vector}",
        _ => "other",
    };

    private static string Exit(int id) => id switch { 1 => "fell through", 2 => "took the branch", _ => $"exit {id}" };

    public static string Outcome(CaseResult r) => r.Status switch
    {
        CaseResult.Exited => Exit(r.ExitId),
        CaseResult.Faulted => $"exception {r.Vector} at {r.Cs:X4}:{r.Eip:X8}" + (HasErrorCode(r.Vector) ? $" error {r.ErrorCode:X}" : ""),
        _ => r.Note ?? "stopped",
    };

    public static string FlagNames(uint f)
    {
        var names = new List<string>();
        (uint, string)[] all = { (Flags.CF, "CF"), (Flags.PF, "PF"), (Flags.AF, "AF"), (Flags.ZF, "ZF"), (Flags.SF, "SF"), (Flags.TF, "TF"),
            (Flags.IF, "IF"), (Flags.DF, "DF"), (Flags.OF, "OF"), (Flags.IOPL, "IOPL"), (Flags.NT, "NT"), (Flags.RF, "RF"), (Flags.AC, "AC"), (Flags.ID, "ID") };
        foreach (var (bit, name) in all)
            if ((f & bit) != 0) names.Add(name);
        uint other = f & ~all.Aggregate(0u, (a, x) => a | x.Item1);
        if (other != 0) names.Add($"{other:X}");
        return string.Join(" ", names);
    }

    /// <summary>A full report of one mismatch: enough to reproduce and to see what differs.</summary>
    public static string Report(TestCase c, CaseResult host, CaseResult emu, IEnumerable<string> diffs, ulong globalSeed)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"MISMATCH form {c.Form.Key} case {c.Index} (EMU_DIFF_SEED={globalSeed}, case seed {c.Seed:X16})");
        sb.AppendLine($"  code: {c.CodeHex}  {c.Disassemble()}  ({(c.Code16 ? "16" : "32")}-bit code, {(c.Stack16 ? "16" : "32")}-bit stack)");
        sb.AppendLine($"  initial: {Regs(c.Gpr)} EFLAGS={(c.Eflags & 0xCD5) | 0x202:X8} ({FlagNames(c.Eflags & 0xCD5)})");
        foreach (Patch p in c.Patches)
            sb.AppendLine($"  memory {p.Offset:X4}: {Convert.ToHexString(p.Bytes.AsSpan(0, Math.Min(p.Bytes.Length, 48)))}{(p.Bytes.Length > 48 ? "..." : "")}");
        sb.AppendLine($"  host:     {Outcome(host)}; {Regs(host.Gpr)} EFLAGS={host.Eflags:X8}; {host.Changes.Count} bytes changed");
        sb.AppendLine($"  emulator: {Outcome(emu)}; {Regs(emu.Gpr)} EFLAGS={emu.Eflags:X8}; {emu.Changes.Count} bytes changed");
        foreach (string d in diffs) sb.AppendLine("  differs: " + d);
        return sb.ToString();
    }

    private static string Regs(uint[] g) => string.Join(" ", Enumerable.Range(0, 8).Select(i => $"{Reg.Names32[i]}={g[i]:X8}"));
}
