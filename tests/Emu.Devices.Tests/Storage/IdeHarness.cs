using System;
using System.Collections.Generic;
using System.IO;
using Emu.Devices.Chipset;
using Emu.Devices.Storage;
using Emu.Memory;

namespace Emu.Devices.Tests.Storage;

/// <summary>IRQ lines as the PIC would see them: levels and rising edges per IRQ.</summary>
public sealed class IrqRecorder : IIrqSink
{
    public readonly bool[] Level = new bool[16];
    public readonly int[] Edges = new int[16];

    public void SetIrq(int irq, bool level)
    {
        if (level && !Level[irq]) Edges[irq]++;
        Level[irq] = level;
    }
}

/// <summary>Temporary image files, deleted at the end of the test.</summary>
public sealed class TempImages : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "emu-storage-" + Guid.NewGuid().ToString("N"));
    private readonly List<DiskImage> open = new();

    public TempImages() => Directory.CreateDirectory(dir);

    public string Dir => dir;

    /// <summary>A file of <paramref name="sectors"/> sectors whose every byte says which sector and offset it is.</summary>
    public string Create(string name, int sectors, int sectorSize = 512)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, Pattern(sectors, sectorSize));
        return path;
    }

    public static byte[] Pattern(int sectors, int sectorSize)
    {
        var data = new byte[sectors * sectorSize];
        for (int i = 0; i < data.Length; i++) data[i] = PatternByte(i / sectorSize, i % sectorSize);
        return data;
    }

    public static byte PatternByte(long sector, int offset) => (byte)(sector * 7 + offset * 3 + (offset >> 8));

    public DiskImage Track(DiskImage image)
    {
        open.Add(image);
        return image;
    }

    public void Dispose()
    {
        foreach (DiskImage d in open) d.Dispose();
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }
}

/// <summary>Drives one IDE channel through its ports, as a driver does.</summary>
public sealed class IdeHarness
{
    public readonly IoSpace Io = new();
    public readonly IrqRecorder Irq = new();
    public readonly IdeChannel Channel;
    public readonly ushort Base, Control;
    public readonly int IrqNumber;

    public IdeHarness(IdeDevice? master, IdeDevice? slave, bool primary = true)
    {
        Channel = primary ? IdeChannel.Primary(Irq, master, slave) : IdeChannel.Secondary(Irq, master, slave);
        Channel.Attach(Io);
        Base = primary ? IdeChannel.PrimaryCommandBase : IdeChannel.SecondaryCommandBase;
        Control = primary ? IdeChannel.PrimaryControlPort : IdeChannel.SecondaryControlPort;
        IrqNumber = primary ? 14 : 15;
    }

    public bool IrqLevel => Irq.Level[IrqNumber];

    public int IrqEdges => Irq.Edges[IrqNumber];

    public byte Reg(int r) => (byte)Io.In((ushort)(Base + r), 1);

    public void Reg(int r, int v) => Io.Out((ushort)(Base + r), 1, (uint)v);

    public byte Status() => Reg(7);

    public byte AltStatus() => (byte)Io.In(Control, 1);

    public void DeviceControl(int v) => Io.Out(Control, 1, (uint)v);

    public ushort Data16() => (ushort)Io.In(Base, 2);

    public uint Data32() => Io.In(Base, 4);

    public void Data16(int v) => Io.Out(Base, 2, (uint)v);

    public void Select(int device, int lbaBits = 0xE0) => Reg(6, (lbaBits & ~0x10) | (device << 4));

    public void Command(int c) => Reg(7, c);

    /// <summary>Reads <paramref name="bytes"/> from the data port 16 bits at a time.</summary>
    public byte[] ReadData(int bytes)
    {
        var b = new byte[bytes];
        for (int i = 0; i < bytes; i += 2)
        {
            ushort w = Data16();
            b[i] = (byte)w;
            if (i + 1 < bytes) b[i + 1] = (byte)(w >> 8);
        }
        return b;
    }

    public void WriteData(ReadOnlySpan<byte> bytes)
    {
        for (int i = 0; i < bytes.Length; i += 2) Data16(bytes[i] | (i + 1 < bytes.Length ? bytes[i + 1] << 8 : 0));
    }

    /// <summary>An LBA28 command: count, address, device 0 or 1.</summary>
    public void Lba28(int command, long lba, int count, int device = 0)
    {
        Reg(6, 0xE0 | (device << 4) | (int)((lba >> 24) & 0xF));
        Reg(2, count);
        Reg(3, (int)lba);
        Reg(4, (int)(lba >> 8));
        Reg(5, (int)(lba >> 16));
        Command(command);
    }

    /// <summary>An LBA48 command: high bytes first, then low bytes (ATA/ATAPI-6 6.20).</summary>
    public void Lba48(int command, long lba, int count, int device = 0)
    {
        Reg(6, 0x40 | (device << 4));
        Reg(2, count >> 8);
        Reg(3, (int)(lba >> 24));
        Reg(4, (int)(lba >> 32));
        Reg(5, (int)(lba >> 40));
        Reg(2, count);
        Reg(3, (int)lba);
        Reg(4, (int)(lba >> 8));
        Reg(5, (int)(lba >> 16));
        Command(command);
    }

    /// <summary>Sends a PACKET command with a 12-byte CDB and a byte count limit; returns the status after the packet.</summary>
    public byte Packet(ReadOnlySpan<byte> cdb, int byteLimit, int device = 0)
    {
        Select(device, 0xA0);
        Reg(1, 0);
        Reg(4, byteLimit);
        Reg(5, byteLimit >> 8);
        Command(0xA0);
        byte st = AltStatus();
        if ((st & 0x08) == 0 || (Reg(2) & 3) != 1) throw new InvalidOperationException($"the device did not ask for the packet (status {st:X2})");
        var packet = new byte[12];
        cdb.CopyTo(packet);
        WriteData(packet);
        return AltStatus();
    }

    /// <summary>Reads the data phases of a packet command until completion; returns the data and each block's size.</summary>
    public (byte[] Data, List<int> Blocks) ReadPacketData()
    {
        var data = new List<byte>();
        var blocks = new List<int>();
        for (int guard = 0; guard < 10000; guard++)
        {
            if ((AltStatus() & 0x08) == 0) break; // the completion's interrupt stays pending for the test
            Status(); // acknowledges the data block's interrupt
            if ((Reg(2) & 3) != 2) throw new InvalidOperationException("DRQ without the data-in interrupt reason");
            int n = Reg(4) | (Reg(5) << 8);
            blocks.Add(n);
            data.AddRange(ReadData(n));
        }
        return (data.ToArray(), blocks);
    }
}
