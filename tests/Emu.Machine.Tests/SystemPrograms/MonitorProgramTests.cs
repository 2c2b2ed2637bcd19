using System.Collections.Generic;

namespace Emu.Machine.Tests.SystemPrograms;

/// <summary>firmware/systests/monitor.asm: privilege checks of the sensitive instructions, POPF, SYSENTER/SYSEXIT, MSRs, CPUID, RDTSC (issue 4, point 8).</summary>
public sealed class MonitorProgramTests : IClassFixture<SystemProgramFixture>
{
    private readonly SystemProgramFixture fixture;

    public MonitorProgramTests(SystemProgramFixture fixture) => this.fixture = fixture;

    private static readonly Dictionary<string, (string, string)> QemuDeviations = new()
    {
        // "If the value in ECX specifies a reserved or unimplemented MSR address, a #GP(0)"
        // (Intel SDM Vol. 2, RDMSR, WRMSR). QEMU 7.2 reads 0 and ignores the write.
        ["rdmsr 12345h"] = ("rdmsr 12345h: #0d err=0000 eip=+05 cs=0008 fl=00010046", "QEMU reads unknown MSRs as 0"),
        ["wrmsr 12345h"] = ("wrmsr 12345h: #0d err=0000 eip=+05 cs=0008 fl=00010046", "QEMU ignores writes to unknown MSRs"),
        // CPUID reports the features this emulator implements (DESIGN.md): VME, DE, MCE, APIC,
        // MCA and PAT are not (yet), PAE is; QEMU's pentium2 model reports its own set.
        ["cpuid 1"] = ("cpuid 1: 00000652 0180b979", "the feature set is the emulator's own"),
    };

    [Fact]
    public void AgreesWithQemuAndTheSdm()
    {
        SystemProgram p = SystemProgram.Run(fixture, "monitor");
        p.AssertAgree(QemuDeviations);
        ProgramRun e = p.Interpreter;

        // CPL 0 only: #GP(0) at CPL 3 (Intel SDM Vol. 3, 5.9); CLI/STI need CPL <= IOPL.
        foreach (string insn in new[] { "lgdt", "lidt", "lldt", "ltr", "lmsw", "clts", "mov eax, cr0", "mov cr3, eax", "mov eax, dr7",
                     "mov dr0, eax", "invlpg", "hlt", "rdmsr", "wrmsr", "wbinvd", "invd", "cli, iopl 0", "sti, iopl 0" })
            Assert.Equal($"{insn}: #0d err=0000 eip=+00 cs=001b fl=00010046 esp=0006f000 ss=0023", e.Line(insn));
        // SGDT, SIDT, STR, SLDT, SMSW are not privileged on a P6.
        Assert.Equal("sgdt sidt str sldt smsw: gdt limit 003f idt limit 07ff 00000028 00000000 00000011 ok", e.Line("sgdt sidt str sldt smsw"));
        // POPF: IF only if CPL <= IOPL, IOPL only at CPL 0, VM never, RF cleared; AC and ID always (Vol. 2, POPF).
        Assert.Equal("popf at cpl 3, iopl 0: fl=00240002 ok", e.Line("popf at cpl 3, iopl 0"));
        Assert.Equal("popf at cpl 3, iopl 3: fl=00003202 ok", e.Line("popf at cpl 3, iopl 3"));
        Assert.Equal("popf at cpl 0: fl=00001202 ok", e.Line("popf at cpl 0"));
        Assert.Equal("lmsw cannot clear pe: 00000011 ok", e.Line("lmsw cannot clear pe"));
        // DR4/DR5 alias DR6/DR7 unless CR4.DE (17.2.2).
        Assert.Equal("dr4 is dr6: ffff0ff1 ok", e.Line("dr4 is dr6"));
        Assert.Equal("dr4 with cr4.de: #06 eip=+00 cs=0008 fl=00010046", e.Line("dr4 with cr4.de"));
        // SYSENTER: CS from SYSENTER_CS, SS = CS + 8, flat; SYSEXIT: CS + 16, SS + 24 with RPL 3.
        Assert.Equal("sysenter with cs 0: #0d err=0000 eip=+00 cs=001b fl=00010046 esp=0006f000 ss=0023", e.Line("sysenter with cs 0"));
        Assert.Equal("sysenter and sysexit: cs 0008 ss 0010 esp 0008ef00 fl=00000000 back at cpl 3: cs 001b ss 0023 esp 0006f000 ok",
            e.Line("sysenter and sysexit"));
        Assert.Equal("sysexit at cpl 3: #0d err=0000 eip=+00 cs=001b fl=00010046 esp=0006f000 ss=0023", e.Line("sysexit at cpl 3"));
        // MSRs: the SYSENTER MSRs and MTRRs as storage, MTRRcap of a P6 (8 variable ranges, fixed, WC).
        Assert.Equal("sysenter_eip read back: 00000000 00000000", e.Line("sysenter_eip read back"));
        Assert.Equal("mtrrcap: 00000000 00000508", e.Line("mtrrcap"));
        Assert.Equal("mtrr physbase0/mask0: 00000000 00100006 0000000f fff00800", e.Line("mtrr physbase0/mask0"));
        // A P6 writes only the low 32 bits of the TSC and clears the high ones (17.17).
        Assert.Equal("tsc after writing 1:00001000, high half: 00000000", e.Line("tsc after writing 1:00001000, high half"));
        Assert.Equal("rdtsc goes forward: yes", e.Line("rdtsc goes forward"));
        Assert.Equal("rdtsc at cpl 3, tsd 1: #0d err=0000 eip=+00 cs=001b fl=00010046 esp=0006f000 ss=0023", e.Line("rdtsc at cpl 3, tsd 1"));
        Assert.Equal("rdtsc at cpl 0, tsd 1: ok", e.Line("rdtsc at cpl 0, tsd 1"));
        Assert.Equal("cpuid 0: 00000002 GenuineIntel", e.Line("cpuid 0"));
    }
}
