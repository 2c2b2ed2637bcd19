using System;

namespace Emu.Devices.Storage;

/// <summary>
/// One device on an IDE channel (ATA/ATAPI-6, T13 1410D): its copy of the task file (every
/// device latches every register write; only the selected one answers reads), status and
/// error, its pending interrupt, and the PIO data buffer the host moves through the data port
/// one DRQ block at a time. <see cref="AtaDisk"/> and <see cref="AtapiCdrom"/> give it commands.
/// </summary>
public abstract class IdeDevice
{
    // Status register bits (ATA/ATAPI-6 7.15).
    internal const byte StBsy = 0x80, StDrdy = 0x40, StDf = 0x20, StDsc = 0x10, StDrq = 0x08, StErr = 0x01;

    // Error register bits (ATA/ATAPI-6 7.9).
    internal const byte ErrAbrt = 0x04, ErrIdnf = 0x10, ErrUnc = 0x40;

    // The task file: the current value and the one before it (read back with HOB=1, and the
    // high-order bytes of 48-bit commands).
    internal byte Feature, SectorCount, LbaLow, LbaMid, LbaHigh;
    internal byte PrevFeature, PrevSectorCount, PrevLbaLow, PrevLbaMid, PrevLbaHigh;
    internal byte DeviceRegister;
    internal byte Status, Error;

    /// <summary>INTRQ as the device would drive it if selected and nIEN were clear.</summary>
    internal bool IrqPending;

    /// <summary>The PIO data buffer; [transferPos, transferEnd) is the block the host still has to move.</summary>
    protected readonly byte[] Buffer;
    private int transferPos, transferEnd;
    private bool transferActive, transferToDevice;

    internal IdeChannel? Channel;

    protected IdeDevice(int bufferSize) => Buffer = new byte[bufferSize];

    /// <summary>Whether this is a PACKET (ATAPI) device: its signature is 14h/EBh.</summary>
    public abstract bool IsPacketDevice { get; }

    /// <summary>Whether a PIO data block is waiting for the host (DRQ).</summary>
    public bool DataRequested => transferActive;

    /// <summary>The task file a device leaves after power-on, SRST, DEVICE RESET or EXECUTE DEVICE DIAGNOSTIC (ATA/ATAPI-6 9.12).</summary>
    internal void SetSignature()
    {
        SectorCount = 1;
        LbaLow = 1;
        LbaMid = IsPacketDevice ? (byte)0x14 : (byte)0x00;
        LbaHigh = IsPacketDevice ? (byte)0xEB : (byte)0x00;
        DeviceRegister = 0;
        Error = 0x01; // diagnostics passed
    }

    /// <summary>SRST asserted: the device is busy and forgets any command in progress.</summary>
    internal void EnterReset()
    {
        StopTransfer();
        IrqPending = false;
        Status = StBsy;
    }

    /// <summary>The end of a reset (SRST released, power-on, DEVICE RESET): signature and idle state.</summary>
    internal virtual void CompleteReset()
    {
        StopTransfer();
        IrqPending = false;
        SetSignature();
        // A PACKET device leaves DRDY clear after a reset (ATA/ATAPI-6 9.12); an ATA device is ready.
        Status = IsPacketDevice ? (byte)0 : (byte)(StDrdy | StDsc);
        ResetSettings();
    }

    /// <summary>Settings that revert to their defaults on a reset.</summary>
    protected virtual void ResetSettings() { }

    /// <summary>A command written to the command register while this device is selected.</summary>
    internal abstract void ExecuteCommand(byte command);

    /// <summary>The host moved the whole block: the device goes on with its command.</summary>
    protected abstract void TransferDone();

    // ---- helpers for commands ----

    /// <summary>Offers Buffer[start, start+length) to the host (DRQ), raising an interrupt if asked.</summary>
    protected void StartTransfer(int start, int length, bool toDevice, bool interrupt)
    {
        transferPos = start;
        transferEnd = start + length;
        transferToDevice = toDevice;
        transferActive = true;
        Status = StDrdy | StDsc | StDrq;
        if (interrupt) RaiseIrq();
    }

    protected void StopTransfer()
    {
        transferActive = false;
        Status &= unchecked((byte)~StDrq);
    }

    /// <summary>The command ended well.</summary>
    protected void Complete(bool interrupt)
    {
        StopTransfer();
        Status = StDrdy | StDsc;
        if (interrupt) RaiseIrq();
    }

    /// <summary>The command ended in error, with the error register's bits.</summary>
    protected void Fail(byte error)
    {
        StopTransfer();
        Error = error;
        Status = StDrdy | StErr;
        RaiseIrq();
    }

    protected void RaiseIrq()
    {
        IrqPending = true;
        Channel?.UpdateIrq();
    }

    /// <summary>A 48-bit sector count (0 means 65536).</summary>
    protected int SectorCount48
    {
        get
        {
            int n = SectorCount | (PrevSectorCount << 8);
            return n != 0 ? n : 65536;
        }
    }

    /// <summary>A 28-bit (or CHS) sector count (0 means 256).</summary>
    protected int SectorCount28 => SectorCount != 0 ? SectorCount : 256;

    protected long Lba48 => LbaLow | ((long)LbaMid << 8) | ((long)LbaHigh << 16)
                            | ((long)PrevLbaLow << 24) | ((long)PrevLbaMid << 32) | ((long)PrevLbaHigh << 40);

    protected long Lba28 => LbaLow | ((long)LbaMid << 8) | ((long)LbaHigh << 16) | ((long)(DeviceRegister & 0x0F) << 24);

    // ---- the data port ----

    /// <summary>A read of the data register: 2 bytes per 16-bit access, 4 per 32-bit access.</summary>
    internal uint ReadData(int size)
    {
        if (size == 4) return ReadWord() | (ReadWord() << 16);
        uint w = ReadWord();
        return size == 1 ? w & 0xFF : w;
    }

    private uint ReadWord()
    {
        if (!transferActive || transferToDevice) return 0xFFFF;
        int p = transferPos;
        uint w = Buffer[p];
        if (p + 1 < transferEnd) w |= (uint)Buffer[p + 1] << 8; // an odd final byte comes with a zero pad
        transferPos = p + 2;
        if (transferPos >= transferEnd)
        {
            StopTransfer();
            TransferDone();
        }
        return w;
    }

    /// <summary>A write of the data register.</summary>
    internal void WriteData(int size, uint value)
    {
        WriteWord((ushort)value);
        if (size == 4) WriteWord((ushort)(value >> 16));
    }

    private void WriteWord(ushort value)
    {
        if (!transferActive || !transferToDevice) return;
        int p = transferPos;
        Buffer[p] = (byte)value;
        if (p + 1 < transferEnd) Buffer[p + 1] = (byte)(value >> 8);
        transferPos = p + 2;
        if (transferPos >= transferEnd)
        {
            StopTransfer();
            TransferDone();
        }
    }

    // ---- IDENTIFY data ----

    /// <summary>Puts an ATA string (two characters a word, the first in the high byte, space padded) at word <paramref name="word"/>.</summary>
    protected static void PutString(Span<byte> identify, int word, int words, string text)
    {
        for (int i = 0; i < words * 2; i++)
        {
            char c = i < text.Length ? text[i] : ' ';
            if (c < 0x20 || c > 0x7E) c = ' ';
            identify[word * 2 + (i ^ 1)] = (byte)c;
        }
    }

    protected static void PutWord(Span<byte> identify, int word, int value)
    {
        identify[word * 2] = (byte)value;
        identify[word * 2 + 1] = (byte)(value >> 8);
    }

    /// <summary>Word 255: the A5h signature and a checksum making all 512 bytes sum to zero (ATA/ATAPI-6 8.15.61).</summary>
    protected static void PutChecksum(Span<byte> identify)
    {
        identify[510] = 0xA5;
        byte sum = 0;
        for (int i = 0; i < 511; i++) sum += identify[i];
        identify[511] = (byte)-sum;
    }
}
