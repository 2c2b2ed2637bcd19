using System;
using System.Collections.Generic;
using Emu.Devices.Chipset;
using Emu.Devices.Pci;
using Emu.Devices.Platform;
using Emu.Memory;

namespace Emu.Devices.Tests;

/// <summary>Records the IRQ lines a device drives.</summary>
internal sealed class IrqRecorder : IIrqSink
{
    public readonly bool[] Level = new bool[16];
    public readonly List<(int Irq, bool Level)> Events = new();

    public void SetIrq(int irq, bool level)
    {
        Level[irq] = level;
        Events.Add((irq, level));
    }
}

public sealed class I440fxTests : IDisposable
{
    private readonly PhysicalMemory memory = new(0x80_0000);
    private readonly PciBus bus = new(() => { });
    private readonly IoSpace io = new();
    private readonly I440fx northBridge;
    private readonly byte[] bios = new byte[0x2_0000];
    private readonly List<(uint Start, uint Length)> changes = new();

    public I440fxTests()
    {
        for (int i = 0; i < bios.Length; i++) bios[i] = (byte)(i ^ (i >> 8));
        memory.MapRom(0xE_0000, bios, "BIOS");
        memory.MapRom(0xFFFE_0000, bios, "BIOS high");
        memory.LayoutChanged += (s, n) => changes.Add((s, n));
        northBridge = new I440fx(memory);
        bus.Attach(io);
        bus.Add(0, 0, northBridge);
    }

    public void Dispose() => memory.Dispose();

    private uint Cfg(int offset, int size)
    {
        io.Out(PciBus.AddressPort, 4, 0x8000_0000u | (uint)(offset & 0xFC));
        return io.In((ushort)(PciBus.DataPort + (offset & 3)), size);
    }

    private void SetCfg(int offset, int size, uint value)
    {
        io.Out(PciBus.AddressPort, 4, 0x8000_0000u | (uint)(offset & 0xFC));
        io.Out((ushort)(PciBus.DataPort + (offset & 3)), size, value);
    }

    [Fact]
    public void IdentifiesAsQemusI440fx()
    {
        Assert.Equal(0x1237_8086u, Cfg(0, 4));
        Assert.Equal(0x1100_1AF4u, Cfg(0x2C, 4));
        Assert.Equal(0x06_00_00u, Cfg(0x08, 4) >> 8);
    }

    [Fact]
    public void AtResetTheBiosAreaReadsTheRomAndDropsWrites()
    {
        Assert.Equal(0u, Cfg(0x59, 1));
        Assert.Equal(bios[0x1_0000], memory.Read8(0xF_0000));
        memory.Write(0xF_0000, 1, 0xEE);
        Assert.Equal(bios[0x1_0000], memory.Read8(0xF_0000));
        Assert.Equal(0xFFu, memory.Read(0xC_0000, 1)); // nothing on the bus there
    }

    [Fact]
    public void PamRegistersSwitchSegmentsAndReportTheChange()
    {
        changes.Clear();
        // PAM5 (5Eh) low nibble: E0000h-E3FFFh read/write RAM.
        SetCfg(0x5E, 1, 0x03);
        Assert.Equal(new[] { (0xE_0000u, 0x4000u) }, changes);
        memory.Write(0xE_0010, 1, 0x5A);
        Assert.Equal(0x5A, memory.Read8(0xE_0010));
        Assert.Equal(bios[0x4010], memory.Read8(0xE_4010)); // the neighbour still reads ROM
        // Write-protect it: reads stay RAM, writes are dropped.
        changes.Clear();
        SetCfg(0x5E, 1, 0x01);
        Assert.Single(changes);
        memory.Write(0xE_0010, 1, 0x00);
        Assert.Equal(0x5A, memory.Read8(0xE_0010));
        Assert.Equal(0x1, northBridge.PamAttributes(0xE_0000));
        // Back to ROM.
        SetCfg(0x5E, 1, 0x00);
        Assert.Equal(bios[0x0010], memory.Read8(0xE_0010));
    }

    [Fact]
    public void SeaBiosShadowingFlowWorks()
    {
        // make_bios_writable: dword writes at 58h and 5Ch with 0x33 in PAM1-6 and 0x30 in PAM0.
        uint dw58 = Cfg(0x58, 4);
        uint dw5c = Cfg(0x5C, 4);
        dw58 = (dw58 & 0x0000_00FF) | 0x3333_3000;
        dw5c = 0x3333_3333;
        SetCfg(0x58, 4, dw58);
        SetCfg(0x5C, 4, dw5c);
        Assert.Equal(0x30u, Cfg(0x59, 1));
        Assert.Equal(0x33u, Cfg(0x5F, 1));
        // The copy from the high alias, which PAM never touches.
        var image = new byte[0x2_0000];
        memory.ReadBytes(0xFFFE_0000, image);
        memory.WriteBytes(0xE_0000, image);
        memory.Write(0xF_8000, 4, 0x1234_5678); // the BIOS's data, written while shadow RAM is writable
        // make_bios_readonly: 0x11 (read RAM, writes dropped).
        SetCfg(0x58, 4, (dw58 & 0xFF) | 0x1111_1000);
        SetCfg(0x5C, 4, 0x1111_1111);
        memory.Write(0xF_8000, 4, 0);
        Assert.Equal(0x1234_5678u, memory.Read(0xF_8000, 4));
        Assert.Equal(bios[0x1_FFF0], memory.Read8(0xF_FFF0));
        Assert.True(memory.ShadowRouting(0xC_0000).ReadRam);
        Assert.False(memory.ShadowRouting(0xC_0000).WriteRam);
    }

    [Fact]
    public void ResetRoutesEverythingBackToTheBus()
    {
        northBridge.ShadowAllAsRam();
        memory.Write(0xF_0000, 1, 0x42);
        Assert.Equal(0x42, memory.Read8(0xF_0000));
        changes.Clear();
        northBridge.Reset();
        Assert.NotEmpty(changes);
        Assert.Equal(bios[0x1_0000], memory.Read8(0xF_0000));
    }

    [Fact]
    public void SmramLockFreezesTheRegister()
    {
        Assert.Equal(0x02u, Cfg(0x72, 1));
        SetCfg(0x72, 1, 0x4A); // D_OPEN | G_SMRAME
        Assert.Equal(0x4Au, Cfg(0x72, 1));
        SetCfg(0x72, 1, 0x1A); // lock: D_OPEN closes
        Assert.Equal(0x1Au, Cfg(0x72, 1));
        SetCfg(0x72, 1, 0x40); // locked: cannot reopen or unlock
        Assert.Equal(0x1Au, Cfg(0x72, 1));
    }

    [Fact]
    public void DramRowsAreStorageSeededWithTheRamSize()
    {
        Assert.Equal(1u, Cfg(0x60, 1)); // 8 MiB in 8 MiB units
        SetCfg(0x61, 1, 0x10);
        Assert.Equal(0x10u, Cfg(0x61, 1));
    }
}

public sealed class Piix3IsaTests
{
    private readonly IrqRecorder irqs = new();
    private readonly Piix3Isa isa;

    public Piix3IsaTests() => isa = new Piix3Isa(irqs);

    [Fact]
    public void HeaderAndDefaults()
    {
        Assert.Equal(0x7000_8086u, isa.ReadConfig(0, 4));
        Assert.Equal(0x80u, isa.ReadConfig(PciFunction.HeaderType, 1));
        Assert.Equal(0x8080_8080u, isa.ReadConfig(0x60, 4));
        Assert.Equal(0x02u, isa.ReadConfig(0x69, 1));
        isa.WriteConfig(0x69, 1, 0x80);
        Assert.Equal(0x80u, isa.ReadConfig(0x69, 1));
    }

    [Fact]
    public void PirqRoutingFollowsTheRegistersAndSharesLines()
    {
        Assert.Equal(-1, isa.RouteOf(0));
        // SeaBIOS: PIRQA, B -> 10, PIRQC, D -> 11.
        isa.WriteConfig(0x60, 4, 0x0B0B_0A0A);
        Assert.Equal(10, isa.RouteOf(0));
        Assert.Equal(11, isa.RouteOf(3));
        isa.SetPirq(0, true);
        Assert.True(irqs.Level[10]);
        isa.SetPirq(1, true);
        isa.SetPirq(0, false);
        Assert.True(irqs.Level[10]);  // PIRQB still holds the shared line
        isa.SetPirq(1, false);
        Assert.False(irqs.Level[10]);
        // Moving an asserted PIRQ moves the request.
        isa.SetPirq(2, true);
        Assert.True(irqs.Level[11]);
        isa.WriteConfig(0x62, 1, 0x05);
        Assert.False(irqs.Level[11]);
        Assert.True(irqs.Level[5]);
        isa.WriteConfig(0x62, 1, 0x85); // disabled
        Assert.False(irqs.Level[5]);
        Assert.Equal(-1, isa.RouteOf(2));
    }

    [Fact]
    public void IrqsThePiixCannotDriveAreNotRouted()
    {
        isa.WriteConfig(0x60, 1, 0x02);
        Assert.Equal(-1, isa.RouteOf(0));
        isa.WriteConfig(0x60, 1, 0x0D);
        Assert.Equal(-1, isa.RouteOf(0));
        isa.WriteConfig(0x60, 1, 0x7B); // reserved bits 6:4 do not stick
        Assert.Equal(0x0Bu, isa.ReadConfig(0x60, 1));
    }
}
