using System;
using Emu.Memory;

namespace Emu.Devices.Pci;

/// <summary>
/// The Intel 82441FX PCI and memory controller (PMC) of the 440FX chipset, as function 00:00.0
/// (Intel 440FX PCIset datasheet, 82441FX register descriptions): identification 8086:1237 with
/// QEMU's subsystem IDs (SeaBIOS checks them to know it runs on QEMU's "pc" board), the
/// programmable attribute map registers PAM0-PAM6 (59h-5Fh) that route C0000h-FFFFFh between
/// the ROM on the bus and shadow RAM, the DRAM row boundary registers (60h-67h) and the SMRAM
/// register (72h), kept as storage: no SMM exists on this board.
/// </summary>
/// <remarks>
/// PAM nibble bits: 0 = RE (reads from DRAM), 1 = WE (writes to DRAM), 2 = CE (cacheable, stored
/// only). PAM0 bits 7:4 cover F0000h-FFFFFh as one 64 KiB segment; PAM1-PAM6 each cover two
/// 16 KiB segments, low nibble first, from C0000h up to EFFFFh. A PAM write re-routes
/// <see cref="PhysicalMemory"/> at once, which raises its LayoutChanged event.
/// </remarks>
public sealed class I440fx : PciFunction
{
    public const int Pam0 = 0x59, Drb0 = 0x60, Smram = 0x72;
    public const ushort QemuSubsystemVendor = 0x1AF4, QemuSubsystem = 0x1100;

    // SMRAM register bits.
    public const byte SmramDOpen = 0x40, SmramDCls = 0x20, SmramDLck = 0x10, SmramGSmrame = 0x08, SmramCBaseSeg = 0x02;

    private const int RoutedSegments = 13;
    private readonly PhysicalMemory memory;

    public I440fx(PhysicalMemory memory) : base("i440FX host bridge", 0x8086, 0x1237, revision: 0x02, classCode: 0x06_00_00)
    {
        this.memory = memory ?? throw new ArgumentNullException(nameof(memory));
        Write16(SubsystemVendorId, QemuSubsystemVendor);
        Write16(SubsystemVendorId + 2, QemuSubsystem);
        Write16(Status, 0x0280); // fast back-to-back capable, medium DEVSEL timing
        // Configuration registers the board does not act on: plain storage.
        for (int o = 0x50; o <= 0x58; o++) WriteMask[o] = 0xFF;
        WriteMask[Pam0] = 0x70;                                 // bits 3:0 reserved
        for (int o = Pam0 + 1; o <= Pam0 + 6; o++) WriteMask[o] = 0x77;
        for (int o = Drb0; o <= 0x71; o++) WriteMask[o] = 0xFF; // DRB0-7, FDHC, MTT, CLT
        for (int o = 0x90; o <= 0x93; o++) WriteMask[o] = 0xFF; // ERRCMD, ERRSTS, TRC
        Reset();
    }

    /// <summary>
    /// Power-on values: every PAM segment routed to the bus (the ROM at E0000h-FFFFFh answers
    /// reads, writes are dropped), SMRAM closed, the DRAM rows describing all of RAM as row 0.
    /// </summary>
    public void Reset()
    {
        for (int o = Pam0; o <= Pam0 + 6; o++) Config[o] = 0;
        Config[Smram] = SmramCBaseSeg;
        // DRB registers count 8 MiB units cumulatively; all of RAM sits in the first row.
        uint units = Math.Min(255u, (memory.RamSize + (8u << 20) - 1) >> 23);
        for (int i = 0; i < 8; i++) Config[Drb0 + i] = (byte)units;
        ApplyPam();
    }

    /// <summary>
    /// Routes all of C0000h-FFFFFh to RAM for reads and writes (PAM 33h everywhere), the state a
    /// firmware leaves behind before it write-protects: for a board that starts the operating
    /// system without a BIOS and puts its tables (the ACPI RSDP) in RAM below 1 MiB.
    /// </summary>
    public void ShadowAllAsRam()
    {
        Config[Pam0] = 0x30;
        for (int o = Pam0 + 1; o <= Pam0 + 6; o++) Config[o] = 0x33;
        ApplyPam();
    }

    /// <summary>The segment's PAM attribute nibble (bit 0 RE, bit 1 WE) as programmed now.</summary>
    public int PamAttributes(uint address)
    {
        if (address >= 0xF_0000) return Config[Pam0] >> 4;
        if (address < 0xC_0000) throw new ArgumentOutOfRangeException(nameof(address));
        int segment = (int)((address - 0xC_0000) >> 14);
        byte reg = Config[Pam0 + 1 + segment / 2];
        return (segment & 1) == 0 ? reg & 0xF : reg >> 4;
    }

    public override void WriteConfig(int offset, int size, uint value)
    {
        byte smramBefore = Config[Smram];
        base.WriteConfig(offset, size, value);
        int at = Smram - offset;
        if (at >= 0 && at < size) WriteSmram(smramBefore, (byte)(value >> (8 * at)));
    }

    protected override void ConfigWritten(int offset, int size)
    {
        if (offset <= Pam0 + 6 && offset + size > Pam0) ApplyPam();
    }

    /// <summary>
    /// SMRAM (72h): D_OPEN, D_CLS, D_LCK and G_SMRAME are stored; C_BASE_SEG reads 010b (A0000h).
    /// Once D_LCK is set only D_CLS stays writable, D_OPEN reads 0, until reset.
    /// </summary>
    private void WriteSmram(byte before, byte value)
    {
        byte now;
        if ((before & SmramDLck) != 0)
        {
            now = (byte)((before & ~SmramDCls) | (value & SmramDCls));
        }
        else
        {
            now = (byte)((value & (SmramDOpen | SmramDCls | SmramDLck | SmramGSmrame)) | SmramCBaseSeg);
            if ((now & SmramDLck) != 0) now &= unchecked((byte)~SmramDOpen);
        }
        Config[Smram] = now;
    }

    private void ApplyPam()
    {
        // F0000h-FFFFFh: PAM0 high nibble, one 64 KiB segment.
        int f = Config[Pam0] >> 4;
        memory.SetShadow(0xF_0000, 0x1_0000, readRam: (f & 1) != 0, writeRam: (f & 2) != 0);
        // C0000h-EFFFFh: twelve 16 KiB segments, two per register, low nibble first.
        for (int s = 0; s < RoutedSegments - 1; s++)
        {
            byte reg = Config[Pam0 + 1 + s / 2];
            int a = (s & 1) == 0 ? reg & 0xF : reg >> 4;
            memory.SetShadow(0xC_0000 + ((uint)s << 14), 0x4000, readRam: (a & 1) != 0, writeRam: (a & 2) != 0);
        }
    }
}
