using System;
using System.Buffers.Binary;

namespace Emu.Devices.Pci;

/// <summary>
/// A PCI function's 256-byte configuration space (PCI Local Bus Specification 2.1, chapter 6):
/// the type-0 header with identification, command and status, BARs that report their size
/// when all ones are written, interrupt line and pin, and device-specific registers. Bits a
/// function does not implement are read-only, through a per-byte write mask.
/// </summary>
public class PciFunction
{
    public const int VendorId = 0x00, DeviceId = 0x02, Command = 0x04, Status = 0x06, RevisionId = 0x08,
        ClassCode = 0x09, HeaderType = 0x0E, Bar0 = 0x10, SubsystemVendorId = 0x2C, InterruptLine = 0x3C, InterruptPin = 0x3D;

    protected readonly byte[] Config = new byte[256];
    protected readonly byte[] WriteMask = new byte[256];
    private readonly uint[] barSizes = new uint[6];
    private readonly bool[] barIo = new bool[6];

    public PciFunction(string name, ushort vendor, ushort device, byte revision, uint classCode, bool multiFunction = false)
    {
        Name = name;
        Write16(VendorId, vendor);
        Write16(DeviceId, device);
        Config[RevisionId] = revision;
        Config[ClassCode] = (byte)classCode;
        Config[ClassCode + 1] = (byte)(classCode >> 8);
        Config[ClassCode + 2] = (byte)(classCode >> 16);
        Config[HeaderType] = (byte)(multiFunction ? 0x80 : 0);
        WriteMask[Command] = 0x07;        // I/O space, memory space, bus master
        WriteMask[Command + 1] = 0x01;    // SERR# enable
        WriteMask[InterruptLine] = 0xFF;
    }

    public string Name { get; }

    /// <summary>The function's base address register n as decoded: I/O or memory, and its size (0: unused).</summary>
    protected void DefineBar(int n, uint size, bool io)
    {
        if (size == 0 || (size & (size - 1)) != 0) throw new ArgumentException("a BAR's size is a power of two", nameof(size));
        barSizes[n] = size;
        barIo[n] = io;
        uint mask = ~(size - 1) & (io ? 0xFFFF_FFFCu : 0xFFFF_FFF0u);
        BinaryPrimitives.WriteUInt32LittleEndian(WriteMask.AsSpan(Bar0 + 4 * n), mask);
        Config[Bar0 + 4 * n] = (byte)(io ? 1 : 0);
    }

    /// <summary>The address BAR n holds now (type bits removed).</summary>
    public uint BarAddress(int n) => Read32(Bar0 + 4 * n) & (barIo[n] ? 0xFFFF_FFFCu : 0xFFFF_FFF0u);

    public bool IoSpaceEnabled => (Config[Command] & 1) != 0;
    public bool MemorySpaceEnabled => (Config[Command] & 2) != 0;
    public bool BusMasterEnabled => (Config[Command] & 4) != 0;

    /// <summary>A configuration read of 1, 2 or 4 bytes at <paramref name="offset"/> (naturally aligned by the bus).</summary>
    public virtual uint ReadConfig(int offset, int size)
    {
        uint v = 0;
        for (int i = 0; i < size; i++) v |= (uint)Config[(offset + i) & 0xFF] << (8 * i);
        return v;
    }

    /// <summary>A configuration write: only writable bits change, then the function reacts.</summary>
    public virtual void WriteConfig(int offset, int size, uint value)
    {
        for (int i = 0; i < size; i++)
        {
            int o = (offset + i) & 0xFF;
            byte b = (byte)(value >> (8 * i));
            Config[o] = (byte)((Config[o] & ~WriteMask[o]) | (b & WriteMask[o]));
        }
        ConfigWritten(offset, size);
    }

    /// <summary>Called after every configuration write (BAR moves, enables, device registers).</summary>
    protected virtual void ConfigWritten(int offset, int size) { }

    protected uint Read32(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(Config.AsSpan(offset));

    protected void Write16(int offset, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(Config.AsSpan(offset), v);

    protected void Write32(int offset, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(Config.AsSpan(offset), v);
}
