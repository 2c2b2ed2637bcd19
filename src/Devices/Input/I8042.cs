using System;
using System.Collections.Generic;
using Emu.Devices.Chipset;
using Emu.Memory;

namespace Emu.Devices.Input;

/// <summary>
/// The 8042 keyboard controller at 60h/64h with a PS/2 keyboard behind it (IBM PC/AT
/// technical reference): status and command registers, the controller command byte
/// (interrupt enables, system flag, port disables, set-1 translation), self tests, the
/// output port with the A20 gate and the reset line, the auxiliary-port loopback, and a
/// keyboard that answers reset, identify, LED, typematic, scan-code-set and enable commands.
/// No mouse is attached: commands to the auxiliary device get no answer, as with an empty port.
/// Bytes waiting behind the output buffer are held as the keyboard holds them, at most
/// <see cref="QueueCapacity"/>; more are lost (a guest that writes commands and never reads the
/// answers cannot make the host hold more).
/// </summary>
public sealed class I8042 : IPortDevice
{
    public const ushort DataPort = 0x60, CommandPort = 0x64;
    public const int KeyboardIrq = 1, AuxIrq = 12;

    /// <summary>Bytes held behind the output buffer: the PS/2 keyboard's 16-byte buffer (QEMU's PS2_QUEUE_SIZE).</summary>
    public const int QueueCapacity = 16;

    private const byte StOutputFull = 0x01, StSystem = 0x04, StCommand = 0x08, StUnlocked = 0x10, StAuxData = 0x20;
    private const byte CbKbdIrq = 0x01, CbAuxIrq = 0x02, CbSystem = 0x04, CbKbdDisabled = 0x10, CbAuxDisabled = 0x20, CbTranslate = 0x40;

    private readonly IIrqSink irq;
    private readonly IA20Line a20;
    private readonly Action reset;
    private readonly Queue<(byte Value, bool Aux)> output = new();
    private (byte Value, bool Aux)? buffer;
    private byte commandByte = CbKbdIrq | CbSystem | CbTranslate;
    private byte status = StSystem | StUnlocked;
    private byte pendingCommand;     // a controller command waiting for its data byte
    private byte pendingKbdCommand;  // a keyboard command waiting for its parameter
    private bool keyboardEnabled = true;
    private int scanCodeSet = 2;

    /// <param name="irq">IRQ 1 and 12.</param>
    /// <param name="a20">The A20 gate the output port drives.</param>
    /// <param name="reset">Pulsing the reset line resets the system.</param>
    public I8042(IIrqSink irq, IA20Line a20, Action reset)
    {
        this.irq = irq;
        this.a20 = a20;
        this.reset = reset;
    }

    public void Attach(IoSpace io)
    {
        io.Register(DataPort, 1, this);
        io.Register(CommandPort, 1, this);
    }

    /// <summary>Scan codes from the host keyboard (set 1, as the guest sees them with translation on).</summary>
    public void QueueScancodes(ReadOnlySpan<byte> codes)
    {
        if (!keyboardEnabled || (commandByte & CbKbdDisabled) != 0) return;
        foreach (byte b in codes) Enqueue(b, aux: false);
    }

    private void Enqueue(byte value, bool aux)
    {
        if (output.Count < QueueCapacity) output.Enqueue((value, aux));
        Refill();
    }

    /// <summary>Moves the next byte into the output buffer when it is free, and drives the IRQs.</summary>
    private void Refill()
    {
        if (buffer is null && output.Count > 0)
        {
            buffer = output.Dequeue();
            // A new byte is a new edge on the (edge-triggered) IRQ input.
            irq.SetIrq(KeyboardIrq, false);
            irq.SetIrq(AuxIrq, false);
        }
        bool kbd = buffer is { Aux: false } && (commandByte & CbKbdIrq) != 0;
        bool aux = buffer is { Aux: true } && (commandByte & CbAuxIrq) != 0;
        irq.SetIrq(KeyboardIrq, kbd);
        irq.SetIrq(AuxIrq, aux);
    }

    public uint In(ushort port, int size)
    {
        if (port == CommandPort)
        {
            byte s = (byte)(status & ~(StOutputFull | StAuxData));
            if (buffer is { } b) s |= (byte)(StOutputFull | (b.Aux ? StAuxData : 0));
            return s;
        }
        if (buffer is not { } data) return 0; // an empty buffer reads as the last value on real parts; 0 here
        buffer = null;
        Refill();
        return data.Value;
    }

    public void Out(ushort port, int size, uint value)
    {
        byte v = (byte)value;
        if (port == CommandPort)
        {
            status |= StCommand;
            Command(v);
            return;
        }
        status &= unchecked((byte)~StCommand);
        if (pendingCommand != 0)
        {
            byte cmd = pendingCommand;
            pendingCommand = 0;
            CommandData(cmd, v);
            return;
        }
        KeyboardByte(v);
    }

    private void Command(byte v)
    {
        switch (v)
        {
            case 0x20: Enqueue(commandByte, false); break;            // read command byte
            case 0x60: case 0xD1: case 0xD2: case 0xD3: case 0xD4:
                pendingCommand = v; break;                             // takes a data byte
            case 0xA7: commandByte |= CbAuxDisabled; break;
            case 0xA8: commandByte &= unchecked((byte)~CbAuxDisabled); break;
            case 0xA9: Enqueue(0x00, false); break;                   // auxiliary port test: passed
            case 0xAA:                                                 // self test
                commandByte |= CbKbdDisabled | CbAuxDisabled;
                Enqueue(0x55, false);
                break;
            case 0xAB: Enqueue(0x00, false); break;                   // keyboard port test: passed
            case 0xAD: commandByte |= CbKbdDisabled; break;
            case 0xAE: commandByte &= unchecked((byte)~CbKbdDisabled); break;
            case 0xC0: Enqueue(0x80, false); break;                   // input port: keyboard not inhibited
            case 0xD0: Enqueue(OutputPort(), false); break;
            case 0xDD: a20.A20Enabled = false; break;
            case 0xDF: a20.A20Enabled = true; break;
            default:
                if ((v & 0xF0) == 0xF0 && (v & 1) == 0) reset();      // pulse output port bit 0: reset
                break;
        }
        Refill();
    }

    private byte OutputPort() => (byte)(0x01 | (a20.A20Enabled ? 0x02 : 0) | (buffer is { Aux: false } ? 0x10 : 0) | (buffer is { Aux: true } ? 0x20 : 0));

    private void CommandData(byte cmd, byte v)
    {
        switch (cmd)
        {
            case 0x60:
                commandByte = v;
                status = (byte)((status & ~StSystem) | (v & CbSystem));
                break;
            case 0xD1:
                a20.A20Enabled = (v & 2) != 0;
                if ((v & 1) == 0) reset();
                break;
            case 0xD2: Enqueue(v, false); break;   // as if the keyboard sent it
            case 0xD3: Enqueue(v, true); break;    // as if the mouse sent it (loopback)
            case 0xD4: break;                      // to the auxiliary device: nothing is attached
        }
        Refill();
    }

    private void KeyboardByte(byte v)
    {
        // A byte for the keyboard re-enables the port (as the 8042 does).
        commandByte &= unchecked((byte)~CbKbdDisabled);
        if (pendingKbdCommand != 0)
        {
            byte cmd = pendingKbdCommand;
            pendingKbdCommand = 0;
            if (cmd == 0xF0 && v == 0)
            {
                Enqueue(0xFA, false);
                Enqueue((byte)(scanCodeSet == 1 ? 0x43 : scanCodeSet == 2 ? 0x41 : 0x3F), false); // as translated
                return;
            }
            if (cmd == 0xF0 && v is >= 1 and <= 3) scanCodeSet = v;
            Enqueue(0xFA, false);
            return;
        }
        switch (v)
        {
            case 0xED: case 0xF3: case 0xF0:
                pendingKbdCommand = v;
                Enqueue(0xFA, false);
                break;
            case 0xEE: Enqueue(0xEE, false); break;                   // echo
            case 0xF2:                                                  // identify: an MF2 keyboard
                Enqueue(0xFA, false);
                Enqueue(0xAB, false);
                Enqueue((commandByte & CbTranslate) != 0 ? (byte)0x41 : (byte)0x83, false);
                break;
            case 0xF4: keyboardEnabled = true; Enqueue(0xFA, false); break;
            case 0xF5: keyboardEnabled = false; Enqueue(0xFA, false); break;
            case 0xF6: scanCodeSet = 2; Enqueue(0xFA, false); break;
            case 0xFF:                                                  // reset: ACK, then self test passed
                keyboardEnabled = true;
                scanCodeSet = 2;
                Enqueue(0xFA, false);
                Enqueue(0xAA, false);
                break;
            default: Enqueue(0xFA, false); break;
        }
    }
}
