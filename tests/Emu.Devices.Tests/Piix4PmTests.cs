using System;
using Emu.Devices.Pci;
using Emu.Devices.Platform;
using Emu.Memory;

namespace Emu.Devices.Tests;

public sealed class Piix4PmTests
{
    private const ushort Base = 0xB000;
    private readonly FakeClock clock = new();
    private readonly Scheduler scheduler;
    private readonly IrqRecorder irqs = new();
    private readonly IoSpace io = new();
    private readonly Piix4Pm pm;
    private int powerOffs;

    public Piix4PmTests()
    {
        scheduler = new Scheduler(clock);
        pm = new Piix4Pm(scheduler, irqs);
        pm.Attach(io);
        pm.PowerOffRequested += () => powerOffs++;
        // What SeaBIOS's piix4_pm_setup programs.
        pm.WriteConfig(Piix4Pm.PmBase, 4, Base | 1u);
        pm.WriteConfig(Piix4Pm.PmRegMisc, 1, 0x01);
        pm.WriteConfig(Piix4Pm.SmbBase, 4, 0xB100 | 1u);
        pm.WriteConfig(Piix4Pm.SmbHostConfig, 1, 0x09);
    }

    private void AdvanceTo(long ns)
    {
        while (scheduler.NextDeadline <= ns)
        {
            clock.Now = scheduler.NextDeadline;
            scheduler.RunDue(clock.Now);
        }
        clock.Now = ns;
    }

    [Fact]
    public void ConfigurationSpaceAsSeaBiosSeesIt()
    {
        Assert.Equal(0x7113_8086u, pm.ReadConfig(0, 4));
        Assert.Equal(0x03u, pm.ReadConfig(PciFunction.RevisionId, 1));
        Assert.Equal(Base | 1u, pm.ReadConfig(Piix4Pm.PmBase, 4));
        Assert.Equal(0xB101u, pm.ReadConfig(Piix4Pm.SmbBase, 4));
        // APMC_EN set: SeaBIOS's smm_setup sees SMM as done and does not wait for an SMI.
        Assert.NotEqual(0u, pm.ReadConfig(Piix4Pm.DevActB, 4) & (1u << 25));
        Assert.Equal(0x08u, pm.ReadConfig(0x67, 1) & 0x08); // COM1 present for the DSDT
        Assert.Equal(Base, pm.IoBase);
    }

    [Fact]
    public void PmIoSpaceMovesAndDisables()
    {
        Assert.Equal(0u, io.In(Base + Piix4Pm.Pm1Control, 2));
        pm.WriteConfig(Piix4Pm.PmBase, 4, 0x0600);
        Assert.Equal(0x600, pm.IoBase);
        Assert.Equal(0xFFFFu, io.In(Base + Piix4Pm.Pm1Control, 2));
        Assert.Equal(0u, io.In(0x600 + Piix4Pm.Pm1Control, 2));
        pm.WriteConfig(Piix4Pm.PmRegMisc, 1, 0);
        Assert.Equal(-1, pm.IoBase);
        Assert.Equal(0xFFFFu, io.In(0x600 + Piix4Pm.Pm1Control, 2));
    }

    [Fact]
    public void ABaseOverAnotherDevicesPortsIsRefused()
    {
        var other = new Firmware.FwCfg(new PhysicalMemory(0x10_0000));
        other.Attach(io); // 510h-511h, 514h-51Bh
        pm.WriteConfig(Piix4Pm.PmBase, 4, 0x0500);
        Assert.Equal(-1, pm.IoBase);
        Assert.Same(other, io.DeviceAt(0x510));
    }

    [Fact]
    public void TimerCountsAt3579545HzFromTheVirtualClock()
    {
        uint t0 = io.In(Base + Piix4Pm.PmTimer, 4);
        AdvanceTo(1_000_000_000);
        uint t1 = io.In(Base + Piix4Pm.PmTimer, 4);
        Assert.Equal(3_579_545u, (t1 - t0) & 0xFF_FFFF);
        AdvanceTo(10_000_000_000); // past a 24-bit wrap (4.69 s)
        uint t2 = io.In(Base + Piix4Pm.PmTimer, 4);
        Assert.True(t2 <= 0xFF_FFFF);
        Assert.Equal((uint)(35_795_450 & 0xFF_FFFF), t2);
    }

    [Fact]
    public void TimerOverflowSetsTmrStsAndRaisesTheSciWhenEnabled()
    {
        Assert.Equal(0u, io.In(Base, 2) & Piix4Pm.TmrSts);
        io.Out(Piix4Pm.ApmControlPort, 1, Piix4Pm.AcpiEnable);
        Assert.Equal(Piix4Pm.SciEn, io.In(Base + Piix4Pm.Pm1Control, 2) & Piix4Pm.SciEn);
        io.Out(Base + Piix4Pm.Pm1Enable, 2, Piix4Pm.TmrEn);
        // Bit 23 first changes after 2^23 ticks, about 2.34 s.
        AdvanceTo(2_300_000_000);
        Assert.False(irqs.Level[9]);
        AdvanceTo(2_400_000_000);
        Assert.True(irqs.Level[9]);
        Assert.Equal(Piix4Pm.TmrSts, io.In(Base, 2) & Piix4Pm.TmrSts);
        io.Out(Base, 2, Piix4Pm.TmrSts); // write 1 to clear
        Assert.Equal(0u, io.In(Base, 2) & Piix4Pm.TmrSts);
        Assert.False(irqs.Level[9]);
        AdvanceTo(4_800_000_000); // the next change of bit 23 (at 2^24 ticks, 4.69 s)
        Assert.True(irqs.Level[9]);
    }

    [Fact]
    public void TmrStsIsSetWithoutTheEnableButRaisesNoSci()
    {
        io.Out(Piix4Pm.ApmControlPort, 1, Piix4Pm.AcpiEnable);
        AdvanceTo(3_000_000_000);
        Assert.Equal(Piix4Pm.TmrSts, io.In(Base, 2) & Piix4Pm.TmrSts);
        Assert.False(irqs.Level[9]);
    }

    [Fact]
    public void SciNeedsSciEnAndAnEnabledEvent()
    {
        io.Out(Base + Piix4Pm.Pm1Enable, 2, Piix4Pm.PwrbtnEn);
        pm.PressPowerButton();
        Assert.False(irqs.Level[9]); // SCI_EN clear: the event would go to SMI, which does not exist
        io.Out(Piix4Pm.ApmControlPort, 1, Piix4Pm.AcpiEnable);
        Assert.True(irqs.Level[9]);
        Assert.True(pm.SciAsserted);
        io.Out(Base + 1, 1, Piix4Pm.PwrbtnSts >> 8); // clear through the high byte
        Assert.False(irqs.Level[9]);
        pm.PressPowerButton();
        Assert.True(irqs.Level[9]);
        io.Out(Base + Piix4Pm.Pm1Enable, 2, 0);
        Assert.False(irqs.Level[9]);
        io.Out(Piix4Pm.ApmControlPort, 1, Piix4Pm.AcpiDisable);
        Assert.Equal(0u, io.In(Base + Piix4Pm.Pm1Control, 2) & Piix4Pm.SciEn);
        Assert.Equal(Piix4Pm.AcpiDisable, (byte)io.In(Piix4Pm.ApmControlPort, 1));
    }

    [Fact]
    public void SlpEnWithTheS5TypePowersOff()
    {
        // Linux's acpi_hw_legacy_sleep: SLP_TYP first, then SLP_TYP | SLP_EN.
        ushort cnt = (ushort)io.In(Base + Piix4Pm.Pm1Control, 2);
        ushort typ = (ushort)(Piix4Pm.SoftOffSleepType << Piix4Pm.SlpTypShift);
        io.Out(Base + Piix4Pm.Pm1Control, 2, (ushort)(cnt | typ));
        Assert.Equal(0, powerOffs);
        io.Out(Base + Piix4Pm.Pm1Control, 2, (ushort)(cnt | typ | Piix4Pm.SlpEn));
        Assert.Equal(1, powerOffs);
        Assert.Equal(0u, io.In(Base + Piix4Pm.Pm1Control, 2) & Piix4Pm.SlpEn); // SLP_EN reads 0
    }

    [Fact]
    public void OtherSleepTypesDoNotPowerOff()
    {
        io.Out(Base + Piix4Pm.Pm1Control, 2, (1 << Piix4Pm.SlpTypShift) | Piix4Pm.SlpEn); // S3 in SeaBIOS's tables
        io.Out(Base + Piix4Pm.Pm1Control, 2, (5 << Piix4Pm.SlpTypShift) | Piix4Pm.SlpEn);
        Assert.Equal(0, powerOffs);
        Assert.Equal(5u, (io.In(Base + Piix4Pm.Pm1Control, 2) & Piix4Pm.SlpTypMask) >> Piix4Pm.SlpTypShift);
    }

    [Fact]
    public void GpeBlockIsStorageAtBothAddresses()
    {
        io.Out(Piix4Pm.QemuGpe0Port + 2, 2, 0x0003);
        Assert.Equal(0x0003u, io.In(Base + Piix4Pm.GpEnable, 2));
        Assert.Equal(0u, io.In(Piix4Pm.QemuGpe0Port, 2));
        Assert.False(irqs.Level[9]);
    }

    [Fact]
    public void ApmStatusPortIsStorage()
    {
        io.Out(Piix4Pm.ApmStatusPort, 1, 0x01);
        io.Out(Piix4Pm.ApmControlPort, 1, 0x00); // SeaBIOS's SMI request: no SMI, nothing changes
        Assert.Equal(0x01u, io.In(Piix4Pm.ApmStatusPort, 1));
        Assert.Equal(0u, io.In(Base + Piix4Pm.Pm1Control, 2) & Piix4Pm.SciEn);
    }

    [Fact]
    public void ResetClearsStateAndUnmaps()
    {
        io.Out(Piix4Pm.ApmControlPort, 1, Piix4Pm.AcpiEnable);
        io.Out(Base + Piix4Pm.Pm1Enable, 2, Piix4Pm.PwrbtnEn);
        pm.PressPowerButton();
        Assert.True(irqs.Level[9]);
        pm.Reset();
        Assert.False(irqs.Level[9]);
        Assert.Equal(-1, pm.IoBase);
        Assert.Equal(1u, pm.ReadConfig(Piix4Pm.PmBase, 4));
    }
}
