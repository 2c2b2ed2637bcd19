using System;
using Emu.Memory;

namespace Emu.Devices.Pci;

/// <summary>
/// PCI configuration mechanism #1 (PCI Local Bus Specification 2.1, 3.2.2.3.2): CONFIG_ADDRESS
/// at CF8h, taken only by 32-bit writes, and CONFIG_DATA at CFCh-CFFh. One bus (bus 0) with
/// up to 32 devices of 8 functions; an absent function reads as all ones. Port CF9h is the
/// PIIX reset control register (writing bit 2 with bit 1 set resets the system).
/// </summary>
public sealed class PciBus : IPortDevice
{
    public const ushort AddressPort = 0xCF8, DataPort = 0xCFC, ResetControlPort = 0xCF9;

    private readonly PciFunction?[] functions = new PciFunction?[32 * 8];
    private readonly Action reset;
    private uint address;
    private byte resetControl;

    public PciBus(Action reset) => this.reset = reset;

    public void Attach(IoSpace io)
    {
        io.Register(AddressPort, 8, this);
    }

    public void Add(int device, int function, PciFunction f)
    {
        if ((uint)device >= 32 || (uint)function >= 8) throw new ArgumentOutOfRangeException(nameof(device));
        functions[device * 8 + function] = f ?? throw new ArgumentNullException(nameof(f));
    }

    public PciFunction? Get(int device, int function) => functions[device * 8 + function];

    private PciFunction? Selected
    {
        get
        {
            if ((address & 0x8000_0000) == 0 || ((address >> 16) & 0xFF) != 0) return null;
            return functions[(address >> 8) & 0xFF];
        }
    }

    public uint In(ushort port, int size)
    {
        if (port == AddressPort && size == 4) return address;
        if (port == ResetControlPort && size == 1) return resetControl;
        if (port < DataPort) return size == 1 ? 0xFFu : size == 2 ? 0xFFFFu : 0xFFFF_FFFFu;
        PciFunction? f = Selected;
        int offset = (int)(address & 0xFC) + (port - DataPort);
        if (f is null) return size == 1 ? 0xFFu : size == 2 ? 0xFFFFu : 0xFFFF_FFFFu;
        return f.ReadConfig(offset, size);
    }

    public void Out(ushort port, int size, uint value)
    {
        if (port == AddressPort && size == 4)
        {
            address = value & 0x80FF_FFFC;
            return;
        }
        if (port == ResetControlPort && size == 1)
        {
            // Reset control: a 0->1 change of bit 2 (reset CPU) performs the reset the other bits select.
            bool go = (value & 4) != 0 && (resetControl & 4) == 0;
            resetControl = (byte)(value & 0x0A);
            if (go) reset();
            return;
        }
        if (port < DataPort) return;
        PciFunction? f = Selected;
        if (f is null) return;
        f.WriteConfig((int)(address & 0xFC) + (port - DataPort), size, value);
    }
}
