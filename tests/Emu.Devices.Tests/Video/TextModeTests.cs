namespace Emu.Devices.Tests.Video;

public class TextModeTests
{
    [Fact]
    public void Mode3AsTheVgaBiosSetsItDumpsWhatWasWrittenAtB8000()
    {
        using var rig = new VgaRig();
        rig.SetMode3();
        rig.PutText(0, 0, "SeaBIOS (version 1.16.2-debian-1.16.2-1)");
        rig.PutText(2, 4, "Booting from Hard Disk...   ");
        rig.PutText(24, 79, "X");

        Assert.True(rig.Vga.IsTextMode);
        Assert.Equal((80, 25), rig.Vga.TextSize);
        string[] lines = rig.Vga.DumpText();
        Assert.Equal(25, lines.Length);
        Assert.Equal("SeaBIOS (version 1.16.2-debian-1.16.2-1)", lines[0]);
        Assert.Equal("", lines[1]);
        Assert.Equal("    Booting from Hard Disk...", lines[2]);
        Assert.Equal(new string(' ', 79) + "X", lines[24]);
        Assert.Equal("text 80x25", rig.Vga.DescribeMode());
    }

    [Fact]
    public void CharactersAreInPlane0AndAttributesInPlane1AtEvenOffsets()
    {
        using var rig = new VgaRig();
        rig.SetMode3();
        rig.PutText(1, 3, "Hi", 0x1E);
        int cell = (1 * 80 + 3) * 2;
        Assert.Equal((byte)'H', rig.Vga.PlaneByte(0, cell));
        Assert.Equal(0x1E, rig.Vga.PlaneByte(1, cell));
        Assert.Equal((byte)'i', rig.Vga.PlaneByte(0, cell + 2));
        Assert.Equal(0, rig.Vga.PlaneByte(0, cell + 1)); // odd plane offsets stay unused in odd/even mode
        Assert.Equal(0x1E, rig.Vga.TextAttribute(1, 3));
        Assert.Equal((uint)('H' | 0x1E << 8), rig.Physical.Read(0xB8000 + (uint)cell, 2));
    }

    [Fact]
    public void TheFontGoesToPlane2WithoutDisturbingTheText()
    {
        using var rig = new VgaRig();
        rig.SetMode3();
        rig.PutText(0, 0, "text");
        rig.LoadFont((c, r) => (byte)(c ^ r), 16);
        Assert.Equal((byte)('A' ^ 5), rig.Vga.PlaneByte(2, 'A' * 32 + 5));
        Assert.Equal(0, rig.Vga.PlaneByte(2, 'A' * 32 + 16)); // rows past the glyph height untouched
        Assert.Equal("text", rig.Vga.DumpText()[0]);
        // Back in text mode the window is B8000h again, with odd/even addressing.
        Assert.Equal(0x0E, rig.Vga.GraphicsRegister(6));
        Assert.Equal((uint)'t' | 0x0700, rig.Physical.Read(0xB8000, 2));
    }

    [Fact]
    public void TheStartAddressScrollsTheDumpAsVgaconDoes()
    {
        using var rig = new VgaRig();
        rig.SetMode3();
        for (int r = 0; r < 26; r++) rig.PutText(r, 0, $"line {r}");
        // vgacon scrolls by moving the start address (in characters) one row on.
        rig.Crtc(0x0C, 0);
        rig.Crtc(0x0D, 80);
        string[] lines = rig.Vga.DumpText();
        Assert.Equal("line 1", lines[0]);
        Assert.Equal("line 25", lines[24]);
    }

    [Fact]
    public void RowsFollowTheCharacterHeightAndColumnsTheDisplayEnd()
    {
        using var rig = new VgaRig();
        rig.SetMode3();
        // 80x50: the 8-line font (CR09 = 7) over the same 400 lines.
        rig.Crtc(0x09, 0x47);
        Assert.Equal((80, 50), rig.Vga.TextSize);
        Assert.Equal(50, rig.Vga.DumpText().Length);
        // 40 columns: CR01 = 27h, once CR11 no longer protects it.
        rig.Crtc(0x01, 0x27);
        Assert.Equal(80, rig.Vga.TextSize.Columns);
        rig.Crtc(0x11, 0x0E);
        rig.Crtc(0x01, 0x27);
        rig.Crtc(0x13, 0x14);
        rig.PutText(0, 0, new string('a', 40) + "next");
        string[] lines = rig.Vga.DumpText();
        Assert.Equal(new string('a', 40), lines[0]);
        Assert.Equal("next", lines[1]);
    }

    [Fact]
    public void CodePage437MapsToUnicode()
    {
        using var rig = new VgaRig();
        rig.SetMode3();
        for (int i = 0; i < 6; i++)
            rig.Physical.Write((uint)(0xB8000 + 2 * i), 1, new byte[] { 0xC9, 0xCD, 0xBB, 0x01, 0xE1, 0x00 }[i]);
        rig.Physical.Write(0xB8000 + 12, 1, (byte)'x');
        Assert.Equal("╔═╗☺ß x", rig.Vga.DumpText()[0]);
    }

    [Fact]
    public void GraphicsModeDumpSaysSo()
    {
        using var rig = new VgaRig();
        rig.SetMode3();
        rig.Gc(6, 0x05);
        Assert.False(rig.Vga.IsTextMode);
        Assert.Empty(rig.Vga.DumpText());
        Assert.StartsWith("[graphics", rig.Vga.ScreenDump());
    }

    [Fact]
    public void ScreenDumpEndsEachLineWithANewline()
    {
        using var rig = new VgaRig();
        rig.SetMode3();
        rig.PutText(0, 0, "a  ");
        string dump = rig.Vga.ScreenDump();
        Assert.StartsWith("a\n\n", dump);
        Assert.Equal(25, dump.Split('\n').Length - 1);
    }

    [Fact]
    public void Mode3RegistersWithoutABiosGiveATextScreen()
    {
        using var rig = new VgaRig();
        rig.Vga.SetMode3Registers();
        rig.PutText(3, 0, "direct boot");
        Assert.Equal("direct boot", rig.Vga.DumpText()[3]);
    }

    [Fact]
    public void MemoryIsOffUntilTheMiscRegisterEnablesIt()
    {
        using var rig = new VgaRig();
        rig.Gc(6, 0x0E);
        rig.Seq(2, 0x03);
        rig.Gc(8, 0xFF);
        rig.Physical.Write(0xB8000, 1, 0x41);
        Assert.Equal(0xFFu, rig.Physical.Read(0xB8000, 1));
        rig.Outb(0x3C2, 0x67);
        rig.Physical.Write(0xB8000, 1, 0x41);
        Assert.Equal(0x41u, rig.Physical.Read(0xB8000, 1));
    }

    [Fact]
    public void TheMemoryMapSelectPlacesTheWindow()
    {
        using var rig = new VgaRig();
        rig.SetMode3(); // B8000h, 32 KiB
        Assert.Equal(0xFFu, rig.Physical.Read(0xB0000, 1));
        Assert.Equal(0xFFu, rig.Physical.Read(0xA0000, 1));
        rig.Gc(6, 0x0A);  // B0000h, 32 KiB (monochrome)
        Assert.Equal((uint)' ', rig.Physical.Read(0xB0000, 1));
        Assert.Equal(0xFFu, rig.Physical.Read(0xB8000, 1));
        rig.Gc(6, 0x02);  // A0000h-BFFFFh, 128 KiB
        Assert.Equal((uint)' ', rig.Physical.Read(0xA0000, 1));
    }

    [Fact]
    public void VgaconsStartupProbeAndCursorWork()
    {
        using var rig = new VgaRig();
        rig.SetMode3();
        // vgacon_startup: a word pattern at the start of text memory must read back.
        rig.Physical.Write(0xB8000, 2, 0xAA55);
        rig.Physical.Write(0xB8002, 2, 0x55AA);
        Assert.Equal(0xAA55u, rig.Physical.Read(0xB8000, 2));
        Assert.Equal(0x55AAu, rig.Physical.Read(0xB8002, 2));
        Assert.Equal(0x55AAAA55u, rig.Physical.Read(0xB8000, 4));
        // It points the 16 attribute palette entries at the first 16 DAC entries, then turns the screen back on.
        for (byte i = 0; i < 16; i++)
        {
            rig.Inb(0x3DA);
            rig.Outb(0x3C0, i);
            rig.Outb(0x3C0, i);
        }
        rig.Outb(0x3C0, 0x20);
        Assert.Equal(0x06, rig.Vga.AttributeRegister(6));
        Assert.Equal(0x20, rig.Inb(0x3C0));
        // vgacon_set_cursor_size and the cursor position.
        rig.Crtc(0x0A, (byte)((rig.ReadCrtc(0x0A) & 0xC0) | 14));
        rig.Crtc(0x0E, 0x00);
        rig.Crtc(0x0F, 0xA5);
        Assert.Equal((0xA5, true), rig.Vga.Cursor);
        rig.Crtc(0x0A, 0x20);
        Assert.False(rig.Vga.Cursor.Visible);
    }
}
