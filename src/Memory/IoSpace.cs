using System;

namespace Emu.Memory;

/// <summary>
/// The 64 KiB I/O port space. Each port routes to at most one device; a port nobody
/// claims reads as all ones and ignores writes, as on an ISA bus.
/// </summary>
public sealed class IoSpace
{
    private readonly IPortDevice?[] ports = new IPortDevice?[0x10000];

    /// <summary>INs and OUTs per port since the machine started (<c>emu run --stats</c>), claimed or not.</summary>
    public readonly long[] Accesses = new long[0x10000];

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

    /// <summary>
    /// Records every port access (claimed or not), or replays them instead of reaching any
    /// device: see <see cref="DeviceAccessLog"/>. Null (the default) for a plain run.
    /// </summary>
    public DeviceAccessLog? Log { get; set; }

    /// <summary>An IN of 1, 2 or 4 bytes.</summary>
    public uint In(ushort port, int size)
    {
        Accesses[port]++;
        DeviceAccessLog? log = Log;
        if (log is not null && log.Replaying) return log.Replay(DeviceBus.Port, false, port, size, 0);
        IPortDevice? d = ports[port];
        uint v = d is not null ? d.In(port, size) : size switch { 1 => 0xFFu, 2 => 0xFFFFu, _ => 0xFFFF_FFFFu };
        log?.Record(DeviceBus.Port, false, port, size, v);
        return v;
    }

    /// <summary>An OUT of 1, 2 or 4 bytes.</summary>
    public void Out(ushort port, int size, uint value)
    {
        Accesses[port]++;
        DeviceAccessLog? log = Log;
        if (log is not null && log.Replaying)
        {
            log.Replay(DeviceBus.Port, true, port, size, value);
            return;
        }
        // Recorded before the device sees it: a device that stops the run (debug exit) finds it in the log.
        log?.Record(DeviceBus.Port, true, port, size, value);
        ports[port]?.Out(port, size, value);
    }
}
