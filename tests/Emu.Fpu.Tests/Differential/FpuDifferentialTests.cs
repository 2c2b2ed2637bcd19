using Xunit;
using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using Emu.Translator;
using Emu.X86;
using Iced.Intel;
using Xunit.Abstractions;

namespace Emu.Fpu.Tests.Differential;

/// <summary>
/// Every x87 and MMX instruction form against the host CPU, on the interpreter and on the
/// translator: random operands and special values, every precision and rounding mode,
/// the whole x87 state compared bit for bit (control, status and tag words, pointers,
/// registers), and registers, flags, memory and exceptions as in the integer suite.
/// </summary>
public class FpuDifferentialTests
{
    /// <summary>Cases per form in the default run (EMU_FPU_CASES overrides).</summary>
    public const int DefaultCases = 200;
    /// <summary>The translator compiles every case's block: fewer cases by default.</summary>
    public const int DefaultTranslatorCases = 60;

    /// <summary>
    /// These tests need a host that runs 32-bit user code (the helper switches a 64-bit process
    /// into compatibility mode). A machine where no process can (a PVM guest, whose CPU has no
    /// 32-bit code segment) reports them as skipped with the helper's explanation, never as passed.
    /// </summary>
    private static void HostOrSkip()
    {
        try
        {
            FpuNativeHelper.RequireHost();
        }
        catch (InvalidOperationException e) when (e.Message.Contains("cannot run 32-bit user code", StringComparison.Ordinal))
        {
            Skip.If(true, e.Message);
        }
    }

    private readonly ITestOutputHelper output;

    public FpuDifferentialTests(ITestOutputHelper output) => this.output = output;

    [Fact]
    public void EveryFormGenerates()
    {
        var forms = FpuForms.All();
        Assert.True(forms.Count > 300, $"only {forms.Count} forms");
        byte[] image = FpuDifferentialRun.Image(1);
        var failures = forms.Select(f =>
        {
            try
            {
                new FpuCaseGenerator(f, image).Generate(0, 1);
                return null;
            }
            catch (Exception e)
            {
                return $"{f.Key}: {e.Message}";
            }
        }).Where(x => x is not null).ToList();
        Assert.True(failures.Count == 0, "forms that cannot be generated:\n" + string.Join("\n", failures));
        output.WriteLine($"{FpuForms.RequiredCodes().Count} codes, {forms.Count} forms");
    }

    [SkippableFact]
    public void InterpreterMatchesTheHost()
    {
        HostOrSkip();
        Check("interpreter", DefaultCases, () => null);
    }

    [SkippableFact]
    public void TranslatorMatchesTheHost()
    {
        HostOrSkip();
        var engines = new ConcurrentBag<TranslatorEngine>();
        FpuRunSummary summary = Check("translator", DefaultTranslatorCases, () =>
        {
            var t = new TranslatorEngine(threshold: 1, synchronous: true);
            engines.Add(t);
            return t;
        });
        // Every case's block must really have run compiled (the x87 and MMX instructions
        // through the translator's handler calls), not fallen back to the interpreter.
        long compiled = engines.Sum(t => t.CompiledBlocks), failures = engines.Sum(t => t.Failures);
        output.WriteLine($"translator: {compiled} blocks compiled, {failures} refused");
        Assert.Equal(0, failures);
        Assert.True(compiled >= summary.Cases, $"only {compiled} blocks compiled for {summary.Cases} cases");
    }

    private FpuRunSummary Check(string engine, int defaultCases, Func<IExecutionEngine?> factory)
    {
        FpuRunSettings s = FpuRunSettings.FromEnvironment(defaultCases);
        var forms = FpuForms.All().Where(s.Selects).ToList();
        FpuRunSummary summary = FpuDifferentialRun.Run(forms, s, factory);
        string text = summary.Text(s, engine);
        output.WriteLine(text);
        foreach (string r in summary.Reports) output.WriteLine(r);
        File.WriteAllText(Path.Combine(AppContext.BaseDirectory, $"fpu-differential-{engine}.txt"),
            text + "\nCases per code:\n" + summary.CasesPerCode() + "\n\n" + string.Join("\n", summary.Reports));
        File.WriteAllLines(Path.Combine(AppContext.BaseDirectory, $"fpu-transcendental-differences-{engine}.txt"), summary.UlpSamples);
        Console.WriteLine(text);
        Assert.True(summary.Mismatches == 0, text + "\n" + string.Join("\n", summary.Reports.Take(20)));
        return summary;
    }
}
