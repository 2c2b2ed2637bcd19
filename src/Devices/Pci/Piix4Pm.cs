using System;
using Emu.Devices.Chipset;
using Emu.Devices.Platform;
using Emu.Memory;

namespace Emu.Devices.Pci;

/// <summary>
/// The power-management function of the Intel 82371AB PIIX4 (00:01.3, 8086:7113; PIIX4
/// datasheet, function 3 and the power-management I/O registers), as QEMU's "pc" board has it:
/// <list type="bullet">
/// <item>PMBA (40h) places 64 bytes of PM I/O space, enabled by PMIOSE (80h bit 0):
/// PM1 status and enable (TMR, GBL, PWRBTN, RTC, WAK), PM1 control (SCI_EN, SLP_TYP, SLP_EN),
/// the 24-bit power-management timer at 3.579545 MHz on the virtual clock with its overflow
/// status, GPSTS/GPEN, and the rest of the block as storage.</item>
/// <item>The SCI: IRQ 9, level, high while SCI_EN is set and an enabled event is pending.</item>
/// <item>A GPE0 block of two 16-bit registers (status, enable), seen at PM base + 0Ch (the
/// PIIX4's GPSTS/GPEN) and at <see cref="QemuGpe0Port"/>, where SeaBIOS's FADT puts GPE0_BLK.
/// No event ever sets a GPE status bit.</item>
/// <item>The APM control and status ports B2h/B3h. Writing ACPI_ENABLE (F1h) or ACPI_DISABLE
/// (F0h) to B2h sets or clears SCI_EN directly, as QEMU's model does; this board has no SMM,
/// so nothing else happens, and DEVACTB's APMC_EN (5Bh bit 1) is set from reset, as QEMU
/// does without SMM, so that SeaBIOS skips its SMM set-up (which would wait for an SMI).</item>
/// <item>The SMBus base (90h) and host configuration (D2h) as storage; no SMBus controller.</item>
/// </list>
/// Writing SLP_EN with SLP_TYP = <see cref="SoftOffSleepType"/> (000b, "soft off" in the
/// PIIX4 datasheet's SUS_TYP table, and the value SeaBIOS's and our own \_S5 hold) raises
/// <see cref="PowerOffRequested"/>. Other sleep types are ignored: the board cannot suspend.
/// </summary>
public sealed class Piix4Pm : PciFunction, IPortDevice
{
    public const int PmBase = 0x40, DevActB = 0x58, DevResB = 0x5C, PmRegMisc = 0x80, SmbBase = 0x90, SmbHostConfig = 0xD2;
    public const ushort ApmControlPort = 0xB2, ApmStatusPort = 0xB3, QemuGpe0Port = 0xAFE0;
    public const int PmIoSize = 0x40;
    public const int SciIrq = 9;
    public const long TimerHz = 3_579_545;
    public const byte AcpiEnable = 0xF1, AcpiDisable = 0xF0;

    /// <summary>SLP_TYP meaning S5, soft off (PIIX4 SUS_TYP 000b).</summary>
    public const int SoftOffSleepType = 0;

    // PM I/O register offsets.
    public const int Pm1Status = 0x00, Pm1Enable = 0x02, Pm1Control = 0x04, PmTimer = 0x08, GpStatus = 0x0C, GpEnable = 0x0E,
        GpInput = 0x30;

    // PM1 status / enable bits.
    public const ushort TmrSts = 1 << 0, BmSts = 1 << 4, GblSts = 1 << 5, PwrbtnSts = 1 << 8, RtcSts = 1 << 10, WakSts = 1 << 15;
    public const ushort TmrEn = 1 << 0, GblEn = 1 << 5, PwrbtnEn = 1 << 8, RtcEn = 1 << 10;
    private const ushort EventBits = TmrSts | GblSts | PwrbtnSts | RtcSts;
    private const ushort StatusBits = EventBits | BmSts | WakSts;

    // PM1 control bits.
    public const ushort SciEn = 1 << 0, BmRld = 1 << 1, GblRls = 1 << 2, SlpEn = 1 << 13;
    public const int SlpTypShift = 10;
    public const ushort SlpTypMask = 7 << SlpTypShift;

    private const int TimerBits = 24;
    private const int OverflowShift = TimerBits - 1; // TMR_STS is set whenever bit 23 changes

    private readonly Scheduler scheduler;
    private readonly IClock clock;
    private readonly IIrqSink irqs;
    private readonly Scheduler.Timer overflowTimer;
    private readonly byte[] storage = new byte[PmIoSize];
    private IoSpace? io;
    private int mappedBase = -1;

    private ushort pm1Status, pm1Enable, pm1Control;
    private ushort gpeStatus, gpeEnable;
    private long overflowSeen;     // the timer's bit-23 half period last folded into TMR_STS
    private bool sciLevel;
    private byte apmControl, apmStatus;

    /// <param name="com1">A UART at 3F8h: reported present through DEVRESE (67h bit 3), which SeaBIOS's DSDT reads for COM1's _STA.</param>
    /// <param name="com2">A UART at 2F8h (67h bit 7).</param>
    /// <param name="lpt">A parallel port at 378h (5Fh bit 7).</param>
    public Piix4Pm(Scheduler scheduler, IIrqSink irqs, bool com1 = true, bool com2 = false, bool lpt = false)
        : base("PIIX4 power management", 0x8086, 0x7113, revision: 0x03, classCode: 0x06_80_00)
    {
        // Revision 3 (PIIX4E/M): Linux applies its slow PM-timer workaround to revisions below 3.
        this.scheduler = scheduler ?? throw new ArgumentNullException(nameof(scheduler));
        this.irqs = irqs ?? throw new ArgumentNullException(nameof(irqs));
        clock = scheduler.Clock;
        overflowTimer = scheduler.CreateTimer("PIIX4 PM timer overflow", OnOverflow);
        Write16(SubsystemVendorId, I440fx.QemuSubsystemVendor);
        Write16(SubsystemVendorId + 2, I440fx.QemuSubsystem);
        Write16(Status, 0x0280);
        Config[InterruptPin] = 1; // INTA#; the SCI itself is wired to IRQ 9
        WriteMask[PmBase] = 0xC0;  // PMBA: 64-byte aligned, bit 0 reads 1 (I/O space)
        WriteMask[PmBase + 1] = 0xFF;
        for (int o = DevActB; o <= 0x6F; o++) WriteMask[o] = 0xFF; // DEVACTA/B, DEVRESA-J
        WriteMask[PmRegMisc] = 0x01;
        WriteMask[SmbBase] = 0xF0;
        WriteMask[SmbBase + 1] = 0xFF;
        WriteMask[SmbHostConfig] = 0x0F;
        Com1 = com1;
        Com2 = com2;
        Lpt = lpt;
        Reset();
    }

    private bool Com1 { get; }
    private bool Com2 { get; }
    private bool Lpt { get; }

    /// <summary>The guest asked for S5 (SLP_EN with the soft-off sleep type): the board powers off.</summary>
    public event Action? PowerOffRequested;

    /// <summary>The PM I/O base the guest programmed, or -1 while PM I/O space is disabled.</summary>
    public int IoBase => mappedBase;

    /// <summary>Whether the SCI (IRQ 9) is asserted now.</summary>
    public bool SciAsserted => sciLevel;

    public ushort Pm1StatusValue
    {
        get
        {
            FoldTimerOverflow();
            return pm1Status;
        }
    }

    public ushort Pm1ControlValue => pm1Control;

    /// <summary>Claims B2h-B3h and the QEMU GPE0 block; PM I/O space is claimed when the guest enables it.</summary>
    public void Attach(IoSpace space)
    {
        io = space;
        space.Register(ApmControlPort, 2, this);
        space.Register(QemuGpe0Port, 4, this);
        Remap();
    }

    /// <summary>Power-on state: PM I/O disabled at base 0, SCI_EN clear, every status and enable clear.</summary>
    public void Reset()
    {
        Write32(PmBase, 0x0000_0001);
        Config[PmRegMisc] = 0;
        Write32(DevActB, 0);
        Config[DevActB + 3] = 0x02; // APMC_EN: "SMM already set up" (no SMM on this board)
        for (int o = DevResB; o <= 0x6F; o++) Config[o] = 0;
        Config[0x5F] = (byte)(0x10 | (Lpt ? 0x80 : 0));
        Config[0x63] = 0x60;
        Config[0x67] = (byte)((Com1 ? 0x08 : 0) | (Com2 ? 0x80 : 0));
        Write32(SmbBase, 0x0000_0001);
        Config[SmbHostConfig] = 0;
        pm1Status = pm1Enable = pm1Control = 0;
        gpeStatus = gpeEnable = 0;
        Array.Clear(storage);
        apmControl = apmStatus = 0;
        overflowSeen = Ticks() >> OverflowShift;
        scheduler.Disarm(overflowTimer);
        UpdateSci();
        Remap();
    }

    /// <summary>The power button is pressed: PWRBTN_STS is set, and with PWRBTN_EN and SCI_EN the SCI fires.</summary>
    public void PressPowerButton()
    {
        pm1Status |= PwrbtnSts;
        UpdateSci();
    }

    /// <summary>The power-management timer's 24-bit count now.</summary>
    public uint TimerValue => (uint)(Ticks() & ((1 << TimerBits) - 1));

    private long Ticks() => TicksAt(clock.Now);

    private static long TicksAt(long ns) => (long)((UInt128)(ulong)Math.Max(0, ns) * TimerHz / 1_000_000_000UL);

    private static long NsAt(long tick) => (long)(((UInt128)(ulong)tick * 1_000_000_000UL + TimerHz - 1) / TimerHz);

    // ---- configuration space ----

    protected override void ConfigWritten(int offset, int size)
    {
        if ((offset < PmBase + 4 && offset + size > PmBase) || (offset <= PmRegMisc && offset + size > PmRegMisc)) Remap();
    }

    /// <summary>Moves PM I/O space to where PMBA and PMIOSE say, refusing ports another device holds.</summary>
    private void Remap()
    {
        int want = (Config[PmRegMisc] & 1) != 0 ? (int)(Read32(PmBase) & 0xFFC0) : -1;
        if (want == mappedBase || io is null) return;
        if (mappedBase >= 0)
        {
            for (int p = mappedBase; p < mappedBase + PmIoSize; p++)
                if (ReferenceEquals(io.DeviceAt((ushort)p), this) && !IsFixedPort(p)) io.Unregister((ushort)p, 1);
            mappedBase = -1;
        }
        if (want < 0) return;
        for (int p = want; p < want + PmIoSize; p++)
        {
            IPortDevice? owner = io.DeviceAt((ushort)p);
            if (owner is not null && !ReferenceEquals(owner, this)) return; // a guest cannot move PM I/O over another device
        }
        io.Register((ushort)want, PmIoSize, this);
        mappedBase = want;
    }

    private static bool IsFixedPort(int p) => p is ApmControlPort or ApmStatusPort || (p >= QemuGpe0Port && p < QemuGpe0Port + 4);

    // ---- I/O ----

    public uint In(ushort port, int size)
    {
        uint v = 0;
        for (int i = 0; i < size; i++) v |= (uint)ReadByte(port + i) << (8 * i);
        return v;
    }

    public void Out(ushort port, int size, uint value)
    {
        for (int i = 0; i < size; i++) WriteByte(port + i, (byte)(value >> (8 * i)));
    }

    private byte ReadByte(int port)
    {
        if (port == ApmControlPort) return apmControl;
        if (port == ApmStatusPort) return apmStatus;
        if (port >= QemuGpe0Port && port < QemuGpe0Port + 4) return ReadGpe(port - QemuGpe0Port);
        if (mappedBase < 0 || port < mappedBase || port >= mappedBase + PmIoSize) return 0xFF;
        int off = port - mappedBase;
        switch (off)
        {
            case Pm1Status:
            case Pm1Status + 1:
                FoldTimerOverflow();
                return (byte)(pm1Status >> (8 * (off & 1)));
            case Pm1Enable:
            case Pm1Enable + 1:
                return (byte)(pm1Enable >> (8 * (off & 1)));
            case Pm1Control:
            case Pm1Control + 1:
                return (byte)(pm1Control >> (8 * (off & 1)));
            case >= PmTimer and < PmTimer + 4:
                return (byte)(TimerValue >> (8 * (off - PmTimer)));
            case >= GpStatus and < GpStatus + 4:
                return ReadGpe(off - GpStatus);
            case >= GpInput and < GpInput + 4:
                return 0; // GPIREG: the general-purpose inputs, all low
            default:
                return storage[off];
        }
    }

    private void WriteByte(int port, byte b)
    {
        if (port == ApmControlPort)
        {
            WriteApmControl(b);
            return;
        }
        if (port == ApmStatusPort)
        {
            apmStatus = b;
            return;
        }
        if (port >= QemuGpe0Port && port < QemuGpe0Port + 4)
        {
            WriteGpe(port - QemuGpe0Port, b);
            return;
        }
        if (mappedBase < 0 || port < mappedBase || port >= mappedBase + PmIoSize) return;
        int off = port - mappedBase;
        switch (off)
        {
            case Pm1Status:
            case Pm1Status + 1:
                // Write 1 to clear.
                FoldTimerOverflow();
                pm1Status &= (ushort)~((b << (8 * (off & 1))) & StatusBits);
                UpdateSci();
                break;
            case Pm1Enable:
            case Pm1Enable + 1:
            {
                int shift = 8 * (off & 1);
                ushort mask = (ushort)(0xFF << shift);
                pm1Enable = (ushort)((pm1Enable & ~mask) | ((b << shift) & mask & (TmrEn | GblEn | PwrbtnEn | RtcEn)));
                ArmOverflow();
                UpdateSci();
                break;
            }
            case Pm1Control:
                // SCI_EN and BM_RLD are stored; GBL_RLS would raise an SMI to the BIOS: there is none.
                pm1Control = (ushort)((pm1Control & 0xFF00) | (b & (SciEn | BmRld)));
                UpdateSci();
                break;
            case Pm1Control + 1:
            {
                ushort high = (ushort)(b << 8);
                pm1Control = (ushort)((pm1Control & 0x00FF) | (high & SlpTypMask));
                if ((high & SlpEn) != 0) Sleep((pm1Control & SlpTypMask) >> SlpTypShift);
                break;
            }
            case >= PmTimer and < PmTimer + 4:
            case >= GpInput and < GpInput + 4:
                break; // read-only
            case >= GpStatus and < GpStatus + 4:
                WriteGpe(off - GpStatus, b);
                break;
            default:
                storage[off] = b;
                break;
        }
    }

    private byte ReadGpe(int off) => off switch
    {
        0 => (byte)gpeStatus,
        1 => (byte)(gpeStatus >> 8),
        2 => (byte)gpeEnable,
        _ => (byte)(gpeEnable >> 8),
    };

    private void WriteGpe(int off, byte b)
    {
        switch (off)
        {
            case 0: gpeStatus &= (ushort)~b; break;
            case 1: gpeStatus &= (ushort)~(b << 8); break;
            case 2: gpeEnable = (ushort)((gpeEnable & 0xFF00) | b); break;
            default: gpeEnable = (ushort)((gpeEnable & 0x00FF) | (b << 8)); break;
        }
        UpdateSci();
    }

    private void WriteApmControl(byte b)
    {
        apmControl = b;
        // ACPI 3.0, 4.7.2.5: the OS hands ACPI_ENABLE to SMI_CMD and waits for SCI_EN; the SMI
        // handler would set it. With no SMM here, the device does what the handler would.
        if (b == AcpiEnable) pm1Control |= SciEn;
        else if (b == AcpiDisable) pm1Control &= unchecked((ushort)~SciEn);
        UpdateSci();
    }

    private void Sleep(int type)
    {
        if (type == SoftOffSleepType) PowerOffRequested?.Invoke();
    }

    // ---- the timer's overflow and the SCI ----

    /// <summary>Sets TMR_STS if bit 23 of the timer changed since last looked at.</summary>
    private void FoldTimerOverflow()
    {
        long half = Ticks() >> OverflowShift;
        if (half == overflowSeen) return;
        overflowSeen = half;
        pm1Status |= TmrSts;
    }

    /// <summary>With TMR_EN set, wakes at the next change of bit 23 to raise the SCI; nothing is scheduled otherwise.</summary>
    private void ArmOverflow()
    {
        if ((pm1Enable & TmrEn) == 0)
        {
            scheduler.Disarm(overflowTimer);
            return;
        }
        long next = ((Ticks() >> OverflowShift) + 1) << OverflowShift;
        scheduler.Arm(overflowTimer, NsAt(next));
    }

    private void OnOverflow(long due)
    {
        FoldTimerOverflow();
        UpdateSci();
        ArmOverflow();
    }

    private void UpdateSci()
    {
        bool level = (pm1Control & SciEn) != 0
                     && ((pm1Status & pm1Enable & EventBits) != 0 || (gpeStatus & gpeEnable) != 0);
        if (level == sciLevel) return;
        sciLevel = level;
        irqs.SetIrq(SciIrq, level);
    }
}
