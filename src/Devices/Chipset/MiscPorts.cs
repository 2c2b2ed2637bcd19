using System;
using Emu.Memory;

namespace Emu.Devices.Chipset;

/// <summary>
/// System control port A at 92h (PS/2 "fast A20"): bit 1 drives the A20 gate, writing bit 0
/// as 1 resets the processor.
/// </summary>
public sealed class SystemControlPortA : IPortDevice
{
    public const ushort Port = 0x92;
    private readonly IA20Line a20;
    private readonly Action reset;

    public SystemControlPortA(IA20Line a20, Action reset)
    {
        this.a20 = a20;
        this.reset = reset;
    }

    public void Attach(IoSpace io) => io.Register(Port, 1, this);

    public uint In(ushort port, int size) => a20.A20Enabled ? 2u : 0u;

    public void Out(ushort port, int size, uint value)
    {
        a20.A20Enabled = (value & 2) != 0;
        if ((value & 1) != 0) reset();
    }
}

/// <summary>The POST diagnostic port at 80h: keeps the last code written (guests also use it as an I/O delay).</summary>
public sealed class PostCodePort : IPortDevice
{
    public const ushort Port = 0x80;

    public byte LastCode { get; private set; }

    public void Attach(IoSpace io) => io.Register(Port, 1, this);

    public uint In(ushort port, int size) => LastCode;

    public void Out(ushort port, int size, uint value) => LastCode = (byte)value;
}
