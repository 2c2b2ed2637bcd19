using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Emu.Conformance.Tests;
using Emu.X86;
using Iced.Intel;

namespace Emu.Fpu.Tests.Differential;

/// <summary>Settings from the environment: EMU_FPU_CASES (cases per form), EMU_FPU_SEED, EMU_FPU_FORMS (key filter).</summary>
public sealed record FpuRunSettings(int CasesPerForm, ulong Seed, string[]? FormFilter)
{
    public const ulong DefaultSeed = 20260105;

    public static FpuRunSettings FromEnvironment(int defaultCases)
    {
        int cases = int.TryParse(Environment.GetEnvironmentVariable("EMU_FPU_CASES"), out int n) && n > 0 ? n : defaultCases;
        ulong seed = ulong.TryParse(Environment.GetEnvironmentVariable("EMU_FPU_SEED"), out ulong s) ? s : DefaultSeed;
        string? f = Environment.GetEnvironmentVariable("EMU_FPU_FORMS");
        string[]? filter = string.IsNullOrWhiteSpace(f) ? null : f.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new FpuRunSettings(cases, seed, filter);
    }

    public bool Selects(FpuForm form) => FormFilter is null || FormFilter.Any(x => form.Key.Contains(x, StringComparison.OrdinalIgnoreCase));
}

/// <summary>The forms under test: every x87 and MMX code the instruction table implements, in 16- and 32-bit code.</summary>
public static class FpuForms
{
    public static bool IsFpuOrMmx(Code code)
    {
        if (code == Code.INVALID) return false;
        OpCodeInfo oc = code.ToOpCode();
        if (oc.Encoding != EncodingKind.Legacy || !(oc.Mode16 || oc.Mode32)) return false;
        if (code == Code.Wait || code.Mnemonic() == Mnemonic.Emms) return true;
        if (code.ToString().StartsWith('F') && code.CpuidFeatures().Any(f => f is CpuidFeature.FPU or CpuidFeature.FPU287 or CpuidFeature.FPU387 or CpuidFeature.FXSR))
            return true;
        for (int i = 0; i < oc.OpCount; i++)
            if (oc.GetOpKind(i) is OpCodeOperandKind.mm_reg or OpCodeOperandKind.mm_rm or OpCodeOperandKind.mm_or_mem) return true;
        return false;
    }

    public static IReadOnlyList<Code> RequiredCodes()
    {
        InstructionTable.EnsureInitialized();
        return Enum.GetValues<Code>().Where(c => IsFpuOrMmx(c) && InstructionTable.IsImplemented(c)).ToList();
    }

    public static IEnumerable<FpuForm> FormsOf(Code code)
    {
        OpCodeInfo oc = code.ToOpCode();
        var kinds = Enumerable.Range(0, oc.OpCount).Select(oc.GetOpKind).ToArray();
        foreach (int bits in new[] { 16, 32 })
        {
            if (kinds.Any(k => k is OpCodeOperandKind.mm_or_mem or OpCodeOperandKind.r32_or_mem))
            {
                yield return new FpuForm(code, bits, FpuOperandForm.Register, 0);
                yield return new FpuForm(code, bits, FpuOperandForm.Memory, 16);
                yield return new FpuForm(code, bits, FpuOperandForm.Memory, 32);
            }
            else if (kinds.Any(k => k == OpCodeOperandKind.mem))
            {
                yield return new FpuForm(code, bits, FpuOperandForm.Memory, 16);
                yield return new FpuForm(code, bits, FpuOperandForm.Memory, 32);
            }
            else
            {
                yield return new FpuForm(code, bits, kinds.Length == 0 ? FpuOperandForm.None : FpuOperandForm.Register, 0);
            }
        }
    }

    public static IReadOnlyList<FpuForm> All() => RequiredCodes().SelectMany(FormsOf).ToList();
}

/// <summary>The outcome of a run: cases and mismatches per code, the transcendental differences in ulps.</summary>
public sealed class FpuRunSummary
{
    public int Forms;
    public long Cases;
    public long Mismatches;
    /// <summary>Cases whose first host run disagreed and a second one agreed (see RetryDisagreements).</summary>
    public long HostRetries;
    public TimeSpan Elapsed;
    public readonly ConcurrentDictionary<Code, long> CasesByCode = new();
    public readonly ConcurrentDictionary<string, int> MismatchesByForm = new();
    public readonly ConcurrentQueue<string> Reports = new();
    public readonly ConcurrentDictionary<string, long> Outcomes = new();
    /// <summary>Transcendental results that differ from the host only in the last places: (mnemonic, ulps) -> count.</summary>
    public readonly ConcurrentDictionary<(Mnemonic, long), long> UlpDifferences = new();
    public readonly ConcurrentDictionary<Mnemonic, long> TranscendentalCases = new();
    /// <summary>The differing transcendental cases, one line each (tools/judge_transcendentals.py reads them).</summary>
    public readonly ConcurrentQueue<string> UlpSamples = new();
    /// <summary>F2XM1 and FYL2XP1 cases with ST(0) outside the SDM's domain (results undefined): counted, not compared.</summary>
    public readonly ConcurrentDictionary<Mnemonic, long> OutsideDomain = new();
    public readonly ConcurrentDictionary<Mnemonic, long> OutsideDomainDiffering = new();

    public string Text(FpuRunSettings s, string engine)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"x87/MMX differential ({engine}): {Forms} forms, {Cases} cases ({s.CasesPerForm} per form), seed {s.Seed}, {Mismatches} mismatches, {Elapsed.TotalSeconds:F1} s.");
        sb.AppendLine("Host outcomes: " + string.Join(", ", Outcomes.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}"))
            + $"; {HostRetries} cases agreed only when the host ran them again");
        if (!TranscendentalCases.IsEmpty)
        {
            sb.AppendLine("Transcendental results that differ from the host (count by size in ulps of the 64-bit result; 0 ulp: same value, different C1/PE/UE):");
            foreach (var (m, n) in TranscendentalCases.OrderBy(k => k.Key.ToString()))
            {
                var diffs = UlpDifferences.Where(k => k.Key.Item1 == m).OrderBy(k => k.Key.Item2).Select(k => $"{k.Key.Item2} ulp: {k.Value}");
                long total = UlpDifferences.Where(k => k.Key.Item1 == m).Sum(k => k.Value);
                sb.AppendLine($"  {m}: {n} cases, {total} differ" + (total > 0 ? " (" + string.Join(", ", diffs) + ")" : ""));
            }
        }
        foreach (var (m, n) in OutsideDomain.OrderBy(k => k.Key.ToString()))
            sb.AppendLine($"  {m} with ST(0) outside the SDM's domain (result undefined, not compared): {n} cases, {OutsideDomainDiffering.GetValueOrDefault(m)} differ from the host");
        if (!MismatchesByForm.IsEmpty)
        {
            sb.AppendLine($"Forms with mismatches ({MismatchesByForm.Count}):");
            foreach (var (form, n) in MismatchesByForm.OrderBy(k => k.Key)) sb.AppendLine($"  {form}: {n}");
        }
        return sb.ToString();
    }

    public string CasesPerCode() =>
        string.Join("\n", CasesByCode.OrderBy(k => k.Key.ToString()).Select(k => $"  {k.Key}: {k.Value}"));
}

public static class FpuDifferentialRun
{
    /// <summary>
    /// Runs the cases whose host result disagrees with the emulator's natively once more (up
    /// to twice) and keeps a new host result that agrees. The host is not always repeatable:
    /// when the kernel switches this process out between the case and the helper's FXSAVE,
    /// the x87 pointers come back as zeros (this AMD host's XSAVE does not keep them while no
    /// exception is pending). The emulator is deterministic, so it is never re-run.
    /// </summary>
    private static void RetryDisagreements(byte[] image, List<FpuCase> cases, FpuResult[] host, FpuResult[] emu, FpuRunSummary summary)
    {
        for (int attempt = 0; attempt < 2; attempt++)
        {
            var again = new List<int>();
            for (int i = 0; i < cases.Count; i++)
                if (FpuComparer.Differences(cases[i], host[i], emu[i]).Count > 0) again.Add(i);
            if (again.Count == 0 || again.Count > 2000) return;
            var (_, rerun) = FpuNativeHelper.RunBatch(image, again.Select(i => cases[i]).ToList());
            for (int k = 0; k < again.Count; k++)
            {
                int i = again[k];
                if (FpuComparer.Differences(cases[i], rerun[k], emu[i]).Count > 0) continue;
                host[i] = rerun[k];
                Interlocked.Increment(ref summary.HostRetries);
            }
        }
    }

    private const int BatchCases = 8192;
    private const int ReportsPerForm = 2;
    private const int MaxReports = 60;

    public static byte[] Image(ulong seed)
    {
        var rng = new Rng(seed ^ 0x0F0F_1234_5678_ABCDUL);
        var image = new byte[Layout.DataSize];
        for (int i = 0; i < image.Length; i++) image[i] = (byte)rng.Next32();
        return image;
    }

    public static FpuRunSummary Run(IReadOnlyList<FpuForm> forms, FpuRunSettings s, Func<IExecutionEngine?> engine)
    {
        FpuNativeHelper.RequireHost();
        var sw = Stopwatch.StartNew();
        var summary = new FpuRunSummary { Forms = forms.Count };
        byte[] image = Image(s.Seed);
        var batches = new List<List<FpuForm>>();
        var current = new List<FpuForm>();
        foreach (FpuForm f in forms)
        {
            current.Add(f);
            if ((current.Count + 1) * s.CasesPerForm > BatchCases)
            {
                batches.Add(current);
                current = new List<FpuForm>();
            }
        }
        if (current.Count > 0) batches.Add(current);

        Parallel.ForEach(batches, new ParallelOptions { MaxDegreeOfParallelism = 2 }, batch =>
        {
            var cases = new List<FpuCase>(batch.Count * s.CasesPerForm);
            foreach (FpuForm f in batch)
            {
                var g = new FpuCaseGenerator(f, image);
                ulong formSeed = Rng.Mix(s.Seed ^ Rng.Hash(f.Key));
                for (int i = 0; i < s.CasesPerForm; i++) cases.Add(g.Generate(i, Rng.Mix(formSeed + (ulong)i)));
            }
            var (host, results) = FpuNativeHelper.RunBatch(image, cases);
            IExecutionEngine? e = engine();
            using var emu = new FpuHarness(image, host, e);
            var emulated = new FpuResult[cases.Count];
            for (int i = 0; i < cases.Count; i++) emulated[i] = emu.Run(cases[i]);
            RetryDisagreements(image, cases, results, emulated, summary);
            for (int i = 0; i < cases.Count; i++)
            {
                FpuCase c = cases[i];
                FpuResult h = results[i];
                FpuResult r = emulated[i];
                summary.Outcomes.AddOrUpdate(FpuComparer.OutcomeKind(h), 1, (_, n) => n + 1);
                summary.CasesByCode.AddOrUpdate(c.Form.Code, 1, (_, n) => n + 1);
                var diffs = FpuComparer.Differences(c, h, r);
                Mnemonic m = c.Form.Mnemonic;
                if (FpuComparer.IsTranscendental(m))
                {
                    if (Ulps.OutsideDomain(c))
                    {
                        // F2XM1 and FYL2XP1 outside the range the SDM defines them on.
                        summary.OutsideDomain.AddOrUpdate(m, 1, (_, n) => n + 1);
                        if (diffs.Count > 0) summary.OutsideDomainDiffering.AddOrUpdate(m, 1, (_, n) => n + 1);
                        continue;
                    }
                    summary.TranscendentalCases.AddOrUpdate(m, 1, (_, n) => n + 1);
                    if (diffs.Count > 0 && Ulps.OnlyLastPlaces(h, r, out long ulps))
                    {
                        summary.UlpDifferences.AddOrUpdate((m, ulps), 1, (_, n) => n + 1);
                        if (summary.UlpSamples.Count < 5000) summary.UlpSamples.Enqueue(Ulps.Sample(c, h, r));
                        continue;
                    }
                }
                if (diffs.Count == 0) continue;
                Interlocked.Increment(ref summary.Mismatches);
                int seen = summary.MismatchesByForm.AddOrUpdate(c.Form.Key, 1, (_, n) => n + 1);
                if (seen <= ReportsPerForm && summary.Reports.Count < MaxReports) summary.Reports.Enqueue(FpuComparer.Report(c, h, r, diffs, s.Seed));
            }
            (e as IDisposable)?.Dispose();
            Interlocked.Add(ref summary.Cases, cases.Count);
        });
        summary.Elapsed = sw.Elapsed;
        return summary;
    }
}

/// <summary>Distances in units in the last place between extended results.</summary>
public static class Ulps
{
    /// <summary>
    /// Whether two results differ only in the value of x87 registers by a few ulps (and in C1
    /// and PE, which follow the rounding): then the largest distance, in ulps of the 64-bit
    /// significand.
    /// </summary>
    public static bool OnlyLastPlaces(FpuResult host, FpuResult emu, out long ulps)
    {
        ulps = 0;
        if (host.Status != emu.Status || host.ExitId != emu.ExitId || host.Vector != emu.Vector) return false;
        for (int i = 0; i < 8; i++) if (host.Gpr[i] != emu.Gpr[i]) return false;
        FpuSnapshot h = host.Fpu, e = emu.Fpu;
        ushort loose = FpuStatus.C1 | FpuStatus.PE | FpuStatus.UE | FpuStatus.ES | FpuStatus.B;
        if (((h.Sw ^ e.Sw) & ~loose) != 0 || h.Cw != e.Cw || h.TagWord != e.TagWord) return false;
        for (int i = 0; i < 8; i++)
        {
            long d = Distance(h.St[i], e.St[i]);
            if (d < 0) return false;
            ulps = Math.Max(ulps, d);
        }
        // A zero distance is a difference in C1 (or PE/UE) alone: the rounding direction of an
        // intermediate the host computes differently, though the result agrees.
        return ulps < 1L << 40;
    }

    /// <summary>
    /// One differing transcendental case as a line: mnemonic, rounding control, ST(0) and
    /// ST(1) before, the host's and the emulator's ST(0) and ST(1) after (sign-exponent:significand).
    /// </summary>
    public static string Sample(FpuCase c, FpuResult host, FpuResult emu)
    {
        byte[] img = c.FpuImage;
        int rc = (BitConverter.ToUInt16(img, 0) >> 10) & 3;
        string St(int i) => $"{BitConverter.ToUInt16(img, 36 + 10 * i):X4}:{BitConverter.ToUInt64(img, 28 + 10 * i):X16}";
        return $"{c.Form.Mnemonic} rc={rc} st0={St(0)} st1={St(1)} host={host.Fpu.St[0]},{host.Fpu.St[1]} emu={emu.Fpu.St[0]},{emu.Fpu.St[1]}"
            + $" hostsw={host.Fpu.Sw:X4} emusw={emu.Fpu.Sw:X4}";
    }

    /// <summary>
    /// F2XM1 is defined for -1 &lt;= ST(0) &lt;= 1 and FYL2XP1 for |ST(0)| &lt; 1 - sqrt(2)/2
    /// (Intel SDM Vol. 2); outside, the result is undefined (this host returns an operand
    /// unchanged). Only finite, non-empty operands count as outside.
    /// </summary>
    public static bool OutsideDomain(FpuCase c)
    {
        Mnemonic m = c.Form.Mnemonic;
        if (m is not (Mnemonic.F2xm1 or Mnemonic.Fyl2xp1)) return false;
        byte[] img = c.FpuImage;
        int top = (BitConverter.ToUInt16(img, 4) >> 11) & 7;
        if (((BitConverter.ToUInt16(img, 8) >> (2 * top)) & 3) == 3) return false; // ST(0) empty
        var v = new Float80(BitConverter.ToUInt16(img, 36), BitConverter.ToUInt64(img, 28));
        if (v.Class is not (FpClass.Normal or FpClass.Denormal)) return false;
        Unpacked u = Unpacked.From(v);
        if (m == Mnemonic.F2xm1) return u.Exp > 0 || (u.Exp == 0 && u.Sig != Float80.IntegerBit);
        return Math.Abs(ToDouble(v)) >= 1.0 - Math.Sqrt(2) / 2; // 0.29289..., never an extended value itself
    }

    private static double ToDouble(Float80 v)
    {
        int e = v.Exponent == 0 ? 1 : v.Exponent;
        return v.Significand * Math.Pow(2, e - 16383 - 63);
    }

    /// <summary>|a - b| in ulps of 2^-63 relative to the exponent, for two finite values of the same sign; -1 otherwise.</summary>
    public static long Distance(Float80 a, Float80 b)
    {
        if (a.SignExponent == b.SignExponent && a.Significand == b.Significand) return 0;
        if (a.Sign != b.Sign || a.Exponent == 0x7FFF || b.Exponent == 0x7FFF) return -1;
        // Consecutive extended values differ by one in (exponent:significand) viewed as one integer (J aside).
        Int128 ka = Key(a), kb = Key(b);
        Int128 d = ka > kb ? ka - kb : kb - ka;
        return d > long.MaxValue ? -1 : (long)d;
    }

    private static Int128 Key(Float80 v)
    {
        int e = v.Exponent;
        ulong frac = v.Significand & ~Float80.IntegerBit;
        // Denormals (e = 0) continue below the smallest normal.
        return e == 0 ? (Int128)v.Significand : ((Int128)(e - 1) << 63) + (Int128)(1UL << 63) + frac;
    }
}
