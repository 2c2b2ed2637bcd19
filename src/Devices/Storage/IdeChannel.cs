using System;
using Emu.Devices.Chipset;
using Emu.Memory;

namespace Emu.Devices.Storage;

/// <summary>
/// One legacy IDE channel (ATA/ATAPI-6, T13 1410D, chapter 7): the command block at
/// base..base+7 (data, error/features, sector count, LBA low/mid/high, device, status/command)
/// and the control block's alternate status / device control register, with a master and a
/// slave. Register writes reach both devices; the DEV bit picks the one that answers reads,
/// executes commands and drives INTRQ (gated by nIEN). SRST resets both devices, which then
/// show their signatures. An absent slave beside a present master reads as 00h (status and
/// task file; the device register reads back), which is what libata's probe and SeaBIOS
/// take as "no device"; a channel with no device at all floats at FFh.
/// </summary>
public sealed class IdeChannel : IPortDevice
{
    public const ushort PrimaryCommandBase = 0x1F0, PrimaryControlPort = 0x3F6;
    public const ushort SecondaryCommandBase = 0x170, SecondaryControlPort = 0x376;
    public const int PrimaryIrq = 14, SecondaryIrq = 15;

    // Device control register bits.
    private const byte DcNien = 0x02, DcSrst = 0x04, DcHob = 0x80;

    private const byte CmdExecuteDeviceDiagnostic = 0x90;

    private readonly ushort commandBase, controlPort;
    private readonly int irqNumber;
    private readonly IIrqSink irq;
    private readonly IdeDevice? master, slave;
    private IdeDevice? selected;
    private int selectedIndex;
    private byte deviceRegister; // what an absent device's register reads as
    private byte deviceControl;
    private bool irqLevel;

    /// <param name="commandBase">1F0h or 170h.</param>
    /// <param name="controlPort">3F6h or 376h.</param>
    /// <param name="irqNumber">14 or 15.</param>
    /// <param name="irq">The interrupt controller.</param>
    /// <param name="master">Device 0, or null.</param>
    /// <param name="slave">Device 1, or null.</param>
    public IdeChannel(ushort commandBase, ushort controlPort, int irqNumber, IIrqSink irq, IdeDevice? master, IdeDevice? slave)
    {
        if (master is not null && ReferenceEquals(master, slave)) throw new ArgumentException("a device sits in one slot only", nameof(slave));
        if (master?.Channel is not null || slave?.Channel is not null) throw new ArgumentException("the device is already on a channel");
        this.commandBase = commandBase;
        this.controlPort = controlPort;
        this.irqNumber = irqNumber;
        this.irq = irq;
        this.master = master;
        this.slave = slave;
        if (master is not null) master.Channel = this;
        if (slave is not null) slave.Channel = this;
        master?.CompleteReset();
        slave?.CompleteReset();
        selected = master;
    }

    /// <summary>The primary channel: 1F0h-1F7h, 3F6h, IRQ 14.</summary>
    public static IdeChannel Primary(IIrqSink irq, IdeDevice? master, IdeDevice? slave)
        => new(PrimaryCommandBase, PrimaryControlPort, PrimaryIrq, irq, master, slave);

    /// <summary>The secondary channel: 170h-177h, 376h, IRQ 15.</summary>
    public static IdeChannel Secondary(IIrqSink irq, IdeDevice? master, IdeDevice? slave)
        => new(SecondaryCommandBase, SecondaryControlPort, SecondaryIrq, irq, master, slave);

    public IdeDevice? Master => master;

    public IdeDevice? Slave => slave;

    /// <summary>The level of the channel's IRQ line now.</summary>
    public bool IrqLevel => irqLevel;

    /// <summary>Called on every rising edge of INTRQ (the bus-master status register's interrupt bit watches it).</summary>
    public Action? InterruptAsserted { get; set; }

    /// <summary>Claims the command block (8 ports) and the control port; 3F7h/377h stay with the floppy controller.</summary>
    public void Attach(IoSpace io)
    {
        io.Register(commandBase, 8, this);
        io.Register(controlPort, 1, this);
    }

    /// <summary>A hardware reset (RESET-): both devices back to their power-on state.</summary>
    public void Reset()
    {
        deviceControl = 0;
        deviceRegister = 0;
        master?.CompleteReset();
        slave?.CompleteReset();
        Select(0);
        UpdateIrq();
    }

    private bool Empty => master is null && slave is null;

    private void Select(int index)
    {
        selectedIndex = index;
        selected = index == 0 ? master : slave;
    }

    internal void UpdateIrq()
    {
        bool level = (deviceControl & DcNien) == 0 && selected is not null && selected.IrqPending;
        if (level == irqLevel) return;
        irqLevel = level;
        if (level) InterruptAsserted?.Invoke();
        irq.SetIrq(irqNumber, level);
    }

    public uint In(ushort port, int size)
    {
        uint high = size == 1 ? 0u : size == 2 ? 0xFF00u : 0xFFFF_FF00u; // the bytes beyond an 8-bit register float
        if (Empty) return size == 1 ? 0xFFu : size == 2 ? 0xFFFFu : 0xFFFF_FFFFu;
        IdeDevice? d = selected;
        if (port == controlPort) return high | (d is null ? 0u : d.Status); // alternate status: no side effects
        int reg = port - commandBase;
        if (reg == 0) return d is null ? (size == 4 ? 0xFFFF_FFFFu : size == 2 ? 0xFFFFu : 0xFFu) : d.ReadData(size);
        if (d is null) return high | (reg == 6 ? deviceRegister : 0u);
        bool hob = (deviceControl & DcHob) != 0;
        byte v;
        switch (reg)
        {
            case 1: v = d.Error; break;
            case 2: v = hob ? d.PrevSectorCount : d.SectorCount; break;
            case 3: v = hob ? d.PrevLbaLow : d.LbaLow; break;
            case 4: v = hob ? d.PrevLbaMid : d.LbaMid; break;
            case 5: v = hob ? d.PrevLbaHigh : d.LbaHigh; break;
            case 6: v = d.DeviceRegister; break;
            default:
                v = d.Status;
                // Reading the status register acknowledges the interrupt (ATA/ATAPI-6 5.2.13).
                if (d.IrqPending)
                {
                    d.IrqPending = false;
                    UpdateIrq();
                }
                break;
        }
        return high | v;
    }

    public void Out(ushort port, int size, uint value)
    {
        if (Empty) return;
        byte v = (byte)value;
        if (port == controlPort)
        {
            WriteDeviceControl(v);
            return;
        }
        int reg = port - commandBase;
        if (reg == 0)
        {
            selected?.WriteData(size, value);
            return;
        }
        if (reg == 7)
        {
            WriteCommand(v);
            return;
        }
        // A write to any command block register clears HOB (ATA/ATAPI-6 7.8).
        deviceControl &= unchecked((byte)~DcHob);
        WriteTaskFile(master, reg, v);
        WriteTaskFile(slave, reg, v);
        if (reg == 6)
        {
            deviceRegister = v;
            Select((v >> 4) & 1);
            UpdateIrq(); // INTRQ belongs to the selected device
        }
    }

    private static void WriteTaskFile(IdeDevice? d, int reg, byte v)
    {
        if (d is null || (d.Status & IdeDevice.StBsy) != 0) return; // a busy device ignores the task file
        switch (reg)
        {
            case 1: d.PrevFeature = d.Feature; d.Feature = v; break;
            case 2: d.PrevSectorCount = d.SectorCount; d.SectorCount = v; break;
            case 3: d.PrevLbaLow = d.LbaLow; d.LbaLow = v; break;
            case 4: d.PrevLbaMid = d.LbaMid; d.LbaMid = v; break;
            case 5: d.PrevLbaHigh = d.LbaHigh; d.LbaHigh = v; break;
            case 6: d.DeviceRegister = v; break;
        }
    }

    private void WriteDeviceControl(byte v)
    {
        bool wasReset = (deviceControl & DcSrst) != 0;
        bool reset = (v & DcSrst) != 0;
        deviceControl = v;
        if (reset && !wasReset)
        {
            master?.EnterReset();
            slave?.EnterReset();
        }
        else if (!reset && wasReset)
        {
            // SRST released: both devices finish their reset; device 0 is selected (ATA/ATAPI-6 9.2).
            master?.CompleteReset();
            slave?.CompleteReset();
            deviceRegister = 0;
            Select(0);
        }
        UpdateIrq();
    }

    private static bool IsBusy(IdeDevice? d) => d is not null && (d.Status & IdeDevice.StBsy) != 0;

    private void WriteCommand(byte command)
    {
        IdeDevice? d = selected;
        if (command == CmdExecuteDeviceDiagnostic)
        {
            // Both devices run their diagnostics; device 0 reports for the pair (ATA/ATAPI-6 8.11).
            if (IsBusy(master) || IsBusy(slave)) return;
            master?.CompleteReset();
            slave?.CompleteReset();
            deviceRegister = 0;
            Select(0);
            if (master is not null)
            {
                master.Status = master.IsPacketDevice ? (byte)0 : (byte)(IdeDevice.StDrdy | IdeDevice.StDsc);
                master.IrqPending = true;
            }
            UpdateIrq();
            return;
        }
        if (d is null || IsBusy(d)) return; // nobody there, or busy (in reset)
        // Writing the command register clears a pending interrupt (ATA/ATAPI-6 5.2.13).
        d.IrqPending = false;
        d.Error = 0;
        d.ExecuteCommand(command);
        UpdateIrq();
    }
}
