using System.Collections.Generic;

namespace Emu.Machine.Tests.SystemPrograms;

/// <summary>firmware/systests/segments.asm: segment loads, checks on accesses, LDT, LAR/LSL/VERR/VERW/ARPL (issue 4, point 2).</summary>
public sealed class SegmentsProgramTests : IClassFixture<SystemProgramFixture>
{
    private readonly SystemProgramFixture fixture;

    public SegmentsProgramTests(SystemProgramFixture fixture) => this.fixture = fixture;

    private static Dictionary<string, (string, string)> QemuDeviations()
    {
        var d = new Dictionary<string, (string, string)>();
        SystemProgram.AddDeviations(d, SystemProgram.QemuSkipsSegmentChecks,
            "read through null ds: #0d err=0000 eip=+04 cs=0008 fl=00010046",
            "read through null fs: #0d err=0000 eip=+04 cs=0008 fl=00010046",
            "write read-only data: #0d err=0000 eip=+06 cs=0008 fl=00010046",
            "small limit dword at ffe: #0d err=0000 eip=+06 cs=0008 fl=00010046",
            "page granular limit: #0d err=0000 eip=+0c cs=0008 fl=00010046",
            // Expand-down: valid offsets are limit+1 up to FFFFh (B=0) or FFFFFFFFh (B=1) (3.4.5.1).
            "down16 at limit: #0d err=0000 eip=+06 cs=0008 fl=00010046",
            "down16 word at ffff: #0d err=0000 eip=+06 cs=0008 fl=00010046",
            "down32 at limit: #0d err=0000 eip=+06 cs=0008 fl=00010046");
        return d;
    }

    [Fact]
    public void AgreesWithQemuAndTheSdm()
    {
        SystemProgram p = SystemProgram.Run(fixture, "segments");
        p.AssertAgree(QemuDeviations());
        ProgramRun e = p.Interpreter;

        // Null selectors: fine in DS (even with RPL 3), #GP(0) in SS (Intel SDM Vol. 3, 5.4.1, Vol. 2 MOV).
        Assert.Equal("ds null rpl 3: ok", e.Line("ds null rpl 3"));
        Assert.Equal("ss null: #0d err=0000 eip=+04 cs=0008 fl=00010046", e.Line("ss null"));
        // Data registers take data or readable code; execute-only code and system descriptors are #GP(selector).
        Assert.Equal("ds execute-only code: #0d err=0048 eip=+04 cs=0008 fl=00010046", e.Line("ds execute-only code"));
        Assert.Equal("ds conforming execute-only: #0d err=00b0 eip=+04 cs=0008 fl=00010046", e.Line("ds conforming execute-only"));
        Assert.Equal("gs tss: #0d err=0028 eip=+04 cs=0008 fl=00010046", e.Line("gs tss"));
        Assert.Equal("ds not present: #0b err=0060 eip=+04 cs=0008 fl=00010046", e.Line("ds not present"));
        // RPL > DPL fails for non-conforming data, not for conforming code.
        Assert.Equal("es rpl 1 on dpl 0: #0d err=0010 eip=+04 cs=0008 fl=00010046", e.Line("es rpl 1 on dpl 0"));
        Assert.Equal("fs rpl 3 on conforming: ok", e.Line("fs rpl 3 on conforming"));
        // SS: writable data with RPL = DPL = CPL; not present is #SS(selector).
        Assert.Equal("ss read-only data: #0d err=0040 eip=+04 cs=0008 fl=00010046", e.Line("ss read-only data"));
        Assert.Equal("ss rpl 3: #0d err=0010 eip=+04 cs=0008 fl=00010046", e.Line("ss rpl 3"));
        Assert.Equal("ss not present: #0c err=0060 eip=+04 cs=0008 fl=00010046", e.Line("ss not present"));
        // The load sets the accessed bit in memory.
        Assert.Equal("access byte before: 92", e.Line("access byte before"));
        Assert.Equal("access byte after: 93", e.Line("access byte after"));
        // The LDT: TI=1 selectors, LLDT's own checks; LLDT null makes LDT references fault.
        Assert.Equal("ds ldt while ldtr null: #0d err=0004 eip=+04 cs=0008 fl=00010046", e.Line("ds ldt while ldtr null"));
        Assert.Equal("ds ldt not present: #0b err=0014 eip=+04 cs=0008 fl=00010046", e.Line("ds ldt not present"));
        Assert.Equal("ds beyond ldt: #0d err=001c eip=+04 cs=0008 fl=00010046", e.Line("ds beyond ldt"));
        Assert.Equal("lldt from the ldt: #0d err=0004 eip=+04 cs=0008 fl=00010046", e.Line("lldt from the ldt"));
        // A failed LES leaves the offset register as it was.
        Assert.Equal("esi after the failed les: 11111111", e.Line("esi after the failed les"));
        Assert.Equal("down16 above limit: ok", e.Line("down16 above limit"));
        Assert.Equal("down32 high: ok", e.Line("down32 high"));
        // CPL 3: DPL 0 data and non-conforming code refused, conforming code allowed.
        Assert.Equal("ring 3 ds dpl 0: #0d err=0010 eip=+04 cs=001b fl=00010046 esp=0006f000 ss=0023", e.Line("ring 3 ds dpl 0"));
        Assert.Equal("ring 3 ds conforming dpl 0: ok", e.Line("ring 3 ds conforming dpl 0"));
        Assert.Equal("ring 3 ds readable code dpl 0: #0d err=0050 eip=+04 cs=001b fl=00010046 esp=0006f000 ss=0023",
            e.Line("ring 3 ds readable code dpl 0"));
        Assert.Equal("ring 3 lldt: #0d err=0000 eip=+04 cs=001b fl=00010046 esp=0006f000 ss=0023", e.Line("ring 3 lldt"));
        // LAR: rights masked with 00F0FF00h; gates other than call and task gates, null and out-of-table selectors give ZF=0.
        Assert.Equal("lar code: fl=00000040 00c09b00", e.Line("lar code"));
        Assert.Equal("lar busy tss: fl=00000040 00008b00", e.Line("lar busy tss"));
        Assert.Equal("lar call gate: fl=00000040 0000ec00", e.Line("lar call gate"));
        Assert.Equal("lar interrupt gate: fl=00000000 deadbeef", e.Line("lar interrupt gate"));
        Assert.Equal("lar not present: fl=00000040 00c01300", e.Line("lar not present"));
        Assert.Equal("lar 16-bit: fl=00000040 dead9b00", e.Line("lar 16-bit"));
        // LSL: the limit in bytes, granularity applied.
        Assert.Equal("lsl page granular: fl=00000040 0000ffff", e.Line("lsl page granular"));
        Assert.Equal("lsl tss: fl=00000040 00002068", e.Line("lsl tss"));
        Assert.Equal("lsl call gate: fl=00000000 deadbeef", e.Line("lsl call gate"));
        Assert.Equal("verw read-only: fl=00000000 deadbeef", e.Line("verw read-only"));
        Assert.Equal("verr execute-only: fl=00000000 deadbeef", e.Line("verr execute-only"));
        Assert.Equal("verr readable code: fl=00000040 deadbeef", e.Line("verr readable code"));
        Assert.Equal("arpl raise: fl=00000040 0013", e.Line("arpl raise"));
        Assert.Equal("arpl keep: fl=00000000 0012", e.Line("arpl keep"));
        Assert.Equal("arpl memory: fl=00000040 0012", e.Line("arpl memory"));
        // At CPL 3 descriptors with DPL < max(CPL, RPL) are invisible, conforming code excepted.
        Assert.Equal("  r3 lar dpl 0 data: fl=00000000 deadbeef", e.Line("  r3 lar dpl 0 data"));
        Assert.Equal("  r3 lar dpl 0 rpl 3 conforming: fl=00000040 00c09f00", e.Line("  r3 lar dpl 0 rpl 3 conforming"));
        Assert.Equal("  r3 verr conforming dpl 0: fl=00000040 deadbeef", e.Line("  r3 verr conforming dpl 0"));
    }
}
