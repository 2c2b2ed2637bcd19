using System.IO;
using System.Text;
using Emu.Memory;
using Emu.Translator;
using Emu.X86;

namespace Emu.Machine.Tests.SystemPrograms;

/// <summary>
/// The counters behind <c>emu run --stats</c> (issue 11), against system programs whose work is
/// known: the exceptions program raises #DE, #UD and #GP and runs INT 3 and INT 40h; the paging
/// program loads CR3 and walks page tables; both print byte by byte to port E9h.
/// </summary>
public sealed class StatisticsTests : IClassFixture<SystemProgramFixture>
{
    private readonly SystemProgramFixture fixture;

    public StatisticsTests(SystemProgramFixture fixture) => this.fixture = fixture;

    private (Board Board, string Output, TranslatorEngine Engine) Run(string program)
    {
        var output = new MemoryStream();
        var engine = new TranslatorEngine(threshold: 2, synchronous: true);
        var board = new Board(SystemProgram.RamMiB, output, engine);
        board.BootMultiboot(File.ReadAllBytes(fixture.Image(program)), "");
        RunResult r = board.Run(200_000_000);
        Assert.Equal(RunOutcome.GuestExit, r.Outcome);
        return (board, Encoding.ASCII.GetString(output.ToArray()), engine);
    }

    [Fact]
    public void EventsPortsAndEnginesAreCounted()
    {
        var (board, output, engine) = Run("exceptions");
        using (board)
        {
            Cpu cpu = board.Cpu;
            long Exceptions(int vector) => cpu.Events[(int)EventSource.Exception * 256 + vector];
            long Software(int vector) => cpu.Events[(int)EventSource.Software * 256 + vector];
            Assert.True(Exceptions(ExceptionVectors.DE) >= 2, $"#DE counted {Exceptions(ExceptionVectors.DE)} times; the program divides by zero and overflows IDIV");
            Assert.True(Exceptions(ExceptionVectors.UD) >= 1);
            Assert.True(Exceptions(ExceptionVectors.GP) >= 1);
            Assert.True(Software(0x40) >= 1, "INT 40h not counted");
            Assert.True(Software(0x03) >= 1, "INT 3 not counted");
            Assert.Equal(0, cpu.Events[(int)EventSource.Exception * 256 + ExceptionVectors.PF]); // no paging: no #PF

            // Every byte of the output is one OUT to port E9h.
            Assert.Equal(output.Length, board.Io.Accesses[0xE9]);

            // Every instruction ran on one engine or the other; threshold 2 leaves some interpreted.
            Assert.True(engine.CompiledRetired > 0 && engine.CompiledRetired < cpu.InstructionCount,
                $"compiled {engine.CompiledRetired} of {cpu.InstructionCount}");
            Assert.True(engine.ColdRuns > 0);
            Assert.True(cpu.Blocks.Lookups >= engine.DispatchedEntries + engine.ColdRuns - 1);

            string report = RunStatistics.Report(board);
            Assert.Contains("#DE", report);
            Assert.Contains("INT 40h", report);
            Assert.Contains($"DebugConsole@E9h {output.Length:N0}", report);
            Assert.Contains($"instructions: {cpu.InstructionCount:N0}", report);
        }
    }

    [Fact]
    public void PagingWorkIsCounted()
    {
        var (board, _, _) = Run("paging");
        using (board)
        {
            Cpu cpu = board.Cpu;
            MmuCounters m = board.Mmu.Counters;
            Assert.True(cpu.Cr3Loads >= 1, "no CR3 load counted");
            Assert.True(m.PageWalks > 0, "no page walk counted");
            Assert.True(m.ReadMisses > 0 && m.WriteMisses > 0);
            // A jump-cache miss translates its fetch address, through the read TLB when it can.
            Assert.True(m.FetchTranslations > 0 && m.FetchTranslations <= cpu.Blocks.JumpMisses,
                $"{m.FetchTranslations} fetch translations, {cpu.Blocks.JumpMisses} jump-cache misses");
            Assert.True(cpu.Events[(int)EventSource.Exception * 256 + ExceptionVectors.PF] >= 1, "the paging program takes page faults");
        }
    }
}
