using System;

namespace Emu.Devices.Storage;

/// <summary>
/// An ATA hard disk (ATA/ATAPI-6, T13 1410D) on a <see cref="DiskImage"/>: IDENTIFY DEVICE,
/// PIO reads and writes in LBA28, LBA48 and CHS addressing, one sector or one multiple block
/// per DRQ, READ VERIFY, SET MULTIPLE MODE, SET FEATURES, INITIALIZE DEVICE PARAMETERS,
/// FLUSH CACHE, the power-management commands (the disk is always active), READ NATIVE MAX
/// ADDRESS. No DMA mode is offered, so Linux and SeaBIOS drive it in PIO. Anything else is
/// aborted. On a read-only image every write command is aborted (ABRT), as a write-protected drive does.
/// </summary>
public sealed class AtaDisk : IdeDevice
{
    public const int SectorSize = 512;
    public const int MaxMultiple = 16; // sectors per DRQ block in READ/WRITE MULTIPLE (word 47)

    private const long Lba28Limit = 0x0FFF_FFFF;

    private enum Phase { None, Identify, Read, Write }

    private readonly DiskImage image;
    private readonly string model, serial, firmware;
    private readonly ushort defaultCylinders, defaultHeads, defaultSectors;
    private ushort cylinders, heads, sectorsPerTrack; // the current CHS translation
    private int multiple;
    private bool writeCache;

    private Phase phase;
    private long lba;           // the next sector of the running command
    private int remaining;      // sectors still to move
    private int blockSectors;   // sectors per DRQ block (1, or the multiple count)
    private int currentBlock;   // sectors in the block the host is moving now

    /// <param name="image">A hard disk image (512-byte sectors).</param>
    /// <param name="serial">Up to 20 characters.</param>
    /// <param name="model">Up to 40 characters.</param>
    public AtaDisk(DiskImage image, string serial = "EMU00000000000000001", string model = "EMU HARDDISK", string firmware = "1.0")
        : base(MaxMultiple * SectorSize)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.SectorSize != SectorSize) throw new ArgumentException("an ATA disk needs 512-byte sectors", nameof(image));
        this.image = image;
        this.serial = serial;
        this.model = model;
        this.firmware = firmware;
        (defaultCylinders, defaultHeads, defaultSectors) = DefaultGeometry(image.SectorCount);
        ResetSettings();
    }

    public override bool IsPacketDevice => false;

    public DiskImage Image => image;

    public long Sectors => image.SectorCount;

    /// <summary>The geometry reported in IDENTIFY words 1, 3 and 6 (16 heads, 63 sectors, up to 16383 cylinders).</summary>
    public (int Cylinders, int Heads, int SectorsPerTrack) DefaultChs => (defaultCylinders, defaultHeads, defaultSectors);

    private static (ushort, ushort, ushort) DefaultGeometry(long sectors)
    {
        const int MaxCyl = 16383;
        if (sectors >= 16L * 63) return ((ushort)Math.Min(sectors / (16 * 63), MaxCyl), 16, 63);
        // A very small disk: fewer heads so that at least one cylinder exists.
        ushort spt = (ushort)Math.Min(sectors, 63);
        ushort h = (ushort)Math.Clamp(sectors / spt, 1, 16);
        return ((ushort)Math.Max(1, sectors / (h * spt)), h, spt);
    }

    protected override void ResetSettings()
    {
        cylinders = defaultCylinders;
        heads = defaultHeads;
        sectorsPerTrack = defaultSectors;
        multiple = MaxMultiple;
        writeCache = true;
        phase = Phase.None;
    }

    internal override void ExecuteCommand(byte command)
    {
        phase = Phase.None;
        StopTransfer();
        switch (command)
        {
            case 0xEC: Identify(); break;
            case 0x20: case 0x21: StartRead(ext: false, multipleMode: false); break; // READ SECTORS (21h: without retry)
            case 0x24: StartRead(ext: true, multipleMode: false); break;             // READ SECTORS EXT
            case 0xC4: StartRead(ext: false, multipleMode: true); break;             // READ MULTIPLE
            case 0x29: StartRead(ext: true, multipleMode: true); break;              // READ MULTIPLE EXT
            case 0x30: case 0x31: StartWrite(ext: false, multipleMode: false); break; // WRITE SECTORS
            case 0x34: StartWrite(ext: true, multipleMode: false); break;
            case 0xC5: StartWrite(ext: false, multipleMode: true); break;            // WRITE MULTIPLE
            case 0x39: StartWrite(ext: true, multipleMode: true); break;
            case 0x40: case 0x41: Verify(ext: false); break;                         // READ VERIFY SECTORS
            case 0x42: Verify(ext: true); break;
            case 0xC6: SetMultiple(); break;
            case 0xEF: SetFeatures(); break;
            case 0x91: InitializeDeviceParameters(); break;
            case 0xE7: case 0xEA: // FLUSH CACHE (EXT)
                if (image.Flush()) Complete(true);
                else Fail(ErrAbrt);
                break;
            case 0xE5: case 0x98: // CHECK POWER MODE: always active or idle
                SectorCount = 0xFF;
                Complete(true);
                break;
            case 0xE0: case 0xE1: case 0xE2: case 0xE3: case 0xE6: // STANDBY/IDLE (IMMEDIATE), SLEEP
            case 0x94: case 0x95: case 0x96: case 0x97: case 0x99:  // their old opcodes
            case 0x70:                                              // SEEK
                Complete(true);
                break;
            case 0xF8: ReadNativeMax(ext: false); break;
            case 0x27: ReadNativeMax(ext: true); break;
            default:
                if ((command & 0xF0) == 0x10) // RECALIBRATE (1xh)
                {
                    Complete(true);
                    break;
                }
                Fail(ErrAbrt); // NOP, DMA commands, DEVICE RESET, PACKET, anything unknown
                break;
        }
    }

    protected override void TransferDone()
    {
        switch (phase)
        {
            case Phase.Identify:
                phase = Phase.None;
                Complete(false);
                break;
            case Phase.Read:
                lba += currentBlock;
                remaining -= currentBlock;
                if (remaining == 0)
                {
                    // The last block of a PIO data-in command brings no further interrupt.
                    phase = Phase.None;
                    Complete(false);
                }
                else
                {
                    ReadBlock();
                }
                break;
            case Phase.Write:
                if (!image.Write(lba, currentBlock, Buffer))
                {
                    phase = Phase.None;
                    Fail(ErrAbrt);
                    break;
                }
                lba += currentBlock;
                remaining -= currentBlock;
                if (remaining == 0)
                {
                    phase = Phase.None;
                    Complete(true);
                }
                else
                {
                    currentBlock = Math.Min(blockSectors, remaining);
                    StartTransfer(0, currentBlock * SectorSize, toDevice: true, interrupt: true);
                }
                break;
        }
    }

    /// <summary>The command's starting sector and count, or false (IDNF reported) when it is not on the disk.</summary>
    private bool Address(bool ext, out long start, out int count)
    {
        if (ext)
        {
            start = Lba48;
            count = SectorCount48;
        }
        else if ((DeviceRegister & 0x40) != 0)
        {
            start = Lba28;
            count = SectorCount28;
        }
        else
        {
            // CHS through the current translation (IDENTIFY words 54-56).
            int cyl = LbaMid | (LbaHigh << 8), head = DeviceRegister & 0x0F, sector = LbaLow;
            count = SectorCount28;
            if (sector == 0 || sector > sectorsPerTrack || head >= heads || cyl >= cylinders)
            {
                start = 0;
                Fail(ErrIdnf);
                return false;
            }
            start = ((long)cyl * heads + head) * sectorsPerTrack + sector - 1;
        }
        if (start + count > image.SectorCount)
        {
            Fail(ErrIdnf);
            return false;
        }
        return true;
    }

    private void StartRead(bool ext, bool multipleMode)
    {
        if (multipleMode && multiple == 0)
        {
            Fail(ErrAbrt);
            return;
        }
        if (!Address(ext, out long start, out int count)) return;
        lba = start;
        remaining = count;
        blockSectors = multipleMode ? multiple : 1;
        phase = Phase.Read;
        ReadBlock();
    }

    private void ReadBlock()
    {
        currentBlock = Math.Min(blockSectors, remaining);
        if (!image.Read(lba, currentBlock, Buffer))
        {
            phase = Phase.None;
            Fail(ErrUnc);
            return;
        }
        StartTransfer(0, currentBlock * SectorSize, toDevice: false, interrupt: true);
    }

    private void StartWrite(bool ext, bool multipleMode)
    {
        if (!image.IsWritable || (multipleMode && multiple == 0))
        {
            Fail(ErrAbrt);
            return;
        }
        if (!Address(ext, out long start, out int count)) return;
        lba = start;
        remaining = count;
        blockSectors = multipleMode ? multiple : 1;
        currentBlock = Math.Min(blockSectors, remaining);
        phase = Phase.Write;
        // The first block is asked for without an interrupt; the host polls for DRQ (ATA/ATAPI-6 9.8).
        StartTransfer(0, currentBlock * SectorSize, toDevice: true, interrupt: false);
    }

    private void Verify(bool ext)
    {
        if (Address(ext, out _, out _)) Complete(true);
    }

    private void SetMultiple()
    {
        int n = SectorCount;
        // 0 turns multiple mode off; otherwise a power of two up to the maximum (ATA/ATAPI-6 8.39).
        if (n > MaxMultiple || (n & (n - 1)) != 0)
        {
            Fail(ErrAbrt);
            return;
        }
        multiple = n;
        Complete(true);
    }

    private void SetFeatures()
    {
        switch (Feature)
        {
            case 0x03: // set transfer mode: PIO modes only (no DMA is offered)
                int mode = SectorCount;
                if (mode is 0x00 or 0x01 || (mode >= 0x08 && mode <= 0x0C)) Complete(true);
                else Fail(ErrAbrt);
                break;
            case 0x02: writeCache = true; Complete(true); break;
            case 0x82: writeCache = false; Complete(true); break;
            case 0x55: case 0xAA: // read look-ahead off/on
            case 0x66: case 0xCC: // reverting to defaults on reset off/on
                Complete(true);
                break;
            default:
                Fail(ErrAbrt);
                break;
        }
    }

    private void InitializeDeviceParameters()
    {
        int h = (DeviceRegister & 0x0F) + 1, s = SectorCount;
        if (s == 0)
        {
            Fail(ErrAbrt);
            return;
        }
        heads = (ushort)h;
        sectorsPerTrack = (ushort)s;
        cylinders = (ushort)Math.Clamp(image.SectorCount / (h * s), 0, 65535);
        Complete(true);
    }

    private void ReadNativeMax(bool ext)
    {
        long max = image.SectorCount - 1;
        if (ext)
        {
            PrevLbaLow = (byte)(max >> 24);
            PrevLbaMid = (byte)(max >> 32);
            PrevLbaHigh = (byte)(max >> 40);
        }
        else
        {
            max = Math.Min(max, Lba28Limit);
            DeviceRegister = (byte)((DeviceRegister & 0xF0) | (int)((max >> 24) & 0x0F));
        }
        LbaLow = (byte)max;
        LbaMid = (byte)(max >> 8);
        LbaHigh = (byte)(max >> 16);
        Complete(true);
    }

    private void Identify()
    {
        Span<byte> id = Buffer.AsSpan(0, 512);
        id.Clear();
        long total = image.SectorCount;
        PutWord(id, 0, 0x0040);                 // fixed device, not removable
        PutWord(id, 1, defaultCylinders);
        PutWord(id, 3, defaultHeads);
        PutWord(id, 6, defaultSectors);
        PutString(id, 10, 10, serial);
        PutString(id, 23, 4, firmware);
        PutString(id, 27, 20, model);
        PutWord(id, 47, 0x8000 | MaxMultiple);
        PutWord(id, 49, 0x0E00);                // LBA, IORDY supported and may be disabled; no DMA
        PutWord(id, 50, 0x4000);
        PutWord(id, 51, 0x0200);                // PIO mode 2 timing (obsolete field)
        PutWord(id, 53, 0x0003);                // words 54-58 and 64-70 valid
        PutWord(id, 54, cylinders);
        PutWord(id, 55, heads);
        PutWord(id, 56, sectorsPerTrack);
        long chs = Math.Min((long)cylinders * heads * sectorsPerTrack, total);
        PutWord(id, 57, (int)chs);
        PutWord(id, 58, (int)(chs >> 16));
        PutWord(id, 59, 0x0100 | multiple);     // the multiple setting is valid
        long lba28 = Math.Min(total, Lba28Limit);
        PutWord(id, 60, (int)lba28);
        PutWord(id, 61, (int)(lba28 >> 16));
        PutWord(id, 64, 0x0003);                // PIO modes 3 and 4
        PutWord(id, 65, 120);
        PutWord(id, 66, 120);
        PutWord(id, 67, 120);                   // minimum PIO cycle times
        PutWord(id, 68, 120);
        PutWord(id, 80, 0x007E);                // ATA-1 to ATA/ATAPI-6
        PutWord(id, 82, 0x4028);                // NOP, write cache, power management
        PutWord(id, 83, 0x7400);                // FLUSH CACHE EXT, FLUSH CACHE, 48-bit address
        PutWord(id, 84, 0x4000);
        PutWord(id, 85, 0x4008 | (writeCache ? 0x20 : 0));
        PutWord(id, 86, 0x3400);
        PutWord(id, 87, 0x4000);
        // Hardware reset result: device 0 determined by jumper and passed; device 1 likewise (ATA/ATAPI-6 8.15.51).
        bool device1 = ReferenceEquals(Channel?.Slave, this);
        bool slavePresent = Channel?.Slave is not null;
        PutWord(id, 93, device1 ? 0x4000 | 0x0300 : 0x4000 | 0x000B | (slavePresent ? 0x0020 : 0));
        PutWord(id, 100, (int)total);
        PutWord(id, 101, (int)(total >> 16));
        PutWord(id, 102, (int)(total >> 32));
        PutWord(id, 103, (int)(total >> 48));
        PutChecksum(id);
        phase = Phase.Identify;
        StartTransfer(0, 512, toDevice: false, interrupt: true);
    }
}
