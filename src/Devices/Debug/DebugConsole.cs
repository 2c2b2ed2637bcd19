using System;
using System.IO;
using Emu.Memory;

namespace Emu.Devices.Debug;

/// <summary>
/// The debug console at port 0xE9 (Bochs' "port E9 hack", QEMU's isa-debugcon): every byte
/// written goes to the output stream; a read returns 0xE9 so a guest can detect the port.
/// </summary>
/// <remarks>
/// The port is one byte wide, as on Bochs and QEMU: a 16- or 32-bit OUT delivers only its low
/// byte here (the upper bytes fall on ports nobody claims), and a wider IN reads the upper
/// bytes as an empty ISA bus does, all ones.
/// </remarks>
public sealed class DebugConsole : IPortDevice
{
    public const ushort Port = 0xE9;

    private readonly Stream output;
    private readonly bool flushOnNewline;

    /// <param name="output">Where the guest's bytes go.</param>
    /// <param name="flushOnNewline">Flush after each line feed, so a terminal shows lines as they come.</param>
    public DebugConsole(Stream output, bool flushOnNewline = true)
    {
        this.output = output ?? throw new ArgumentNullException(nameof(output));
        this.flushOnNewline = flushOnNewline;
    }

    /// <summary>Bytes the guest wrote so far.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Claims port 0xE9.</summary>
    public void Attach(IoSpace io) => io.Register(Port, 1, this);

    public uint In(ushort port, int size) => size switch
    {
        1 => Port,
        2 => 0xFF00u | Port,
        _ => 0xFFFF_FF00u | Port,
    };

    public void Out(ushort port, int size, uint value)
    {
        byte b = (byte)value;
        output.WriteByte(b);
        BytesWritten++;
        if (flushOnNewline && b == (byte)'\n') output.Flush();
    }

    public void Flush() => output.Flush();
}
