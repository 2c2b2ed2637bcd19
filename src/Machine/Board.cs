using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Threading;
using Emu.Devices.Chipset;
using Emu.Devices.Debug;
using Emu.Devices.Firmware;
using Emu.Devices.Input;
using Emu.Devices.Pci;
using Emu.Devices.Platform;
using Emu.Devices.Serial;
using Emu.Devices.Storage;
using Emu.Devices.Video;
using Emu.Machine.Boot;
using Emu.Machine.Lockstep;
using Emu.Memory;
using Emu.X86;

namespace Emu.Machine;

/// <summary>How a run ended.</summary>
public enum RunOutcome
{
    /// <summary>The guest wrote to the debug-exit port.</summary>
    GuestExit,
    Halted,
    GuestException,
    Unimplemented,
    InstructionLimit,
    Shutdown,
    /// <summary>The host asked the run to stop (Ctrl-C).</summary>
    Interrupted,
    /// <summary>The guest powered the machine off (ACPI S5).</summary>
    PowerOff,
    /// <summary>The guest reset the machine (8042, port 92h or CF9h); like QEMU's -no-reboot, the run ends.</summary>
    Reset,
    /// <summary>Lockstep found the engine and the interpreter disagreeing (see <see cref="Board.Lockstep"/>).</summary>
    Divergence,
}

/// <summary>The end of a run: the process exit status and, unless the guest chose to exit, what happened.</summary>
/// <param name="Message">One line for the user; null when the guest exited through the debug-exit port.</param>
/// <param name="Details">More lines (the registers), or null.</param>
public sealed record RunResult(RunOutcome Outcome, int ExitStatus, string? Message, string? Details, long Instructions)
{
    /// <summary>The value the guest wrote to the debug-exit port, when it did.</summary>
    public uint? GuestExitValue { get; init; }
}

/// <summary>What a board is built with beyond RAM and the engine.</summary>
public sealed record BoardOptions
{
    /// <summary>Derive the virtual clock from retired instructions (see <see cref="VirtualClock"/>).</summary>
    public bool Deterministic { get; init; }

    /// <summary>Where COM1's output goes; null: the console output.</summary>
    public Stream? SerialOutput { get; init; }

    /// <summary>Primary master and slave disks, and the CD-ROM on the secondary master (QEMU's -hda, -hdb, -cdrom).</summary>
    public DiskImage? Hda { get; init; }
    public DiskImage? Hdb { get; init; }
    public DiskImage? Cdrom { get; init; }
}

/// <summary>
/// The board: a PC of the i440FX generation. Guest RAM, the MMU, the I/O space, the CPU and the
/// devices (PIC pair, PIT, RTC/CMOS, UARTs, 8042, PCI), wired together around one virtual
/// clock, plus the boot protocols that start a guest on it. Only the board sees both the CPU
/// and the devices: a device reports what concerns the CPU (an interrupt, the run must end)
/// through the interrupt line or a callback wired here.
/// </summary>
public sealed class Board : IDisposable
{
    public const uint DefaultRamMiB = 128;
    public const uint MinRamMiB = 2;
    /// <summary>Leaves the top 512 MiB of the 4 GiB space for ROM and device windows.</summary>
    public const uint MaxRamMiB = 3584;

    private volatile bool interruptRequested;
    private volatile bool powerOffRequested;
    private volatile bool quitRequested;
    private volatile bool terminateRequested;
    private bool bootedThroughBios;
    private volatile bool resetRequested;
    private bool running;
    private readonly AutoResetEvent wake = new(false);
    private readonly Stream serialOutput;
    private bool serialDirty;

    public PhysicalMemory Physical { get; }
    public Mmu Mmu { get; }
    public IoSpace Io { get; }
    public Cpu Cpu { get; }
    public PcMemoryMap MemoryMap { get; }
    public DebugConsole DebugConsole { get; }
    public DebugExit DebugExit { get; }

    public VirtualClock Clock { get; }
    public Scheduler Scheduler { get; }
    public InterruptLine InterruptLine { get; }
    public Pic8259 Pic { get; }
    public Pit8254 Pit { get; }
    public SystemControlPort SystemControl { get; }
    public Rtc146818 Rtc { get; }
    public Uart16550 Com1 { get; }
    public Uart16550 Com2 { get; }
    public I8042 Keyboard { get; }
    public PciBus Pci { get; }
    public I440fx NorthBridge { get; }
    public Piix3Isa IsaBridge { get; }
    public Piix3Ide Ide { get; }
    public Piix4Pm PowerManagement { get; }
    public FwCfg FwCfg { get; }
    public VgaAdapter Vga { get; }

    /// <summary>
    /// Whether host input can arrive (the command line's console): an idle guest with no timer
    /// armed then waits for it instead of ending the run as halted.
    /// </summary>
    public bool InputAttached { get; set; }

    /// <summary>The lockstep checker, once <see cref="StartLockstep"/> has started it.</summary>
    public LockstepRunner? Lockstep { get; private set; }

    /// <param name="ramMiB">Guest RAM in MiB, from <see cref="MinRamMiB"/> to <see cref="MaxRamMiB"/>.</param>
    /// <param name="consoleOutput">Where the bytes the guest writes to port 0xE9 go.</param>
    /// <param name="engine">
    /// The execution engine (for example a <c>TranslatorEngine</c>); null for the interpreter.
    /// The board owns it and disposes it with itself.
    /// </param>
    /// <param name="options">Clock, serial output and drives; null: the defaults (real-time clock, no drives).</param>
    public Board(uint ramMiB, Stream consoleOutput, IExecutionEngine? engine = null, BoardOptions? options = null)
    {
        options ??= new BoardOptions();
        bool deterministic = options.Deterministic;
        if (ramMiB < MinRamMiB || ramMiB > MaxRamMiB)
            throw new ArgumentOutOfRangeException(nameof(ramMiB), $"guest RAM must be {MinRamMiB}-{MaxRamMiB} MiB");
        uint ramBytes = ramMiB << 20;
        Physical = new PhysicalMemory(ramBytes);
        Mmu = new Mmu(Physical);
        Io = new IoSpace();
        Cpu = new Cpu(Mmu, Io) { Engine = engine };
        MemoryMap = new PcMemoryMap(ramBytes);

        DebugConsole = new DebugConsole(consoleOutput);
        DebugConsole.Attach(Io);
        // QEMU exits at once on the write: the instructions after the OUT must not run.
        DebugExit = new DebugExit(_ => StopForDevice());
        DebugExit.Attach(Io);

        Clock = new VirtualClock(Cpu, deterministic);
        Cpu.TscSource = () => (ulong)Clock.Now; // a 1 GHz TSC on the virtual clock
        Scheduler = new Scheduler(Clock);
        // A device arming a timer earlier than the slice's end shortens the slice.
        // (Not in lockstep, whose steps are one block each anyway: a stop there would be a step
        // that ends differently on the shadow, which has no timers.)
        Scheduler.DeadlineChanged += () => { if (running && Lockstep is null) Cpu.RequestStop(StopReason.Requested); };
        InterruptLine = new InterruptLine();
        Cpu.Line = InterruptLine;
        Pic = new Pic8259(InterruptLine);
        Pic.Attach(Io);
        Pit = new Pit8254(Scheduler, Pic);
        Pit.Attach(Io);
        SystemControl = new SystemControlPort(Pit, Clock);
        SystemControl.Attach(Io);
        Rtc = new Rtc146818(Scheduler, Pic, deterministic ? new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero) : DateTimeOffset.UtcNow);
        Rtc.Attach(Io);
        WriteCmosMemorySize(ramBytes);
        this.serialOutput = options.SerialOutput ?? consoleOutput;
        Com1 = new Uart16550(0x3F8, 4, Pic, Scheduler, SerialTransmit);
        Com1.Attach(Io);
        Com1.InputQueued += () => wake.Set();
        Com2 = new Uart16550(0x2F8, 3, Pic, Scheduler, _ => { });
        Com2.Attach(Io);
        Keyboard = new I8042(Pic, Mmu, RequestReset);
        Keyboard.Attach(Io);
        new SystemControlPortA(Mmu, RequestReset).Attach(Io);
        new PostCodePort().Attach(Io);
        var fpuErrors = new FpuErrorLatch(Pic);
        fpuErrors.Attach(Io);
        Cpu.FpuErrorPins = fpuErrors;
        Pci = new PciBus(RequestReset);
        Pci.Attach(Io);
        // QEMU's "pc" layout, which SeaBIOS knows: 00:00.0 host bridge, 00:01.0 ISA bridge,
        // 00:01.1 IDE, 00:01.3 power management (ACPI), and an ISA VGA.
        NorthBridge = new I440fx(Physical);
        Pci.Add(0, 0, NorthBridge);
        IsaBridge = new Piix3Isa(Pic);
        Pci.Add(1, 0, IsaBridge);
        var primary = IdeChannel.Primary(Pic, options.Hda is null ? null : new AtaDisk(options.Hda, serial: "EMUHD0"),
            options.Hdb is null ? null : new AtaDisk(options.Hdb, serial: "EMUHD1"));
        var secondary = IdeChannel.Secondary(Pic, options.Cdrom is null ? null : new AtapiCdrom(options.Cdrom, serial: "EMUCD0"), null);
        primary.Attach(Io);
        secondary.Attach(Io);
        Ide = new Piix3Ide(primary, secondary, Io);
        Pci.Add(Piix3Ide.PciDevice, Piix3Ide.PciFunctionNumber, Ide);
        PowerManagement = new Piix4Pm(Scheduler, Pic, com1: true, com2: true, lpt: false);
        PowerManagement.Attach(Io);
        PowerManagement.PowerOffRequested += RequestPowerOff;
        Pci.Add(1, 3, PowerManagement);
        FwCfg = new FwCfg(Physical);
        FwCfg.Attach(Io);
        Vga = new VgaAdapter(16);
        Vga.Attach(Io);
        Vga.Map(Physical);
        // Blocks are cached by physical address: a shadow-RAM switch (PAM) changes what the
        // code at an address is, so every decoded block goes, and the running one ends here.
        Physical.LayoutChanged += (_, _) =>
        {
            Cpu.Blocks.Flush();
            if (Cpu.CurrentBlock is not null && Cpu.BlockExit == BlockExitKind.None) Cpu.BlockExit = BlockExitKind.ContinueAfter;
        };
    }

    /// <summary>
    /// What firmware would have done before an operating system starts, for the boot paths
    /// that run no BIOS: shadow RAM everywhere in C0000h-FFFFFh, the PIIX4's ACPI registers at
    /// B000h, the PCI interrupt routing and the IDE channels enabled as SeaBIOS leaves them, a
    /// VGA text screen, and ACPI tables in the F segment (so the guest can power off).
    /// </summary>
    private uint PrepareWithoutBios()
    {
        NorthBridge.ShadowAllAsRam();
        PowerManagement.WriteConfig(Piix4Pm.PmBase, 4, 0xB001);
        PowerManagement.WriteConfig(Piix4Pm.PmRegMisc, 1, 0x01);
        PowerManagement.WriteConfig(PciFunction.InterruptLine, 1, Piix4Pm.SciIrq);
        IsaBridge.WriteConfig(Piix3Isa.PirqRouteA, 4, 0x0B0B_0A0A);
        Io.Out(0x4D0, 1, 0x00);
        Io.Out(0x4D1, 1, 0x0C);
        Ide.EnableChannelsAsFirmwareWould();
        Vga.SetMode3Registers();
        AcpiTables acpi = AcpiTables.Build(rsdpAddress: 0xF_0000, tablesAddress: 0xF_0040);
        acpi.WriteTo(Physical);
        return acpi.RsdpAddress;
    }

    private void SerialTransmit(byte b)
    {
        serialOutput.WriteByte(b);
        serialDirty = true;
        serialBytes++;
    }

    private long serialBytes;
    private bool headlessChecked;
    private long pagingSince = -1; // guest time at which paging was first seen on

    /// <summary>
    /// Guest time with paging on (an operating system running) after which a guest that has
    /// written nothing to COM1 or port 0xE9 gets <see cref="Notice"/> once. Counted from paging,
    /// not from the start: a BIOS and a boot loader loading a kernel through the disk's PIO can
    /// take longer than this on a busy host, and Linux sets up its serial console within about
    /// a second of turning paging on.
    /// </summary>
    public long HeadlessNoticeAfterNs { get; set; } = 10_000_000_000;

    /// <summary>Guest time after which the notice comes whether or not paging is on (DOS, boot loaders).</summary>
    public long HeadlessNoticeWithoutPagingAfterNs { get; set; } = 60_000_000_000;

    /// <summary>
    /// One-line notices for the user during the run (the command-line program prints them on
    /// stderr): for now, that the guest writes only to the VGA screen.
    /// </summary>
    public Action<string>? Notice { get; set; }

    /// <summary>
    /// Once, after <see cref="HeadlessNoticeAfterNs"/> of guest time with paging on (or
    /// <see cref="HeadlessNoticeWithoutPagingAfterNs"/> in all): a guest that has written
    /// nothing to the serial port or the debug console but has something on the screen is
    /// talking to a screen nobody sees; say where its console went.
    /// </summary>
    private void WatchHeadless(long now)
    {
        if (pagingSince < 0 && (Cpu.Cr0 & Cr0Bits.PG) != 0) pagingSince = now;
        if ((pagingSince >= 0 && now - pagingSince >= HeadlessNoticeAfterNs) || now >= HeadlessNoticeWithoutPagingAfterNs) CheckHeadless(now);
    }

    private void CheckHeadless(long now)
    {
        headlessChecked = true;
        if (serialBytes != 0 || DebugConsole.BytesWritten != 0 || Notice is null) return;
        if (Vga.IsTextMode && string.IsNullOrWhiteSpace(Vga.ScreenDump())) return;
        Notice($"in {now / 1_000_000_000} s the guest has written nothing to the serial port; its console is the VGA screen, "
            + "which emu cannot show yet. For Linux add --append 'console=ttyS0'; --screen-dump FILE writes the screen at exit");
    }

    /// <summary>
    /// The CMOS fields a BIOS and old kernels read for the memory size: base memory (15h-16h,
    /// KiB), extended memory 1-64 MiB (17h-18h and 30h-31h, KiB), and memory above 16 MiB in
    /// 64 KiB units (34h-35h), as QEMU's board fills them.
    /// </summary>
    private void WriteCmosMemorySize(uint ramBytes)
    {
        Rtc[0x15] = 640 & 0xFF;
        Rtc[0x16] = 640 >> 8;
        uint extKiB = Math.Min((ramBytes - 0x10_0000) >> 10, 0xFC00);
        Rtc[0x17] = Rtc[0x30] = (byte)extKiB;
        Rtc[0x18] = Rtc[0x31] = (byte)(extKiB >> 8);
        uint above16 = ramBytes > 0x100_0000 ? Math.Min((ramBytes - 0x100_0000) >> 16, 0xFFFF) : 0;
        Rtc[0x34] = (byte)above16;
        Rtc[0x35] = (byte)(above16 >> 8);
    }

    /// <summary>The guest pulsed the reset line: the run ends after this instruction (QEMU's -no-reboot).</summary>
    private void RequestReset()
    {
        resetRequested = true;
        StopForDevice();
    }

    /// <summary>The guest entered ACPI S5: the run ends after this instruction, with status 0.</summary>
    public void RequestPowerOff()
    {
        powerOffRequested = true;
        StopForDevice();
    }

    /// <summary>
    /// Loads a Multiboot kernel and puts the CPU in the state the Multiboot specification
    /// (3.2) gives the kernel: 32-bit protected mode with flat 4 GiB segments, paging off,
    /// A20 on, interrupts off, EAX = 0x2BADB002 and EBX = the information structure.
    /// </summary>
    public MultibootEntry BootMultiboot(ReadOnlySpan<byte> image, string commandLine)
    {
        MultibootEntry e = MultibootLoader.Load(image, Physical, MemoryMap, commandLine);
        PrepareWithoutBios();
        Cpu.Reset();
        Mmu.A20Enabled = true;
        // The BIOS has enabled caching before any loader runs (CD and NW clear).
        Cpu.Cr0 = Cr0Bits.ET;
        Cpu.Gdtr = new TableRegister { Base = e.GdtBase, Limit = e.GdtLimit };
        Cpu.EnterFlatProtectedMode();
        Cpu.SetEflags(Flags.Reserved1); // IF = 0, VM = 0; the rest of EFLAGS is the spec's "undefined", here clear
        for (int r = 0; r < 8; r++) Cpu.Gpr[r] = 0;
        Cpu.Eax = MultibootLoader.BootloaderMagic;
        Cpu.Ebx = e.InfoAddress;
        Cpu.Eip = e.Entry;
        Cpu.Blocks.Flush();
        return e;
    }

    /// <summary>
    /// Loads a Linux bzImage (and an initrd) through the 32-bit boot protocol and puts the CPU
    /// at the kernel's 32-bit entry as the protocol asks: flat protected mode with __BOOT_CS
    /// (10h) and __BOOT_DS (18h), paging off, interrupts off, ESI = the zero page, EBP = EDI =
    /// EBX = 0.
    /// </summary>
    public LinuxEntry BootLinux(ReadOnlySpan<byte> kernel, ReadOnlySpan<byte> initrd, string commandLine)
    {
        uint rsdp = PrepareWithoutBios();
        LinuxEntry e = LinuxLoader.Load(kernel, initrd, commandLine, Physical, MemoryMap.Regions, MemoryMap.RamSize, rsdp);
        Cpu.Reset();
        Mmu.A20Enabled = true;
        Cpu.Cr0 = Cr0Bits.ET;
        Cpu.Gdtr = new TableRegister { Base = e.GdtBase, Limit = e.GdtLimit };
        Cpu.EnterFlatProtectedMode(0x10, 0x18);
        Cpu.SetEflags(Flags.Reserved1);
        for (int r = 0; r < 8; r++) Cpu.Gpr[r] = 0;
        Cpu.Esi = e.BootParams;
        Cpu.Esp = LinuxLoader.BootParamsAddress; // the protocol sets no stack; the kernel makes its own at once
        Cpu.Eip = e.Entry;
        Cpu.Blocks.Flush();
        return e;
    }

    /// <summary>
    /// Prepares a BIOS boot, as a PC powers on: the BIOS image at the top of the 4 GiB space
    /// (its last 128 KiB also at E0000h-FFFFFh, behind the i440FX's shadow-RAM control), the
    /// fw_cfg items SeaBIOS reads (the E820 map, the boot order, the VGA BIOS), the CMOS boot
    /// flags, and the CPU at its reset vector.
    /// </summary>
    /// <param name="boot">'c' for the hard disk first, 'd' for the CD-ROM.</param>
    public void BootBios(byte[] bios, byte[]? vgaBios, char boot)
    {
        bootedThroughBios = true;
        if (bios.Length == 0 || bios.Length % 0x1_0000 != 0 || bios.Length > 0x4_0000)
            throw new BootImageException($"a BIOS image is 64, 128, 192 or 256 KiB; this one is {bios.Length} bytes");
        Physical.MapRom((uint)(0x1_0000_0000UL - (ulong)bios.Length), bios, "BIOS");
        int low = Math.Min(bios.Length, 0x2_0000);
        Physical.MapRom((uint)(0x10_0000 - low), bios.AsSpan(bios.Length - low), "BIOS (low alias)");

        FwCfg.AddFile("etc/e820", FwCfg.E820((0, MemoryMap.RamSize, 1)));
        // OpenFirmware paths of the PIIX IDE drives, as SeaBIOS names them: channel, then unit.
        const string hd = "/pci@i0cf8/ide@1,1/drive@0/disk@0\n", cd = "/pci@i0cf8/ide@1,1/drive@1/disk@0\n";
        FwCfg.AddFile("bootorder", Encoding.ASCII.GetBytes(boot == 'd' ? cd + hd : hd + cd));
        FwCfg.AddFile("etc/boot-fail-wait", FwCfg.Le32(5000));
        if (vgaBios is not null) FwCfg.AddFile("vgaroms/vgabios-isavga.bin", vgaBios);
        // QEMU's CMOS boot flags: 3Dh low nibble first device, high nibble second (2 hard disk, 3 CD).
        Rtc[0x3D] = (byte)(boot == 'd' ? 0x23 : 0x32);
        Rtc[0x38] = 0;
        Rtc[0x5F] = 0; // CPUs - 1

        Cpu.Reset();
        Cpu.Blocks.Flush();
    }

    /// <summary>
    /// A device ends the run right after the instruction that reached it. Lockstep is told,
    /// so its shadow CPU stops after the same device access.
    /// </summary>
    private void StopForDevice()
    {
        Cpu.StopAfterCurrentInstruction(StopReason.Requested);
        Lockstep?.DeviceStoppedRun();
    }

    /// <summary>
    /// From now on, runs the guest in lockstep: the CPU on its engine and a shadow CPU on the
    /// interpreter (with a copy of RAM taken now), compared after every block; the run stops
    /// with <see cref="RunOutcome.Divergence"/> at the first difference. Call it after booting.
    /// </summary>
    /// <param name="engineName">The board's engine, as reports name it.</param>
    public LockstepRunner StartLockstep(string engineName = "translator")
    {
        if (Lockstep is not null) throw new InvalidOperationException("lockstep is already running");
        return Lockstep = new LockstepRunner(Cpu, engineName);
    }

    /// <summary>Asks a run in progress to stop at the next block boundary; safe from any thread (Ctrl-C).</summary>
    public void RequestInterrupt()
    {
        interruptRequested = true;
        Cpu.RequestStop(StopReason.Requested);
        wake.Set();
    }

    /// <summary>The user quit from the console (Ctrl-A x): the run ends with status 0; safe from any thread.</summary>
    public void RequestQuit()
    {
        quitRequested = true;
        RequestInterrupt();
    }

    /// <summary>
    /// The process was asked to end (SIGTERM): the run stops as for Ctrl-C, its output flushed
    /// and its screen dumped, and ends with status 143 as shells report SIGTERM; any thread.
    /// </summary>
    public void RequestTerminate()
    {
        terminateRequested = true;
        RequestInterrupt();
    }

    /// <summary>Wakes an idle guest's wait so the board looks at the host again (input ended); any thread.</summary>
    public void WakeIdle() => wake.Set();

    /// <summary>
    /// The longest slice the CPU runs between two looks at the timers and the host. The CPU
    /// forgets a stop asked before its run began, so a Ctrl-C during loading is seen here.
    /// </summary>
    private const long SliceInstructions = 1 << 20;

    /// <summary>An idle guest's timer nearer than this is waited for by running on (a host sleep would overshoot it).</summary>
    private const long IdleSpinNs = 20_000;

    /// <summary>
    /// An idle guest's timer at least this far away is waited for on the wake-up event (host
    /// input ends the wait), with a sleep that goes <see cref="IdleBatch"/> past it (see
    /// <see cref="Idle"/>); a nearer one with one precise host sleep, deaf to host input.
    /// </summary>
    private const long IdleBatchMinNs = 1_000_000;

    /// <summary>How far past an idle guest's next timer its host sleep goes at first: the ticks of that time then come back to back.</summary>
    public const long IdleBatchNs = 16_000_000;

    /// <summary>How far past it the sleep goes at most, for a guest that stays quiet (see <see cref="IdleBatch"/>).</summary>
    public const long IdleBatchMaxNs = 48_000_000;

    /// <summary>
    /// A guest that retired fewer instructions than this per millisecond of its time since the
    /// last idle sleep is quiet: Linux's idle tick is about 1,000 per millisecond, a guest at
    /// work retires hundreds of thousands.
    /// </summary>
    public const long DefaultQuietInstructionsPerMs = 5_000;

    /// <summary>
    /// <see cref="DefaultQuietInstructionsPerMs"/> unless set. A guest at work can only count
    /// as quiet on a host slower than that many instructions per millisecond; the tests' Debug
    /// build of the interpreter, under the load of a parallel test run, came close.
    /// </summary>
    public long QuietInstructionsPerMs { get; set; } = DefaultQuietInstructionsPerMs;

    /// <summary>
    /// How far past an idle guest's next timer the next host sleep goes: <see cref="IdleBatchNs"/>,
    /// doubled at each sleep that ends a quiet stretch up to <see cref="IdleBatchMaxNs"/>, and
    /// back to the start when the guest is busy or host input comes.
    /// </summary>
    public long IdleBatch { get; private set; } = IdleBatchNs;

    private long retiredAtIdleSleep, clockAtIdleSleep;

    /// <summary>The host's nanoseconds per guest instruction, measured (real-time clock only), to size slices.</summary>
    private double hostNsPerInstruction = 5;

    /// <summary>Host sleeps and waits of an idle guest (<c>emu run --stats</c>): with several periodic ticks served by one wake-up, fewer than its ticks.</summary>
    public long IdleWakeups;

    /// <summary>Host time the runs spent waiting for an idle guest's next timer or input (<c>emu run --stats</c>).</summary>
    public TimeSpan HostIdle => TimeSpan.FromTicks(idleTicks * TimeSpan.TicksPerSecond / System.Diagnostics.Stopwatch.Frequency);

    /// <summary>Host time spent in <see cref="Run"/> so far, the run in progress included.</summary>
    public TimeSpan HostRunTime => TimeSpan.FromTicks((runTicks + (running ? System.Diagnostics.Stopwatch.GetTimestamp() - runStarted : 0))
        * TimeSpan.TicksPerSecond / System.Diagnostics.Stopwatch.Frequency);

    private long idleTicks, runTicks, runStarted;

    /// <summary>Runs the guest until it exits, stops or fails; <paramref name="maxInstructions"/> 0 means no limit.</summary>
    public RunResult Run(long maxInstructions = 0)
    {
        runStarted = System.Diagnostics.Stopwatch.GetTimestamp();
        Clock.RunsOnThisThread();
        StopReason reason;
        long remaining = maxInstructions > 0 ? maxInstructions : long.MaxValue;
        running = true;
        try
        {
            while (true)
            {
                if (interruptRequested || powerOffRequested || resetRequested || DebugExit.Value is not null)
                {
                    reason = StopReason.Requested;
                    break;
                }
                if (Com1.HasQueuedInput) Com1.PumpInput();
                long now = Clock.Now;
                if (!headlessChecked) WatchHeadless(now);
                Scheduler.RunDue(now);
                long deadline = Scheduler.NextDeadline;
                long budget = Math.Min(SliceFor(deadline - now), remaining);
                long before = Cpu.InstructionCount;
                long started = System.Diagnostics.Stopwatch.GetTimestamp();
                Clock.GuestRunning = true;
                reason = Lockstep is { } lockstep ? lockstep.Step() : Cpu.Run(budget);
                Clock.GuestRunning = false;
                long retired = Cpu.InstructionCount - before;
                if (maxInstructions > 0) remaining -= retired;
                if (!Clock.Deterministic && retired > 10_000)
                {
                    double ns = (System.Diagnostics.Stopwatch.GetTimestamp() - started) * (1e9 / System.Diagnostics.Stopwatch.Frequency) / retired;
                    hostNsPerInstruction = 0.8 * hostNsPerInstruction + 0.2 * Math.Clamp(ns, 0.5, 1000);
                }
                FlushSerial();
                if (Lockstep?.Divergence is not null && !interruptRequested) return DescribeDivergence(Lockstep.Divergence);
                if (remaining <= 0 && reason is StopReason.BudgetExhausted or StopReason.Requested or StopReason.Halted)
                {
                    reason = StopReason.BudgetExhausted;
                    break;
                }
                if (reason == StopReason.Halted)
                {
                    long idleFrom = System.Diagnostics.Stopwatch.GetTimestamp();
                    bool more = Idle();
                    idleTicks += System.Diagnostics.Stopwatch.GetTimestamp() - idleFrom;
                    if (!more) break;
                    continue;
                }
                if (reason is StopReason.BudgetExhausted or StopReason.Requested) continue;
                break;
            }
        }
        finally
        {
            running = false;
            runTicks += System.Diagnostics.Stopwatch.GetTimestamp() - runStarted;
            DebugConsole.Flush();
            FlushSerial();
        }
        return Describe(reason, maxInstructions);
    }

    /// <summary>Instructions to run before the next timer is due.</summary>
    private long SliceFor(long ns)
    {
        if (ns <= 0) return 1;
        double perInstruction = Clock.Deterministic ? VirtualClock.NsPerInstruction : hostNsPerInstruction;
        return (long)Math.Clamp(ns / perInstruction, 1, SliceInstructions);
    }

    /// <summary>
    /// The CPU halted. With EFLAGS.IF clear nothing but an NMI can wake it: the run ends.
    /// Otherwise the guest sleeps until its next timer or host input: the deterministic clock
    /// jumps there, the real-time clock waits for it. False when nothing can ever wake it.
    /// </summary>
    private bool Idle()
    {
        if ((Cpu.Eflags & Flags.IF) == 0 && !InterruptLine.NmiPending) return false;
        if (InterruptLine.Any) return true;
        long deadline = Scheduler.NextDeadline;
        if (deadline == Scheduler.Never && !InputAttached && !Com1.HasQueuedInput) return false;
        if (Com1.HasQueuedInput) return true;
        if (Clock.Deterministic)
        {
            if (deadline == Scheduler.Never) wake.WaitOne(); // only host input (or Ctrl-C) can come
            else Clock.SkipTo(deadline);
            return true;
        }
        long wait = deadline == Scheduler.Never ? -1 : Math.Max(0, deadline - Clock.Now);
        // Time the guest's clock owes since an earlier wait (below) is taken before any sleep;
        // when it was not enough, the rest is waited for as a long wait, so a wake-up still
        // serves several ticks.
        bool owed = false;
        if (wait > 0 && Clock.Lag > 0)
        {
            wait -= Clock.CatchUp(wait);
            if (wait == 0) return true;
            owed = true;
        }
        if (wait == -1 || wait > IdleSpinNs || owed) IdleWakeups++; // each branch below that sleeps or waits
        if (wait == -1) wake.WaitOne();
        else if (wait >= IdleBatchMinNs || owed)
        {
            // Nothing is due soon: a guest idle between its periodic ticks (250 a second for
            // Debian's kernel, which never stops them). Each wake-up of the host thread costs
            // far more than the guest's few thousand instructions per tick, which run from cold
            // caches after a sleep. So one wake-up serves several ticks: the sleep goes
            // IdleBatch past the timer (host input still ends it at once), the guest's clock
            // resumes at the timer, and the ticks after it come without sleeping, on the time
            // the clock owes (VirtualClock.Lag), until it is back in step. The guest sees every
            // tick, evenly spaced on its own clock, at most VirtualClock.MaxLagNs late. Each
            // wake-up costs the same however many ticks it serves, so a guest that stays quiet
            // sleeps longer (IdleBatch); one at work, or host input, brings it back.
            long retired = Cpu.InstructionCount - retiredAtIdleSleep;
            long elapsed = Clock.Now - clockAtIdleSleep;
            IdleBatch = (double)retired * 1_000_000 < QuietInstructionsPerMs * (double)elapsed ? Math.Min(IdleBatch * 2, IdleBatchMaxNs) : IdleBatchNs;
            if (wake.WaitOne(TimeSpan.FromMilliseconds((wait + IdleBatch) / 1_000_000))) IdleBatch = IdleBatchNs;
            Clock.HoldAt(deadline);
            retiredAtIdleSleep = Cpu.InstructionCount;
            clockAtIdleSleep = Clock.Now;
        }
        // A shorter wait is one precise sleep (an event wait counts whole milliseconds); host
        // input waits for it.
        else if (wait > IdleSpinNs) HostSleep.Sleep(wait);
        return true;
    }

    private void FlushSerial()
    {
        if (!serialDirty) return;
        serialDirty = false;
        serialOutput.Flush();
    }

    /// <summary>
    /// When the BIOS gave up ("No bootable device." on the screen, as SeaBIOS says before it
    /// reboots): why each device failed, from its "Booting from ..." and "Boot failed: ..."
    /// lines; else null.
    /// </summary>
    private string? NothingBootable()
    {
        if (!bootedThroughBios) return null;
        string screen = Vga.ScreenDump();
        if (!screen.Contains("No bootable device", StringComparison.Ordinal)) return null;
        var reasons = new List<string>();
        string device = "?";
        foreach (string raw in screen.Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith("Booting from ", StringComparison.Ordinal)) device = line["Booting from ".Length..].TrimEnd('.');
            else if (line.StartsWith("Boot failed: ", StringComparison.Ordinal)) reasons.Add($"{device}: {line["Boot failed: ".Length..]}");
        }
        return reasons.Count > 0 ? string.Join("; ", reasons) : "No bootable device";
    }

    private RunResult Describe(StopReason reason, long maxInstructions)
    {
        long n = Cpu.InstructionCount;
        string at = $"{Cpu.Seg[SegReg.CS].Selector:X4}:{Cpu.Eip:X8}";
        switch (reason)
        {
            case StopReason.Requested when DebugExit.Value is uint v:
                return new RunResult(RunOutcome.GuestExit, Emu.Devices.Debug.DebugExit.ExitStatusFor(v), null, null, n) { GuestExitValue = v };
            case StopReason.Requested when quitRequested:
                return new RunResult(RunOutcome.Interrupted, ExitStatus.Success, "quit from the console (Ctrl-A x)", null, n);
            case StopReason.Requested when terminateRequested:
                return new RunResult(RunOutcome.Interrupted, ExitStatus.Terminated, $"terminated (SIGTERM) at {at}", null, n);
            case StopReason.Requested when interruptRequested:
                return new RunResult(RunOutcome.Interrupted, ExitStatus.Interrupted, $"interrupted by the user at {at}", Registers(), n);
            case StopReason.Requested when powerOffRequested:
                return new RunResult(RunOutcome.PowerOff, ExitStatus.Success, "the guest powered the machine off", null, n);
            case StopReason.Requested when resetRequested && NothingBootable() is string failures:
                return new RunResult(RunOutcome.Reset, ExitStatus.NothingToBoot, $"the BIOS found nothing to boot ({failures})", null, n);
            case StopReason.Requested when resetRequested:
                return new RunResult(RunOutcome.Reset, ExitStatus.Success, $"the guest reset the machine at {at}; the run ends there", null, n);
            case StopReason.Halted:
            case StopReason.HaltedForever:
                string why = (Cpu.Eflags & Flags.IF) == 0 ? "with interrupts disabled" : "with no timer armed and no input to wait for";
                return new RunResult(RunOutcome.Halted, ExitStatus.Halted,
                    $"the guest halted (HLT) {why}, so nothing can wake it; EIP after the HLT is {at}",
                    Registers(), n);
            case StopReason.UnhandledException when Cpu.LastFault is FaultInfo f:
                return new RunResult(RunOutcome.GuestException, ExitStatus.GuestException, DescribeFault(f), Registers(), n);
            case StopReason.Unimplemented:
                return new RunResult(RunOutcome.Unimplemented, ExitStatus.Unimplemented,
                    $"not implemented yet: {Cpu.LastLimitation}, at {at}: {Disassemble()}", Registers(), n);
            case StopReason.BudgetExhausted:
                return new RunResult(RunOutcome.InstructionLimit, ExitStatus.InstructionLimit,
                    $"reached the --max-instructions limit ({maxInstructions}) after {n} instructions, at {at}", Registers(), n);
            case StopReason.Shutdown:
            {
                string first = Cpu.LastFault is FaultInfo f
                    ? $"; the first exception was raised at {f.Cs:X4}:{f.Eip:X8}: {Cpu.DisassembleAt(f.Linear - f.Eip, f.Eip)}"
                    : "";
                return new RunResult(RunOutcome.Shutdown, ExitStatus.Shutdown,
                    $"the processor shut down ({Cpu.ShutdownCause ?? "triple fault"}){first}", Registers(), n);
            }
            default:
                throw new InvalidOperationException($"the CPU stopped for an unexpected reason ({reason}) at {at}");
        }
    }

    private RunResult DescribeDivergence(Divergence d) =>
        new(RunOutcome.Divergence, ExitStatus.Divergence, d.Summary, d.Details, Cpu.InstructionCount);

    private string DescribeFault(FaultInfo f)
    {
        string at = $"{f.Cs:X4}:{f.Eip:X8}";
        if (f.IsSoftwareInterrupt)
            return $"the guest executed INT {f.Vector:X2}h, and interrupt delivery is not implemented yet (return address {at})";
        string code = f.HasErrorCode ? $", error code 0x{f.ErrorCode:X}" : "";
        return $"unhandled guest exception {f.Name}{code} at {at}: {Disassemble()}";
    }

    private string Disassemble() => Cpu.DisassembleAt(Cpu.Seg[SegReg.CS].Base, Cpu.Eip);

    /// <summary>The general registers, EIP and EFLAGS, and the control registers, for a stop message.</summary>
    public string Registers() => FormatRegisters(Cpu);

    /// <summary>A CPU's general registers, EIP and EFLAGS, and control registers, in two lines.</summary>
    public static string FormatRegisters(Cpu c)
    {
        var s = new StringBuilder();
        s.Append($"EAX={c.Eax:X8} EBX={c.Ebx:X8} ECX={c.Ecx:X8} EDX={c.Edx:X8} ESI={c.Esi:X8} EDI={c.Edi:X8} EBP={c.Ebp:X8} ESP={c.Esp:X8}");
        s.Append('\n');
        s.Append($"EIP={c.Eip:X8} EFLAGS={c.GetEflags():X8} CS={c.Seg[SegReg.CS].Selector:X4} SS={c.Seg[SegReg.SS].Selector:X4} " +
                 $"DS={c.Seg[SegReg.DS].Selector:X4} ES={c.Seg[SegReg.ES].Selector:X4} CR0={c.Cr0:X8} CR2={c.Cr2:X8} CR3={c.Cr3:X8} " +
                 $"instructions={c.InstructionCount}");
        return s.ToString();
    }

    public void Dispose()
    {
        wake.Dispose();
        Lockstep?.Dispose();
        (Cpu.Engine as IDisposable)?.Dispose();
        Mmu.Dispose();
        Physical.Dispose();
    }
}
