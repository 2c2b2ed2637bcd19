using System.Collections.Generic;

namespace Emu.Machine.Tests.SystemPrograms;

/// <summary>firmware/systests/tasks.asm: task switches, busy bits, NT, back link, CR3, the I/O permission bitmap (issue 4, point 5).</summary>
public sealed class TasksProgramTests : IClassFixture<SystemProgramFixture>
{
    private readonly SystemProgramFixture fixture;

    public TasksProgramTests(SystemProgramFixture fixture) => this.fixture = fixture;

    private static readonly Dictionary<string, (string, string)> QemuDeviations = new()
    {
        // A fault after the commit point is raised in the new task "prior to beginning execution
        // of the new task ... the first instruction of the new task appears not to have been
        // executed" (Intel SDM Vol. 3, 7.3, steps 13-14): the EIP saved for it is its first
        // instruction. QEMU 7.2 saves the EIP of the CALL in the old task.
        ["f's saved eip, from its first instruction"] = ("f's saved eip, from its first instruction: 00000000",
            "QEMU saves the old task's EIP for a fault after the commit point"),
        // "T (debug trap) flag ... causes the processor to raise a debug exception when a task
        // switch to this task occurs" (Vol. 3, 7.2.1; 17.3.1.5: DR6.BT, before the task's first
        // instruction). QEMU 7.2 ignores the T flag.
        ["call tss with the t bit"] = ("call tss with the t bit: in h: dr6 ffff8ff0 link= 0090 g's saved eip from its start 00000000 in g back ok",
            "QEMU ignores the TSS T flag"),
        // A call gate's new stack segment not present: "#SS(NewSS)" (Vol. 2, CALL, MORE-PRIVILEGE);
        // QEMU 7.2 raises #TS(NewSS).
        ["call gate, ss0 not present"] = ("call gate, ss0 not present: #SS task: err 000000b8 caller cs:eip 001b 00000001 esp 0006effc",
            "QEMU raises #TS for a new stack that is not present"),
    };

    [Fact]
    public void AgreesWithQemuAndTheSdm()
    {
        SystemProgram p = SystemProgram.Run(fixture, "tasks");
        p.AssertAgree(QemuDeviations);
        ProgramRun e = p.Interpreter;

        // CALL: the new task is busy and nested (NT, back link), TS set, its CR3 and LDTR loaded;
        // IRET returns, clears the callee's busy bit and NT in its saved EFLAGS (7.3, 7.4).
        Assert.Equal("call tss b: in b: tr= 0040 link= 0028 nt= 00004000 ts= 00000008 cr3= 00401000 ldtr= 0078 [8M]= 22222222 busy 8b 8b 81 " +
                     "back in a: 5151a0a0 nt= 00000000 ts= 00000008 busy 8b 89 81 tr= 0028 ok", e.Line("call tss b"));
        Assert.Equal("tss b saved: 00000002 b0b0b0b0", e.Line("tss b saved"));
        // JMP: not nested, the old task no longer busy; B resumes after its IRET.
        Assert.Equal("jmp tss b: in b: tr= 0040 link= 0028 nt= 00000000 ts= 00000008 cr3= 00401000 ldtr= 0078 [8M]= 22222222 busy 89 8b 81 " +
                     "back in a: busy 8b 89 81 nt= 00000000 ok", e.Line("jmp tss b"));
        Assert.StartsWith("int 50h task gate: in b: tr= 0040 link= 0028 nt= 00004000", e.Line("int 50h task gate"));
        // An exception through a task gate pushes its error code on the new task's stack (6.12.2).
        Assert.Equal("gp through a task gate: in d: err 00001234 link= 0028", e.Line("gp through a task gate"));
        Assert.Equal("call tss16: in c: 0048 0028 back busy 8b 89 81 ok", e.Line("call tss16"));
        // Checks on the new TSS (Table 7-1).
        Assert.Equal("call busy tss: #0d err=0028 eip=+00 cs=0008 fl=00010046", e.Line("call busy tss"));
        Assert.Equal("call tss limit 50h: #0a err=0060 eip=+00 cs=0008 fl=00010046", e.Line("call tss limit 50h"));
        Assert.Equal("call tss not present: #0b err=0068 eip=+00 cs=0008 fl=00010046", e.Line("call tss not present"));
        Assert.Equal("iret to a tss not busy: #0a err=0048 eip=+12 cs=0008 fl=00014046", e.Line("iret to a tss not busy"));
        // The new stack of a call gate is checked before anything changes: faults in the caller's
        // context (CS 1Bh, EIP of the CALL, ESP after its PUSH); a null SS0 is #TS(0).
        Assert.Equal("call gate, ss0 null: #TS task: err 00000000 caller cs:eip 001b 00000001 esp 0006effc", e.Line("call gate, ss0 null"));
        Assert.Equal("call gate, ss0 rpl 3: #TS task: err 00000020 caller cs:eip 001b 00000001 esp 0006effc", e.Line("call gate, ss0 rpl 3"));
        // The I/O permission bitmap: every bit of the access must be clear; none beyond the TSS limit (Vol. 1, 19.5.2).
        Assert.Equal("ring 3 out e9h (allowed):. ok", e.Line("ring 3 out e9h (allowed)"));
        Assert.Equal("ring 3 out word e9h: #0d err=0000 eip=+04 cs=001b fl=00010046 esp=0006f000 ss=0023", e.Line("ring 3 out word e9h"));
        Assert.Equal("ring 3 insb 80h: #0d err=0000 eip=+09 cs=001b fl=00010046 esp=0006f000 ss=0023", e.Line("ring 3 insb 80h"));
        Assert.Equal("ring 3 out e9h, no bitmap: #0d err=0000 eip=+02 cs=001b fl=00010046 esp=0006f000 ss=0023", e.Line("ring 3 out e9h, no bitmap"));
        Assert.Equal("ring 3 in 80h, iopl 3: ok", e.Line("ring 3 in 80h, iopl 3"));
        // A data selector as CS in the new TSS: #TS(selector) in the new task, whose TSS stays busy.
        Assert.Equal("call tss with a data cs: in e: err 00000010 link= 0080 busy 8b", e.Line("call tss with a data cs"));
    }
}
