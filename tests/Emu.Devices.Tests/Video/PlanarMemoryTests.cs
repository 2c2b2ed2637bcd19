namespace Emu.Devices.Tests.Video;

/// <summary>
/// The graphics controller's write and read modes against results worked by hand from IBM's
/// VGA reference. Every test starts with planes 0-3 holding F0h, 0Fh, AAh, 55h at offset 0 and
/// reads that offset to load the latches.
/// </summary>
public class PlanarMemoryTests : System.IDisposable
{
    private readonly VgaRig rig = new();

    public PlanarMemoryTests()
    {
        rig.SetPlanarGraphics();
        rig.PokePlanes(0, 0xF0, 0x0F, 0xAA, 0x55);
        Assert.Equal(0xF0u, rig.Physical.Read(0xA0000, 1)); // read map 0; loads the latches
    }

    public void Dispose() => rig.Dispose();

    private void Write(int offset, byte v) => rig.Physical.Write((uint)(0xA0000 + offset), 1, v);

    [Fact]
    public void WriteMode0SetResetAndBitMask()
    {
        rig.Gc(0, 0x05); // set/reset value: planes 0 and 2 ones
        rig.Gc(1, 0x05); // enabled for planes 0 and 2
        rig.Gc(8, 0x3C);
        Write(1, 0x81);
        // plane 0: FF&3C | F0&C3 = FC; plane 1: 81&3C | 0F&C3 = 03; plane 2: 3C | AA&C3 = BE; plane 3: 00 | 55&C3 = 41.
        Assert.Equal(((byte)0xFC, (byte)0x03, (byte)0xBE, (byte)0x41), rig.Planes(1));
    }

    [Fact]
    public void WriteMode0RotateAndXor()
    {
        rig.Gc(3, 0x18 | 4); // XOR with the latches, rotate right by 4
        Write(1, 0x12);      // rotated: 21h
        Assert.Equal(((byte)0xD1, (byte)0x2E, (byte)0x8B, (byte)0x74), rig.Planes(1));
    }

    [Fact]
    public void WriteMode0AndOrThroughTheMapMask()
    {
        rig.Gc(3, 0x08);     // AND
        rig.Seq(2, 0x06);    // planes 1 and 2 only
        Write(0, 0x3C);
        Assert.Equal(((byte)0xF0, (byte)0x0C, (byte)0x28, (byte)0x55), rig.Planes(0));
        rig.Gc(3, 0x10);     // OR
        rig.Seq(2, 0x0F);
        rig.Physical.Read(0xA0000, 1);
        Write(0, 0x81);
        Assert.Equal(((byte)0xF1, (byte)0x8D, (byte)0xA9, (byte)0xD5), rig.Planes(0));
    }

    [Fact]
    public void WriteMode1CopiesTheLatches()
    {
        rig.Gc(5, 0x01);
        rig.Gc(8, 0x00); // the bit mask does not apply in write mode 1
        Write(2, 0x00);
        Assert.Equal(((byte)0xF0, (byte)0x0F, (byte)0xAA, (byte)0x55), rig.Planes(2));
    }

    [Fact]
    public void WriteMode2SpreadsTheColourThroughTheBitMask()
    {
        rig.Gc(5, 0x02);
        rig.Gc(8, 0x0F);
        Write(1, 0x0A); // colour 1010b: planes 1 and 3
        // plane 0: 00&0F | F0&F0 = F0; plane 1: 0F | 00 = 0F; plane 2: 00 | A0 = A0; plane 3: 0F | 50 = 5F.
        Assert.Equal(((byte)0xF0, (byte)0x0F, (byte)0xA0, (byte)0x5F), rig.Planes(1));
    }

    [Fact]
    public void WriteMode3MasksWithTheRotatedDataAndWritesSetReset()
    {
        rig.Gc(5, 0x03);
        rig.Gc(0, 0x03); // colour: planes 0 and 1
        rig.Gc(8, 0xF0);
        Write(1, 0x3C); // effective mask F0 & 3C = 30
        // plane 0: 30 | F0&CF = F0; plane 1: 30 | 0F&CF = 3F; plane 2: 00 | AA&CF = 8A; plane 3: 00 | 55&CF = 45.
        Assert.Equal(((byte)0xF0, (byte)0x3F, (byte)0x8A, (byte)0x45), rig.Planes(1));
    }

    [Fact]
    public void ReadMode0ReturnsTheSelectedPlane()
    {
        rig.Gc(4, 2);
        Assert.Equal(0xAAu, rig.Physical.Read(0xA0000, 1));
        rig.Gc(4, 3);
        Assert.Equal(0x55u, rig.Physical.Read(0xA0000, 1));
    }

    [Fact]
    public void ReadMode1ComparesColours()
    {
        rig.Gc(5, 0x08);
        rig.Gc(2, 0x05); // colour 0101b
        rig.Gc(7, 0x0F);
        // bits where p0=1, p1=0, p2=1, p3=0: F0 & F0 & AA & AA = A0.
        Assert.Equal(0xA0u, rig.Physical.Read(0xA0000, 1));
        rig.Gc(7, 0x01); // only plane 0 counts
        Assert.Equal(0xF0u, rig.Physical.Read(0xA0000, 1));
        rig.Gc(7, 0x00); // nothing counts: every pixel matches
        Assert.Equal(0xFFu, rig.Physical.Read(0xA0000, 1));
    }

    [Fact]
    public void OddEvenReachesPlanes2And3WithTheMapMaskAndReadMapSelect()
    {
        rig.Seq(4, 0x02);   // odd/even
        rig.Seq(2, 0x0C);
        Write(4, 0x11);
        Write(5, 0x22);
        Assert.Equal(((byte)0, (byte)0, (byte)0x11, (byte)0x22), rig.Planes(4));
        rig.Gc(5, 0x10);    // odd/even reads
        rig.Gc(4, 0x02);
        Assert.Equal(0x22u, rig.Physical.Read(0xA0005, 1));
        Assert.Equal(0x11u, rig.Physical.Read(0xA0004, 1));
    }

    [Fact]
    public void Chain4SpreadsConsecutiveBytesOverThePlanes()
    {
        rig.Seq(4, 0x0E);
        rig.Gc(5, 0x40);
        rig.Physical.Write(0xA0010, 4, 0x04030201);
        Assert.Equal(((byte)1, (byte)2, (byte)3, (byte)4), rig.Planes(4));
        Assert.Equal(0x04030201u, rig.Physical.Read(0xA0010, 4));
        rig.Seq(2, 0x01); // the map mask still gates the planes
        rig.Physical.Write(0xA0010, 2, 0xEEFF);
        Assert.Equal(0x040302FFu, rig.Physical.Read(0xA0010, 4));
    }
}
