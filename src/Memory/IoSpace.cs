using System;

namespace Emu.Memory;

/// <summary>
/// The 64 KiB I/O port space. Each port routes to at most one device; a port nobody
/// claims reads as all ones and ignores writes, as on an ISA bus.
/// </summary>
public sealed class IoSpace
{
    private readonly IPortDevice?[] ports = new IPortDevice?[0x10000];

    /// <summary>Claims ports [first, first + count) for <paramref name="device"/>; on a conflict nothing is claimed.</summary>
    public void Register(ushort first, int count, IPortDevice device)
    {
        if (count <= 0 || first + count > 0x10000) throw new ArgumentOutOfRangeException(nameof(count));
        for (int p = first; p < first + count; p++)
        {
            if (ports[p] is not null && !ReferenceEquals(ports[p], device))
                throw new InvalidOperationException($"I/O port 0x{p:X4} is already claimed");
        }
        for (int p = first; p < first + count; p++) ports[p] = device;
    }

    public void Unregister(ushort first, int count)
    {
        for (int p = first; p < first + count && p < 0x10000; p++) ports[p] = null;
    }

    public IPortDevice? DeviceAt(ushort port) => ports[port];

    /// <summary>An IN of 1, 2 or 4 bytes.</summary>
    public uint In(ushort port, int size)
    {
        IPortDevice? d = ports[port];
        if (d is not null) return d.In(port, size);
        return size switch { 1 => 0xFFu, 2 => 0xFFFFu, _ => 0xFFFF_FFFFu };
    }

    /// <summary>An OUT of 1, 2 or 4 bytes.</summary>
    public void Out(ushort port, int size, uint value) => ports[port]?.Out(port, size, value);
}
