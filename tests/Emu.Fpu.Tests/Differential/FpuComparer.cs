using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Emu.X86;
using Iced.Intel;

namespace Emu.Fpu.Tests.Differential;

/// <summary>Compares the host's result with the emulator's: outcome, registers, flags, memory and the whole x87 state, bit for bit.</summary>
public static class FpuComparer
{
    private static bool HasErrorCode(int vector) => vector is 8 or 10 or 11 or 12 or 13 or 14 or 17;

    /// <summary>The transcendental instructions, whose results may differ from the host's in the last place.</summary>
    public static bool IsTranscendental(Mnemonic m) => m is Mnemonic.Fsin or Mnemonic.Fcos or Mnemonic.Fsincos or Mnemonic.Fptan
        or Mnemonic.Fpatan or Mnemonic.F2xm1 or Mnemonic.Fyl2x or Mnemonic.Fyl2xp1;

    public static List<string> Differences(FpuCase c, FpuResult host, FpuResult emu)
    {
        var d = new List<string>();
        if (host.Status != emu.Status)
        {
            d.Add($"outcome: host {Outcome(host)}, emulator {Outcome(emu)}");
            return d;
        }
        bool completed = host.Status == FpuResult.Exited;
        if (completed && host.ExitId != emu.ExitId) d.Add($"exit: host {host.ExitId}, emulator {emu.ExitId}");
        if (host.Status == FpuResult.Faulted)
        {
            if (host.Vector != emu.Vector) d.Add($"vector: host {host.Vector}, emulator {emu.Vector}");
            if (host.Eip != emu.Eip) d.Add($"fault EIP: host {host.Eip:X8}, emulator {emu.Eip:X8}");
            if (host.Vector == emu.Vector && HasErrorCode(host.Vector) && host.ErrorCode != emu.ErrorCode)
                d.Add($"error code: host {host.ErrorCode:X}, emulator {emu.ErrorCode:X}");
        }
        for (int i = 0; i < 8; i++)
            if (host.Gpr[i] != emu.Gpr[i]) d.Add($"{Reg.Names32[i]}: host {host.Gpr[i]:X8}, emulator {emu.Gpr[i]:X8}");
        uint flagMask = ~Flags.RF;
        if (((host.Eflags ^ emu.Eflags) & flagMask) != 0) d.Add($"EFLAGS: host {host.Eflags:X8}, emulator {emu.Eflags:X8}");
        if (!PartialLoadOnFault(c, host)) FpuDifferences(host.Fpu, emu.Fpu, d, host.Status == FpuResult.Faulted);
        var hm = Memory(c, host);
        var em = Memory(c, emu);
        if (!PartialStoreOnFault(c, host) && !hm.SequenceEqual(em))
        {
            var keys = hm.Keys.Union(em.Keys).OrderBy(k => k).Where(k => !hm.TryGetValue(k, out byte a) || !em.TryGetValue(k, out byte b) || a != b).ToList();
            var sb = new StringBuilder("memory (offset: host/emulator, - = unchanged):");
            foreach (ushort k in keys.Take(32))
                sb.Append($" {k:X4}:{(hm.TryGetValue(k, out byte a) ? a.ToString("X2") : "-")}/{(em.TryGetValue(k, out byte b) ? b.ToString("X2") : "-")}");
            if (keys.Count > 32) sb.Append($" ... ({keys.Count} bytes)");
            d.Add(sb.ToString());
        }
        return d;
    }

    /// <summary>
    /// The x87 state, field by field. After a fault the host's state comes from the signal
    /// frame, which the 64-bit kernel builds from an XSAVE image in the 64-bit layout: it has
    /// no FCS, FDS or FOP of the guest's (the kernel fills in the current CS and DS), so only
    /// the pointer offsets are compared then, and only when ES is set (see below).
    /// </summary>
    /// <summary>
    /// FLDENV, FRSTOR and FXRSTOR that fault on a segment limit part-way through the image:
    /// this host has already loaded the fields it read before the fault, where the SDM (and
    /// the emulator) leave the state as it was before the instruction (Vol. 3, 6.5). The x87
    /// state is not compared then; the fault itself is.
    /// </summary>
    public static bool PartialLoadOnFault(FpuCase c, FpuResult host) =>
        host.Status == FpuResult.Faulted && host.Vector is 12 or 13 && c.Form.Mnemonic is Mnemonic.Fldenv or Mnemonic.Frstor or Mnemonic.Fxrstor;

    /// <summary>
    /// FNSTENV, FNSAVE and FXSAVE that fault on a segment limit part-way through the image:
    /// this host has already stored some fields; the SDM and the emulator store nothing.
    /// Memory is not compared then; the fault and the state are.
    /// </summary>
    public static bool PartialStoreOnFault(FpuCase c, FpuResult host) =>
        host.Status == FpuResult.Faulted && host.Vector is 12 or 13 && c.Form.Mnemonic is Mnemonic.Fnstenv or Mnemonic.Fnsave or Mnemonic.Fxsave;

    public static void FpuDifferences(FpuSnapshot h, FpuSnapshot e, List<string> d, bool fromSignalFrame)
    {
        if (fromSignalFrame)
        {
            h = h.Clone();
            h.Fcs = e.Fcs;
            h.Fds = e.Fds;
            h.Fop = e.Fop;
            // This AMD host's XSAVE stores the pointers only while an exception is pending (ES).
            if ((h.Sw & FpuStatus.ES) == 0)
            {
                h.Fip = e.Fip;
                h.Fdp = e.Fdp;
            }
        }
        if (h.Cw != e.Cw) d.Add($"FCW: host {h.Cw:X4}, emulator {e.Cw:X4}");
        if (h.Sw != e.Sw) d.Add($"FSW: host {h.Sw:X4}, emulator {e.Sw:X4} (differ in {StatusNames((ushort)(h.Sw ^ e.Sw))})");
        if (h.TagWord != e.TagWord) d.Add($"FTW: host {h.TagWord:X4}, emulator {e.TagWord:X4}");
        if (h.AbridgedTags != e.AbridgedTags) d.Add($"abridged FTW: host {h.AbridgedTags:X2}, emulator {e.AbridgedTags:X2}");
        if (h.Fip != e.Fip || h.Fcs != e.Fcs) d.Add($"FIP: host {h.Fcs:X4}:{h.Fip:X8}, emulator {e.Fcs:X4}:{e.Fip:X8}");
        if (h.Fop != e.Fop) d.Add($"FOP: host {h.Fop:X3}, emulator {e.Fop:X3}");
        if (h.Fdp != e.Fdp || h.Fds != e.Fds) d.Add($"FDP: host {h.Fds:X4}:{h.Fdp:X8}, emulator {e.Fds:X4}:{e.Fdp:X8}");
        for (int i = 0; i < 8; i++)
            if (h.St[i].Significand != e.St[i].Significand || h.St[i].SignExponent != e.St[i].SignExponent)
                d.Add($"ST({i}): host {h.St[i]}, emulator {e.St[i]}");
    }

    public static string StatusNames(ushort bits)
    {
        var n = new List<string>();
        (ushort, string)[] all = { (FpuStatus.IE, "IE"), (FpuStatus.DE, "DE"), (FpuStatus.ZE, "ZE"), (FpuStatus.OE, "OE"), (FpuStatus.UE, "UE"),
            (FpuStatus.PE, "PE"), (FpuStatus.SF, "SF"), (FpuStatus.ES, "ES"), (FpuStatus.C0, "C0"), (FpuStatus.C1, "C1"), (FpuStatus.C2, "C2"),
            (FpuStatus.TopMask, "TOP"), (FpuStatus.C3, "C3"), (FpuStatus.B, "B") };
        foreach (var (b, s) in all)
            if ((bits & b) != 0) n.Add(s);
        return string.Join(" ", n);
    }

    private static SortedDictionary<ushort, byte> Memory(FpuCase c, FpuResult r)
    {
        var m = new SortedDictionary<ushort, byte>();
        foreach (var (off, v) in r.Changes)
        {
            // Ranges wrap at 64 KiB, as an image addressed with 16-bit offsets does.
            if (c.IgnoredMemory.Any(x => ((off - x.Offset) & 0xFFFF) < x.Length)) continue;
            m[off] = v;
        }
        return m;
    }

    public static string Outcome(FpuResult r) => r.Status switch
    {
        FpuResult.Exited => r.ExitId == 1 ? "fell through" : "took the branch",
        FpuResult.Faulted => $"exception {r.Vector} at {r.Cs:X4}:{r.Eip:X8}" + (HasErrorCode(r.Vector) ? $" error {r.ErrorCode:X}" : ""),
        _ => r.Note ?? "stopped",
    };

    public static string OutcomeKind(FpuResult r) => r.Status switch
    {
        FpuResult.Exited => "completed",
        FpuResult.Faulted => $"#{r.Vector}",
        _ => "other",
    };

    public static string Report(FpuCase c, FpuResult host, FpuResult emu, IEnumerable<string> diffs, ulong seed)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"MISMATCH form {c.Form.Key} case {c.Index} (EMU_FPU_SEED={seed}, case seed {c.Seed:X16})");
        sb.AppendLine($"  code: {c.CodeHex}  {c.Disassemble()}  ({(c.Code16 ? "16" : "32")}-bit code)");
        sb.AppendLine($"  initial: {string.Join(" ", Enumerable.Range(0, 8).Select(i => $"{Reg.Names32[i]}={c.Gpr[i]:X8}"))} EFLAGS={(c.Eflags & 0xCD5) | 0x202:X8}");
        byte[] img = c.FpuImage;
        sb.AppendLine($"  initial x87: FCW={BitConverter.ToUInt16(img, 0):X4} FSW={BitConverter.ToUInt16(img, 4):X4} FTW={BitConverter.ToUInt16(img, 8):X4} FIP={BitConverter.ToUInt16(img, 16):X4}:{BitConverter.ToUInt32(img, 12):X8} FOP={BitConverter.ToUInt16(img, 18) & 0x7FF:X3} FDP={BitConverter.ToUInt16(img, 24):X4}:{BitConverter.ToUInt32(img, 20):X8}");
        sb.AppendLine("  initial ST: " + string.Join(" ", Enumerable.Range(0, 8).Select(i => $"{BitConverter.ToUInt16(img, 36 + 10 * i):X4}:{BitConverter.ToUInt64(img, 28 + 10 * i):X16}")));
        foreach (MemPatch p in c.Patches)
            sb.AppendLine($"  memory {p.Offset:X4}: {Convert.ToHexString(p.Bytes.AsSpan(0, Math.Min(p.Bytes.Length, 48)))}{(p.Bytes.Length > 48 ? "..." : "")}");
        sb.AppendLine($"  host:     {Outcome(host)}; FSW={host.Fpu.Sw:X4} ST0={host.Fpu.St[0]} ST1={host.Fpu.St[1]}");
        sb.AppendLine($"  emulator: {Outcome(emu)}; FSW={emu.Fpu.Sw:X4} ST0={emu.Fpu.St[0]} ST1={emu.Fpu.St[1]}");
        foreach (string d in diffs) sb.AppendLine("  differs: " + d);
        return sb.ToString();
    }
}
