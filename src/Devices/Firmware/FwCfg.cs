using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Text;
using Emu.Memory;

namespace Emu.Devices.Firmware;

/// <summary>
/// QEMU's firmware configuration device on the PC's I/O ports (QEMU's docs/specs/fw_cfg.txt):
/// a 16-bit selector at 510h picks an item, the byte-wide data port at 511h reads it from its
/// start (zeros past the end or for an absent item), and the DMA interface at 514h-51Bh takes
/// the guest-physical address of an FWCfgDmaAccess structure (big-endian: control, length,
/// 64-bit address) written as two big-endian 32-bit halves, the low half at 518h starting the
/// transfer. Items have 16-bit keys; named files get keys from 0020h and are listed in the
/// file directory (0019h). SeaBIOS (fw/paravirt.c) finds the device by the signature, uses
/// DMA when the ID item says so, and reads the rest as files.
/// </summary>
public sealed class FwCfg : IPortDevice
{
    public const ushort SelectorPort = 0x510, DataPort = 0x511, DmaPort = 0x514, DmaLowPort = 0x518;

    // Item keys (QEMU's include/standard-headers/linux/qemu_fw_cfg.h).
    public const ushort Signature = 0x0000, Id = 0x0001, Uuid = 0x0002, RamSize = 0x0003, NoGraphic = 0x0004, NbCpus = 0x0005,
        Numa = 0x000D, BootMenu = 0x000E, MaxCpus = 0x000F, FileDir = 0x0019, FileFirst = 0x0020,
        ArchLocal = 0x8000, AcpiTables = ArchLocal + 0, SmbiosEntries = ArchLocal + 1, Irq0Override = ArchLocal + 2,
        E820Table = ArchLocal + 3;

    /// <summary>Bit 14 of a key: a (legacy) write access; it is not part of the item's name.</summary>
    public const ushort WriteFlag = 0x4000;
    private const ushort EntryMask = 0x3FFF;

    // FW_CFG_ID feature bits.
    public const uint FeatureTraditional = 1, FeatureDma = 2;

    // FWCfgDmaAccess control bits.
    public const uint DmaError = 0x01, DmaRead = 0x02, DmaSkip = 0x04, DmaSelect = 0x08, DmaWrite = 0x10;

    /// <summary>A file name holds at most 55 bytes and its terminating zero.</summary>
    public const int MaxFileName = 55;
    private const int DirEntrySize = 64;
    private static readonly byte[] DmaSignature = Encoding.ASCII.GetBytes("QEMU CFG");

    private sealed class Item
    {
        public byte[] Data = Array.Empty<byte>();
        public bool Writable;
    }

    private readonly PhysicalMemory memory;
    private readonly Dictionary<ushort, Item> items = new();
    private readonly List<(string Name, ushort Key)> files = new();
    private Item? current;
    private int offset;
    private ulong dmaAddress;

    /// <param name="memory">Guest-physical memory, for the DMA interface.</param>
    /// <param name="dma">Whether to offer the DMA interface (FW_CFG_ID bit 1).</param>
    /// <param name="cpus">The number of CPUs (NB_CPUS and MAX_CPUS).</param>
    public FwCfg(PhysicalMemory memory, bool dma = true, ushort cpus = 1)
    {
        this.memory = memory ?? throw new ArgumentNullException(nameof(memory));
        DmaEnabled = dma;
        SetItem(Signature, Encoding.ASCII.GetBytes("QEMU"));
        SetItem(Id, Le32(FeatureTraditional | (dma ? FeatureDma : 0)));
        SetItem(Uuid, new byte[16]);
        SetItem(RamSize, Le64(memory.RamSize));
        SetItem(NoGraphic, Le16(0));
        SetItem(NbCpus, Le16(cpus));
        SetItem(MaxCpus, Le16(cpus));
        SetItem(BootMenu, Le16(0));
        SetItem(Irq0Override, new byte[] { 0 });
        RebuildDirectory();
    }

    public bool DmaEnabled { get; }

    public void Attach(IoSpace io)
    {
        io.Register(SelectorPort, 2, this);
        if (DmaEnabled) io.Register(DmaPort, 8, this);
    }

    // ---- the board's side ----

    /// <summary>Sets a numbered item (replacing one with the same key).</summary>
    public void SetItem(ushort key, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        key &= unchecked((ushort)~WriteFlag);
        if (key == FileDir && files.Count > 0) throw new ArgumentException("the file directory is built from the files added", nameof(key));
        items[key] = new Item { Data = data };
    }

    /// <summary>
    /// Adds a named file (or replaces the content of the file with that name, keeping its key).
    /// A writable file takes DMA writes from the guest, in place, within its length.
    /// </summary>
    public ushort AddFile(string name, byte[] data, bool writable = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        byte[] n = Encoding.ASCII.GetBytes(name);
        if (n.Length == 0 || n.Length > MaxFileName || name.Contains('\0'))
            throw new ArgumentException($"fw_cfg file name \"{name}\" must be 1-{MaxFileName} ASCII characters", nameof(name));
        foreach ((string existing, ushort k) in files)
        {
            if (existing != name) continue;
            items[k] = new Item { Data = data, Writable = writable };
            RebuildDirectory();
            return k;
        }
        if (FileFirst + files.Count > EntryMask) throw new InvalidOperationException("too many fw_cfg files");
        ushort key = (ushort)(FileFirst + files.Count);
        files.Add((name, key));
        items[key] = new Item { Data = data, Writable = writable };
        RebuildDirectory();
        return key;
    }

    /// <summary>The content of a file or item now (a writable file after the guest wrote it), or null.</summary>
    public byte[]? Get(string name)
    {
        foreach ((string n, ushort k) in files) if (n == name) return items[k].Data;
        return null;
    }

    /// <summary>
    /// The content of "etc/e820": one entry per range, each a little-endian 64-bit address,
    /// 64-bit length and 32-bit type (1 RAM, 2 reserved), packed into 20 bytes.
    /// </summary>
    public static byte[] E820(params (ulong Address, ulong Length, uint Type)[] entries)
    {
        var b = new byte[20 * entries.Length];
        for (int i = 0; i < entries.Length; i++)
        {
            Span<byte> e = b.AsSpan(20 * i, 20);
            BinaryPrimitives.WriteUInt64LittleEndian(e, entries[i].Address);
            BinaryPrimitives.WriteUInt64LittleEndian(e[8..], entries[i].Length);
            BinaryPrimitives.WriteUInt32LittleEndian(e[16..], entries[i].Type);
        }
        return b;
    }

    /// <summary>A little-endian integer of 2, 4 or 8 bytes, as SeaBIOS's romfile_loadint reads one.</summary>
    public static byte[] Le16(ushort v)
    {
        var b = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, v);
        return b;
    }

    public static byte[] Le32(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        return b;
    }

    public static byte[] Le64(ulong v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        return b;
    }

    /// <summary>The directory: a big-endian count, then per file its big-endian size and key, two reserved bytes and the zero-padded name.</summary>
    private void RebuildDirectory()
    {
        var dir = new byte[4 + DirEntrySize * files.Count];
        BinaryPrimitives.WriteUInt32BigEndian(dir, (uint)files.Count);
        for (int i = 0; i < files.Count; i++)
        {
            Span<byte> e = dir.AsSpan(4 + DirEntrySize * i, DirEntrySize);
            BinaryPrimitives.WriteUInt32BigEndian(e, (uint)items[files[i].Key].Data.Length);
            BinaryPrimitives.WriteUInt16BigEndian(e[4..], files[i].Key);
            Encoding.ASCII.GetBytes(files[i].Name).CopyTo(e[8..]);
        }
        items[FileDir] = new Item { Data = dir };
    }

    // ---- the guest's side ----

    private void Select(ushort key)
    {
        items.TryGetValue((ushort)(key & ~WriteFlag), out current);
        offset = 0;
    }

    public uint In(ushort port, int size)
    {
        uint v = 0;
        for (int i = 0; i < size; i++) v |= (uint)ReadByte(port + i) << (8 * i);
        return v;
    }

    private byte ReadByte(int port)
    {
        if (port == DataPort)
        {
            Item? e = current;
            if (e is null || offset >= e.Data.Length) return 0;
            return e.Data[offset++];
        }
        if (port >= DmaPort && port < DmaPort + 8) return DmaSignature[port - DmaPort];
        return 0; // the selector reads as zero
    }

    public void Out(ushort port, int size, uint value)
    {
        switch (port)
        {
            case SelectorPort when size >= 2:
                Select((ushort)value);
                break;
            case SelectorPort:
                Select((byte)value);
                break;
            case DmaPort when size == 4:
                // The register is big-endian: the guest's bytes, first at 514h, are the address's high bytes first.
                dmaAddress = (ulong)BinaryPrimitives.ReverseEndianness(value) << 32;
                break;
            case DmaLowPort when size == 4:
                dmaAddress |= BinaryPrimitives.ReverseEndianness(value);
                RunDma(dmaAddress);
                dmaAddress = 0;
                break;
            default:
                break; // writes to the data port are ignored, as in QEMU since 2.4
        }
    }

    /// <summary>
    /// One DMA request, done at once. Reading an absent item or past an item's end fills the
    /// guest's buffer with zeros, as QEMU does (SeaBIOS reads the counts of absent legacy items
    /// that way); the error bit is set for a write to an item that does not take writes, and for
    /// a transfer to or from guest memory that is not RAM. A descriptor that is not in RAM is
    /// ignored: there is nowhere to report the error.
    /// </summary>
    private void RunDma(ulong descriptor)
    {
        if (descriptor > uint.MaxValue - 15 || !memory.IsRam((uint)descriptor, 16)) return;
        uint at = (uint)descriptor;
        Span<byte> d = stackalloc byte[16];
        memory.ReadBytes(at, d);
        uint control = BinaryPrimitives.ReadUInt32BigEndian(d);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(d[4..]);
        ulong address = BinaryPrimitives.ReadUInt64BigEndian(d[8..]);

        if ((control & DmaSelect) != 0) Select((ushort)(control >> 16));
        bool read = (control & DmaRead) != 0;
        bool write = !read && (control & DmaWrite) != 0;
        if (!read && !write && (control & DmaSkip) == 0) length = 0;

        bool error = false;
        while (length > 0 && !error)
        {
            Item? e = current;
            uint n;
            if (e is null || offset >= e.Data.Length)
            {
                n = length;
                if (read) error = !Fill(address, n);
                else if (write) error = true;
            }
            else
            {
                n = (uint)Math.Min(length, (uint)(e.Data.Length - offset));
                if (read) error = !CopyOut(e.Data.AsSpan(offset, (int)n), address);
                else if (write) error = !e.Writable || n != length || !CopyIn(address, e.Data.AsSpan(offset, (int)n));
                offset += (int)n;
            }
            address += n;
            length -= n;
        }
        Span<byte> c = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(c, error ? DmaError : 0);
        memory.WriteBytes(at, c);
    }

    private bool InRam(ulong address, uint length) => address + length <= uint.MaxValue + 1UL && memory.IsRam((uint)address, length);

    private bool Fill(ulong address, uint length)
    {
        if (!InRam(address, length)) return false;
        for (uint i = 0; i < length; i++) memory.Write((uint)address + i, 1, 0);
        return true;
    }

    private bool CopyOut(ReadOnlySpan<byte> data, ulong address)
    {
        if (!InRam(address, (uint)data.Length)) return false;
        memory.WriteBytes((uint)address, data); // through the map, so stores into code pages invalidate it
        return true;
    }

    private bool CopyIn(ulong address, Span<byte> data)
    {
        if (!InRam(address, (uint)data.Length)) return false;
        memory.ReadBytes((uint)address, data);
        return true;
    }
}
