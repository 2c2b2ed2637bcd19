using System.Collections.Generic;

namespace Emu.Memory.Tests;

/// <summary>
/// A memory-mapped device that answers every byte address with a fixed pattern and logs
/// each access it sees, so tests can check what reached it, at which address and size.
/// </summary>
public sealed class RecordingMmio : IMmioDevice
{
    public readonly List<(bool Write, uint Address, int Size, uint Value)> Log = new();

    /// <summary>The byte this device returns at a physical address.</summary>
    public static byte Pattern(uint address) => (byte)((address * 7) ^ 0xA5 ^ (address >> 8));

    public uint Read(uint address, int size)
    {
        uint v = 0;
        for (int k = 0; k < size; k++) v |= (uint)Pattern(address + (uint)k) << (8 * k);
        Log.Add((false, address, size, v));
        return v;
    }

    public void Write(uint address, int size, uint value) => Log.Add((true, address, size, value));
}

/// <summary>A port device that logs accesses and answers IN with a value built from port and size.</summary>
public sealed class RecordingPorts : IPortDevice
{
    public readonly List<(bool Out, ushort Port, int Size, uint Value)> Log = new();

    public static uint Answer(ushort port, int size) => (0x1234_5600u | port) & (size == 4 ? 0xFFFF_FFFFu : size == 2 ? 0xFFFFu : 0xFFu);

    public uint In(ushort port, int size)
    {
        uint v = Answer(port, size);
        Log.Add((false, port, size, v));
        return v;
    }

    public void Out(ushort port, int size, uint value) => Log.Add((true, port, size, value));
}
