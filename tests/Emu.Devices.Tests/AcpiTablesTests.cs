using System;
using System.Buffers.Binary;
using System.Text;
using Emu.Devices.Chipset;
using Emu.Devices.Firmware;
using Emu.Devices.Pci;
using Emu.Devices.Platform;
using Emu.Memory;

namespace Emu.Devices.Tests;

/// <summary>Parses the built tables back out of guest memory the way an OS finds them.</summary>
public sealed class AcpiTablesTests : IDisposable
{
    private const uint RsdpAt = 0xF_0000, TablesAt = 0xF_0040;
    private readonly PhysicalMemory memory = new(0x100_0000);

    public void Dispose() => memory.Dispose();

    private byte[] Read(uint address, int length)
    {
        var b = new byte[length];
        memory.ReadBytes(address, b);
        return b;
    }

    private static int Sum(byte[] b)
    {
        int s = 0;
        foreach (byte x in b) s += x;
        return s & 0xFF;
    }

    private byte[] Table(uint address, string signature)
    {
        Assert.Equal(signature, Encoding.ASCII.GetString(Read(address, 4)));
        int length = (int)memory.Read(address + 4, 4);
        Assert.InRange(length, AcpiTables.HeaderLength, 0x10000);
        byte[] t = Read(address, length);
        Assert.Equal(0, Sum(t));
        return t;
    }

    /// <summary>Scans E0000h-FFFFFh on 16-byte boundaries for "RSD PTR " with a good checksum, as Linux does.</summary>
    private uint FindRsdp()
    {
        for (uint a = 0xE_0000; a < 0x10_0000; a += 16)
        {
            if (Encoding.ASCII.GetString(Read(a, 8)) == "RSD PTR " && Sum(Read(a, 20)) == 0) return a;
        }
        throw new Xunit.Sdk.XunitException("no RSDP");
    }

    [Fact]
    public void TablesParseBackWithGoodChecksumsAndPointers()
    {
        AcpiTables t = AcpiTables.Build(RsdpAt, TablesAt);
        t.WriteTo(memory);

        uint rsdp = FindRsdp();
        Assert.Equal(RsdpAt, rsdp);
        Assert.Equal(0, memory.Read8(rsdp + 15)); // revision 0
        uint rsdtAt = memory.Read(rsdp + 16, 4);
        byte[] rsdt = Table(rsdtAt, "RSDT");
        Assert.Equal(AcpiTables.HeaderLength + 4, rsdt.Length);
        uint fadtAt = BinaryPrimitives.ReadUInt32LittleEndian(rsdt.AsSpan(36));
        byte[] fadt = Table(fadtAt, "FACP");
        Assert.Equal(AcpiTables.FadtLength, fadt.Length);
        Assert.Equal(1, fadt[8]);

        uint facsAt = BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(36));
        Assert.Equal(0u, facsAt & 63);
        Assert.Equal("FACS", Encoding.ASCII.GetString(Read(facsAt, 4)));
        Assert.Equal(64u, memory.Read(facsAt + 4, 4));

        uint dsdtAt = BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(40));
        Table(dsdtAt, "DSDT");

        // The PIIX4 as the board programs it, and ACPI mode through B2h.
        Assert.Equal(9, BinaryPrimitives.ReadUInt16LittleEndian(fadt.AsSpan(46)));
        Assert.Equal(0xB2u, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(48)));
        Assert.Equal(0xF1, fadt[52]);
        Assert.Equal(0xF0, fadt[53]);
        Assert.Equal(0xB000u, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(56)));
        Assert.Equal(0xB004u, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(64)));
        Assert.Equal(0xB008u, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(76)));
        Assert.Equal(0xB00Cu, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(80)));
        Assert.Equal(new byte[] { 4, 2, 0, 4, 4 }, fadt.AsSpan(88, 5).ToArray());
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(112)) & (1u << 8)); // 24-bit timer
    }

    [Fact]
    public void TheDsdtsS5HoldsTheSleepTypeThePmDeviceTreatsAsSoftOff()
    {
        AcpiTables t = AcpiTables.Build(RsdpAt, TablesAt);
        t.WriteTo(memory);
        byte[] dsdt = Table(t.DsdtAddress, "DSDT");
        byte[] aml = dsdt.AsSpan(AcpiTables.HeaderLength).ToArray();

        // NameOp, \_S5_, PackageOp, PkgLength, NumElements, then the elements.
        int at = IndexOf(aml, new byte[] { 0x08, 0x5C, (byte)'_', (byte)'S', (byte)'5', (byte)'_', 0x12 });
        Assert.True(at >= 0, "no Name(\\_S5, Package ...)");
        int p = at + 7;
        int pkgLength = aml[p];
        Assert.True(pkgLength < 0x40, "one-byte PkgLength");
        Assert.Equal(4, aml[p + 1]);
        int slpTypA = Element(aml, p + 2, out int next);
        int slpTypB = Element(aml, next, out int end);
        Assert.Equal(p + pkgLength, end + 2); // two reserved ZeroOps close the package

        // Write what Linux writes, and the PM device powers off.
        var clock = new FakeClock();
        var pm = new Piix4Pm(new Scheduler(clock), new IrqRecorder());
        var io = new IoSpace();
        pm.Attach(io);
        pm.WriteConfig(Piix4Pm.PmBase, 4, 0xB001);
        pm.WriteConfig(Piix4Pm.PmRegMisc, 1, 1);
        bool off = false;
        pm.PowerOffRequested += () => off = true;
        io.Out(0xB004, 2, (uint)(slpTypA << Piix4Pm.SlpTypShift));
        io.Out(0xB004, 2, (uint)(slpTypA << Piix4Pm.SlpTypShift) | Piix4Pm.SlpEn);
        Assert.True(off);
        Assert.Equal(slpTypA, slpTypB);
    }

    [Fact]
    public void TheDsdtDeclaresThePciRootBridge()
    {
        byte[] aml = AcpiTables.DsdtAml(new AcpiOptions());
        int scope = IndexOf(aml, new byte[] { 0x10 });
        Assert.True(scope > 0);
        Assert.True(IndexOf(aml, new byte[] { 0x5C, (byte)'_', (byte)'S', (byte)'B', (byte)'_', 0x5B, 0x82 }) > scope);
        // Name(_HID, EisaId("PNP0A03")) is 41D00A03h as stored: 41 D0 0A 03.
        Assert.True(IndexOf(aml, new byte[] { 0x08, (byte)'_', (byte)'H', (byte)'I', (byte)'D', 0x0C, 0x41, 0xD0, 0x0A, 0x03 }) > 0);
        Assert.True(IndexOf(aml, new byte[] { 0x08, (byte)'_', (byte)'B', (byte)'B', (byte)'N', 0x00 }) > 0);
        Assert.True(IndexOf(aml, new byte[] { 0x08, (byte)'_', (byte)'A', (byte)'D', (byte)'R', 0x00 }) > 0);
        // The scope's PkgLength reaches exactly to the end of the AML.
        int s = scope;
        Assert.Equal(aml.Length, s + 1 + aml[s + 1]);
        Assert.Equal(-1, IndexOf(AcpiTables.DsdtAml(new AcpiOptions { PciRootBridge = false }), new byte[] { 0x5B, 0x82 }));
    }

    [Fact]
    public void AnotherSleepTypeIsEncodedWithABytePrefix()
    {
        byte[] aml = AcpiTables.DsdtAml(new AcpiOptions { S5SleepType = 5, PciRootBridge = false });
        Assert.Equal(new byte[] { 0x08, 0x5C, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00 }, aml);
    }

    [Fact]
    public void RejectsBadPlacements()
    {
        Assert.Throws<ArgumentException>(() => AcpiTables.Build(0xF_0008, TablesAt));
        Assert.Throws<ArgumentException>(() => AcpiTables.Build(0xD_0000, TablesAt));
        Assert.Throws<ArgumentException>(() => AcpiTables.Build(RsdpAt, 0xF_0020));
    }

    [Fact]
    public void WritingRefusesMemoryThatIsNotRam()
    {
        AcpiTables t = AcpiTables.Build(RsdpAt, TablesAt);
        memory.SetShadow(0xF_0000, 0x1_0000, readRam: false, writeRam: false); // a chipset left the F-segment on the bus
        Assert.Throws<InvalidOperationException>(() => t.WriteTo(memory));
    }

    private static int Element(byte[] aml, int at, out int next)
    {
        switch (aml[at])
        {
            case 0x00: next = at + 1; return 0;
            case 0x01: next = at + 1; return 1;
            case 0x0A: next = at + 2; return aml[at + 1];
            default: throw new Xunit.Sdk.XunitException($"unexpected AML opcode {aml[at]:X2}");
        }
    }

    private static int IndexOf(byte[] hay, byte[] needle) => hay.AsSpan().IndexOf(needle);
}
