using System;
using Emu.Memory;

namespace Emu.Devices.Chipset;

/// <summary>Where devices raise their interrupt requests: an ISA IRQ number 0-15 and the line's level.</summary>
public interface IIrqSink
{
    /// <summary>Drives IRQ <paramref name="irq"/> high or low (edge-triggered inputs latch a rising edge).</summary>
    void SetIrq(int irq, bool level);
}

/// <summary>
/// The PC's pair of 8259A programmable interrupt controllers (Intel 8259A datasheet): the
/// master at 20h/21h with the slave cascaded on IR2 at A0h/A1h, the PIIX edge/level control
/// registers (ELCR) at 4D0h/4D1h, initialisation words ICW1-ICW4, operation words OCW1-OCW3
/// (masks, EOI modes, IRR/ISR reads, poll, special mask), fully nested priority with
/// rotation, automatic EOI, and the spurious IRQ 7/15 when a request goes away before the
/// CPU acknowledges it. It drives the CPU's INTR line and answers its INTA cycle.
/// </summary>
public sealed class Pic8259 : IIrqSink, IInterruptAcknowledge, IPortDevice
{
    private sealed class Chip
    {
        public byte Irr, Isr, Imr;
        public byte Lines;          // current input levels
        public byte Elcr;           // 1 = level-triggered input
        public byte VectorBase;
        public byte Cascade;        // ICW3
        public byte LowestPriority = 7;
        public bool AutoEoi, RotateOnAutoEoi, SpecialMask, SpecialFullyNested;
        public bool ReadIsr, Poll;
        public int InitStep;        // 0: operational; 2..4: expecting ICW2..ICW4
        public bool NeedIcw4, Single;
        public bool IsMaster;

        public void Reset()
        {
            Irr = Isr = Imr = 0;
            LowestPriority = 7;
            AutoEoi = RotateOnAutoEoi = SpecialMask = SpecialFullyNested = false;
            ReadIsr = Poll = false;
            InitStep = 0;
        }

        /// <summary>The priority of IR n: 0 is the highest, after rotation.</summary>
        public int Priority(int n) => (n - LowestPriority - 1) & 7;

        /// <summary>The highest-priority bit set in <paramref name="bits"/>, or -1.</summary>
        public int Highest(byte bits)
        {
            if (bits == 0) return -1;
            for (int p = 0; p < 8; p++)
            {
                int n = (LowestPriority + 1 + p) & 7;
                if ((bits & (1 << n)) != 0) return n;
            }
            return -1;
        }

        /// <summary>The request the chip would pass on now: pending, unmasked, and of higher priority than any in service.</summary>
        public int Requestable()
        {
            int req = Highest((byte)(Irr & ~Imr));
            if (req < 0) return -1;
            byte inService = Isr;
            if (SpecialMask) inService &= (byte)~Imr; // special mask mode: masked levels do not block
            if (IsMaster && SpecialFullyNested) inService &= unchecked((byte)~(1 << 2)); // the cascade input may nest
            int svc = Highest(inService);
            if (svc >= 0 && Priority(svc) <= Priority(req)) return -1;
            return req;
        }
    }

    public const ushort MasterPort = 0x20, SlavePort = 0xA0, ElcrPort = 0x4D0;
    private const int CascadeInput = 2;

    private readonly Chip master = new() { IsMaster = true };
    private readonly Chip slave = new();
    private readonly InterruptLine line;

    public Pic8259(InterruptLine cpuLine)
    {
        line = cpuLine;
        line.Controller = this;
    }

    /// <summary>Claims 20h-21h, A0h-A1h and the ELCR at 4D0h-4D1h.</summary>
    public void Attach(IoSpace io)
    {
        io.Register(MasterPort, 2, this);
        io.Register(SlavePort, 2, this);
        io.Register(ElcrPort, 2, this);
    }

    /// <summary>IRQs 0-7 go to the master, 8-15 to the slave (whose output is the master's IR2).</summary>
    public void SetIrq(int irq, bool level)
    {
        if ((uint)irq > 15) throw new ArgumentOutOfRangeException(nameof(irq));
        if (irq < 8) SetInput(master, irq, level);
        else
        {
            SetInput(slave, irq - 8, level);
            SetInput(master, CascadeInput, slave.Requestable() >= 0);
        }
        UpdateOutput();
    }

    private static void SetInput(Chip c, int n, bool level)
    {
        byte bit = (byte)(1 << n);
        bool was = (c.Lines & bit) != 0;
        if (level) c.Lines |= bit; else c.Lines &= (byte)~bit;
        if ((c.Elcr & bit) != 0)
        {
            // Level-triggered: IRR follows the line.
            if (level) c.Irr |= bit; else c.Irr &= (byte)~bit;
        }
        else if (level && !was)
        {
            c.Irr |= bit; // edge-triggered: a rising edge latches the request
        }
        else if (!level)
        {
            c.Irr &= (byte)~bit; // a request that goes away before INTA is lost (the spurious case)
        }
    }

    private void UpdateCascade() => SetInput(master, CascadeInput, slave.Requestable() >= 0);

    private void UpdateOutput()
    {
        UpdateCascade();
        line.Intr = master.Requestable() >= 0;
    }

    /// <summary>Whether INTR is asserted (for tests and the board).</summary>
    public bool OutputAsserted => master.Requestable() >= 0;

    /// <summary>The INTA cycle: the vector of the highest-priority request, which moves from IRR to ISR.</summary>
    public int Acknowledge()
    {
        UpdateCascade();
        int irq = master.Requestable();
        if (irq < 0)
        {
            // The request went away between INTR and INTA: the master answers with IR7, no ISR bit.
            line.Intr = false;
            return master.VectorBase | 7;
        }
        int vector;
        if (irq == CascadeInput && !master.Single)
        {
            int s = slave.Requestable();
            Take(master, irq);
            if (s < 0)
            {
                vector = slave.VectorBase | 7; // spurious IRQ 15
            }
            else
            {
                Take(slave, s);
                vector = slave.VectorBase | s;
            }
        }
        else
        {
            Take(master, irq);
            vector = master.VectorBase | irq;
        }
        UpdateOutput();
        return vector;
    }

    private static void Take(Chip c, int n)
    {
        byte bit = (byte)(1 << n);
        if ((c.Elcr & bit) == 0) c.Irr &= (byte)~bit; // edge: the request is consumed
        if (c.AutoEoi)
        {
            if (c.RotateOnAutoEoi) c.LowestPriority = (byte)n;
        }
        else
        {
            c.Isr |= bit;
        }
    }

    // ---- I/O ----

    public uint In(ushort port, int size)
    {
        if (port is ElcrPort or ElcrPort + 1) return port == ElcrPort ? master.Elcr : slave.Elcr;
        Chip c = port < SlavePort ? master : slave;
        if ((port & 1) != 0) return c.Imr;
        if (c.Poll)
        {
            // Poll command: the next read returns 80h | level and acknowledges it (no INTA cycle).
            c.Poll = false;
            int irq = c.Requestable();
            if (irq < 0) return 0;
            Take(c, irq);
            UpdateOutput();
            return 0x80u | (uint)irq;
        }
        return c.ReadIsr ? c.Isr : c.Irr;
    }

    public void Out(ushort port, int size, uint value)
    {
        byte v = (byte)value;
        if (port is ElcrPort or ElcrPort + 1)
        {
            // IRQ 0, 1, 2, 8 and 13 are always edge-triggered on the PIIX.
            if (port == ElcrPort) master.Elcr = (byte)(v & 0xF8);
            else slave.Elcr = (byte)(v & 0xDE);
            UpdateOutput();
            return;
        }
        Chip c = port < SlavePort ? master : slave;
        if ((port & 1) == 0) WriteCommand(c, v);
        else WriteData(c, v);
        UpdateOutput();
    }

    private static void WriteCommand(Chip c, byte v)
    {
        if ((v & 0x10) != 0)
        {
            // ICW1: starts initialisation; clears IMR and ISR, IR7 lowest priority.
            c.Reset();
            c.NeedIcw4 = (v & 1) != 0;
            c.Single = (v & 2) != 0;
            c.InitStep = 2;
            c.Irr &= c.Elcr; // edge-sense latches are reset
            return;
        }
        if ((v & 0x18) == 0x08)
        {
            // OCW3
            if ((v & 0x40) != 0) c.SpecialMask = (v & 0x20) != 0;
            if ((v & 0x04) != 0) c.Poll = true;
            if ((v & 0x02) != 0) c.ReadIsr = (v & 1) != 0;
            return;
        }
        // OCW2: EOI and rotation commands (R, SL, EOI in bits 7-5, level in bits 2-0).
        int level = v & 7;
        switch (v >> 5)
        {
            case 0: c.RotateOnAutoEoi = false; break;                 // rotate in AEOI mode: clear
            case 4: c.RotateOnAutoEoi = true; break;                  // rotate in AEOI mode: set
            case 1:                                                    // non-specific EOI
            {
                int n = c.Highest(c.Isr);
                if (n >= 0) c.Isr &= (byte)~(1 << n);
                break;
            }
            case 3: c.Isr &= (byte)~(1 << level); break;              // specific EOI
            case 5:                                                    // rotate on non-specific EOI
            {
                int n = c.Highest(c.Isr);
                if (n >= 0)
                {
                    c.Isr &= (byte)~(1 << n);
                    c.LowestPriority = (byte)n;
                }
                break;
            }
            case 6: c.LowestPriority = (byte)level; break;            // set priority
            case 7:                                                    // rotate on specific EOI
                c.Isr &= (byte)~(1 << level);
                c.LowestPriority = (byte)level;
                break;
        }
    }

    private static void WriteData(Chip c, byte v)
    {
        switch (c.InitStep)
        {
            case 2:
                c.VectorBase = (byte)(v & 0xF8);
                c.InitStep = c.Single ? (c.NeedIcw4 ? 4 : 0) : 3;
                break;
            case 3:
                c.Cascade = v;
                c.InitStep = c.NeedIcw4 ? 4 : 0;
                break;
            case 4:
                c.AutoEoi = (v & 2) != 0;
                c.SpecialFullyNested = (v & 0x10) != 0;
                c.InitStep = 0;
                break;
            default:
                c.Imr = v; // OCW1
                break;
        }
    }

    /// <summary>The registers, for tests and diagnostics.</summary>
    public (byte Irr, byte Isr, byte Imr) Master => (master.Irr, master.Isr, master.Imr);

    public (byte Irr, byte Isr, byte Imr) Slave => (slave.Irr, slave.Isr, slave.Imr);
}
