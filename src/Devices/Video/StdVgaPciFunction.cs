using System;
using Emu.Devices.Pci;
using Emu.Memory;

namespace Emu.Devices.Video;

/// <summary>
/// The PCI face of QEMU's "std VGA" (vendor 1234h, device 1111h, class 0300h): BAR0 is the
/// linear frame buffer (prefetchable memory, as large as video RAM) and BAR2 a 4 KiB register
/// window (QEMU's layout: 400h-41Fh the VGA ports 3C0h-3DFh, 500h-515h the DISPI registers as
/// 16-bit words, 600h-607h QEMU's extended registers). The VGA itself still answers at its ISA
/// ports and the A0000h window; this function only says where the frame buffer is.
/// vgabios-stdvga.bin reads BAR0 to find the frame buffer.
/// </summary>
public sealed class StdVgaPciFunction : PciFunction, IMmioDevice
{
    public const ushort Vendor = 0x1234, Device = 0x1111;
    public const uint MmioBarSize = 0x1000;

    private readonly VgaAdapter vga;

    public StdVgaPciFunction(VgaAdapter vga)
        : base("std VGA", Vendor, Device, revision: 2, classCode: 0x03_0000)
    {
        this.vga = vga;
        DefineBar(0, (uint)vga.VideoRamSize, io: false);
        Config[Bar0] |= 0x08; // prefetchable
        DefineBar(2, MmioBarSize, io: false);
        Write16(SubsystemVendorId, 0x1AF4); // QEMU's subsystem IDs
        Write16(SubsystemVendorId + 2, 0x1100);
        vga.LfbDecoding = false; // memory decoding is off until the firmware enables it
    }

    /// <summary>
    /// Raised after a configuration write changed where the function decodes memory: BAR0 or
    /// BAR2 moved, or the memory-space enable changed. The board maps <see cref="VgaAdapter"/>
    /// at <see cref="FrameBufferAddress"/> and this function at <see cref="MmioAddress"/> (see
    /// docs/wiring-video.md); stale mappings are harmless, since both check the address.
    /// </summary>
    public event Action<StdVgaPciFunction>? DecodingChanged;

    /// <summary>BAR0 while memory decoding is on, else null.</summary>
    public uint? FrameBufferAddress => MemorySpaceEnabled ? BarAddress(0) : null;

    /// <summary>BAR2 while memory decoding is on, else null.</summary>
    public uint? MmioAddress => MemorySpaceEnabled ? BarAddress(2) : null;

    private uint? lastFb, lastMmio;

    protected override void ConfigWritten(int offset, int size)
    {
        uint? fb = FrameBufferAddress, mmio = MmioAddress;
        if (fb == lastFb && mmio == lastMmio) return;
        lastFb = fb;
        lastMmio = mmio;
        vga.LfbDecoding = fb is not null;
        if (fb is not null) vga.LfbAddress = fb.Value;
        DecodingChanged?.Invoke(this);
    }

    // ---- BAR2: the register window ----

    public uint Read(uint address, int size)
    {
        uint? bar = MmioAddress;
        uint off = address - (bar ?? 0);
        if (bar is null || off >= MmioBarSize) return size == 1 ? 0xFFu : size == 2 ? 0xFFFFu : 0xFFFF_FFFFu;
        if (off >= 0x400 && off < 0x420) return vga.In((ushort)(0x3C0 + off - 0x400), size);
        if (off >= 0x500 && off < 0x518)
        {
            return vga.DispiRead((int)(off - 0x500) >> 1);
        }
        if (off == 0x600) return 8;           // size of QEMU's extended register block
        if (off == 0x604) return 0x1E1E_1E1E; // framebuffer byte order: little-endian
        return 0;
    }

    public void Write(uint address, int size, uint value)
    {
        uint? bar = MmioAddress;
        uint off = address - (bar ?? 0);
        if (bar is null || off >= MmioBarSize) return;
        if (off >= 0x400 && off < 0x420)
        {
            vga.Out((ushort)(0x3C0 + off - 0x400), size, value);
        }
        else if (off >= 0x500 && off < 0x518)
        {
            vga.DispiWrite((int)(off - 0x500) >> 1, (ushort)value);
        }
    }
}
