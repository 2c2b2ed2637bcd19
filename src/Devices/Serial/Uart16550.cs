using System;
using System.Collections.Concurrent;
using System.Threading;
using Emu.Devices.Chipset;
using Emu.Devices.Platform;
using Emu.Memory;

namespace Emu.Devices.Serial;

/// <summary>
/// A 16550A UART (National Semiconductor PC16550D datasheet) as COM1 (3F8h, IRQ 4) or COM2
/// (2F8h, IRQ 3): divisor latch, 16-byte receive and transmit FIFOs with trigger levels and
/// the character timeout, the four interrupt sources with their priorities, line and modem
/// status (loopback included), and OUT2 gating the IRQ as on PC boards. Transmitted bytes go
/// to the host at once; host input (from any thread) waits in a queue and enters the receive
/// FIFO on the emulation thread, so nothing typed is lost when the guest is slow.
/// </summary>
public sealed class Uart16550 : IPortDevice
{
    public const ushort Com1 = 0x3F8, Com2 = 0x2F8;
    private const int FifoSize = 16;

    // IER, IIR, LSR, MCR, MSR bits.
    private const byte IerRx = 1, IerThre = 2, IerLine = 4, IerModem = 8;
    private const byte LsrDr = 1, LsrOe = 2, LsrBi = 0x10, LsrThre = 0x20, LsrTemt = 0x40, LsrFifoErr = 0x80;
    private const byte McrDtr = 1, McrRts = 2, McrOut1 = 4, McrOut2 = 8, McrLoop = 0x10;

    private readonly ushort basePort;
    private readonly int irqNumber;
    private readonly IIrqSink irq;
    private readonly Scheduler scheduler;
    private readonly Scheduler.Timer timeoutTimer;
    private readonly Action<byte> transmit;
    private readonly ConcurrentQueue<byte> hostInput = new();
    private readonly byte[] rx = new byte[FifoSize];
    private int rxHead, rxCount;

    private byte ier, lcr, mcr, scr, lsrErrors, msrDeltas;
    private ushort divisor = 12; // 9600 baud
    private bool fifoEnabled;
    private int rxTrigger = 1;
    private bool threPending; // the THR-empty interrupt, until IIR shows it or THR is written
    private bool timeoutPending;
    private bool irqLevel;

    /// <param name="basePort">3F8h or 2F8h.</param>
    /// <param name="irqNumber">4 or 3.</param>
    /// <param name="irq">The interrupt controller.</param>
    /// <param name="scheduler">For the receive timeout.</param>
    /// <param name="transmit">Where transmitted bytes go.</param>
    public Uart16550(ushort basePort, int irqNumber, IIrqSink irq, Scheduler scheduler, Action<byte> transmit)
    {
        this.basePort = basePort;
        this.irqNumber = irqNumber;
        this.irq = irq;
        this.scheduler = scheduler;
        this.transmit = transmit;
        timeoutTimer = scheduler.CreateTimer($"UART {basePort:X}h receive timeout", _ => { timeoutPending = rxCount > 0; UpdateIrq(); });
    }

    public void Attach(IoSpace io) => io.Register(basePort, 8, this);

    /// <summary>Raised (on any thread) when host input is queued, so the board can pump it soon.</summary>
    public event Action? InputQueued;

    /// <summary>
    /// The most host input held for the guest. Past it, <see cref="QueueInput"/> takes no more
    /// and <see cref="QueueInputWaiting"/> waits until the guest has taken some, so the console
    /// stops reading the host's input: a guest that never reads the port (or input from
    /// /dev/zero) costs bounded memory, and nothing typed or piped is dropped.
    /// </summary>
    public const int MaxQueuedInput = 64 * 1024;

    private int queuedInput;            // bytes in hostInput
    private volatile bool inputWaiting; // QueueInputWaiting waits for room
    private readonly object inputRoom = new();

    /// <summary>Host input bytes waiting to enter the receive FIFO.</summary>
    public int QueuedInput => Volatile.Read(ref queuedInput);

    /// <summary>
    /// Queues host input as far as <see cref="MaxQueuedInput"/> allows, never waiting; thread-safe.
    /// Returns how many bytes were queued.
    /// </summary>
    public int QueueInput(ReadOnlySpan<byte> bytes)
    {
        int n = 0;
        while (n < bytes.Length && Volatile.Read(ref queuedInput) < MaxQueuedInput)
        {
            hostInput.Enqueue(bytes[n++]);
            Interlocked.Increment(ref queuedInput);
        }
        if (n > 0) InputQueued?.Invoke();
        return n;
    }

    /// <summary>
    /// Queues all of <paramref name="bytes"/>, waiting while <see cref="MaxQueuedInput"/> bytes
    /// are held until the emulation thread moves some into the FIFO. For a thread that reads the
    /// host's input (the console); never call it on the emulation thread.
    /// </summary>
    public void QueueInputWaiting(ReadOnlySpan<byte> bytes)
    {
        while (true)
        {
            bytes = bytes[QueueInput(bytes)..];
            if (bytes.IsEmpty) return;
            WaitForRoom();
        }
    }

    private void WaitForRoom()
    {
        InputQueued?.Invoke(); // the board pumps what is held
        lock (inputRoom)
        {
            inputWaiting = true;
            while (Volatile.Read(ref queuedInput) >= MaxQueuedInput) Monitor.Wait(inputRoom, 100);
            inputWaiting = false;
        }
    }

    /// <summary>
    /// Hold host input until the guest listens: the received-data interrupt (IER bit 0) is
    /// enabled, as an operating system does when a program opens the port, and the line and
    /// FIFO have been left alone (no FCR, LCR or MCR write) for <see cref="SettleNs"/>. For
    /// input that is all there at the start (a pipe), which a guest still booting would
    /// otherwise lose to its probes and FIFO resets. Polling guests that never enable the
    /// interrupt get no input then; typed input (a terminal) does not need this.
    /// </summary>
    public bool HoldInputUntilReceiverEnabled { get; set; }

    /// <summary>How long the port's setup must stay unchanged before held input flows.</summary>
    public const long SettleNs = 20_000_000;

    private long lastSetup = long.MinValue / 2;

    /// <summary>Whether host input is waiting to enter the receive FIFO.</summary>
    public bool HasQueuedInput => !hostInput.IsEmpty;

    /// <summary>Moves queued host input into the receive FIFO while it has room (emulation thread).</summary>
    public void PumpInput()
    {
        if ((mcr & McrLoop) != 0) return; // in loopback the receiver hears only the transmitter
        if (HoldInputUntilReceiverEnabled && ((ier & IerRx) == 0 || scheduler.Clock.Now - lastSetup < SettleNs)) return;
        bool any = false;
        while (rxCount < (fifoEnabled ? FifoSize : 1) && hostInput.TryDequeue(out byte b))
        {
            Interlocked.Decrement(ref queuedInput);
            Receive(b);
            any = true;
        }
        if (!any) return;
        UpdateIrq();
        if (inputWaiting)
            lock (inputRoom) Monitor.PulseAll(inputRoom);
    }

    private void Receive(byte b)
    {
        int capacity = fifoEnabled ? FifoSize : 1;
        if (rxCount == capacity)
        {
            lsrErrors |= LsrOe; // overrun: the new character is lost
            return;
        }
        rx[(rxHead + rxCount) % FifoSize] = b;
        rxCount++;
        ArmTimeout();
    }

    /// <summary>The character timeout: four character times with data below the trigger and no activity.</summary>
    private void ArmTimeout()
    {
        timeoutPending = false;
        if (!fifoEnabled || rxCount == 0)
        {
            scheduler.Disarm(timeoutTimer);
            return;
        }
        long charNs = 10L * 1_000_000_000L * Math.Max((int)divisor, 1) / 115_200;
        scheduler.Arm(timeoutTimer, scheduler.Clock.Now + 4 * charNs);
    }

    private byte Lsr()
    {
        byte v = (byte)(LsrThre | LsrTemt | lsrErrors);
        if (rxCount > 0) v |= LsrDr;
        if ((lsrErrors & (LsrOe | LsrBi)) != 0 && fifoEnabled) v |= LsrFifoErr;
        return v;
    }

    private byte Msr()
    {
        byte v;
        if ((mcr & McrLoop) != 0)
        {
            // Loopback: CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2.
            v = (byte)((((mcr & McrRts) != 0) ? 0x10 : 0) | (((mcr & McrDtr) != 0) ? 0x20 : 0)
                       | (((mcr & McrOut1) != 0) ? 0x40 : 0) | (((mcr & McrOut2) != 0) ? 0x80 : 0));
        }
        else
        {
            v = 0x10 | 0x20 | 0x80; // a host terminal is there: CTS, DSR, DCD
        }
        return (byte)(v | msrDeltas);
    }

    /// <summary>The interrupt identification: highest-priority pending source (PC16550D table: line status, data, timeout, THRE, modem).</summary>
    private byte InterruptId()
    {
        if ((ier & IerLine) != 0 && (lsrErrors & (LsrOe | LsrBi)) != 0) return 0x06;
        if ((ier & IerRx) != 0 && rxCount >= (fifoEnabled ? rxTrigger : 1)) return 0x04;
        if ((ier & IerRx) != 0 && timeoutPending && rxCount > 0) return 0x0C;
        if ((ier & IerThre) != 0 && threPending) return 0x02;
        if ((ier & IerModem) != 0 && msrDeltas != 0) return 0x00;
        return 0x01; // no interrupt pending
    }

    private void UpdateIrq()
    {
        bool level = (mcr & McrOut2) != 0 && (InterruptId() & 1) == 0;
        if (level == irqLevel) return;
        irqLevel = level;
        irq.SetIrq(irqNumber, level);
    }

    public uint In(ushort port, int size)
    {
        int reg = port - basePort;
        bool dlab = (lcr & 0x80) != 0;
        byte v;
        switch (reg)
        {
            case 0:
                if (dlab) return (uint)(divisor & 0xFF);
                v = 0;
                if (rxCount > 0)
                {
                    v = rx[rxHead];
                    rxHead = (rxHead + 1) % FifoSize;
                    rxCount--;
                }
                PumpInput();
                ArmTimeout();
                break;
            case 1:
                return dlab ? (uint)(divisor >> 8) : ier;
            case 2:
                v = InterruptId();
                if (v == 0x02) threPending = false; // reading IIR clears the THRE interrupt it reports
                v |= fifoEnabled ? (byte)0xC0 : (byte)0;
                break;
            case 3: return lcr;
            case 4: return mcr;
            case 5:
                v = Lsr();
                lsrErrors = 0; // reading LSR clears the error bits
                break;
            case 6:
                v = Msr();
                msrDeltas = 0;
                break;
            default: return scr;
        }
        UpdateIrq();
        return v;
    }

    public void Out(ushort port, int size, uint value)
    {
        int reg = port - basePort;
        byte v = (byte)value;
        bool dlab = (lcr & 0x80) != 0;
        switch (reg)
        {
            case 0:
                if (dlab)
                {
                    divisor = (ushort)((divisor & 0xFF00) | v);
                    break;
                }
                if ((mcr & McrLoop) != 0) Receive(v);
                else transmit(v);
                // The character leaves at once: THR is empty again, which is an interrupt.
                threPending = true;
                break;
            case 1:
                if (dlab)
                {
                    divisor = (ushort)((divisor & 0xFF) | (v << 8));
                    break;
                }
                // Enabling the THRE interrupt while THR is empty raises it at once.
                if ((v & IerThre) != 0 && (ier & IerThre) == 0) threPending = true;
                ier = (byte)(v & 0x0F);
                break;
            case 2:
                lastSetup = scheduler.Clock.Now;
                bool enable = (v & 1) != 0;
                if (enable != fifoEnabled || (v & 2) != 0)
                {
                    rxHead = rxCount = 0; // changing the FIFO mode or resetting it empties the receiver
                    scheduler.Disarm(timeoutTimer);
                    timeoutPending = false;
                }
                fifoEnabled = enable;
                rxTrigger = (v >> 6) switch { 0 => 1, 1 => 4, 2 => 8, _ => 14 };
                PumpInput();
                break;
            case 3:
                lastSetup = scheduler.Clock.Now;
                lcr = v;
                break;
            case 4:
                lastSetup = scheduler.Clock.Now;
                bool wasLoop = (mcr & McrLoop) != 0;
                byte oldMsr = Msr();
                mcr = (byte)(v & 0x1F);
                if (wasLoop != ((mcr & McrLoop) != 0)) PumpInput();
                byte newMsr = (byte)(Msr() & 0xF0);
                // Delta bits in loopback: CTS, DSR, DCD changes and RI's trailing edge.
                byte changed = (byte)((oldMsr ^ newMsr) & 0xF0);
                msrDeltas |= (byte)(((changed & 0x10) != 0 ? 1 : 0) | ((changed & 0x20) != 0 ? 2 : 0)
                                    | (((oldMsr & 0x40) != 0 && (newMsr & 0x40) == 0) ? 4 : 0) | ((changed & 0x80) != 0 ? 8 : 0));
                break;
            case 7:
                scr = v;
                break;
        }
        UpdateIrq();
    }
}
