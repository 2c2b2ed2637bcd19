using System;
using Emu.Devices.Video;
using Emu.Memory;

namespace Emu.Devices.Tests.Video;

/// <summary>A VGA adapter wired into an I/O space and a small physical address space, with the port helpers a VGA BIOS uses.</summary>
public sealed class VgaRig : IDisposable
{
    public readonly IoSpace Io = new();
    public readonly PhysicalMemory Physical = new(1u << 20);
    public readonly VgaAdapter Vga;

    public VgaRig(int vramMiB = 16)
    {
        Vga = new VgaAdapter(vramMiB);
        Vga.Attach(Io);
        Physical.MapMmio(VgaAdapter.WindowBase, VgaAdapter.WindowSize, Vga, "VGA window");
    }

    public void Dispose() => Physical.Dispose();

    public void Outb(ushort port, byte v) => Io.Out(port, 1, v);
    public void Outw(ushort port, ushort v) => Io.Out(port, 2, v);
    public byte Inb(ushort port) => (byte)Io.In(port, 1);

    public void Seq(int index, byte v) => Outw(0x3C4, (ushort)(index | (v << 8)));
    public void Gc(int index, byte v) => Outw(0x3CE, (ushort)(index | (v << 8)));

    public void Crtc(int index, byte v)
    {
        Outb(0x3D4, (byte)index);
        Outb(0x3D5, v);
    }

    public byte ReadCrtc(int index)
    {
        Outb(0x3D4, (byte)index);
        return Inb(0x3D5);
    }

    public void Attr(int index, byte v)
    {
        Inb(0x3DA);
        Outb(0x3C0, (byte)index);
        Outb(0x3C0, v);
        Outb(0x3C0, 0x20);
    }

    public void Dispi(int index, ushort v)
    {
        Io.Out(VgaAdapter.DispiIndexPort, 2, (uint)index);
        Io.Out(VgaAdapter.DispiDataPort, 2, v);
    }

    public ushort ReadDispi(int index)
    {
        Io.Out(VgaAdapter.DispiIndexPort, 2, (uint)index);
        return (ushort)Io.In(VgaAdapter.DispiDataPort, 2);
    }

    /// <summary>
    /// Sets mode 3 as SeaBIOS's stdvga_set_mode does: DAC, attribute, sequencer, graphics and
    /// CRT controller registers (IBM's mode 3 values), the miscellaneous output register, then
    /// clears the screen to grey-on-black spaces through B8000h.
    /// </summary>
    public void SetMode3()
    {
        Outb(0x3C2, 0xC3);          // the VGA BIOS's init: colour, RAM enabled
        Seq(4, 0x02);
        Outb(0x3C6, 0xFF);
        Outb(0x3C8, 0);
        for (int i = 0; i < 64 * 3; i++) Outb(0x3C9, (byte)(i & 0x3F));
        Inb(0x3DA);
        byte[] actl = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x0C, 0x00, 0x0F, 0x08];
        for (int i = 0; i < actl.Length; i++)
        {
            Outb(0x3C0, (byte)i);
            Outb(0x3C0, actl[i]);
        }
        Outb(0x3C0, 0x14);
        Outb(0x3C0, 0x00);
        Outb(0x3C4, 0);
        Outb(0x3C5, 0x03);
        byte[] sequ = [0x00, 0x03, 0x00, 0x02];
        for (int i = 1; i <= 4; i++)
        {
            Outb(0x3C4, (byte)i);
            Outb(0x3C5, sequ[i - 1]);
        }
        byte[] grdc = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x0F, 0xFF];
        for (int i = 0; i <= 8; i++)
        {
            Outb(0x3CE, (byte)i);
            Outb(0x3CF, grdc[i]);
        }
        Outw(0x3D4, 0x0011); // write protect off
        byte[] crtc =
        [
            0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00, 0x00, 0x00, 0x00,
            0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF,
        ];
        for (int i = 0; i <= 0x18; i++)
        {
            Outb(0x3D4, (byte)i);
            Outb(0x3D5, crtc[i]);
        }
        Outb(0x3C2, 0x67);
        Outb(0x3C0, 0x20);
        Inb(0x3DA);
        for (uint a = 0; a < 0x8000; a += 2) Physical.Write(0xB8000 + a, 2, 0x0720);
    }

    /// <summary>SeaBIOS's font load: plane 2 opened at A0000h, glyph c's rows at 32*c, then text mode back.</summary>
    public void LoadFont(Func<int, int, byte> glyphRow, int height)
    {
        Outw(0x3C4, 0x0100);
        Outw(0x3C4, 0x0402);
        Outw(0x3C4, 0x0704);
        Outw(0x3C4, 0x0300);
        Outw(0x3CE, 0x0204);
        Outw(0x3CE, 0x0005);
        Outw(0x3CE, 0x0406);
        for (int c = 0; c < 256; c++)
            for (int r = 0; r < height; r++)
                Physical.Write((uint)(0xA0000 + c * 32 + r), 1, glyphRow(c, r));
        Outw(0x3C4, 0x0100);
        Outw(0x3C4, 0x0302);
        Outw(0x3C4, 0x0304);
        Outw(0x3C4, 0x0300);
        ushort v = (Inb(0x3CC) & 1) != 0 ? (ushort)0x0E : (ushort)0x0A;
        Outw(0x3CE, (ushort)((v << 8) | 0x06));
        Outw(0x3CE, 0x0004);
        Outw(0x3CE, 0x1005);
    }

    public void PutText(int row, int col, string s, byte attr = 0x07)
    {
        for (int i = 0; i < s.Length; i++)
            Physical.Write((uint)(0xB8000 + (row * 80 + col + i) * 2), 2, (uint)(s[i] | (attr << 8)));
    }

    /// <summary>Planar graphics with the 64 KiB window at A0000h (mode 12h's memory set-up).</summary>
    public void SetPlanarGraphics()
    {
        Outb(0x3C2, 0xE3);
        Seq(2, 0x0F);
        Seq(4, 0x06);
        Gc(5, 0x00);
        Gc(6, 0x05);
        Gc(8, 0xFF);
    }

    /// <summary>Stores bytes for planes 0-3 at planar offset <paramref name="offset"/> (write mode 0, one plane at a time).</summary>
    public void PokePlanes(int offset, byte p0, byte p1, byte p2, byte p3)
    {
        byte[] v = [p0, p1, p2, p3];
        for (int p = 0; p < 4; p++)
        {
            Seq(2, (byte)(1 << p));
            Physical.Write((uint)(0xA0000 + offset), 1, v[p]);
        }
        Seq(2, 0x0F);
    }

    public (byte, byte, byte, byte) Planes(int offset) =>
        (Vga.PlaneByte(0, offset), Vga.PlaneByte(1, offset), Vga.PlaneByte(2, offset), Vga.PlaneByte(3, offset));
}
