using System;

namespace Emu.Memory;

/// <summary>The bus a device access went over.</summary>
public enum DeviceBus : byte
{
    /// <summary>The I/O port space (IN, OUT, INS, OUTS).</summary>
    Port,
    /// <summary>Memory-mapped I/O (a physical page routed to a device).</summary>
    Mmio,
}

/// <summary>One access to a device: a read with the value the device answered, or a write with the value written.</summary>
public readonly record struct DeviceAccess(DeviceBus Bus, bool Write, uint Address, int Size, uint Value)
{
    /// <summary>Where the access went, for a message: "port 0x00E9" or "MMIO 0xFEC00000".</summary>
    public string Where => Bus == DeviceBus.Port ? $"port 0x{Address:X4}" : $"MMIO 0x{Address:X8}";

    public override string ToString() =>
        $"{(Write ? "write to" : "read of")} {Where} ({Size} byte{(Size == 1 ? "" : "s")}, 0x{Value.ToString(Size == 1 ? "X2" : Size == 2 ? "X4" : "X8")})";
}

/// <summary>
/// The device side of the bus, recorded on one machine and replayed to another: lockstep runs
/// the guest on two engines, and only the first one (the primary) may touch the devices, so
/// reading a port or a device register, or writing one, happens once. <see cref="IoSpace"/>
/// and <see cref="PhysicalMemory"/> (its MMIO regions) consult the log they are given:
/// <list type="bullet">
/// <item>recording, each access goes to the device as usual and is appended here, with the
/// value read or written;</item>
/// <item>replaying, no device is called: a read returns the next recorded value, a write is
/// dropped, and each access is checked against the recorded one (bus, direction, address,
/// size, and the value of a write), the first difference kept in <see cref="Mismatch"/>.</item>
/// </list>
/// Devices never know. Nothing here throws while the guest runs: a mismatch is reported
/// after the step, by whoever compares the two machines.
/// </summary>
public sealed class DeviceAccessLog
{
    private DeviceAccess[] entries = new DeviceAccess[64];
    private bool[] stops = new bool[64];
    private int count;
    private int position;

    /// <param name="replaying">True for the machine that replays (it never reaches a device); false to record.</param>
    public DeviceAccessLog(bool replaying)
    {
        Replaying = replaying;
    }

    /// <summary>Whether this log answers accesses (replay) rather than recording them.</summary>
    public bool Replaying { get; }

    /// <summary>Accesses recorded (or loaded for replay).</summary>
    public int Count => count;

    /// <summary>Replaying: how many of the loaded accesses have been replayed.</summary>
    public int Position => position;

    public DeviceAccess this[int index] => (uint)index < (uint)count ? entries[index] : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>
    /// Replaying: the first access that did not match the recording, as "what was recorded"
    /// and "what the replaying machine did" (null when nothing was left to replay, or when it
    /// did not happen: too few accesses leave <see cref="Position"/> short of <see cref="Count"/>).
    /// </summary>
    public (DeviceAccess? Recorded, DeviceAccess Replayed)? Mismatch { get; private set; }

    /// <summary>
    /// Replaying: called when the access the recording machine stopped after (see
    /// <see cref="MarkStopAfterLast"/>) has been replayed, so the replaying machine can stop
    /// after the same instruction.
    /// </summary>
    public Action? StopReached { get; set; }

    /// <summary>Forgets every access (and a mismatch); the next step starts empty.</summary>
    public void Clear()
    {
        count = 0;
        position = 0;
        Mismatch = null;
    }

    /// <summary>
    /// Recording: the machine stopped its run after the last recorded access (a debug-exit
    /// write); replay calls <see cref="StopReached"/> there. Nothing happens when the log is empty.
    /// </summary>
    public void MarkStopAfterLast()
    {
        if (count > 0) stops[count - 1] = true;
    }

    /// <summary>Replaying: starts over with the accesses <paramref name="recorded"/> holds.</summary>
    public void Load(DeviceAccessLog recorded)
    {
        Clear();
        for (int i = 0; i < recorded.count; i++) Append(recorded.entries[i], recorded.stops[i]);
    }

    /// <summary>Recording: notes an access the device has just served.</summary>
    public void Record(DeviceBus bus, bool write, uint address, int size, uint value) =>
        Append(new DeviceAccess(bus, write, address, size, value), false);

    private void Append(DeviceAccess a, bool stop)
    {
        if (count == entries.Length)
        {
            Array.Resize(ref entries, count * 2);
            Array.Resize(ref stops, count * 2);
        }
        entries[count] = a;
        stops[count] = stop;
        count++;
    }

    /// <summary>
    /// Replaying: the access the machine makes now. Returns the recorded value for a read
    /// (all ones when it does not match the recording, as an empty bus reads).
    /// </summary>
    public uint Replay(DeviceBus bus, bool write, uint address, int size, uint value)
    {
        var now = new DeviceAccess(bus, write, address, size, write ? value : 0);
        uint ones = size == 1 ? 0xFFu : size == 2 ? 0xFFFFu : 0xFFFF_FFFFu;
        if (position >= count)
        {
            Mismatch ??= (null, now);
            return ones;
        }
        DeviceAccess r = entries[position];
        bool stop = stops[position];
        position++;
        if (r.Bus != bus || r.Write != write || r.Address != address || r.Size != size || (write && r.Value != value))
        {
            Mismatch ??= (r, now);
            return ones;
        }
        if (stop) StopReached?.Invoke();
        return write ? 0 : r.Value;
    }
}
