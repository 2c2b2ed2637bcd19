using System.Collections.Generic;

namespace Emu.Machine.Tests.SystemPrograms;

/// <summary>firmware/systests/paging.asm: 4 KiB and 4 MiB pages, U/S, R/W, WP, A/D, #PF, stale and global translations, aliased code (issue 4, point 7).</summary>
public sealed class PagingProgramTests : IClassFixture<SystemProgramFixture>
{
    private readonly SystemProgramFixture fixture;

    public PagingProgramTests(SystemProgramFixture fixture) => this.fixture = fixture;

    private static readonly Dictionary<string, (string, string)> QemuDeviations = new()
    {
        // MOV CR3 invalidates the TLB "except for global pages" (Intel SDM Vol. 3, 4.10.4.1), so a
        // P6 keeps using the global page's old translation; QEMU 7.2 flushes global entries too.
        ["after mov cr3"] = ("after mov cr3: global aaaa7000 not global aaaaa000", "QEMU drops global translations on MOV CR3"),
    };

    [Fact]
    public void AgreesWithQemuAndTheSdm()
    {
        SystemProgram p = SystemProgram.Run(fixture, "paging");
        p.AssertAgree(QemuDeviations);
        ProgramRun e = p.Interpreter;

        // Error codes: P (protection), W/R, U/S; CR2 the faulting linear address (Vol. 3, 4.7).
        Assert.Equal("read not present: #0e err=0000 eip=+00 cs=0008 fl=00010046 cr2=00800010", e.Line("read not present"));
        Assert.Equal("write not present: #0e err=0002 eip=+00 cs=0008 fl=00010046 cr2=00800020", e.Line("write not present"));
        // CR0.WP: supervisor writes to read-only pages are allowed with WP=0, #PF with WP=1.
        Assert.Equal("write read-only, wp 0: ok", e.Line("write read-only, wp 0"));
        Assert.Equal("write read-only, wp 1: #0e err=0003 eip=+00 cs=0008 fl=00010046 cr2=00801008", e.Line("write read-only, wp 1"));
        Assert.Equal("rmw read-only, wp 1: #0e err=0003 eip=+00 cs=0008 fl=00010046 cr2=0080100c", e.Line("rmw read-only, wp 1"));
        // A page-crossing access faults on the first byte of the page that is not present.
        Assert.Equal("dword across into not present: #0e err=0000 eip=+00 cs=0008 fl=00010046 cr2=0080b000", e.Line("dword across into not present"));
        // Fetches: EIP and CR2 are the target; an instruction running into a missing page faults at its start.
        Assert.Equal("fetch not present: #0e err=0000 eip=00800030 cs=0008 fl=00010046 cr2=00800030", e.Line("fetch not present"));
        Assert.Equal("fetch across into not present: #0e err=0000 eip=0080afff cs=0008 fl=00010046 cr2=0080b000", e.Line("fetch across into not present"));
        // CPL 3: U/S and R/W of both levels, the stricter wins (4.6.1).
        Assert.Equal("ring 3 read supervisor page: #0e err=0005 eip=+00 cs=001b fl=00010046 esp=0006f000 ss=0023 cr2=00802000", e.Line("ring 3 read supervisor page"));
        Assert.Equal("ring 3 write read-only page: #0e err=0007 eip=+00 cs=001b fl=00010046 esp=0006f000 ss=0023 cr2=00801000", e.Line("ring 3 write read-only page"));
        Assert.Equal("ring 3 write not present: #0e err=0006 eip=+00 cs=001b fl=00010046 esp=0006f000 ss=0023 cr2=00800000", e.Line("ring 3 write not present"));
        Assert.Equal("ring 3 read, pde supervisor: #0e err=0005 eip=+00 cs=001b fl=00010046 esp=0006f000 ss=0023 cr2=01000000", e.Line("ring 3 read, pde supervisor"));
        Assert.Equal("ring 3 write, pde read-only: #0e err=0007 eip=+00 cs=001b fl=00010046 esp=0006f000 ss=0023 cr2=01400000", e.Line("ring 3 write, pde read-only"));
        Assert.Equal("ring 3 read the tables (4 MiB supervisor): #0e err=0005 eip=+00 cs=001b fl=00010046 esp=0006f000 ss=0023 cr2=00400000",
            e.Line("ring 3 read the tables (4 MiB supervisor)"));
        Assert.Equal("supervisor write, pde read-only, wp 1: #0e err=0003 eip=+00 cs=0008 fl=00010046 cr2=01400000", e.Line("supervisor write, pde read-only, wp 1"));
        // Accessed on any access, dirty on a write; in the PTE, the PDE, and a 4 MiB PDE.
        Assert.Equal("pte4 before: 00904007", e.Line("pte4 before"));
        Assert.Equal("pte4 after a read: 00904027", e.Line("pte4 after a read"));
        Assert.Equal("pte4 after a write: 00904067", e.Line("pte4 after a write"));
        Assert.Equal("pde2: 00402027", e.Line("pde2"));
        Assert.Equal("4 MiB page read: 16161616 pde3 010000a7", e.Line("4 MiB page read"));
        Assert.Equal("pde3 after a write: 010000e7", e.Line("pde3 after a write"));
        // A cached translation is used until INVLPG or MOV CR3 (4.10.4).
        Assert.Equal("remapped, no invlpg: aaaa5000", e.Line("remapped, no invlpg"));
        Assert.Equal("after invlpg: aaaa6000", e.Line("after invlpg"));
        Assert.Equal("unmapped, no invlpg: value aaaa6000 ok", e.Line("unmapped, no invlpg"));
        Assert.Equal("unmapped, after mov cr3: #0e err=0000 eip=+00 cs=0008 fl=00010046 cr2=00805000", e.Line("unmapped, after mov cr3"));
        Assert.Equal("after clearing pge: global aaaa8000", e.Line("after clearing pge"));
        // Code stored through one alias and run through another is the new code.
        Assert.Equal("alias run 2: 22222222", e.Line("alias run 2"));
        Assert.Equal("alias run 3: 33333333", e.Line("alias run 3"));
        Assert.Equal("remapped code 2: 44444444", e.Line("remapped code 2"));
        Assert.Equal("paging off", e.Lines[^1]);
    }
}
