using System.Collections.Generic;
using Emu.Machine;

namespace Emu.Machine.Tests.SystemPrograms;

/// <summary>firmware/systests/triple.asm: double-fault combinations through a #DF task, then a triple fault (issue 4, point 4).</summary>
public sealed class TripleFaultProgramTests : IClassFixture<SystemProgramFixture>
{
    private readonly SystemProgramFixture fixture;

    public TripleFaultProgramTests(SystemProgramFixture fixture) => this.fixture = fixture;

    private static Dictionary<string, (string, string)> QemuDeviations()
    {
        var d = new Dictionary<string, (string, string)>();
        // The frame of the #GP does not fit below SS's limit: #SS, and #GP then #SS is a double
        // fault (Table 6-5). QEMU ignores SS's limit, pushes below address 0 and takes a #PF at
        // FFFFFFFCh instead (CR2), which it also turns into a #DF.
        SystemProgram.AddDeviations(d, SystemProgram.QemuSkipsSegmentChecks,
            "gp, then ss while pushing its frame: #DF task: err 00000000 link= 0028 cr2= 00000000 faulting eip + 0000000f");
        return d;
    }

    [Fact]
    public void DoubleFaultsReachTheTaskAndATripleFaultShutsDown()
    {
        SystemProgram p = SystemProgram.Run(fixture, "triple");
        // QEMU with -no-reboot exits with status 0 on a shutdown; the emulator with 14 (README).
        p.AssertAgree(QemuDeviations(), expectedStatus: ExitStatus.Shutdown, qemuStatus: 0);
        ProgramRun e = p.Interpreter;

        // #DF pushes error code 0; the saved EIP is the instruction that raised the first fault;
        // CR2 is the address of the page fault met while delivering the first one (Table 6-5).
        Assert.Equal("pf, then pf while pushing its frame: #DF task: err 00000000 link= 0028 cr2= 009000fc faulting eip + 00000005",
            e.Line("pf, then pf while pushing its frame"));
        // A benign exception or INT n, then #PF pushing its frame: the #PF is delivered, and its own
        // frame faults again: page fault then page fault.
        Assert.Equal("ud, then pf while pushing its frame: #DF task: err 00000000 link= 0028 cr2= 009001fc faulting eip + 00000005",
            e.Line("ud, then pf while pushing its frame"));
        Assert.Equal("int 40h, then pf while pushing its frame: #DF task: err 00000000 link= 0028 cr2= 009002fc faulting eip + 00000005",
            e.Line("int 40h, then pf while pushing its frame"));
        Assert.Equal("gp, then gp from its gate: #DF task: err 00000000 link= 0028 cr2= 00000000 faulting eip + 0000000d",
            e.Line("gp, then gp from its gate"));
        Assert.Equal("now a triple fault", e.Lines[^1]);
        Assert.StartsWith("the processor shut down (triple fault: #GP (general protection) error code 1234h, then #SS (stack fault) error code 1h: " +
                          "a double fault, then #NP (segment not present) error code 43h while delivering the double fault)", e.Message);
    }
}
