using System.Collections.Generic;

namespace Emu.Machine.Tests.SystemPrograms;

/// <summary>firmware/systests/v86.asm: virtual-8086 mode entry and exit, IOPL-sensitive instructions, interrupts and exceptions (issue 4, point 6).</summary>
public sealed class V86ProgramTests : IClassFixture<SystemProgramFixture>
{
    private readonly SystemProgramFixture fixture;

    public V86ProgramTests(SystemProgramFixture fixture) => this.fixture = fixture;

    private static Dictionary<string, (string, string)> QemuDeviations()
    {
        var d = new Dictionary<string, (string, string)>();
        // Virtual-8086 segments are 64 KiB: an access past FFFFh is #GP(0) (Intel SDM Vol. 3, 20.1.1).
        SystemProgram.AddDeviations(d, SystemProgram.QemuSkipsSegmentChecks,
            "word at ffffh: #0d err=0000 eip=+00 cs=2000 fl=00030002 esp=0000f000 ss=2000 es=2000 ds=2001 fs=2002 gs=2003",
            "32-bit address beyond 64 KiB: #0d err=0000 eip=+06 cs=2000 fl=00030002 esp=0000f000 ss=2000 es=2000 ds=2001 fs=2002 gs=2003");
        return d;
    }

    [Fact]
    public void AgreesWithQemuAndTheSdm()
    {
        SystemProgram p = SystemProgram.Run(fixture, "v86");
        p.AssertAgree(QemuDeviations());
        ProgramRun e = p.Interpreter;

        // IRETD with VM=1 at CPL 0 loads every segment register as selector * 16 (20.2.5).
        Assert.Equal("enter: in v86: cs ss ds es fs gs sp 2000 2000 2001 2000 2002 2003 f000 ok", e.Line("enter"));
        // IOPL-sensitive instructions with IOPL < 3: #GP(0) to the protected-mode handler, which gets
        // the full frame with ES, DS, FS and GS (20.2.7, Figure 20-5); VM is set in the pushed EFLAGS.
        foreach (string insn in new[] { "cli", "sti", "pushf", "int 40h", "iret" })
            Assert.Equal($"{insn}, iopl 0: #0d err=0000 eip=+00 cs=2000 fl=00030002 esp=0000f000 ss=2000 es=2000 ds=2001 fs=2002 gs=2003",
                e.Line($"{insn}, iopl 0"));
        // IOPL 3: they run; PUSHFD does not show VM; POPF cannot change IOPL.
        Assert.Equal("cli sti pushf popf, iopl 3: after cli 3002 pushfd 0000 3297 after popf 3202 ok", e.Line("cli sti pushf popf, iopl 3"));
        Assert.Equal("popf cannot change iopl: iopl kept: 3202 ok", e.Line("popf cannot change iopl"));
        // INT n with IOPL 3 goes through the IDT to CPL 0, data registers nulled; IRETD returns to virtual-8086 mode.
        Assert.Matches("^int 40h and back, iopl 3: handler ds/es/fs/gs: 0000 0000 0000 0000 frame: [0-9a-f]{8} 00002000 00023002 0000f000 " +
                       "00002000 00002000 00002001 00002002 00002003 back, cf 0001 ok$", e.Line("int 40h and back, iopl 3"));
        Assert.Equal("int 41h to the handler, iopl 3: #41 eip=+05 cs=2000 fl=00023002 esp=0000f000 ss=2000 es=2000 ds=2001 fs=2002 gs=2003",
            e.Line("int 41h to the handler, iopl 3"));
        // INT3 and INTO are not IOPL-sensitive but are checked against the gate's DPL (20.3.1.1).
        Assert.Equal("int3, gate dpl 0: #0d err=001a eip=+00 cs=2000 fl=00030002 esp=0000f000 ss=2000 es=2000 ds=2001 fs=2002 gs=2003", e.Line("int3, gate dpl 0"));
        Assert.Equal("int3, gate dpl 3: #03 eip=+01 cs=2000 fl=00020002 esp=0000f000 ss=2000 es=2000 ds=2001 fs=2002 gs=2003", e.Line("int3, gate dpl 3"));
        // I/O goes through the permission bitmap whatever the IOPL (20.2.8.1).
        Assert.Equal("out 80h, iopl 3: #0d err=0000 eip=+00 cs=2000 fl=00033002 esp=0000f000 ss=2000 es=2000 ds=2001 fs=2002 gs=2003", e.Line("out 80h, iopl 3"));
        Assert.Equal("in e9h: 00e9 ok", e.Line("in e9h"));
        Assert.Equal("div by zero: #00 eip=+02 cs=2000 fl=00030046 esp=0000f000 ss=2000 es=2000 ds=2001 fs=2002 gs=2003", e.Line("div by zero"));
        // Privileged instructions run at CPL 3: #GP(0); protected-mode-only ones: #UD.
        Assert.Equal("hlt: #0d err=0000 eip=+00 cs=2000 fl=00030002 esp=0000f000 ss=2000 es=2000 ds=2001 fs=2002 gs=2003", e.Line("hlt"));
        Assert.Equal("lar: #06 eip=+00 cs=2000 fl=00030002 esp=0000f000 ss=2000 es=2000 ds=2001 fs=2002 gs=2003", e.Line("lar"));
        Assert.Equal("mov ds, and segment arithmetic: 5a5a 1000 ok", e.Line("mov ds, and segment arithmetic"));
    }
}
