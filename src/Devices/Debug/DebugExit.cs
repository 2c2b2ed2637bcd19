using System;
using Emu.Memory;

namespace Emu.Devices.Debug;

/// <summary>
/// QEMU's isa-debug-exit device as configured with iobase=0xf4,iosize=4: a write of value V
/// to any of ports 0xF4-0xF7 ends the run, and the emulator exits with status (V &lt;&lt; 1) | 1.
/// Reads return 0. The device does not see the CPU: it reports through the callback the
/// machine gives it, and only the first write counts (the run is already ending).
/// </summary>
public sealed class DebugExit : IPortDevice
{
    public const ushort Port = 0xF4;
    public const int PortCount = 4;

    private readonly Action<uint> exitRequested;

    /// <param name="exitRequested">Called with V on the first write; the machine stops the CPU there.</param>
    public DebugExit(Action<uint> exitRequested)
    {
        this.exitRequested = exitRequested ?? throw new ArgumentNullException(nameof(exitRequested));
    }

    /// <summary>The value the guest wrote, once it has written one.</summary>
    public uint? Value { get; private set; }

    /// <summary>The process exit status QEMU gives for <paramref name="value"/>: (V &lt;&lt; 1) | 1.</summary>
    public static int ExitStatusFor(uint value) => (int)((value << 1) | 1);

    /// <summary>Claims ports 0xF4-0xF7.</summary>
    public void Attach(IoSpace io) => io.Register(Port, PortCount, this);

    public uint In(ushort port, int size) => 0;

    public void Out(ushort port, int size, uint value)
    {
        if (Value.HasValue) return;
        Value = value;
        exitRequested(value);
    }
}
