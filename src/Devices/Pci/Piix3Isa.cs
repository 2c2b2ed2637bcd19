using System;
using Emu.Devices.Chipset;

namespace Emu.Devices.Pci;

/// <summary>
/// The PCI-to-ISA bridge function of the Intel 82371SB PIIX3 (00:01.0, 8086:7000; PIIX3
/// datasheet, function 0 configuration registers): a multi-function header, the PIRQ route
/// control registers PIRQRC[A:D] (60h-63h) that steer the PCI interrupt lines onto ISA IRQs,
/// and, as storage, the ISA I/O recovery timer, X-bus chip select, top of memory, motherboard
/// IRQ/DMA routing, APIC base, deterministic latency and SMI registers. The edge/level control
/// registers themselves are I/O ports (4D0h/4D1h) and live in <see cref="Pic8259"/>.
/// </summary>
public sealed class Piix3Isa : PciFunction
{
    public const int Iort = 0x4C, Xbcs = 0x4E, PirqRouteA = 0x60, TopOfMemory = 0x69, Mstat = 0x6A,
        MbIrq0 = 0x70, MbDma0 = 0x76, Pcsc = 0x78, ApicBase = 0x80, Dlc = 0x82, SmiControl = 0xA0;

    /// <summary>PIRQRC bit 7: the PIRQ is not routed to any ISA IRQ.</summary>
    public const byte IrqRouteDisable = 0x80;

    private readonly IIrqSink irqs;
    private readonly bool[] pirqLevel = new bool[4];
    private readonly int[] routedTo = { -1, -1, -1, -1 };

    public Piix3Isa(IIrqSink irqs) : base("PIIX3 PCI-to-ISA bridge", 0x8086, 0x7000, revision: 0x00, classCode: 0x06_01_00, multiFunction: true)
    {
        this.irqs = irqs ?? throw new ArgumentNullException(nameof(irqs));
        Write16(SubsystemVendorId, I440fx.QemuSubsystemVendor);
        Write16(SubsystemVendorId + 2, I440fx.QemuSubsystem);
        Write16(Status, 0x0200); // medium DEVSEL timing
        WriteMask[Iort] = 0xFF;
        WriteMask[Xbcs] = 0xFF;
        WriteMask[Xbcs + 1] = 0x03;
        for (int i = 0; i < 4; i++) WriteMask[PirqRouteA + i] = 0x8F; // bits 6:4 reserved
        WriteMask[TopOfMemory] = 0xFE;
        WriteMask[Mstat] = 0xFF;
        WriteMask[Mstat + 1] = 0xFF;
        WriteMask[MbIrq0] = 0xCF;
        WriteMask[MbIrq0 + 1] = 0xCF;
        WriteMask[MbDma0] = 0x87;
        WriteMask[MbDma0 + 1] = 0x87;
        WriteMask[Pcsc] = 0xFF;
        WriteMask[Pcsc + 1] = 0xFF;
        WriteMask[ApicBase] = 0x7F;
        WriteMask[Dlc] = 0x0F;
        for (int o = SmiControl; o <= 0xAF; o++) WriteMask[o] = 0xFF;
        Reset();
    }

    /// <summary>The datasheet's default values; every PIRQ unrouted.</summary>
    public void Reset()
    {
        Write16(Command, 0x0007);
        Config[Iort] = 0x4D;
        Write16(Xbcs, 0x0003);
        for (int i = 0; i < 4; i++) Config[PirqRouteA + i] = IrqRouteDisable;
        Config[TopOfMemory] = 0x02;
        Write16(Mstat, 0);
        Config[MbIrq0] = Config[MbIrq0 + 1] = IrqRouteDisable;
        Config[MbDma0] = Config[MbDma0 + 1] = 0x0C;
        Write16(Pcsc, 0x0002);
        Config[ApicBase] = 0;
        Config[Dlc] = 0;
        for (int o = SmiControl; o <= 0xAF; o++) Config[o] = 0;
        Config[SmiControl] = 0x08;
        Config[0xA8] = 0x0F; // FTMR
        Reroute();
    }

    /// <summary>
    /// The ISA IRQ PIRQ <paramref name="pirq"/> (0-3 for A-D) is steered to, or -1 when its route
    /// is disabled or names an IRQ the PIIX3 cannot drive (0-2, 8, 13).
    /// </summary>
    public int RouteOf(int pirq)
    {
        byte v = Config[PirqRouteA + pirq];
        if ((v & IrqRouteDisable) != 0) return -1;
        int irq = v & 0x0F;
        return irq is 3 or 4 or 5 or 6 or 7 or 9 or 10 or 11 or 12 or 14 or 15 ? irq : -1;
    }

    /// <summary>
    /// A PCI device drives PIRQ <paramref name="pirq"/> (its INTx line as the board wires it).
    /// The lines are level-triggered and shared: an ISA IRQ is high while any PIRQ routed to it is.
    /// </summary>
    public void SetPirq(int pirq, bool level)
    {
        if ((uint)pirq >= 4) throw new ArgumentOutOfRangeException(nameof(pirq));
        if (pirqLevel[pirq] == level) return;
        pirqLevel[pirq] = level;
        if (routedTo[pirq] >= 0) Drive(routedTo[pirq]);
    }

    protected override void ConfigWritten(int offset, int size)
    {
        if (offset < PirqRouteA + 4 && offset + size > PirqRouteA) Reroute();
    }

    private void Reroute()
    {
        for (int p = 0; p < 4; p++)
        {
            int now = RouteOf(p);
            int before = routedTo[p];
            if (now == before) continue;
            routedTo[p] = now;
            if (!pirqLevel[p]) continue;
            if (before >= 0) Drive(before);
            if (now >= 0) Drive(now);
        }
    }

    private void Drive(int irq)
    {
        bool level = false;
        for (int p = 0; p < 4; p++) level |= routedTo[p] == irq && pirqLevel[p];
        irqs.SetIrq(irq, level);
    }
}
