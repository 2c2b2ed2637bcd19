using System;

namespace Emu.Devices.Video;

// The Bochs VBE "DISPI" interface, as Bochs and QEMU implement it and SeaBIOS's bochsvga code drives it.
public sealed partial class VgaAdapter
{
    public const ushort DispiIndexPort = 0x1CE, DispiDataPort = 0x1CF, DispiDataPort2 = 0x1D0;

    public const int DispiIndexId = 0, DispiIndexXres = 1, DispiIndexYres = 2, DispiIndexBpp = 3, DispiIndexEnable = 4,
        DispiIndexBank = 5, DispiIndexVirtWidth = 6, DispiIndexVirtHeight = 7, DispiIndexXOffset = 8, DispiIndexYOffset = 9,
        DispiIndexVideoMemory64K = 0x0A;

    /// <summary>ID values: B0C0h-B0C5h; a guest writes the version it wants and reads back what was accepted.</summary>
    public const ushort DispiId0 = 0xB0C0, DispiId5 = 0xB0C5;

    public const ushort DispiEnabledBit = 0x01, DispiGetCaps = 0x02, DispiEightBitDac = 0x20, DispiLfbEnabled = 0x40, DispiNoClearMem = 0x80;

    public const int DispiMaxXres = 2560, DispiMaxYres = 1600, DispiMaxBpp = 32;

    private ushort dispiIndex;
    private ushort dispiId = DispiId5;
    private ushort dispiXres = 640, dispiYres = 480, dispiBpp = 8;
    private ushort dispiEnable;
    private ushort dispiBank;
    private ushort dispiVirtWidth = 640, dispiVirtHeight;
    private ushort dispiXOffset, dispiYOffset;
    private uint lfbAddress = DefaultLfbAddress;

    /// <summary>Whether a DISPI (VBE) mode is on: the display comes from video RAM as packed pixels, not from the VGA.</summary>
    public bool DispiEnabled => (dispiEnable & DispiEnabledBit) != 0;

    /// <summary>The DISPI mode: resolution, bits per pixel and the line length in bytes.</summary>
    public (int Width, int Height, int Bpp, int LineBytes) DispiMode => (dispiXres, dispiYres, dispiBpp, DispiLineBytes(dispiVirtWidth));

    /// <summary>
    /// Where the linear frame buffer answers: <see cref="DefaultLfbAddress"/> for the ISA adapter,
    /// BAR0 for the PCI one (<see cref="StdVgaPciFunction"/> moves it). Accesses that reach this
    /// device outside [LfbAddress, LfbAddress + video RAM) read as all ones and are dropped.
    /// </summary>
    public uint LfbAddress
    {
        get => lfbAddress;
        set => lfbAddress = value;
    }

    /// <summary>Whether the linear frame buffer answers at all (the PCI function turns it off with memory decoding).</summary>
    public bool LfbDecoding
    {
        get => lfbDecoding;
        set => lfbDecoding = value;
    }

    private bool lfbDecoding = true;

    private int DispiLineBytes(int width) => dispiBpp == 4 ? width / 2 : width * ((dispiBpp + 7) / 8);

    private uint DispiIn(ushort port) => port == DispiIndexPort ? dispiIndex : DispiRead(dispiIndex);

    /// <summary>Reads DISPI register <paramref name="index"/> (the data port, or BAR2 of the PCI function).</summary>
    internal ushort DispiRead(int index)
    {
        bool caps = (dispiEnable & DispiGetCaps) != 0;
        return (ushort)(index switch
        {
            DispiIndexId => dispiId,
            DispiIndexXres => caps ? (uint)DispiMaxXres : dispiXres,
            DispiIndexYres => caps ? (uint)DispiMaxYres : dispiYres,
            DispiIndexBpp => caps ? (uint)DispiMaxBpp : dispiBpp,
            DispiIndexEnable => dispiEnable,
            DispiIndexBank => dispiBank,
            DispiIndexVirtWidth => dispiVirtWidth,
            DispiIndexVirtHeight => dispiVirtHeight,
            DispiIndexXOffset => dispiXOffset,
            DispiIndexYOffset => dispiYOffset,
            DispiIndexVideoMemory64K => (uint)(vram.Length >> 16),
            _ => 0u,
        });
    }

    private void DispiOut(ushort port, uint value)
    {
        if (port == DispiIndexPort) dispiIndex = (ushort)value;
        else DispiWrite(dispiIndex, (ushort)value);
    }

    /// <summary>Writes DISPI register <paramref name="index"/> (the data port, or BAR2 of the PCI function).</summary>
    internal void DispiWrite(int index, ushort v)
    {
        switch (index)
        {
            case DispiIndexId:
                if (v >= DispiId0 && v <= DispiId5) dispiId = v;
                break;
            case DispiIndexXres:
                dispiXres = v;
                break;
            case DispiIndexYres:
                dispiYres = v;
                break;
            case DispiIndexBpp:
                dispiBpp = v;
                break;
            case DispiIndexEnable:
                DispiSetEnable(v);
                break;
            case DispiIndexBank:
                // Banks are 64 KiB; one past the end of video RAM is refused (the guest reads the old bank back).
                if ((uint)v << 16 < (uint)vram.Length) dispiBank = v;
                UpdateAccess();
                break;
            case DispiIndexVirtWidth:
                dispiVirtWidth = v;
                DispiFixup();
                break;
            case DispiIndexVirtHeight:
                dispiVirtHeight = v;
                DispiFixup();
                break;
            case DispiIndexXOffset:
                dispiXOffset = v;
                DispiFixup();
                break;
            case DispiIndexYOffset:
                dispiYOffset = v;
                DispiFixup();
                break;
        }
    }

    private void DispiSetEnable(ushort v)
    {
        bool was = DispiEnabled;
        dispiEnable = (ushort)(v & (DispiEnabledBit | DispiGetCaps | DispiEightBitDac | DispiLfbEnabled | DispiNoClearMem));
        if (DispiEnabled && !was)
        {
            // Turning a mode on: the resolution becomes sane, the virtual screen is the visible one, panning starts at 0.
            if (dispiBpp is not (4 or 8 or 15 or 16 or 24 or 32)) dispiBpp = 8;
            dispiXres = (ushort)Math.Clamp(dispiXres & ~7, 8, DispiMaxXres);
            dispiYres = (ushort)Math.Clamp((int)dispiYres, 1, DispiMaxYres);
            dispiVirtWidth = dispiXres;
            dispiVirtHeight = 0;
            dispiXOffset = dispiYOffset = 0;
            dispiBank = 0;
            DispiFixup();
            if ((v & DispiNoClearMem) == 0)
                Array.Clear(vram, 0, (int)Math.Min((long)DispiLineBytes(dispiVirtWidth) * dispiYres, vram.Length));
            // The VGA side follows: graphics, the 64 KiB window at A0000h, chained packed pixels (QEMU does the same,
            // so a guest that programs only DISPI still gets a usable bank window).
            gc[6] = (byte)((gc[6] & ~0x0C) | 0x05);
            if (dispiBpp == 4)
            {
                seq[4] &= 0xF7;
            }
            else
            {
                seq[4] |= 0x08;
                gc[5] = (byte)((gc[5] & ~0x60) | 0x40);
            }
            seq[2] = 0x0F;
            misc |= 0x02;
        }
        else if (!DispiEnabled)
        {
            dispiBank = 0;
        }
        UpdateAccess();
    }

    /// <summary>Keeps the virtual screen at least as wide as the mode, within video RAM, and the panning inside it.</summary>
    private void DispiFixup()
    {
        if (dispiVirtWidth < dispiXres) dispiVirtWidth = dispiXres;
        int line = DispiLineBytes(dispiVirtWidth);
        if (line <= 0) return;
        int maxHeight = Math.Min(vram.Length / line, ushort.MaxValue);
        if (dispiVirtHeight == 0 || dispiVirtHeight > maxHeight || dispiVirtHeight < dispiYres) dispiVirtHeight = (ushort)maxHeight;
        if (dispiXOffset > dispiVirtWidth - dispiXres) dispiXOffset = (ushort)(dispiVirtWidth - dispiXres);
        if (dispiVirtHeight >= dispiYres && dispiYOffset > dispiVirtHeight - dispiYres) dispiYOffset = (ushort)(dispiVirtHeight - dispiYres);
    }
}
