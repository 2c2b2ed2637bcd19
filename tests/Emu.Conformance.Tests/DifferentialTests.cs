using Xunit;
using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using Emu.Translator;
using Emu.X86;
using Iced.Intel;
using Xunit.Abstractions;

namespace Emu.Conformance.Tests;

/// <summary>
/// Both engines against the host CPU: every user-level integer instruction form, with
/// random operands, flags and memory, must give the host's registers, flags (less those the
/// SDM leaves undefined), memory, exit and exceptions.
/// </summary>
public class DifferentialTests
{
    /// <summary>
    /// These tests need a host that runs 32-bit user code (the helper switches a 64-bit process
    /// into compatibility mode). A machine where no process can (a PVM guest, whose CPU has no
    /// 32-bit code segment) reports them as skipped with the helper's explanation, never as passed.
    /// </summary>
    private static void HostOrSkip()
    {
        try
        {
            NativeHelper.RequireHost();
        }
        catch (InvalidOperationException e) when (e.Message.Contains("cannot run 32-bit user code", StringComparison.Ordinal))
        {
            Skip.If(true, e.Message);
        }
    }

    private readonly ITestOutputHelper output;

    public DifferentialTests(ITestOutputHelper output) => this.output = output;

    [Fact]
    public void EveryRequiredCodeIsCovered()
    {
        var forms = FormCatalog.All();
        var covered = forms.Select(f => f.Code).ToHashSet();
        var missing = FormCatalog.RequiredCodes().Where(c => !covered.Contains(c)).ToList();
        Assert.True(missing.Count == 0, "codes without a form: " + string.Join(", ", missing));

        // Every form must generate: an unknown operand kind or an encoding error shows up here.
        byte[] image = DifferentialRun.Image(1);
        var failures = forms.Select(f =>
        {
            try
            {
                new CaseGenerator(f, image).Generate(0, 1);
                return null;
            }
            catch (Exception e)
            {
                return $"{f.Key}: {e.Message}";
            }
        }).Where(x => x is not null).ToList();
        Assert.True(failures.Count == 0, "forms that cannot be generated:\n" + string.Join("\n", failures));
        output.WriteLine($"{FormCatalog.RequiredCodes().Count} codes, {forms.Count} forms");
    }

    [SkippableFact]
    public void NativeHelperReportsWhatTheCodeDid()
    {
        HostOrSkip();
        // ADD EAX, ECX; MOV [EBX], EAX in 32-bit code: the helper must report the sum in EAX and
        // in memory, so the suite is not comparing two empty results.
        var form = new Form(Code.Add_rm32_r32, 32, OperandForm.Register, 0, RepPrefixKind.None);
        var c = new TestCase { Form = form, Eflags = 0 };
        byte[] code = { 0x01, 0xC8, 0x89, 0x03 };
        Array.Fill(c.Code, (byte)0xF4);
        code.CopyTo(c.Code, 0);
        c.Code[4] = 0xE9;
        BitConverter.TryWriteBytes(c.Code.AsSpan(5), Layout.Code32ExitFall - (Layout.Code32Entry + 9));
        c.InstructionLength = 4;
        c.Gpr[0] = 0x1234_5678;
        c.Gpr[1] = 0x1111_1111;
        c.Gpr[3] = 0x100;
        c.Gpr[4] = 0x8000;
        byte[] image = DifferentialRun.Image(1);
        var (host, results) = NativeHelper.RunBatch(image, new[] { c });
        CaseResult r = results[0];
        Assert.Equal(CaseResult.Exited, r.Status);
        Assert.Equal(1, r.ExitId);
        Assert.Equal(0x2345_6789u, r.Gpr[0]);
        Assert.Equal(new[] { ((ushort)0x100, (byte)0x89), ((ushort)0x101, (byte)0x67), ((ushort)0x102, (byte)0x45), ((ushort)0x103, (byte)0x23) },
            r.Changes.Where(x => x.Value != image[x.Offset]).ToArray());
        Assert.NotEqual(0, host.Cs);
    }

    [SkippableFact]
    public void InterpreterMatchesTheHost()
    {
        HostOrSkip();
        Check("interpreter", () => null);
    }

    [SkippableFact]
    public void TranslatorMatchesTheHost()
    {
        HostOrSkip();
        var engines = new ConcurrentBag<TranslatorEngine>();
        RunSummary summary = Check("translator", () =>
        {
            var t = new TranslatorEngine(threshold: 1, synchronous: true);
            engines.Add(t);
            return t;
        });
        // Every case's block must have run as compiled code, not fallen back to the interpreter.
        long compiled = engines.Sum(t => t.CompiledBlocks), failures = engines.Sum(t => t.Failures);
        output.WriteLine($"translator: {compiled} blocks compiled, {failures} refused");
        Assert.Equal(0, failures);
        Assert.True(compiled >= summary.Cases, $"only {compiled} blocks compiled for {summary.Cases} cases");
    }

    private RunSummary Check(string engine, Func<IExecutionEngine?> factory)
    {
        RunSettings s = RunSettings.FromEnvironment();
        var forms = FormCatalog.All().Where(s.Selects).ToList();
        RunSummary summary = DifferentialRun.Run(forms, s, factory);
        string text = summary.Text(s, engine);
        output.WriteLine(text);
        foreach (string r in summary.Reports) output.WriteLine(r);
        File.WriteAllText(Path.Combine(AppContext.BaseDirectory, $"conformance-summary-{engine}.txt"), text + string.Join("\n", summary.Reports));
        Console.WriteLine(text);
        Assert.True(summary.Mismatches == 0, text + "\n" + string.Join("\n", summary.Reports.Take(20)));
        return summary;
    }
}
