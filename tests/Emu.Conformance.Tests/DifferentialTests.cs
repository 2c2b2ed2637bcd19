using System;
using System.IO;
using System.Linq;
using Emu.X86;
using Iced.Intel;
using Xunit.Abstractions;

namespace Emu.Conformance.Tests;

/// <summary>
/// The interpreter against the host CPU: every user-level integer instruction form, with
/// random operands, flags and memory, must give the host's registers, flags (less those the
/// SDM leaves undefined), memory, exit and exceptions.
/// </summary>
public class DifferentialTests
{
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

    [Fact]
    public void NativeHelperReportsWhatTheCodeDid()
    {
        // ADD EAX, ECX in 32-bit code must leave the sum: the harness is not comparing two empty results.
        var form = new Form(Code.Add_rm32_r32, 32, OperandForm.Register, 0, RepPrefixKind.None);
        byte[] image = DifferentialRun.Image(1);
        TestCase c = new CaseGenerator(form, image).Generate(0, 42);
        var (host, results) = NativeHelper.RunBatch(image, new[] { c });
        var d = Decoder.Create(32, new ByteArrayCodeReader(c.Code, 0, c.InstructionLength));
        d.Decode(out Instruction ins);
        int dst = ins.Op0Register - Register.EAX, src = ins.Op1Register - Register.EAX;
        Assert.Equal(CaseResult.Exited, results[0].Status);
        Assert.Equal(1, results[0].ExitId);
        Assert.Equal(c.Gpr[dst] + c.Gpr[src], results[0].Gpr[dst]);
        Assert.NotEqual(0, host.Cs);
    }

    [Fact]
    public void InterpreterMatchesTheHost()
    {
        RunSettings s = RunSettings.FromEnvironment();
        var forms = FormCatalog.All().Where(s.Selects).ToList();
        RunSummary summary = DifferentialRun.Run(forms, s, () => null);
        string text = summary.Text(s);
        output.WriteLine(text);
        foreach (string r in summary.Reports) output.WriteLine(r);
        File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "conformance-summary.txt"), text + string.Join("\n", summary.Reports));
        Console.WriteLine(text);
        Assert.True(summary.Mismatches == 0, text + "\n" + string.Join("\n", summary.Reports.Take(20)));
    }
}
