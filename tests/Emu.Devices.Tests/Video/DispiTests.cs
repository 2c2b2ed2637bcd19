using Emu.Devices.Video;
using static Emu.Devices.Video.VgaAdapter;

namespace Emu.Devices.Tests.Video;

public class DispiTests : System.IDisposable
{
    private readonly VgaRig rig = new();

    public DispiTests() => rig.Physical.MapMmio(DefaultLfbAddress, (uint)rig.Vga.VideoRamSize, rig.Vga, "LFB");

    public void Dispose() => rig.Dispose();

    /// <summary>A VBE mode set as SeaBIOS's bochsvga_set_mode does it (the DISPI part).</summary>
    private void SetMode(ushort width, ushort height, ushort bpp, ushort flags)
    {
        rig.Dispi(DispiIndexEnable, 0);
        rig.Dispi(DispiIndexBpp, bpp);
        rig.Dispi(DispiIndexXres, width);
        rig.Dispi(DispiIndexYres, height);
        rig.Dispi(DispiIndexBank, 0);
        rig.Dispi(DispiIndexEnable, (ushort)(DispiEnabledBit | flags));
        rig.Gc(6, 0x05);
        rig.Seq(2, 0x0F);
        rig.Seq(4, 0x0E);
    }

    [Fact]
    public void TheIdHandshakeOfTheVgaBios()
    {
        rig.Dispi(DispiIndexId, DispiId0);
        Assert.Equal(DispiId0, rig.ReadDispi(DispiIndexId));
        rig.Dispi(DispiIndexId, DispiId5);
        Assert.Equal(DispiId5, rig.ReadDispi(DispiIndexId));
        rig.Dispi(DispiIndexId, 0x1234); // not a version: ignored
        Assert.Equal(DispiId5, rig.ReadDispi(DispiIndexId));
        Assert.Equal(DispiId5, (ushort)rig.Io.In(0x1D0, 2)); // the second data port
    }

    [Fact]
    public void VideoMemoryAndCapabilities()
    {
        Assert.Equal(256, rig.ReadDispi(DispiIndexVideoMemory64K));
        rig.Dispi(DispiIndexXres, 1024);
        rig.Dispi(DispiIndexEnable, DispiGetCaps);
        Assert.Equal(DispiMaxXres, rig.ReadDispi(DispiIndexXres));
        Assert.Equal(DispiMaxYres, rig.ReadDispi(DispiIndexYres));
        Assert.Equal(DispiMaxBpp, rig.ReadDispi(DispiIndexBpp));
        rig.Dispi(DispiIndexEnable, 0);
        Assert.Equal(1024, rig.ReadDispi(DispiIndexXres));
        Assert.False(rig.Vga.DispiEnabled);
    }

    [Fact]
    public void AModeSetGivesAPackedFrameBufferSeenThroughTheLfbAndTheBanks()
    {
        SetMode(800, 600, 32, DispiLfbEnabled);
        Assert.True(rig.Vga.DispiEnabled);
        Assert.False(rig.Vga.IsTextMode);
        Assert.Equal("graphics 800x600, 32 bpp (Bochs VBE)", rig.Vga.DescribeMode());
        Assert.Equal(800, rig.ReadDispi(DispiIndexVirtWidth));
        Assert.Equal((16 << 20) / 3200, rig.ReadDispi(DispiIndexVirtHeight));
        Assert.Equal((800, 600, 32, 3200), rig.Vga.DispiMode);

        // Pixel (100, 20) through the LFB: byte 20*3200 + 400 = 0xFAF0 (bank 0), pixel (0, 30): 96000 = 0x17700 (bank 1).
        rig.Physical.Write(DefaultLfbAddress + 0xFAF0, 4, 0x00AABBCC);
        rig.Physical.Write(DefaultLfbAddress + 0x17700, 4, 0x00112233);
        Assert.Equal(0x00AABBCCu, rig.Physical.Read(0xA0000 + 0xFAF0, 4));
        rig.Dispi(DispiIndexBank, 1);
        Assert.Equal(1, rig.ReadDispi(DispiIndexBank));
        Assert.Equal(0x00112233u, rig.Physical.Read(0xA0000 + 0x7700, 4));
        // And back: a write through bank 1 shows in the LFB.
        rig.Physical.Write(0xA0000 + 0x0004, 2, 0xBEEF);
        Assert.Equal(0xBEEFu, rig.Physical.Read(DefaultLfbAddress + 0x10004, 2));
        Assert.Equal(0xFFFFu, rig.Physical.Read(0xB0000, 2)); // the 64 KiB window ends at AFFFFh
    }

    [Fact]
    public void BanksPastVideoMemoryAreRefused()
    {
        SetMode(640, 480, 8, 0);
        rig.Dispi(DispiIndexBank, 255);
        Assert.Equal(255, rig.ReadDispi(DispiIndexBank));
        rig.Dispi(DispiIndexBank, 256);
        Assert.Equal(255, rig.ReadDispi(DispiIndexBank));
    }

    [Fact]
    public void EnablingClearsTheScreenUnlessNoClearMemIsSet()
    {
        rig.Physical.Write(DefaultLfbAddress + 100, 4, 0xDEADBEEF);
        SetMode(640, 480, 8, DispiNoClearMem);
        Assert.Equal(0xDEADBEEFu, rig.Physical.Read(DefaultLfbAddress + 100, 4));
        SetMode(640, 480, 8, 0);
        Assert.Equal(0u, rig.Physical.Read(DefaultLfbAddress + 100, 4));
    }

    [Fact]
    public void TheEightBitDacKeepsFullValues()
    {
        SetMode(640, 480, 8, DispiEightBitDac);
        rig.Outb(0x3C8, 1);
        rig.Outb(0x3C9, 0xFF);
        rig.Outb(0x3C9, 0x80);
        rig.Outb(0x3C9, 0x41);
        Assert.Equal(((byte)0xFF, (byte)0x80, (byte)0x41), rig.Vga.DacEntry(1));
    }

    [Fact]
    public void DisablingReturnsToTheVgaAndItsText()
    {
        rig.SetMode3();
        rig.PutText(0, 0, "before");
        SetMode(640, 480, 32, DispiNoClearMem);
        Assert.Empty(rig.Vga.DumpText());
        rig.Dispi(DispiIndexEnable, 0);
        rig.SetMode3();
        rig.PutText(0, 0, "after");
        Assert.True(rig.Vga.IsTextMode);
        Assert.Equal("after", rig.Vga.DumpText()[0]);
    }

    [Fact]
    public void ThePpmOfA32BppModeHasThePixels()
    {
        SetMode(8, 2, 32, 0);
        rig.Physical.Write(DefaultLfbAddress + 4, 4, 0x00112233);     // (1, 0)
        rig.Physical.Write(DefaultLfbAddress + 8 * 4 + 7 * 4, 4, 0x00FF8000); // (7, 1)
        byte[] ppm = rig.Vga.RenderPpm()!;
        string header = "P6\n8 2\n255\n";
        Assert.Equal(header, System.Text.Encoding.ASCII.GetString(ppm, 0, header.Length));
        Assert.Equal(header.Length + 8 * 2 * 3, ppm.Length);
        Assert.Equal(new byte[] { 0x11, 0x22, 0x33 }, ppm[(header.Length + 3)..(header.Length + 6)]);
        Assert.Equal(new byte[] { 0xFF, 0x80, 0x00 }, ppm[^3..]);
    }

    [Fact]
    public void ThePpmOfMode13hUsesTheDac()
    {
        rig.Outb(0x3C2, 0x63);
        rig.Seq(2, 0x0F);
        rig.Seq(4, 0x0E);
        rig.Gc(5, 0x40);
        rig.Gc(6, 0x05);
        rig.Crtc(0x11, 0x00);
        byte[] crtc13 = [0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0x41, 0, 0, 0, 0, 0, 0, 0x9C, 0x8E, 0x8F, 0x28, 0x40, 0x96, 0xB9, 0xA3];
        for (int i = 0; i < crtc13.Length; i++) rig.Crtc(i, crtc13[i]);
        rig.Outb(0x3C8, 7);
        rig.Outb(0x3C9, 63);
        rig.Outb(0x3C9, 0);
        rig.Outb(0x3C9, 21);
        rig.Physical.Write(0xA0000 + 320 * 199 + 319, 1, 7);
        Assert.Equal("graphics 320x200, 8 bpp (VGA)", rig.Vga.DescribeMode());
        byte[] ppm = rig.Vga.RenderPpm()!;
        Assert.Equal(new byte[] { 255, 0, 85 }, ppm[^3..]);
    }
}
