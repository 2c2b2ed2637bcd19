using System;
using System.Buffers.Binary;

namespace Emu.Devices.Storage;

/// <summary>
/// An ATAPI CD-ROM drive (ATA/ATAPI-6 PACKET feature set; SCSI commands per MMC and SPC) reading
/// an ISO image. PACKET takes a 12-byte command with the byte count limit in LBA mid/high;
/// data comes back in DRQ blocks no larger than that limit, each announced by an interrupt,
/// with the interrupt reason (CoD, IO) in the sector count register. Commands: TEST UNIT READY,
/// REQUEST SENSE, INQUIRY, READ CAPACITY, READ(10), READ(12), MODE SENSE(10), START STOP UNIT,
/// PREVENT ALLOW MEDIUM REMOVAL, READ TOC (formats 0 and 1), GET CONFIGURATION, GET EVENT STATUS
/// NOTIFICATION, SET CD SPEED; any other is CHECK CONDITION with ILLEGAL REQUEST / INVALID COMMAND
/// OPERATION CODE. A medium inserted while running reports a UNIT ATTENTION (MEDIUM MAY HAVE CHANGED).
/// PIO only: a PACKET asking for DMA is aborted.
/// </summary>
public sealed class AtapiCdrom : IdeDevice
{
    public const int BlockSize = 2048;
    private const int MaxChunk = 0xFFFE;

    // Interrupt reason (sector count register) bits.
    private const byte IrCod = 0x01, IrIo = 0x02;

    // Sense keys.
    private const byte SkNoSense = 0x0, SkNotReady = 0x2, SkIllegalRequest = 0x5, SkUnitAttention = 0x6;

    // GET EVENT STATUS NOTIFICATION media event codes.
    private const byte EvNone = 0, EvEjectRequest = 1, EvNewMedia = 2, EvMediaRemoval = 3;

    private enum Phase { None, Identify, Packet, Data, Medium }

    private readonly string model, serial, firmware;
    private readonly byte[] cdb = new byte[12];
    private readonly byte[] sectorScratch = new byte[BlockSize];
    private DiskImage? medium;
    private byte senseKey, asc, ascq;
    private bool unitAttention, locked;
    private byte mediaEvent;

    private Phase phase;
    private int byteCountLimit;
    private int dataLength, dataPos;      // a reply built in Buffer, sent in chunks
    private long mediumPos, mediumEnd;    // a READ: byte positions on the medium

    /// <param name="medium">An ISO image (2048-byte sectors), or null for an empty drive.</param>
    public AtapiCdrom(DiskImage? medium, string serial = "EMU00000000000000002", string model = "EMU DVD-ROM", string firmware = "1.0")
        : base(64 * 1024)
    {
        CheckMedium(medium);
        this.medium = medium;
        this.serial = serial;
        this.model = model;
        this.firmware = firmware;
    }

    public override bool IsPacketDevice => true;

    public DiskImage? Medium => medium;

    /// <summary>Whether the guest has locked the tray (PREVENT ALLOW MEDIUM REMOVAL).</summary>
    public bool Locked => locked;

    private static void CheckMedium(DiskImage? image)
    {
        if (image is not null && image.SectorSize != BlockSize) throw new ArgumentException("a CD-ROM medium has 2048-byte sectors", nameof(image));
    }

    /// <summary>The host puts a disc in (or changes it): the guest sees a unit attention and a new-media event.</summary>
    public void InsertMedium(DiskImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        CheckMedium(image);
        medium = image;
        unitAttention = true;
        mediaEvent = EvNewMedia;
    }

    /// <summary>The host takes the disc out (refused while the guest holds the tray locked, unless forced).</summary>
    public bool EjectMedium(bool force = false)
    {
        if (locked && !force)
        {
            mediaEvent = EvEjectRequest;
            return false;
        }
        medium = null;
        mediaEvent = EvMediaRemoval;
        return true;
    }

    protected override void ResetSettings()
    {
        phase = Phase.None;
        locked = false;
    }

    internal override void ExecuteCommand(byte command)
    {
        phase = Phase.None;
        StopTransfer();
        switch (command)
        {
            case 0xA0: Packet(); break;
            case 0xA1: IdentifyPacketDevice(); break;
            case 0x08: // DEVICE RESET: the device alone, no interrupt (ATA/ATAPI-6 8.10)
                CompleteReset();
                break;
            case 0xEC:
                // IDENTIFY DEVICE: a PACKET device aborts it and shows its signature (ATA/ATAPI-6 8.15).
                SetSignature();
                Fail(ErrAbrt);
                break;
            case 0xE5: case 0x98:
                SectorCount = 0xFF;
                Complete(true);
                break;
            case 0xEF: case 0xE0: case 0xE1: case 0xE2: case 0xE3: case 0xE6: case 0xE7:
                Complete(true);
                break;
            default:
                Fail(ErrAbrt);
                break;
        }
    }

    private void Packet()
    {
        if ((Feature & 0x01) != 0) // DMA asked for: not offered
        {
            Fail(ErrAbrt);
            return;
        }
        byteCountLimit = LbaMid | (LbaHigh << 8);
        if (byteCountLimit == 0 || byteCountLimit > MaxChunk) byteCountLimit = MaxChunk;
        // A block that is not the last has an even length: a limit of 1 means blocks of 2 bytes
        // (cut to 1 it would announce empty blocks, and the transfer would never end).
        if (byteCountLimit == 1) byteCountLimit = 2;
        phase = Phase.Packet;
        SectorCount = IrCod; // the device wants the command packet
        // The packet is asked for without an interrupt (IDENTIFY PACKET word 0: accelerated DRQ).
        StartTransfer(0, 12, toDevice: true, interrupt: false);
    }

    protected override void TransferDone()
    {
        switch (phase)
        {
            case Phase.Identify:
                phase = Phase.None;
                Complete(false);
                break;
            case Phase.Packet:
                Buffer.AsSpan(0, 12).CopyTo(cdb);
                phase = Phase.None;
                RunCommand();
                break;
            case Phase.Data:
                if (dataPos < dataLength) SendReplyChunk();
                else Good();
                break;
            case Phase.Medium:
                if (mediumPos < mediumEnd) SendMediumChunk();
                else Good();
                break;
        }
    }

    // ---- completion ----

    private void Good()
    {
        phase = Phase.None;
        SetSense(SkNoSense, 0, 0);
        SectorCount = IrIo | IrCod;
        Complete(true);
    }

    private void CheckCondition(byte key, byte code, byte qualifier)
    {
        phase = Phase.None;
        SetSense(key, code, qualifier);
        SectorCount = IrIo | IrCod;
        Fail((byte)(key << 4)); // the sense key in the error register's high nibble
    }

    private void SetSense(byte key, byte code, byte qualifier)
    {
        senseKey = key;
        asc = code;
        ascq = qualifier;
    }

    private void IllegalRequest(byte code = 0x24) => CheckCondition(SkIllegalRequest, code, 0); // 24h: invalid field in CDB

    private void NotReady() => CheckCondition(SkNotReady, 0x3A, 0); // medium not present

    /// <summary>Sends the first <paramref name="length"/> bytes of Buffer, cut to the command's allocation length.</summary>
    private void Reply(int length, int allocation)
    {
        dataLength = Math.Min(length, allocation);
        dataPos = 0;
        if (dataLength == 0)
        {
            Good();
            return;
        }
        phase = Phase.Data;
        SendReplyChunk();
    }

    private int ChunkSize(long left)
    {
        if (left <= byteCountLimit) return (int)left;
        return byteCountLimit & ~1; // a block that is not the last has an even length
    }

    private void SendReplyChunk()
    {
        int n = ChunkSize(dataLength - dataPos);
        int start = dataPos;
        dataPos += n;
        AnnounceData(n);
        StartTransfer(start, n, toDevice: false, interrupt: true);
    }

    private void AnnounceData(int n)
    {
        LbaMid = (byte)n;
        LbaHigh = (byte)(n >> 8);
        SectorCount = IrIo;
    }

    private void SendMediumChunk()
    {
        long left = mediumEnd - mediumPos;
        int n;
        // Whole sectors per block when the limit allows it.
        if (left <= byteCountLimit) n = (int)left;
        else if (byteCountLimit >= BlockSize) n = byteCountLimit / BlockSize * BlockSize;
        else n = byteCountLimit & ~1;
        if (!FillFromMedium(mediumPos, n))
        {
            CheckCondition(0x3, 0x11, 0); // MEDIUM ERROR, unrecovered read error
            return;
        }
        mediumPos += n;
        AnnounceData(n);
        StartTransfer(0, n, toDevice: false, interrupt: true);
    }

    private bool FillFromMedium(long pos, int n)
    {
        DiskImage? m = medium;
        if (m is null) return false;
        int done = 0;
        while (done < n)
        {
            long sector = (pos + done) / BlockSize;
            int offset = (int)((pos + done) % BlockSize);
            if (offset == 0 && n - done >= BlockSize)
            {
                int count = (n - done) / BlockSize;
                if (!m.Read(sector, count, Buffer.AsSpan(done, count * BlockSize))) return false;
                done += count * BlockSize;
            }
            else
            {
                if (!m.Read(sector, 1, sectorScratch)) return false;
                int take = Math.Min(BlockSize - offset, n - done);
                sectorScratch.AsSpan(offset, take).CopyTo(Buffer.AsSpan(done));
                done += take;
            }
        }
        return true;
    }

    // ---- SCSI commands ----

    private int Be16(int i) => (cdb[i] << 8) | cdb[i + 1];

    private long Be32(int i) => (uint)((cdb[i] << 24) | (cdb[i + 1] << 16) | (cdb[i + 2] << 8) | cdb[i + 3]);

    private void RunCommand()
    {
        byte op = cdb[0];
        // A pending unit attention is reported by the next command, except those that report status
        // without touching the medium (SPC-3 5.8.7; MMC-5 for GET CONFIGURATION and GET EVENT STATUS).
        if (unitAttention && op is not (0x03 or 0x12 or 0x46 or 0x4A))
        {
            unitAttention = false;
            CheckCondition(SkUnitAttention, 0x28, 0); // not ready to ready change, medium may have changed
            return;
        }
        switch (op)
        {
            case 0x00: // TEST UNIT READY
                if (medium is null) NotReady();
                else Good();
                break;
            case 0x03: RequestSense(); break;
            case 0x12: Inquiry(); break;
            case 0x1B: StartStopUnit(); break;
            case 0x1E: // PREVENT ALLOW MEDIUM REMOVAL
                locked = (cdb[4] & 1) != 0;
                Good();
                break;
            case 0x25: ReadCapacity(); break;
            case 0x28: Read(Be32(2), Be16(7)); break;
            case 0xA8: Read(Be32(2), Be32(6)); break;
            case 0x43: ReadToc(); break;
            case 0x46: GetConfiguration(); break;
            case 0x4A: GetEventStatusNotification(); break;
            case 0x5A: ModeSense10(); break;
            case 0xBB: Good(); break; // SET CD SPEED: accepted, the speed is the host's
            default:
                IllegalRequest(0x20); // invalid command operation code
                break;
        }
    }

    private void RequestSense()
    {
        Span<byte> r = Buffer.AsSpan(0, 18);
        r.Clear();
        byte key = senseKey, code = asc, qual = ascq;
        if (unitAttention)
        {
            unitAttention = false;
            (key, code, qual) = (SkUnitAttention, 0x28, 0);
        }
        r[0] = 0x70; // current error, fixed format
        r[2] = key;
        r[7] = 10;   // additional sense length
        r[12] = code;
        r[13] = qual;
        Reply(18, cdb[4]);
    }

    private void Inquiry()
    {
        if ((cdb[1] & 1) != 0 || cdb[2] != 0) // no vital product data pages
        {
            IllegalRequest();
            return;
        }
        Span<byte> r = Buffer.AsSpan(0, 36);
        r.Clear();
        r[0] = 0x05;      // CD/DVD device
        r[1] = 0x80;      // removable medium
        r[2] = 0x00;      // no SCSI version claimed, as ATAPI devices report
        r[3] = 0x21;      // ATAPI transport version 2, response data format 1
        r[4] = 36 - 5;    // additional length
        PutAscii(r.Slice(8, 8), "EMU");
        PutAscii(r.Slice(16, 16), model);
        PutAscii(r.Slice(32, 4), firmware);
        Reply(36, Be16(3));
    }

    private static void PutAscii(Span<byte> field, string text)
    {
        for (int i = 0; i < field.Length; i++)
        {
            char c = i < text.Length ? text[i] : ' ';
            field[i] = (byte)(c >= 0x20 && c <= 0x7E ? c : ' ');
        }
    }

    private void StartStopUnit()
    {
        bool loej = (cdb[4] & 2) != 0, start = (cdb[4] & 1) != 0;
        if (loej && !start)
        {
            if (locked)
            {
                CheckCondition(SkIllegalRequest, 0x53, 0x02); // medium removal prevented
                return;
            }
            medium = null; // the guest ejects the disc
            mediaEvent = EvMediaRemoval;
        }
        Good();
    }

    private void ReadCapacity()
    {
        DiskImage? m = medium;
        if (m is null)
        {
            NotReady();
            return;
        }
        Span<byte> r = Buffer.AsSpan(0, 8);
        BinaryPrimitives.WriteUInt32BigEndian(r, (uint)Math.Min(m.SectorCount - 1, uint.MaxValue));
        BinaryPrimitives.WriteUInt32BigEndian(r.Slice(4), BlockSize);
        Reply(8, 8);
    }

    private void Read(long lba, long count)
    {
        DiskImage? m = medium;
        if (m is null)
        {
            NotReady();
            return;
        }
        if (lba + count > m.SectorCount)
        {
            IllegalRequest(0x21); // logical block address out of range
            return;
        }
        if (count == 0)
        {
            Good();
            return;
        }
        mediumPos = lba * BlockSize;
        mediumEnd = (lba + count) * BlockSize;
        phase = Phase.Medium;
        SendMediumChunk();
    }

    /// <summary>An address in a TOC: an LBA, or minutes/seconds/frames counted from the 2-second pregap.</summary>
    private static void PutAddress(Span<byte> r, long lba, bool msf)
    {
        if (!msf)
        {
            BinaryPrimitives.WriteUInt32BigEndian(r, (uint)lba);
            return;
        }
        long f = lba + 150;
        r[0] = 0;
        r[1] = (byte)Math.Min(f / (75 * 60), 255);
        r[2] = (byte)(f / 75 % 60);
        r[3] = (byte)(f % 75);
    }

    private void ReadToc()
    {
        DiskImage? m = medium;
        if (m is null)
        {
            NotReady();
            return;
        }
        bool msf = (cdb[1] & 2) != 0;
        int format = cdb[2] & 0x0F;
        if (format == 0) format = cdb[9] >> 6; // the older SFF-8020 place for the format
        int track = cdb[6];
        int allocation = Be16(7);
        Span<byte> r = Buffer.AsSpan(0, 32);
        r.Clear();
        int n;
        switch (format)
        {
            case 0: // the TOC: the data track 1 and the lead-out
                if (track > 1 && track != 0xAA)
                {
                    IllegalRequest();
                    return;
                }
                n = 4;
                r[2] = 1; // first track
                r[3] = 1; // last track
                if (track <= 1)
                {
                    r[n + 1] = 0x14; // ADR 1, control: data track
                    r[n + 2] = 1;
                    PutAddress(r.Slice(n + 4), 0, msf);
                    n += 8;
                }
                r[n + 1] = 0x14;
                r[n + 2] = 0xAA; // lead-out
                PutAddress(r.Slice(n + 4), m.SectorCount, msf);
                n += 8;
                break;
            case 1: // session information: one session starting at track 1
                n = 12;
                r[2] = 1;
                r[3] = 1;
                r[5] = 0x14;
                r[6] = 1;
                PutAddress(r.Slice(8), 0, msf);
                break;
            default:
                IllegalRequest();
                return;
        }
        BinaryPrimitives.WriteUInt16BigEndian(r, (ushort)(n - 2));
        Reply(n, allocation);
    }

    private void GetConfiguration()
    {
        int rt = cdb[1] & 3;
        int startFeature = Be16(2);
        Span<byte> r = Buffer.AsSpan(0, 64);
        r.Clear();
        bool present = medium is not null;
        int n = 8;
        BinaryPrimitives.WriteUInt16BigEndian(r.Slice(6), (ushort)(present ? 0x0008 : 0)); // current profile: CD-ROM
        if (rt == 2 ? startFeature == 0 : startFeature <= 0)
        {
            // Profile List: one profile, CD-ROM.
            r[n + 2] = 0x03; // persistent, current
            r[n + 3] = 4;
            BinaryPrimitives.WriteUInt16BigEndian(r.Slice(n + 4), 0x0008);
            r[n + 6] = (byte)(present ? 1 : 0);
            n += 8;
        }
        if (rt == 2 ? startFeature == 1 : startFeature <= 1)
        {
            // Core: the ATAPI physical interface.
            BinaryPrimitives.WriteUInt16BigEndian(r.Slice(n), 0x0001);
            r[n + 2] = 0x03;
            r[n + 3] = 4;
            BinaryPrimitives.WriteUInt32BigEndian(r.Slice(n + 4), 2);
            n += 8;
        }
        BinaryPrimitives.WriteUInt32BigEndian(r, (uint)(n - 4));
        Reply(n, Be16(7));
    }

    private void GetEventStatusNotification()
    {
        if ((cdb[1] & 1) == 0) // only the polled form
        {
            IllegalRequest();
            return;
        }
        Span<byte> r = Buffer.AsSpan(0, 8);
        r.Clear();
        int n;
        r[3] = 0x10; // supported: the media class
        if ((cdb[4] & 0x10) != 0)
        {
            r[1] = 6;
            r[2] = 0x04; // media class
            r[4] = mediaEvent;
            r[5] = (byte)(medium is not null ? 0x02 : 0x00); // media present
            mediaEvent = EvNone;
            n = 8;
        }
        else
        {
            r[1] = 2;
            r[2] = 0x80; // no event available for the classes asked
            n = 4;
        }
        Reply(n, Be16(7));
    }

    private void ModeSense10()
    {
        int pageControl = cdb[2] >> 6, page = cdb[2] & 0x3F;
        if (pageControl == 3)
        {
            IllegalRequest(0x39); // saving parameters not supported
            return;
        }
        Span<byte> r = Buffer.AsSpan(0, 64);
        r.Clear();
        int n = 8;
        if (page == 0x01 || page == 0x3F)
        {
            // Read error recovery parameters.
            r[n] = 0x01;
            r[n + 1] = 0x0A;
            n += 12;
        }
        if (page == 0x2A || page == 0x3F)
        {
            // CD capabilities and mechanical status (MMC-2).
            r[n] = 0x2A;
            r[n + 1] = 0x12;
            r[n + 4] = 0x70;                            // mode 2 form 1 and 2, multisession
            r[n + 6] = (byte)(0x29 | (locked ? 2 : 0)); // tray, eject, lock (and its state)
            BinaryPrimitives.WriteUInt16BigEndian(r.Slice(n + 8), 7056);  // maximum speed, KB/s (40x)
            BinaryPrimitives.WriteUInt16BigEndian(r.Slice(n + 10), 256);  // volume levels
            BinaryPrimitives.WriteUInt16BigEndian(r.Slice(n + 12), 512);  // buffer, KB
            BinaryPrimitives.WriteUInt16BigEndian(r.Slice(n + 14), 7056); // current speed
            n += 20;
        }
        if (n == 8)
        {
            IllegalRequest();
            return;
        }
        BinaryPrimitives.WriteUInt16BigEndian(r, (ushort)(n - 2));
        r[2] = (byte)(medium is not null ? 0x01 : 0x70); // 120 mm data disc, or door closed and no disc
        Reply(n, Be16(7));
    }

    private void IdentifyPacketDevice()
    {
        Span<byte> id = Buffer.AsSpan(0, 512);
        id.Clear();
        // ATAPI, CD-ROM, removable, accelerated DRQ (no interrupt for the packet), 12-byte packets.
        PutWord(id, 0, 0x8000 | 0x0500 | 0x0080 | 0x0040);
        PutString(id, 10, 10, serial);
        PutString(id, 23, 4, firmware);
        PutString(id, 27, 20, model);
        PutWord(id, 49, 0x0E00);  // LBA, IORDY; no DMA
        PutWord(id, 50, 0x4000);
        PutWord(id, 53, 0x0002);  // words 64-70 valid
        PutWord(id, 64, 0x0003);  // PIO modes 3 and 4
        PutWord(id, 65, 120);
        PutWord(id, 66, 120);
        PutWord(id, 67, 120);
        PutWord(id, 68, 120);
        PutWord(id, 80, 0x0070);  // ATA/ATAPI-4 to -6
        PutWord(id, 82, 0x4218);  // NOP, DEVICE RESET, PACKET, power management
        PutWord(id, 83, 0x4000);
        PutWord(id, 84, 0x4000);
        PutWord(id, 85, 0x4218);
        PutWord(id, 87, 0x4000);
        bool device1 = ReferenceEquals(Channel?.Slave, this);
        bool slavePresent = Channel?.Slave is not null;
        PutWord(id, 93, device1 ? 0x4000 | 0x0300 : 0x4000 | 0x000B | (slavePresent ? 0x0020 : 0));
        PutChecksum(id);
        phase = Phase.Identify;
        StartTransfer(0, 512, toDevice: false, interrupt: true);
    }
}
