using System;
using Emu.Devices.Pci;
using Emu.Memory;

namespace Emu.Devices.Storage;

/// <summary>
/// The PIIX3's IDE function (82371SB datasheet, function 1: 8086:7010, class 0101h with
/// programming interface 80h: both channels in legacy mode at 1F0h/3F6h IRQ 14 and 170h/376h
/// IRQ 15, bus-master capable). Configuration space holds the IDE timing registers (IDETIM at
/// 40h and 42h with the IDE decode enable bit 15, SIDETIM at 44h), kept for the guest but with
/// no effect on timing, and BAR4, the 16-byte bus-master I/O block (per channel: command,
/// status, descriptor table pointer). The bus-master registers exist and behave as registers,
/// but no DMA moves: the drives offer no DMA mode in IDENTIFY, so Linux's ata_piix and SeaBIOS
/// use PIO. The legacy ports are decoded whatever IDETIM says (the board attaches the channels).
/// </summary>
public sealed class Piix3Ide : PciFunction, IPortDevice
{
    public const int PciDevice = 1, PciFunctionNumber = 1;
    public const int Idetim0 = 0x40, Idetim1 = 0x42, Sidetim = 0x44;
    private const int BusMasterBar = 4, BusMasterSize = 16;

    // Bus-master status bits (per channel).
    private const byte BmActive = 0x01, BmError = 0x02, BmInterrupt = 0x04, BmDrive0Dma = 0x20, BmDrive1Dma = 0x40;

    private readonly IoSpace io;
    private readonly byte[] bmCommand = new byte[2];
    private readonly byte[] bmStatus = new byte[2];
    private readonly uint[] bmTable = new uint[2];
    private ushort mappedBase; // 0: the bus-master block is not in the I/O space

    /// <param name="primary">The primary channel (its interrupts set the primary bus-master interrupt bit).</param>
    /// <param name="secondary">The secondary channel.</param>
    /// <param name="io">Where BAR4's block is claimed when the guest enables it.</param>
    public Piix3Ide(IdeChannel? primary, IdeChannel? secondary, IoSpace io)
        : base("PIIX3 IDE", 0x8086, 0x7010, 0x00, 0x01_01_80)
    {
        this.io = io ?? throw new ArgumentNullException(nameof(io));
        Write16(Status, 0x0280);   // medium DEVSEL timing, fast back-to-back capable
        WriteMask[Command] = 0x05; // I/O space and bus master only
        WriteMask[Command + 1] = 0;
        DefineBar(BusMasterBar, BusMasterSize, io: true);
        foreach (int o in new[] { Idetim0, Idetim1 })
        {
            WriteMask[o] = 0xFF;
            WriteMask[o + 1] = 0xF3; // bits 11:10 reserved
        }
        WriteMask[Sidetim] = 0xFF;
        if (primary is not null) primary.InterruptAsserted = () => bmStatus[0] |= BmInterrupt;
        if (secondary is not null) secondary.InterruptAsserted = () => bmStatus[1] |= BmInterrupt;
    }

    /// <summary>
    /// Sets the IDE decode enable bits (IDETIM bit 15) of both channels, as firmware does
    /// (SeaBIOS writes 8000h to 40h and 42h). For a boot without firmware: Linux's ata_piix
    /// ignores a channel whose bit is clear.
    /// </summary>
    public void EnableChannelsAsFirmwareWould()
    {
        WriteConfig(Idetim0, 2, 0x8000);
        WriteConfig(Idetim1, 2, 0x8000);
    }

    /// <summary>The I/O port of the bus-master block now, or 0 while it is unmapped.</summary>
    public ushort BusMasterBase => mappedBase;

    protected override void ConfigWritten(int offset, int size) => MapBusMaster();

    private void MapBusMaster()
    {
        uint address = BarAddress(BusMasterBar);
        // The BAR holds 32 bits, but the I/O space ends at FFFFh: a block past it decodes nothing.
        ushort wanted = IoSpaceEnabled && address != 0 && (ulong)address + BusMasterSize <= 0x10000 ? (ushort)address : (ushort)0;
        if (wanted == mappedBase) return;
        if (mappedBase != 0)
        {
            io.Unregister(mappedBase, BusMasterSize);
            mappedBase = 0;
        }
        if (wanted == 0) return;
        // A guest may point the BAR at ports another device owns: then the block stays unmapped.
        for (int p = wanted; p < wanted + BusMasterSize; p++)
        {
            if (io.DeviceAt((ushort)p) is not null) return;
        }
        io.Register(wanted, BusMasterSize, this);
        mappedBase = wanted;
    }

    public uint In(ushort port, int size)
    {
        uint v = 0;
        for (int i = 0; i < size; i++) v |= (uint)ReadBusMaster(port - mappedBase + i) << (8 * i);
        return v;
    }

    public void Out(ushort port, int size, uint value)
    {
        for (int i = 0; i < size; i++) WriteBusMaster(port - mappedBase + i, (byte)(value >> (8 * i)));
    }

    private byte ReadBusMaster(int offset)
    {
        if ((uint)offset >= BusMasterSize) return 0xFF;
        int ch = offset >> 3, reg = offset & 7;
        return reg switch
        {
            0 => bmCommand[ch],
            2 => bmStatus[ch],
            >= 4 => (byte)(bmTable[ch] >> (8 * (reg - 4))),
            _ => 0,
        };
    }

    private void WriteBusMaster(int offset, byte v)
    {
        if ((uint)offset >= BusMasterSize) return;
        int ch = offset >> 3, reg = offset & 7;
        switch (reg)
        {
            case 0:
                // Start/stop and direction. With no DMA command on the drive, a started engine just waits.
                bmCommand[ch] = (byte)(v & 0x09);
                if ((v & 1) != 0) bmStatus[ch] |= BmActive;
                else bmStatus[ch] &= unchecked((byte)~BmActive);
                break;
            case 2:
                byte s = bmStatus[ch];
                s = (byte)((s & ~(BmDrive0Dma | BmDrive1Dma)) | (v & (BmDrive0Dma | BmDrive1Dma)));
                s &= (byte)~(v & (BmError | BmInterrupt)); // write 1 to clear
                bmStatus[ch] = s;
                break;
            case >= 4:
                int shift = 8 * (reg - 4);
                uint t = (bmTable[ch] & ~(0xFFu << shift)) | ((uint)v << shift);
                bmTable[ch] = t & 0xFFFF_FFFC; // dword aligned
                break;
        }
    }

    /// <summary>A hardware reset: configuration and bus-master registers to their defaults.</summary>
    public void Reset()
    {
        WriteConfig(Command, 2, 0);
        WriteConfig(Bar0 + 4 * BusMasterBar, 4, 0);
        WriteConfig(Idetim0, 2, 0);
        WriteConfig(Idetim1, 2, 0);
        WriteConfig(Sidetim, 1, 0);
        Array.Clear(bmCommand);
        Array.Clear(bmStatus);
        Array.Clear(bmTable);
    }
}
