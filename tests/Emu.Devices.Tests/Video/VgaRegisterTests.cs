namespace Emu.Devices.Tests.Video;

public class VgaRegisterTests : System.IDisposable
{
    private readonly VgaRig rig = new();

    public void Dispose() => rig.Dispose();

    [Fact]
    public void AWordOutWritesIndexAndData()
    {
        rig.Outw(0x3C4, 0x0F02);
        rig.Outb(0x3C4, 0x02);
        Assert.Equal(0x0F, rig.Inb(0x3C5));
        Assert.Equal(0x02, rig.Inb(0x3C4));
        rig.Outw(0x3CE, 0x5508);
        Assert.Equal(0x55, rig.Vga.GraphicsRegister(8));
        Assert.Equal(0x5508u, rig.Io.In(0x3CE, 2));
    }

    [Fact]
    public void TheMiscRegisterReadsBackAtCCh()
    {
        rig.Outb(0x3C2, 0x67);
        Assert.Equal(0x67, rig.Inb(0x3CC));
    }

    [Fact]
    public void TheIoAddressSelectMovesTheCrtcBetween3BxAnd3Dx()
    {
        rig.Outb(0x3C2, 0x67); // colour: 3Dxh
        rig.Crtc(0x0E, 0x12);
        Assert.Equal(0x12, rig.ReadCrtc(0x0E));
        Assert.Equal(0xFF, rig.Inb(0x3B5));
        Assert.Equal(0xFF, rig.Inb(0x3BA));
        rig.Outb(0x3C2, 0x66); // monochrome: 3Bxh
        rig.Outb(0x3B4, 0x0E);
        Assert.Equal(0x12, rig.Inb(0x3B5));
        Assert.Equal(0xFF, rig.Inb(0x3D5));
        Assert.Equal(0xFF, rig.Inb(0x3DA));
        Assert.NotEqual(rig.Inb(0x3BA) & 0x09, rig.Inb(0x3BA) & 0x09);
    }

    [Fact]
    public void Cr11ProtectsCr00ToCr07ButTheLineCompareBit()
    {
        rig.Outb(0x3C2, 0x67);
        rig.Crtc(0x00, 0x5F);
        rig.Crtc(0x07, 0x00);
        rig.Crtc(0x11, 0x8E);
        rig.Crtc(0x00, 0x22);
        rig.Crtc(0x07, 0xFF);
        rig.Crtc(0x0C, 0x07);
        Assert.Equal(0x5F, rig.ReadCrtc(0x00));
        Assert.Equal(0x10, rig.ReadCrtc(0x07));
        Assert.Equal(0x07, rig.ReadCrtc(0x0C));
        rig.Crtc(0x11, 0x0E);
        rig.Crtc(0x00, 0x22);
        Assert.Equal(0x22, rig.ReadCrtc(0x00));
    }

    [Fact]
    public void InputStatus1TogglesSoRetracePollingEnds()
    {
        rig.Outb(0x3C2, 0x67);
        byte a = rig.Inb(0x3DA), b = rig.Inb(0x3DA);
        Assert.Equal(0x09, (a ^ b) & 0x09);
        // "wait for the end of retrace, then for its start", as BIOSes and vgacon's blanking do.
        int reads = 0;
        while ((rig.Inb(0x3DA) & 8) != 0) Assert.True(++reads < 4);
        while ((rig.Inb(0x3DA) & 8) == 0) Assert.True(++reads < 4);
    }

    [Fact]
    public void TheAttributeFlipFlopAlternatesAndReading3DAResetsIt()
    {
        rig.Outb(0x3C2, 0x67);
        rig.Inb(0x3DA);
        rig.Outb(0x3C0, 0x05);
        rig.Outb(0x3C0, 0x2A);
        Assert.Equal(0x05, rig.Inb(0x3C0));
        Assert.Equal(0x2A, rig.Inb(0x3C1));
        Assert.Equal(0x2A, rig.Vga.AttributeRegister(5));

        rig.Outb(0x3C0, 0x01);  // an index: the flip-flop now expects data
        rig.Inb(0x3DA);         // reset
        rig.Outb(0x3C0, 0x22);  // so this is an index again (palette address source on, register 2)
        Assert.Equal(0x22, rig.Inb(0x3C0));
        Assert.Equal(0, rig.Vga.AttributeRegister(1));
        rig.Outb(0x3C0, 0x3F);
        Assert.Equal(0x3F, rig.Vga.AttributeRegister(2));
    }

    [Fact]
    public void TheDacTakesThreeWritesPerEntryAndReadsBackFromItsOwnIndex()
    {
        rig.Outb(0x3C8, 5);
        Assert.Equal(0, rig.Inb(0x3C7)); // write mode
        rig.Outb(0x3C9, 0x10);
        rig.Outb(0x3C9, 0x20);
        rig.Outb(0x3C9, 0x70);          // six bits: 30h
        rig.Outb(0x3C9, 0x01);
        rig.Outb(0x3C9, 0x02);          // entry 6 is not written until its third value
        Assert.Equal(((byte)0x10, (byte)0x20, (byte)0x30), rig.Vga.DacEntry(5));
        Assert.Equal(((byte)0, (byte)0, (byte)0), rig.Vga.DacEntry(6));
        Assert.Equal(6, rig.Inb(0x3C8));
        rig.Outb(0x3C9, 0x03);
        Assert.Equal(((byte)1, (byte)2, (byte)3), rig.Vga.DacEntry(6));

        rig.Outb(0x3C7, 5);
        Assert.Equal(3, rig.Inb(0x3C7)); // read mode
        byte[] got = new byte[6];
        for (int i = 0; i < 6; i++) got[i] = rig.Inb(0x3C9);
        Assert.Equal(new byte[] { 0x10, 0x20, 0x30, 1, 2, 3 }, got);
    }

    [Fact]
    public void ThePelMaskReadsBack()
    {
        Assert.Equal(0xFF, rig.Inb(0x3C6));
        rig.Outb(0x3C6, 0x0F);
        Assert.Equal(0x0F, rig.Inb(0x3C6));
    }

    [Fact]
    public void UnimplementedIndexesAreHarmless()
    {
        rig.Outb(0x3C2, 0x67);
        rig.Crtc(0x3F, 0x12);
        Assert.Equal(0xFF, rig.ReadCrtc(0x3F));
        rig.Gc(0x0F, 0x12);
        Assert.Equal(0xFF, rig.Inb(0x3CF));
        rig.Attr(0x1F, 0x12);
        rig.Outb(0x3C4, 7);
        rig.Outb(0x3C5, 1);
        Assert.Equal(0xFF, rig.Inb(0x3C5));
        Assert.Equal(0xFFu, rig.Io.In(0x3CD, 1));
    }
}
