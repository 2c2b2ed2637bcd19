using System.Collections.Generic;

namespace Emu.Machine.Tests.SystemPrograms;

/// <summary>firmware/systests/transfers.asm: far JMP/CALL/RET, call gates, RET and IRET to outer levels (issue 4, point 3).</summary>
public sealed class TransfersProgramTests : IClassFixture<SystemProgramFixture>
{
    private readonly SystemProgramFixture fixture;

    public TransfersProgramTests(SystemProgramFixture fixture) => this.fixture = fixture;

    private static readonly Dictionary<string, (string, string)> QemuDeviations = new()
    {
        // CALL through a call gate: "IF instruction pointer not within code segment limit THEN
        // #GP(0)", checked before the stack switch (Intel SDM Vol. 2, CALL). QEMU 7.2 jumps.
        ["ring 3 call gate beyond limit"] = ("ring 3 call gate beyond limit: #0d err=0000 eip=+00 cs=001b fl=00010046 esp=0006f000 ss=0023",
            "QEMU does not check the gate's offset against the code segment's limit"),
        // Through a gate to conforming code the CPL stays: "CS(RPL) <- CPL" (Vol. 2, CALL,
        // SAME-PRIVILEGE). QEMU 7.2 keeps the gate's selector RPL (cs=0040).
        ["ring 3 call gate conforming"] = ("ring 3 call gate conforming: cs= 0043 esp= 0006eff8 ok", "QEMU loads CS.RPL from the gate"),
    };

    [Fact]
    public void AgreesWithQemuAndTheSdm()
    {
        SystemProgram p = SystemProgram.Run(fixture, "transfers");
        p.AssertAgree(QemuDeviations);
        ProgramRun e = p.Interpreter;

        // A far CALL pushes CS in a doubleword slot, then EIP; RETF n releases n bytes.
        Assert.StartsWith("call far and retf: pushed:", e.Line("call far and retf"));
        Assert.EndsWith(" 00000008 esp back: 00000000 ok", e.Line("call far and retf"));
        Assert.Equal("call far and retf 8: released: 00000008 ok", e.Line("call far and retf 8"));
        // 16-bit far CALL pushes CS and IP as words; RETF and IRET with a 16-bit operand size pop words.
        Assert.Matches("^16-bit call far, retf, iret: pushed: [0-9a-f]{4} 00a0 esp back: 00000000 after iretw: 00000000 00a0 ok$",
            e.Line("16-bit call far, retf, iret"));
        // Non-conforming code needs DPL = CPL and RPL <= CPL; conforming code keeps the CPL (CS.RPL = 0 here).
        Assert.Equal("jmp far to dpl 3 code: #0d err=0018 eip=+00 cs=0008 fl=00010046", e.Line("jmp far to dpl 3 code"));
        Assert.Equal("jmp far rpl 1: #0d err=0008 eip=+00 cs=0008 fl=00010046", e.Line("jmp far rpl 1"));
        Assert.Equal("jmp far conforming: cs= 0040 ok", e.Line("jmp far conforming"));
        Assert.Equal("call far not present: #0b err=0048 eip=+00 cs=0008 fl=00010046", e.Line("call far not present"));
        Assert.Equal("jmp far tss busy: #0d err=0028 eip=+00 cs=0008 fl=00010046", e.Line("jmp far tss busy"));
        // A call gate to CPL 0 from CPL 3: SS:ESP from the TSS (SS0 10h, ESP0 8F000h), then the
        // caller's SS, ESP, the two parameters in their order, CS, EIP (Vol. 3, 5.8.5, Figure 5-13).
        Assert.Matches(@"^ring 3 call gate, 2 parameters: cs= 0008 ss= 0010 esp= 0008efe8 frame: [0-9a-f]{8} 0000001b bbbb0002 aaaa0001 0006eff8 00000023$",
            e.Line("ring 3 call gate, 2 parameters"));
        // RETF 8 back to CPL 3: the parameters released on both stacks; ES (DPL 0) and FS (DPL 1) nulled, GS (DPL 3) kept.
        Assert.Equal("  back at cpl 3: 001b 0023 0006f000 es= 0000 fs= 0000 gs= 0023", e.Line("  back at cpl 3"));
        Assert.Equal("ring 3 call gate dpl 0: #0d err=0058 eip=+00 cs=001b fl=00010046 esp=0006f000 ss=0023", e.Line("ring 3 call gate dpl 0"));
        Assert.Equal("call gate rpl 3 > dpl 0: #0d err=0058 eip=+00 cs=0008 fl=00010046", e.Line("call gate rpl 3 > dpl 0"));
        // JMP through a gate cannot change privilege: #GP(code selector).
        Assert.Equal("ring 3 jmp gate to cpl 0: #0d err=0008 eip=+00 cs=001b fl=00010046 esp=0006f000 ss=0023", e.Line("ring 3 jmp gate to cpl 0"));
        Assert.Equal("ring 3 call gate not present: #0b err=0070 eip=+00 cs=001b fl=00010046 esp=0006f000 ss=0023", e.Line("ring 3 call gate not present"));
        // A 16-bit gate: 16-bit slots, IP truncated, two parameter words copied.
        Assert.Matches("^ring 3 call gate 16-bit: cs= 00a0 stack: [0-9a-f]{4} 001b 0004 dddd eff8 0023 ok$", e.Line("ring 3 call gate 16-bit"));
        // RET to an outer level nulls data registers the new CPL may not use, conforming code excepted.
        Assert.Equal("retf to cpl 3, nulling: cpl 3: 0040 0000 0000 0023 0006eff0", e.Line("retf to cpl 3, nulling"));
        Assert.Equal("retf to cpl 3, ss rpl 0: #0d err=0010 eip=+15 cs=0008 fl=00010046", e.Line("retf to cpl 3, ss rpl 0"));
        Assert.Equal("retf to cpl 3, null ss: #0d err=0000 eip=+15 cs=0008 fl=00010046", e.Line("retf to cpl 3, null ss"));
        Assert.Equal("ring 3 retf to cpl 0: #0d err=0008 eip=+04 cs=001b fl=00010046 esp=0006eff8 ss=0023", e.Line("ring 3 retf to cpl 0"));
        // IRET at CPL 3 changes neither IF (CPL > IOPL) nor IOPL; at CPL 0 it changes both.
        Assert.Equal("ring 3 iret, if and iopl: fl=00000000 ok", e.Line("ring 3 iret, if and iopl"));
        Assert.Equal("iret to cpl 3, iopl 3 and if: fl=00003200 es= 0000 ok", e.Line("iret to cpl 3, iopl 3 and if"));
        Assert.Equal("ring 3 iret to cpl 0: #0d err=0008 eip=+05 cs=001b fl=00010046 esp=0006eff4 ss=0023", e.Line("ring 3 iret to cpl 0"));
    }
}
