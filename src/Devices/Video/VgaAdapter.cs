using System;
using Emu.Memory;

namespace Emu.Devices.Video;

/// <summary>
/// A VGA adapter as IBM's VGA technical reference describes it, with the Bochs/QEMU "DISPI"
/// VBE extension on top (the interface SeaBIOS's vgabios, built as vgabios-isavga.bin or
/// vgabios-stdvga.bin, drives): the general registers (miscellaneous output, input status 0/1,
/// feature control), the sequencer, the CRT controller (at 3Bxh or 3Dxh as the miscellaneous
/// output register selects, with CR11's write protect), the graphics controller, the attribute
/// controller with its index/data flip-flop, the DAC, 256 KiB of planar memory behind the
/// A0000h-BFFFFh window (odd/even, chain-4, write modes 0-3, read modes 0-1, latches), and a
/// linear frame buffer over the whole video RAM.
/// </summary>
/// <remarks>
/// Video RAM is one byte array. The VGA's four 64 KiB planes are interleaved in its first
/// 256 KiB: plane p at planar offset o is byte 4*o + p, so one 32-bit load fetches the four
/// latches; chain-4 addresses and the linear frame buffer see the same bytes in order (the
/// layout QEMU's std VGA has, which the Bochs VBE modes rely on). The adapter is headless:
/// <see cref="DumpText"/> and <see cref="RenderPpm"/> read the screen out of video memory.
/// </remarks>
public sealed partial class VgaAdapter : IPortDevice, IMmioDevice
{
    /// <summary>The legacy memory window, A0000h-BFFFFh.</summary>
    public const uint WindowBase = 0xA_0000, WindowSize = 0x2_0000;

    /// <summary>Where the ISA adapter's linear frame buffer lives (VBE_DISPI_LFB_PHYSICAL_ADDRESS of SeaBIOS and QEMU).</summary>
    public const uint DefaultLfbAddress = 0xE000_0000;

    // Port numbers (IBM VGA technical reference, "Register overview").
    public const ushort AttrAddressPort = 0x3C0, AttrDataReadPort = 0x3C1, MiscWritePort = 0x3C2, VideoEnablePort = 0x3C3,
        SeqIndexPort = 0x3C4, SeqDataPort = 0x3C5, PelMaskPort = 0x3C6, DacReadIndexPort = 0x3C7, DacWriteIndexPort = 0x3C8,
        DacDataPort = 0x3C9, FeatureReadPort = 0x3CA, MiscReadPort = 0x3CC, GcIndexPort = 0x3CE, GcDataPort = 0x3CF,
        MonoCrtcIndexPort = 0x3B4, MonoCrtcDataPort = 0x3B5, MonoStatus1Port = 0x3BA,
        ColorCrtcIndexPort = 0x3D4, ColorCrtcDataPort = 0x3D5, ColorStatus1Port = 0x3DA;

    private const int CrtcCount = 0x19, SeqCount = 5, GcCount = 9, AttrCount = 0x15;

    // General registers.
    private byte misc;            // 3C2h write / 3CCh read
    private byte featureControl;  // 3BAh/3DAh write / 3CAh read
    private byte videoEnable = 1; // 3C3h
    private byte status1Phase;    // the toggling bits of input status 1

    // Sequencer, CRT controller, graphics controller.
    private readonly byte[] seq = new byte[8];
    private readonly byte[] crtc = new byte[CrtcCount];
    private readonly byte[] gc = new byte[16];
    private byte seqIndex, crtcIndex, gcIndex;

    // Attribute controller.
    private readonly byte[] attr = new byte[0x20];
    private byte attrIndex;       // bits 0-4 the register, bit 5 the palette address source
    private bool attrDataNext;    // the flip-flop: false = the next 3C0h write is an index

    // DAC.
    private readonly byte[] palette = new byte[256 * 3];
    private readonly byte[] dacLatch = new byte[3];
    private byte pelMask = 0xFF;
    private byte dacReadIndex, dacWriteIndex, dacSub, dacState;

    /// <param name="vramMiB">Video RAM in MiB: a power of two from 1 to 64 (QEMU's std VGA has 16).</param>
    public VgaAdapter(int vramMiB = 16)
    {
        if (vramMiB < 1 || vramMiB > 64 || (vramMiB & (vramMiB - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(vramMiB), "video RAM is a power of two from 1 to 64 MiB");
        vram = new byte[vramMiB << 20];
        vramMask = (uint)vram.Length - 1;
        dispiVirtHeight = 0;
        UpdateAccess();
    }

    /// <summary>Claims the VGA ports (3B4h/3B5h/3BAh, 3C0h-3CFh, 3D4h/3D5h/3DAh) and the DISPI ports (1CEh-1D0h).</summary>
    public void Attach(IoSpace io)
    {
        io.Register(MonoCrtcIndexPort, 2, this);
        io.Register(MonoStatus1Port, 1, this);
        io.Register(AttrAddressPort, 16, this);
        io.Register(ColorCrtcIndexPort, 2, this);
        io.Register(ColorStatus1Port, 1, this);
        io.Register(DispiIndexPort, 3, this);
    }

    /// <summary>Maps the A0000h-BFFFFh window and the linear frame buffer at <see cref="LfbAddress"/>.</summary>
    public void Map(PhysicalMemory memory)
    {
        memory.MapMmio(WindowBase, WindowSize, this, "VGA window");
        memory.MapMmio(LfbAddress, (uint)vram.Length, this, "VGA linear frame buffer");
    }

    /// <summary>
    /// Loads the registers of BIOS mode 3 (80x25 colour text at B8000h, IBM's values, as
    /// SeaBIOS's mode table has them) without touching video memory: for a guest started
    /// without a VGA BIOS that still expects a text console.
    /// </summary>
    public void SetMode3Registers()
    {
        ReadOnlySpan<byte> seqRegs = [0x03, 0x00, 0x03, 0x00, 0x02];
        ReadOnlySpan<byte> crtcRegs =
        [
            0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00, 0x00, 0x00, 0x00,
            0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF,
        ];
        ReadOnlySpan<byte> attrRegs =
        [
            0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F,
            0x0C, 0x00, 0x0F, 0x08, 0x00,
        ];
        ReadOnlySpan<byte> gcRegs = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x0F, 0xFF];
        dispiEnable = 0;
        seqRegs.CopyTo(seq);
        crtcRegs.CopyTo(crtc);
        attrRegs.CopyTo(attr);
        gcRegs.CopyTo(gc);
        misc = 0x67;
        attrIndex = 0x20;
        attrDataNext = false;
        UpdateAccess();
    }

    // ---- port I/O ----

    public uint In(ushort port, int size)
    {
        if (port >= DispiIndexPort && port <= DispiDataPort2) return DispiIn(port);
        if (size == 1) return InByte(port);
        uint v = 0;
        for (int i = 0; i < size; i++) v |= (uint)InByte((ushort)(port + i)) << (8 * i);
        return v;
    }

    public void Out(ushort port, int size, uint value)
    {
        if (port >= DispiIndexPort && port <= DispiDataPort2)
        {
            DispiOut(port, value);
            return;
        }
        // A word OUT writes an index and its data register in one go (OUT 3C4h, AX), as the VGA BIOS does.
        for (int i = 0; i < size; i++) OutByte((ushort)(port + i), (byte)(value >> (8 * i)));
    }

    private bool ColorIo => (misc & 1) != 0;

    private byte InByte(ushort port)
    {
        switch (port)
        {
            case AttrAddressPort:
                return attrIndex;
            case AttrDataReadPort:
                return attr[attrIndex & 0x1F];
            case MiscWritePort:
                return 0x10; // input status 0: switch sense high (a colour monitor), no vertical retrace interrupt
            case VideoEnablePort:
                return videoEnable;
            case SeqIndexPort:
                return seqIndex;
            case SeqDataPort:
                return seqIndex < SeqCount ? seq[seqIndex] : (byte)0xFF;
            case PelMaskPort:
                return pelMask;
            case DacReadIndexPort:
                return dacState;
            case DacWriteIndexPort:
                return dacWriteIndex;
            case DacDataPort:
                return DacRead();
            case FeatureReadPort:
                return featureControl;
            case MiscReadPort:
                return misc;
            case GcIndexPort:
                return gcIndex;
            case GcDataPort:
                return gcIndex < GcCount ? gc[gcIndex] : (byte)0xFF;
            case MonoCrtcIndexPort:
            case ColorCrtcIndexPort:
                return CrtcPortLive(port) ? crtcIndex : (byte)0xFF;
            case MonoCrtcDataPort:
            case ColorCrtcDataPort:
                if (!CrtcPortLive(port)) return 0xFF;
                return crtcIndex < CrtcCount ? crtc[crtcIndex] : (byte)0xFF;
            case MonoStatus1Port:
            case ColorStatus1Port:
                if (CrtcPortLive(port)) return InputStatus1();
                return 0xFF;
            default:
                return 0xFF;
        }
    }

    /// <summary>The CRTC and input status 1 answer at 3Bxh or 3Dxh, as bit 0 of the miscellaneous output register selects.</summary>
    private bool CrtcPortLive(ushort port) => ((port & 0xFFF0) == 0x3D0) == ColorIo;

    /// <summary>
    /// Input status 1: bit 0 (display enable inactive) and bit 3 (vertical retrace) change on
    /// every read, so a loop waiting for either edge ends within two reads whatever the clock
    /// does. Reading it resets the attribute controller's flip-flop to "index".
    /// </summary>
    private byte InputStatus1()
    {
        attrDataNext = false;
        status1Phase ^= 0x09;
        return status1Phase;
    }

    private void OutByte(ushort port, byte v)
    {
        switch (port)
        {
            case AttrAddressPort:
                if (!attrDataNext) attrIndex = (byte)(v & 0x3F);
                else AttrWrite(attrIndex & 0x1F, v);
                attrDataNext = !attrDataNext;
                break;
            case MiscWritePort:
                misc = v;
                UpdateAccess();
                break;
            case VideoEnablePort:
                videoEnable = (byte)(v & 1);
                break;
            case SeqIndexPort:
                seqIndex = (byte)(v & 7);
                break;
            case SeqDataPort:
                SeqWrite(seqIndex, v);
                break;
            case PelMaskPort:
                pelMask = v;
                break;
            case DacReadIndexPort:
                dacReadIndex = v;
                dacSub = 0;
                dacState = 3; // the DAC is in read mode
                break;
            case DacWriteIndexPort:
                dacWriteIndex = v;
                dacSub = 0;
                dacState = 0; // write mode
                break;
            case DacDataPort:
                DacWrite(v);
                break;
            case GcIndexPort:
                gcIndex = (byte)(v & 0x0F);
                break;
            case GcDataPort:
                if (gcIndex < GcCount)
                {
                    gc[gcIndex] = v;
                    UpdateAccess();
                }
                break;
            case MonoCrtcIndexPort:
            case ColorCrtcIndexPort:
                if (CrtcPortLive(port)) crtcIndex = (byte)(v & 0x3F);
                break;
            case MonoCrtcDataPort:
            case ColorCrtcDataPort:
                if (CrtcPortLive(port)) CrtcWrite(crtcIndex, v);
                break;
            case MonoStatus1Port:
            case ColorStatus1Port:
                if (CrtcPortLive(port)) featureControl = (byte)(v & 0x03);
                break;
        }
    }

    private void SeqWrite(int index, byte v)
    {
        if (index >= SeqCount) return;
        seq[index] = v;
        if (index == 2 || index == 4) UpdateAccess();
    }

    private void CrtcWrite(int index, byte v)
    {
        if (index >= CrtcCount) return;
        // CR11 bit 7 protects CR00-CR07, except the line-compare bit 8 in CR07 bit 4 (IBM VGA reference, CRTC register 11h).
        if ((crtc[0x11] & 0x80) != 0 && index <= 7)
        {
            if (index == 7) crtc[7] = (byte)((crtc[7] & ~0x10) | (v & 0x10));
            return;
        }
        crtc[index] = v;
    }

    private void AttrWrite(int index, byte v)
    {
        if (index >= AttrCount) return;
        // The palette registers hold 6 bits; the mode control, overscan, plane enable, panning and colour select less.
        attr[index] = index switch
        {
            < 0x10 => (byte)(v & 0x3F),
            0x12 => (byte)(v & 0x3F),
            0x13 => (byte)(v & 0x0F),
            0x14 => (byte)(v & 0x0F),
            _ => v,
        };
    }

    // ---- DAC ----

    private byte DacRead()
    {
        byte v = palette[dacReadIndex * 3 + dacSub];
        if (++dacSub == 3)
        {
            dacSub = 0;
            dacReadIndex++;
        }
        return v;
    }

    /// <summary>A DAC entry is written once its third (blue) value arrives; then the write index moves on.</summary>
    private void DacWrite(byte v)
    {
        dacLatch[dacSub] = (dispiEnable & DispiEightBitDac) != 0 ? v : (byte)(v & 0x3F);
        if (++dacSub == 3)
        {
            dacSub = 0;
            int i = dacWriteIndex * 3;
            palette[i] = dacLatch[0];
            palette[i + 1] = dacLatch[1];
            palette[i + 2] = dacLatch[2];
            dacWriteIndex++;
        }
    }

    // ---- state for the host side (screen dump, tests) ----

    /// <summary>Register <paramref name="index"/> of the CRT controller.</summary>
    public byte CrtcRegister(int index) => crtc[index];

    /// <summary>Register <paramref name="index"/> of the sequencer.</summary>
    public byte SequencerRegister(int index) => seq[index];

    /// <summary>Register <paramref name="index"/> of the graphics controller.</summary>
    public byte GraphicsRegister(int index) => gc[index];

    /// <summary>Register <paramref name="index"/> of the attribute controller.</summary>
    public byte AttributeRegister(int index) => attr[index];

    /// <summary>The miscellaneous output register.</summary>
    public byte MiscOutput => misc;

    /// <summary>DAC entry <paramref name="index"/> as stored (6-bit values unless the DISPI 8-bit DAC is on).</summary>
    public (byte R, byte G, byte B) DacEntry(int index) => (palette[index * 3], palette[index * 3 + 1], palette[index * 3 + 2]);

    /// <summary>The cursor's character address (CR0Eh/CR0Fh) and whether CR0Ah hides it.</summary>
    public (int Address, bool Visible) Cursor => ((crtc[0x0E] << 8) | crtc[0x0F], (crtc[0x0A] & 0x20) == 0);
}
