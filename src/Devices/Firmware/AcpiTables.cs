using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Text;
using Emu.Devices.Pci;
using Emu.Memory;

namespace Emu.Devices.Firmware;

/// <summary>What the ACPI tables describe: where the PIIX4's registers are and how to enter S5.</summary>
public sealed record AcpiOptions
{
    /// <summary>PM I/O base (PMBA), where the board has put the PIIX4's PM registers. SeaBIOS uses B000h.</summary>
    public ushort PmBase { get; init; } = 0xB000;
    public ushort SciIrq { get; init; } = Piix4Pm.SciIrq;

    /// <summary>
    /// SMI_CMD: the port to which the OS writes <see cref="AcpiEnable"/> to switch to ACPI mode
    /// (B2h, the PIIX4's APM control port, which sets SCI_EN on this board). 0 would declare the
    /// machine always in ACPI mode: Linux then never sets SCI_EN, and the PIIX4 would send the
    /// power button and timer events nowhere.
    /// </summary>
    public ushort SmiCommand { get; init; } = Piix4Pm.ApmControlPort;
    public byte AcpiEnable { get; init; } = Piix4Pm.AcpiEnable;
    public byte AcpiDisable { get; init; } = Piix4Pm.AcpiDisable;

    /// <summary>The SLP_TYP value of \_S5, which the PM device must treat as soft off.</summary>
    public byte S5SleepType { get; init; } = Piix4Pm.SoftOffSleepType;

    /// <summary>Whether the DSDT declares the PCI root bridge \_SB.PCI0 (PNP0A03), so Linux finds PCI through ACPI.</summary>
    public bool PciRootBridge { get; init; } = true;

    /// <summary>The CMOS RAM index of the century, or 0 for none.</summary>
    public byte CenturyIndex { get; init; }
}

/// <summary>
/// ACPI tables for a board that starts Linux without a BIOS (ACPI 1.0b; every table of revision
/// 1): RSDP, RSDT, FADT, FACS and a hand-assembled DSDT holding \_S5 and the PCI root bridge.
/// No MADT: a uniprocessor with the 8259 pair needs none. The RSDP goes on a 16-byte boundary in
/// E0000h-FFFFFh, where Linux searches for it; the other tables sit together at one address,
/// 64-byte aligned for the FACS.
/// </summary>
public sealed class AcpiTables
{
    public const int RsdpLength = 20, HeaderLength = 36, FadtLength = 116, FacsLength = 64;
    public const uint BiosAreaStart = 0xE_0000, BiosAreaEnd = 0x10_0000;
    private const string OemId = "EMUPC ";

    private AcpiTables(uint rsdpAddress, byte[] rsdp, uint tablesAddress, byte[] tables, uint facs, uint dsdt, uint fadt, uint rsdt)
    {
        RsdpAddress = rsdpAddress;
        Rsdp = rsdp;
        TablesAddress = tablesAddress;
        Tables = tables;
        FacsAddress = facs;
        DsdtAddress = dsdt;
        FadtAddress = fadt;
        RsdtAddress = rsdt;
    }

    public uint RsdpAddress { get; }
    public byte[] Rsdp { get; }

    /// <summary>Where <see cref="Tables"/> goes: FACS, DSDT, FADT, RSDT, in that order.</summary>
    public uint TablesAddress { get; }
    public byte[] Tables { get; }
    public uint FacsAddress { get; }
    public uint DsdtAddress { get; }
    public uint FadtAddress { get; }
    public uint RsdtAddress { get; }

    /// <summary>Builds the tables for the given placement.</summary>
    public static AcpiTables Build(uint rsdpAddress, uint tablesAddress, AcpiOptions? options = null)
    {
        AcpiOptions o = options ?? new AcpiOptions();
        if ((rsdpAddress & 15) != 0 || rsdpAddress < BiosAreaStart || rsdpAddress > BiosAreaEnd - RsdpLength)
            throw new ArgumentException("the RSDP must sit on a 16-byte boundary in E0000h-FFFFFh", nameof(rsdpAddress));
        if ((tablesAddress & 63) != 0) throw new ArgumentException("the tables must start 64-byte aligned (the FACS)", nameof(tablesAddress));

        byte[] dsdt = Dsdt(o);
        uint facsAt = tablesAddress;
        uint dsdtAt = facsAt + FacsLength;
        uint fadtAt = Align4(dsdtAt + (uint)dsdt.Length);
        uint rsdtAt = Align4(fadtAt + FadtLength);
        const int rsdtLength = HeaderLength + 4;
        int total = (int)(rsdtAt + rsdtLength - tablesAddress);
        if ((ulong)tablesAddress + (uint)total > uint.MaxValue) throw new ArgumentException("the tables run past 4 GiB", nameof(tablesAddress));
        var tables = new byte[total];

        Facs().CopyTo(tables, 0);
        dsdt.CopyTo(tables, (int)(dsdtAt - tablesAddress));
        Fadt(o, facsAt, dsdtAt).CopyTo(tables, (int)(fadtAt - tablesAddress));
        Span<byte> rsdt = tables.AsSpan((int)(rsdtAt - tablesAddress), rsdtLength);
        BinaryPrimitives.WriteUInt32LittleEndian(rsdt[HeaderLength..], fadtAt);
        Header(rsdt, "RSDT");

        var rsdp = new byte[RsdpLength];
        Encoding.ASCII.GetBytes("RSD PTR ").CopyTo(rsdp, 0);
        Encoding.ASCII.GetBytes(OemId).CopyTo(rsdp, 9);
        rsdp[15] = 0; // revision 0: ACPI 1.0, RSDT only
        BinaryPrimitives.WriteUInt32LittleEndian(rsdp.AsSpan(16), rsdtAt);
        rsdp[8] = Checksum(rsdp.AsSpan(0, RsdpLength));

        return new AcpiTables(rsdpAddress, rsdp, tablesAddress, tables, facsAt, dsdtAt, fadtAt, rsdtAt);
    }

    /// <summary>Copies the RSDP and the tables into guest memory (which must be RAM there).</summary>
    public void WriteTo(PhysicalMemory memory)
    {
        if (!memory.IsRam(RsdpAddress, RsdpLength) || !memory.IsRam(TablesAddress, (uint)Tables.Length))
            throw new InvalidOperationException("the ACPI tables must go into RAM (is the F-segment shadowed as RAM?)");
        memory.WriteBytes(RsdpAddress, Rsdp);
        memory.WriteBytes(TablesAddress, Tables);
    }

    private static uint Align4(uint v) => (v + 3) & ~3u;

    /// <summary>The byte that makes <paramref name="data"/> sum to zero, given a zero in the checksum's place.</summary>
    private static byte Checksum(ReadOnlySpan<byte> data)
    {
        byte sum = 0;
        foreach (byte b in data) sum += b;
        return (byte)-sum;
    }

    /// <summary>Fills the 36-byte header of a table whose body is already in place, checksum last.</summary>
    private static void Header(Span<byte> table, string signature)
    {
        Encoding.ASCII.GetBytes(signature).CopyTo(table);
        BinaryPrimitives.WriteUInt32LittleEndian(table[4..], (uint)table.Length);
        table[8] = 1; // revision
        table[9] = 0;
        Encoding.ASCII.GetBytes(OemId).CopyTo(table[10..]);
        Encoding.ASCII.GetBytes("EMU " + signature).CopyTo(table[16..]);
        BinaryPrimitives.WriteUInt32LittleEndian(table[24..], 1);  // OEM revision
        Encoding.ASCII.GetBytes("EMUC").CopyTo(table[28..]);       // creator
        BinaryPrimitives.WriteUInt32LittleEndian(table[32..], 1);  // creator revision
        table[9] = Checksum(table);
    }

    /// <summary>The FACS (ACPI 1.0b, 5.2.6): signature, length, hardware signature and waking vector zero, no checksum.</summary>
    private static byte[] Facs()
    {
        var f = new byte[FacsLength];
        Encoding.ASCII.GetBytes("FACS").CopyTo(f, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(4), FacsLength);
        return f;
    }

    /// <summary>The FADT, revision 1 (ACPI 1.0b, 5.2.5, 116 bytes), describing the PIIX4's PM registers.</summary>
    private static byte[] Fadt(AcpiOptions o, uint facs, uint dsdt)
    {
        var t = new byte[FadtLength];
        Span<byte> f = t;
        BinaryPrimitives.WriteUInt32LittleEndian(f[36..], facs);          // FIRMWARE_CTRL
        BinaryPrimitives.WriteUInt32LittleEndian(f[40..], dsdt);          // DSDT
        f[44] = 0;                                                        // INT_MODEL: dual 8259
        BinaryPrimitives.WriteUInt16LittleEndian(f[46..], o.SciIrq);      // SCI_INT
        BinaryPrimitives.WriteUInt32LittleEndian(f[48..], o.SmiCommand);  // SMI_CMD
        f[52] = o.AcpiEnable;
        f[53] = o.AcpiDisable;
        uint pm = o.PmBase;
        BinaryPrimitives.WriteUInt32LittleEndian(f[56..], pm + Piix4Pm.Pm1Status);   // PM1a_EVT_BLK
        BinaryPrimitives.WriteUInt32LittleEndian(f[64..], pm + Piix4Pm.Pm1Control);  // PM1a_CNT_BLK
        BinaryPrimitives.WriteUInt32LittleEndian(f[76..], pm + Piix4Pm.PmTimer);     // PM_TMR_BLK
        BinaryPrimitives.WriteUInt32LittleEndian(f[80..], pm + Piix4Pm.GpStatus);    // GPE0_BLK: GPSTS, GPEN
        f[88] = 4;  // PM1_EVT_LEN: status and enable, 16 bits each
        f[89] = 2;  // PM1_CNT_LEN
        f[91] = 4;  // PM_TMR_LEN
        f[92] = 4;  // GPE0_BLK_LEN: two bytes of status, two of enable
        BinaryPrimitives.WriteUInt16LittleEndian(f[96..], 101);   // P_LVL2_LAT > 100: no C2
        BinaryPrimitives.WriteUInt16LittleEndian(f[98..], 1001);  // P_LVL3_LAT > 1000: no C3
        f[108] = o.CenturyIndex;
        // Flags: WBINVD works, C1 supported, no sleep button; the power button is the fixed
        // feature (PWRBTN_STS), the timer 24 bits wide (TMR_VAL_EXT clear).
        const uint wbinvd = 1u << 0, procC1 = 1u << 2, slpButton = 1u << 5;
        BinaryPrimitives.WriteUInt32LittleEndian(f[112..], wbinvd | procC1 | slpButton);
        Header(f, "FACP");
        return t;
    }

    // ---- the DSDT, in AML (ACPI 1.0b, chapter 16) ----

    /// <summary>
    /// The DSDT's AML, assembled here:
    /// <code>
    /// Name (\_S5, Package (4) { S5, S5, 0, 0 })        // SLP_TYPa, SLP_TYPb, reserved, reserved
    /// Scope (\_SB) {
    ///     Device (PCI0) {
    ///         Name (_HID, EisaId ("PNP0A03"))         // PCI host bridge
    ///         Name (_ADR, 0)
    ///         Name (_BBN, 0)                          // base bus number
    ///         Name (_UID, 0)
    ///     }
    /// }
    /// </code>
    /// Encodings used: NameOp 08h NameString DataRefObject; PackageOp 12h PkgLength NumElements
    /// elements; ScopeOp 10h PkgLength NameString terms; DeviceOp 5Bh 82h PkgLength NameSeg terms;
    /// ZeroOp 00h, OneOp 01h, BytePrefix 0Ah, WordPrefix 0Bh, DWordPrefix 0Ch; the root prefix 5Ch.
    /// A PkgLength counts its own bytes: one byte (bits 5:0) below 64, else bits 7:6 give the
    /// number of following bytes, the first holds bits 3:0 and each next one 8 more bits.
    /// </summary>
    public static byte[] DsdtAml(AcpiOptions o)
    {
        var aml = new List<byte>();
        // Name (\_S5, Package (4) { ... })
        var package = new List<byte> { 4 };
        Integer(package, o.S5SleepType);
        Integer(package, o.S5SleepType);
        Integer(package, 0);
        Integer(package, 0);
        aml.Add(0x08);
        aml.Add(0x5C);
        NameSeg(aml, "_S5_");
        aml.Add(0x12);
        PkgLength(aml, package.Count);
        aml.AddRange(package);

        if (o.PciRootBridge)
        {
            var device = new List<byte>();
            NameSeg(device, "PCI0");
            device.Add(0x08);
            NameSeg(device, "_HID");
            device.Add(0x0C);
            device.AddRange(EisaId("PNP0A03"));
            NameInteger(device, "_ADR", 0);
            NameInteger(device, "_BBN", 0);
            NameInteger(device, "_UID", 0);

            var scope = new List<byte> { 0x5C };
            NameSeg(scope, "_SB_");
            scope.Add(0x5B);
            scope.Add(0x82);
            PkgLength(scope, device.Count);
            scope.AddRange(device);

            aml.Add(0x10);
            PkgLength(aml, scope.Count);
            aml.AddRange(scope);
        }
        return aml.ToArray();
    }

    private static byte[] Dsdt(AcpiOptions o)
    {
        byte[] aml = DsdtAml(o);
        var t = new byte[HeaderLength + aml.Length];
        aml.CopyTo(t, HeaderLength);
        Header(t, "DSDT");
        return t;
    }

    private static void NameSeg(List<byte> to, string seg)
    {
        if (seg.Length != 4) throw new ArgumentException("a NameSeg is four characters", nameof(seg));
        foreach (char c in seg) to.Add((byte)c);
    }

    private static void NameInteger(List<byte> to, string name, uint value)
    {
        to.Add(0x08);
        NameSeg(to, name);
        Integer(to, value);
    }

    private static void Integer(List<byte> to, uint v)
    {
        if (v == 0) to.Add(0x00);
        else if (v == 1) to.Add(0x01);
        else if (v <= 0xFF) { to.Add(0x0A); to.Add((byte)v); }
        else if (v <= 0xFFFF) { to.Add(0x0B); to.Add((byte)v); to.Add((byte)(v >> 8)); }
        else { to.Add(0x0C); for (int i = 0; i < 4; i++) to.Add((byte)(v >> (8 * i))); }
    }

    /// <summary>A PkgLength for <paramref name="contentLength"/> bytes following it.</summary>
    private static void PkgLength(List<byte> to, int contentLength)
    {
        if (contentLength + 1 < 0x40)
        {
            to.Add((byte)(contentLength + 1));
            return;
        }
        int n = contentLength + 2 < 0x1000 ? 1 : contentLength + 3 < 0x10_0000 ? 2 : 3;
        int total = contentLength + 1 + n;
        to.Add((byte)((n << 6) | (total & 0x0F)));
        for (int i = 0; i < n; i++) to.Add((byte)(total >> (4 + 8 * i)));
    }

    /// <summary>
    /// A compressed EISA ID ("PNP0A03"): three letters of five bits each (A = 1) in the first two
    /// bytes, big-endian, then four hex digits in the next two.
    /// </summary>
    private static byte[] EisaId(string id)
    {
        int vendor = ((id[0] - '@') << 10) | ((id[1] - '@') << 5) | (id[2] - '@');
        int product = Convert.ToInt32(id[3..], 16);
        return new[] { (byte)(vendor >> 8), (byte)vendor, (byte)(product >> 8), (byte)product };
    }
}
