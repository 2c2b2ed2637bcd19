using System.Runtime.CompilerServices;

namespace Emu.Devices.Video;

// Video memory: the A0000h-BFFFFh window through the sequencer and graphics controller, and the linear frame buffer.
public sealed partial class VgaAdapter
{
    private enum Addressing : byte { Planar, OddEven, Chain4 }

    private readonly byte[] vram;
    private readonly uint vramMask;

    // Decoded from the registers whenever one of them changes (UpdateAccess), so an access reads no register.
    private bool memoryEnabled;     // misc bit 1
    private uint windowStart;       // GR06 memory map, as an offset from A0000h
    private uint windowLength;
    private uint bankOffset;        // DISPI bank, in the A0000h 64 KiB map while DISPI is on
    private Addressing writeAddressing, readAddressing;
    private bool plainWrite;        // write mode 0 with no rotate, logic, set/reset or bit mask: data goes straight to the planes
    private uint planarMask;        // planar offsets: 64 KiB planes, or all of video RAM while DISPI is on
    private uint chainMask;
    private byte mapMask;
    private uint latch;

    /// <summary>Expands a 4-bit plane mask to a byte per plane (bit p set gives byte p = FFh).</summary>
    private static readonly uint[] PlaneBytes = BuildPlaneBytes();

    private static uint[] BuildPlaneBytes()
    {
        var t = new uint[16];
        for (int i = 0; i < 16; i++)
            for (int p = 0; p < 4; p++)
                if ((i & (1 << p)) != 0) t[i] |= 0xFFu << (8 * p);
        return t;
    }

    private void UpdateAccess()
    {
        memoryEnabled = (misc & 0x02) != 0;
        switch ((gc[6] >> 2) & 3)
        {
            case 0: windowStart = 0; windowLength = 0x2_0000; break;
            case 1: windowStart = 0; windowLength = 0x1_0000; break;
            case 2: windowStart = 0x1_0000; windowLength = 0x8000; break;
            default: windowStart = 0x1_8000; windowLength = 0x8000; break;
        }
        bool dispi = DispiEnabled;
        bankOffset = dispi && ((gc[6] >> 2) & 3) == 1 ? (uint)dispiBank << 16 : 0;
        // SR04 bit 3 chains four planes; bit 2 clear means odd/even for writes; GR05 bit 4 means odd/even for reads.
        if ((seq[4] & 0x08) != 0)
        {
            writeAddressing = readAddressing = Addressing.Chain4;
        }
        else
        {
            writeAddressing = (seq[4] & 0x04) == 0 ? Addressing.OddEven : Addressing.Planar;
            readAddressing = (gc[5] & 0x10) != 0 ? Addressing.OddEven : Addressing.Planar;
        }
        plainWrite = (gc[5] & 3) == 0 && gc[3] == 0 && (gc[1] & 0x0F) == 0 && gc[8] == 0xFF;
        mapMask = (byte)(seq[2] & 0x0F);
        planarMask = dispi ? (vramMask >> 2) : 0xFFFF;
        chainMask = dispi ? vramMask : 0x3_FFFF;
    }

    // ---- IMmioDevice: the window and the LFB ----

    public uint Read(uint address, int size)
    {
        uint off = address - WindowBase;
        if (off < WindowSize)
        {
            if (size == 1) return WindowRead(off);
            uint v = 0;
            for (int i = 0; i < size; i++) v |= (uint)WindowRead(off + (uint)i) << (8 * i);
            return v;
        }
        uint l = address - lfbAddress;
        if (l <= (uint)vram.Length - (uint)size && lfbDecoding)
        {
            ref byte b = ref vram[l];
            return size switch
            {
                1 => b,
                2 => Unsafe.ReadUnaligned<ushort>(ref b),
                _ => Unsafe.ReadUnaligned<uint>(ref b),
            };
        }
        return size == 1 ? 0xFFu : size == 2 ? 0xFFFFu : 0xFFFF_FFFFu;
    }

    public void Write(uint address, int size, uint value)
    {
        uint off = address - WindowBase;
        if (off < WindowSize)
        {
            for (int i = 0; i < size; i++) WindowWrite(off + (uint)i, (byte)(value >> (8 * i)));
            return;
        }
        uint l = address - lfbAddress;
        if (l <= (uint)vram.Length - (uint)size && lfbDecoding)
        {
            ref byte b = ref vram[l];
            switch (size)
            {
                case 1: b = (byte)value; break;
                case 2: Unsafe.WriteUnaligned(ref b, (ushort)value); break;
                default: Unsafe.WriteUnaligned(ref b, value); break;
            }
        }
    }

    /// <summary>A CPU read of one byte at <paramref name="off"/> from A0000h.</summary>
    private byte WindowRead(uint off)
    {
        off -= windowStart;
        if (off >= windowLength || !memoryEnabled) return 0xFF;
        off += bankOffset;
        uint p;
        int plane;
        switch (readAddressing)
        {
            case Addressing.Chain4:
                off &= chainMask;
                latch = Unsafe.ReadUnaligned<uint>(ref vram[off & ~3u]);
                return vram[off];
            case Addressing.OddEven:
                // Address bit 0 picks plane 0 or 1 (2 or 3 with GR04 bit 1); the plane offset keeps the even address.
                p = off & ~1u & planarMask;
                plane = (gc[4] & 2) | (int)(off & 1);
                break;
            default:
                p = off & planarMask;
                plane = gc[4] & 3;
                break;
        }
        latch = Unsafe.ReadUnaligned<uint>(ref vram[p << 2]);
        if ((gc[5] & 0x08) == 0) return (byte)(latch >> (8 * plane));
        return ColorCompare();
    }

    /// <summary>
    /// Read mode 1: a bit is 1 where every plane enabled by the colour don't care register (GR07)
    /// matches the colour compare register (GR02) in that pixel.
    /// </summary>
    private byte ColorCompare()
    {
        uint diff = (latch ^ PlaneBytes[gc[2] & 0x0F]) & PlaneBytes[gc[7] & 0x0F];
        diff |= diff >> 16;
        diff |= diff >> 8;
        return (byte)~diff;
    }

    /// <summary>A CPU write of one byte at <paramref name="off"/> from A0000h.</summary>
    private void WindowWrite(uint off, byte v)
    {
        off -= windowStart;
        if (off >= windowLength || !memoryEnabled) return;
        off += bankOffset;
        uint p;
        int planes;
        switch (writeAddressing)
        {
            case Addressing.Chain4:
                off &= chainMask;
                if ((mapMask & (1 << (int)(off & 3))) != 0) vram[off] = v;
                return;
            case Addressing.OddEven:
                // Even addresses reach planes 0 and 2, odd ones planes 1 and 3, as the map mask allows.
                planes = mapMask & ((off & 1) != 0 ? 0x0A : 0x05);
                p = off & ~1u & planarMask;
                break;
            default:
                planes = mapMask;
                p = off & planarMask;
                break;
        }
        if (planes == 0) return;
        ref byte cell = ref vram[p << 2];
        if (plainWrite)
        {
            if ((planes & 1) != 0) Unsafe.Add(ref cell, 0) = v;
            if ((planes & 2) != 0) Unsafe.Add(ref cell, 1) = v;
            if ((planes & 4) != 0) Unsafe.Add(ref cell, 2) = v;
            if ((planes & 8) != 0) Unsafe.Add(ref cell, 3) = v;
            return;
        }
        uint keep = PlaneBytes[planes];
        uint old = Unsafe.ReadUnaligned<uint>(ref cell);
        Unsafe.WriteUnaligned(ref cell, (old & ~keep) | (GraphicsControllerWrite(v) & keep));
    }

    /// <summary>
    /// The graphics controller's write path (IBM VGA reference, graphics mode register 05h):
    /// the four planes' bytes for a CPU byte, from the write mode, data rotate, set/reset,
    /// logical operation with the latches, and bit mask.
    /// </summary>
    private uint GraphicsControllerWrite(byte v)
    {
        uint data;
        byte bitMask = gc[8];
        switch (gc[5] & 3)
        {
            case 0:
            {
                uint rotated = Rotate(v) * 0x0101_0101u;
                uint enable = PlaneBytes[gc[1] & 0x0F];
                data = (rotated & ~enable) | (PlaneBytes[gc[0] & 0x0F] & enable);
                break;
            }
            case 1:
                return latch; // the latches go back unchanged
            case 2:
                data = PlaneBytes[v & 0x0F];
                break;
            default:
                // Write mode 3: the rotated data ANDed with the bit mask is the bit mask; the set/reset value is the data.
                bitMask &= Rotate(v);
                data = PlaneBytes[gc[0] & 0x0F];
                break;
        }
        switch ((gc[3] >> 3) & 3)
        {
            case 1: data &= latch; break;
            case 2: data |= latch; break;
            case 3: data ^= latch; break;
        }
        uint mask = bitMask * 0x0101_0101u;
        return (data & mask) | (latch & ~mask);
    }

    private byte Rotate(byte v)
    {
        int n = gc[3] & 7;
        return (byte)((v >> n) | (v << (8 - n)));
    }

    // ---- direct views for the host side ----

    /// <summary>Byte <paramref name="offset"/> of plane <paramref name="plane"/> (0-3) of the VGA's planar memory.</summary>
    public byte PlaneByte(int plane, int offset) => vram[((offset & 0xFFFF) << 2) | (plane & 3)];

    /// <summary>Video RAM in linear (frame buffer) order.</summary>
    public System.ReadOnlySpan<byte> VideoRam => vram;

    /// <summary>Size of video RAM in bytes.</summary>
    public int VideoRamSize => vram.Length;
}
