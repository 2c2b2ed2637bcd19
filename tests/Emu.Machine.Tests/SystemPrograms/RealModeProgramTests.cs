using System.Collections.Generic;

namespace Emu.Machine.Tests.SystemPrograms;

/// <summary>firmware/systests/realmode.asm: protected mode to real mode and back, the IVT, unreal mode (issue 4, point 1).</summary>
public sealed class RealModeProgramTests : IClassFixture<SystemProgramFixture>
{
    private readonly SystemProgramFixture fixture;

    public RealModeProgramTests(SystemProgramFixture fixture) => this.fixture = fixture;

    private static Dictionary<string, (string, string)> QemuDeviations()
    {
        var d = new Dictionary<string, (string, string)>();
        // Real mode checks the limit: an access past it is #GP through vector 13, with no error
        // code (Intel SDM Vol. 3, 20.1.1, 20.1.4); a register loaded in real mode keeps the limit
        // it had (9.9.2), here 64 KiB from SEL_DATA16.
        SystemProgram.AddDeviations(d, SystemProgram.QemuSkipsSegmentChecks,
            "word at ffffh: # 000d frame bytes 0006 ip 0000 cs 2000 flags 0046",
            "32-bit address beyond 64 KiB: # 000d frame bytes 0006 ip 0006 cs 2000 flags 0046",
            "gs keeps 64 KiB: # 000d frame bytes 0006 ip 0004 cs 2000 flags 0046");
        return d;
    }

    [Fact]
    public void AgreesWithQemuAndTheSdm()
    {
        SystemProgram p = SystemProgram.Run(fixture, "realmode");
        p.AssertAgree(QemuDeviations());
        ProgramRun e = p.Interpreter;

        Assert.Equal("real mode: cs 2000 cr0 0010 sp 7000", e.Line("real mode"));
        Assert.Equal("32-bit operands: 9abc df00 ok", e.Line("32-bit operands"));
        Assert.Equal("32-bit addressing: 7777 ok", e.Line("32-bit addressing"));
        // The IVT: FLAGS, CS, IP pushed (IP of the next instruction), IF cleared in the handler.
        Assert.Equal("int 60h: frame ip/cs/flags 0003 2000 0246 flags in handler 0093 ok", e.Line("int 60h"));
        // Exceptions push 6 bytes, never an error code; faults save the faulting IP, traps the next.
        Assert.Equal("div by zero: # 0000 frame bytes 0006 ip 0002 cs 2000 flags 0046", e.Line("div by zero"));
        Assert.Equal("int3: # 0003 frame bytes 0006 ip 0001 cs 2000 flags 0046", e.Line("int3"));
        Assert.Equal("into: # 0004 frame bytes 0006 ip 0005 cs 2000 flags 0892", e.Line("into"));
        Assert.Equal("ud2: # 0006 frame bytes 0006 ip 0000 cs 2000 flags 0046", e.Line("ud2"));
        Assert.Equal("tf in real mode: # 0001 frame bytes 0006 ip 0008 cs 2000 flags 0146", e.Line("tf in real mode"));
        // Unreal mode: FS was given 4 GiB in protected mode and keeps it after a real-mode load.
        Assert.Equal("unreal fs: 1bad b002 ok", e.Line("unreal fs"));
        Assert.Equal("back in protected mode: cr0 00000011", e.Line("back in protected mode"));
        Assert.Equal("protected mode exception again: #06 eip=+00 cs=0008 fl=00010046", e.Line("protected mode exception again"));
    }
}
