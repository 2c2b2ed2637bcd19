using System;
using System.Text;

namespace Emu.Devices.Video;

// Reading the screen out of video memory, for a headless machine: the text screen as lines, graphics as a PPM picture.
public sealed partial class VgaAdapter
{
    /// <summary>
    /// Code page 437 (the VGA's ROM font) as Unicode: the control range as the glyphs the font
    /// draws there, except 00h and FFh, which are blank cells and become spaces.
    /// </summary>
    private const string CodePage437 =
        " ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼" + // 00h-1Fh
        " !\"#$%&'()*+,-./0123456789:;<=>?" + // 20h-3Fh
        "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_" + // 40h-5Fh
        "`abcdefghijklmnopqrstuvwxyz{|}~⌂" + // 60h-7Fh
        "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒ" + // 80h-9Fh
        "áíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐" + // A0h-BFh
        "└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀" + // C0h-DFh
        "αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■ ";  // E0h-FFh

    /// <summary>The Unicode character for a code page 437 byte.</summary>
    public static char FromCodePage437(byte b) => CodePage437[b];

    /// <summary>Whether the adapter shows text (GR06 alphanumeric mode, no DISPI mode on); otherwise it shows graphics.</summary>
    public bool IsTextMode => !DispiEnabled && (gc[6] & 1) == 0;

    /// <summary>Scan lines the CRTC displays: the vertical display end (CR12 with bits 8 and 9 in CR07) plus one.</summary>
    private int DisplayedScanLines => (crtc[0x12] | ((crtc[0x07] & 0x02) << 7) | ((crtc[0x07] & 0x40) << 3)) + 1;

    /// <summary>
    /// The text screen's size as the CRTC has it: columns from the horizontal display end
    /// (CR01 + 1), rows from the displayed scan lines over the character height (CR09 bits
    /// 0-4, plus one; halved again by CR09's double scan bit).
    /// </summary>
    public (int Columns, int Rows) TextSize
    {
        get
        {
            int lines = DisplayedScanLines;
            if ((crtc[0x09] & 0x80) != 0) lines /= 2;
            return (crtc[0x01] + 1, lines / ((crtc[0x09] & 0x1F) + 1));
        }
    }

    /// <summary>The current mode in words, for a log or a dump in graphics mode.</summary>
    public string DescribeMode()
    {
        if (DispiEnabled) return $"graphics {dispiXres}x{dispiYres}, {dispiBpp} bpp (Bochs VBE)";
        if (IsTextMode)
        {
            (int cols, int rows) = TextSize;
            return $"text {cols}x{rows}";
        }
        (int w, int h) = VgaGraphicsSize();
        return $"graphics {w}x{h}, {((gc[5] & 0x40) != 0 ? 8 : 4)} bpp (VGA)";
    }

    /// <summary>
    /// The text screen as lines of Unicode text, trailing spaces trimmed: one line per row,
    /// characters from plane 0 starting at the CRTC start address (CR0Ch/CR0Dh), rows
    /// <c>2 * CR13h</c> character positions apart. Empty in graphics mode.
    /// </summary>
    public string[] DumpText()
    {
        if (!IsTextMode) return [];
        (int cols, int rows) = TextSize;
        cols = Math.Min(cols, 256);
        rows = Math.Min(rows, 256);
        int start = (crtc[0x0C] << 8) | crtc[0x0D];
        int pitch = crtc[0x13] * 2;
        // The character counter reaches memory shifted by the addressing mode: doubleword (CR14 bit 6),
        // word (CR17 bit 6 clear: mode 3's setting) or byte.
        int shift = (crtc[0x14] & 0x40) != 0 ? 2 : (crtc[0x17] & 0x40) == 0 ? 1 : 0;
        var lines = new string[rows];
        var sb = new StringBuilder(cols);
        for (int r = 0; r < rows; r++)
        {
            sb.Clear();
            for (int c = 0; c < cols; c++)
            {
                int offset = ((start + r * pitch + c) << shift) & 0xFFFF;
                sb.Append(CodePage437[vram[offset << 2]]);
            }
            lines[r] = sb.ToString().TrimEnd(' ');
        }
        return lines;
    }

    /// <summary>The attribute byte (plane 1) of the text cell at <paramref name="row"/>, <paramref name="column"/>.</summary>
    public byte TextAttribute(int row, int column)
    {
        int start = (crtc[0x0C] << 8) | crtc[0x0D];
        int shift = (crtc[0x14] & 0x40) != 0 ? 2 : (crtc[0x17] & 0x40) == 0 ? 1 : 0;
        int offset = ((start + row * crtc[0x13] * 2 + column) << shift) & 0xFFFF;
        return vram[(offset << 2) | 1];
    }

    /// <summary>
    /// What <c>--screen-dump FILE</c> writes: in text mode the screen's lines, each ending in a
    /// newline; in graphics mode one line that says so (<see cref="RenderPpm"/> gives the picture).
    /// </summary>
    public string ScreenDump()
    {
        if (!IsTextMode) return $"[{DescribeMode()}: no text screen]\n";
        var sb = new StringBuilder();
        foreach (string line in DumpText()) sb.Append(line).Append('\n');
        return sb.ToString();
    }

    private (int Width, int Height) VgaGraphicsSize()
    {
        int width = (crtc[0x01] + 1) * 8;
        if ((gc[5] & 0x40) != 0) width /= 2; // 256 colours: two dot clocks per pixel
        int height = DisplayedScanLines / ((crtc[0x09] & 0x1F) + 1);
        if ((crtc[0x09] & 0x80) != 0) height /= 2;
        return (width, height);
    }

    /// <summary>
    /// The graphics screen as a binary PPM (P6) picture, or null in text mode or a mode it does
    /// not draw. It draws DISPI modes of 8, 15, 16, 24 and 32 bpp and 4 bpp planar, and the VGA's
    /// 256-colour chained mode (13h) and 16-colour planar modes (0Dh-12h); not the CGA-compatible
    /// modes 4-6.
    /// </summary>
    public byte[]? RenderPpm()
    {
        if (IsTextMode) return null;
        int width, height;
        if (DispiEnabled) (width, height) = (dispiXres, dispiYres);
        else (width, height) = VgaGraphicsSize();
        if (width <= 0 || height <= 0 || (long)width * height > 16 << 20) return null;
        bool cgaShift = !DispiEnabled && (gc[5] & 0x60) == 0x20;
        if (cgaShift) return null;

        byte[] header = Encoding.ASCII.GetBytes($"P6\n{width} {height}\n255\n");
        byte[] ppm = new byte[header.Length + width * height * 3];
        header.CopyTo(ppm, 0);
        int o = header.Length;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++, o += 3)
                Pixel(x, y, ppm.AsSpan(o, 3));
        return ppm;
    }

    private void Pixel(int x, int y, Span<byte> rgb)
    {
        if (DispiEnabled)
        {
            int line = DispiLineBytes(dispiVirtWidth);
            int px = x + dispiXOffset, py = y + dispiYOffset;
            long at = (long)py * line;
            switch (dispiBpp)
            {
                case 4:
                    DacColor(AttributeColor(PlanarIndex((int)(at + px / 8), px)), rgb);
                    return;
                case 8:
                    DacColor(VramByte(at + px), rgb);
                    return;
                case 15:
                case 16:
                {
                    int v = VramByte(at + 2 * px) | (VramByte(at + 2 * px + 1) << 8);
                    if (dispiBpp == 15)
                    {
                        rgb[0] = (byte)(((v >> 10) & 0x1F) * 255 / 31);
                        rgb[1] = (byte)(((v >> 5) & 0x1F) * 255 / 31);
                    }
                    else
                    {
                        rgb[0] = (byte)(((v >> 11) & 0x1F) * 255 / 31);
                        rgb[1] = (byte)(((v >> 5) & 0x3F) * 255 / 63);
                    }
                    rgb[2] = (byte)((v & 0x1F) * 255 / 31);
                    return;
                }
                default:
                {
                    long p = at + px * (dispiBpp / 8);
                    rgb[0] = VramByte(p + 2);
                    rgb[1] = VramByte(p + 1);
                    rgb[2] = VramByte(p);
                    return;
                }
            }
        }
        int start = (crtc[0x0C] << 8) | crtc[0x0D];
        if ((gc[5] & 0x40) != 0)
        {
            // Chained 256 colours: CR13h counts doublewords of four pixels (mode 13h: 28h * 8 = 320 bytes a line).
            DacColor(VramByte(start * 4 + y * crtc[0x13] * 8 + x), rgb);
            return;
        }
        DacColor(AttributeColor(PlanarIndex(start + y * crtc[0x13] * 2 + x / 8, x)), rgb);
    }

    private byte VramByte(long at) => vram[at & vramMask];

    /// <summary>The 4-bit colour of pixel <paramref name="x"/> within planar byte <paramref name="offset"/>, masked by the colour plane enable (AR12h).</summary>
    private int PlanarIndex(int offset, int x)
    {
        uint cell = BitConverter.ToUInt32(vram, (int)((uint)(offset << 2) & vramMask & ~3u));
        int bit = 7 - (x & 7);
        int c = (int)(((cell >> bit) & 1) | ((cell >> (bit + 7)) & 2) | ((cell >> (bit + 14)) & 4) | ((cell >> (bit + 21)) & 8));
        return c & attr[0x12] & 0x0F;
    }

    /// <summary>The attribute controller's palette step: a 4-bit colour to a DAC index (AR00h-0Fh, with AR14h as AR10h bit 7 says).</summary>
    private byte AttributeColor(int index)
    {
        int v = attr[index & 0x0F];
        if ((attr[0x10] & 0x80) != 0) v = (v & 0x0F) | ((attr[0x14] & 0x03) << 4);
        return (byte)(v | ((attr[0x14] & 0x0C) << 4));
    }

    private void DacColor(byte index, Span<byte> rgb)
    {
        int i = (index & pelMask) * 3;
        bool eight = (dispiEnable & DispiEightBitDac) != 0;
        for (int k = 0; k < 3; k++) rgb[k] = eight ? palette[i + k] : (byte)(palette[i + k] * 255 / 63);
    }
}
