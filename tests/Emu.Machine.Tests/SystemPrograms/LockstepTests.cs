using System;
using System.IO;
using System.Text;
using Emu.Translator;
using Emu.X86;

namespace Emu.Machine.Tests.SystemPrograms;

/// <summary>
/// Every system program on the interpreter and on the translator side by side, one block at a
/// time, comparing the architectural state after each: the two engines must agree at every
/// block boundary, not only in what the programs print (DESIGN.md, "One semantics, two engines").
/// </summary>
public sealed class LockstepTests : IClassFixture<SystemProgramFixture>
{
    private readonly SystemProgramFixture fixture;

    public LockstepTests(SystemProgramFixture fixture) => this.fixture = fixture;

    [Theory]
    [InlineData("exceptions")]
    [InlineData("segments")]
    [InlineData("transfers")]
    [InlineData("paging")]
    [InlineData("tasks")]
    [InlineData("v86")]
    [InlineData("realmode")]
    [InlineData("monitor")]
    [InlineData("triple")]
    public void EnginesAgreeAfterEveryBlock(string program)
    {
        byte[] image = File.ReadAllBytes(fixture.Image(program));
        using var engine = new TranslatorEngine(threshold: 1, synchronous: true);
        var out1 = new MemoryStream();
        var out2 = new MemoryStream();
        // Deterministic clocks: the time-stamp counter the programs read counts instructions on both.
        using var interpreter = new Board(SystemProgram.RamMiB, out1, null, new BoardOptions { Deterministic = true });
        using var translator = new Board(SystemProgram.RamMiB, out2, engine, new BoardOptions { Deterministic = true });
        interpreter.BootMultiboot(image, "");
        translator.BootMultiboot(image, "");
        Emu.X86.Cpu a = interpreter.Cpu, b = translator.Cpu;
        // A step is one block on the translator (or part of one: a TLB miss hands its
        // instruction to the interpreter and leaves), then exactly as far on the interpreter.
        for (long step = 0; ; step++)
        {
            Assert.True(step < 2_000_000, $"{program} did not end");
            long before = b.InstructionCount, faults = b.FaultsTaken;
            StopReason rb = b.Run(1);
            StopReason ra = a.Follow(b.InstructionCount - before, b.EndedInFault(faults));
            string sa = State(a), sb = State(b);
            if (ra != rb || sa != sb)
                Assert.Fail($"{program}: the engines differ after block {step}:\n  interpreter {ra} {sa}\n  translator  {rb} {sb}\n" +
                            $"output so far:\n{Encoding.ASCII.GetString(out1.ToArray())}");
            if (ra != StopReason.BudgetExhausted) break;
        }
        Assert.Equal(out1.ToArray(), out2.ToArray());
        Assert.True(out1.Length > 0);
    }

    private static string State(Emu.X86.Cpu c)
    {
        var s = new StringBuilder();
        for (int r = 0; r < 8; r++) s.Append($"{c.Gpr[r]:x8} ");
        s.Append($"eip={c.Eip:x8} fl={c.GetEflags():x8} ");
        for (int r = 0; r < 6; r++) s.Append($"{c.Seg[r].Selector:x4}/{c.Seg[r].Base:x8}/{c.Seg[r].Limit:x8} ");
        s.Append($"cr0={c.Cr0:x8} cr2={c.Cr2:x8} cr3={c.Cr3:x8} cr4={c.Cr4:x8} tr={c.Tr.Selector:x4} ldtr={c.Ldtr.Selector:x4} ");
        s.Append($"n={c.InstructionCount}");
        return s.ToString();
    }
}
