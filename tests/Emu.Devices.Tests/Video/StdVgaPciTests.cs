using Emu.Devices.Pci;
using Emu.Devices.Video;

namespace Emu.Devices.Tests.Video;

public class StdVgaPciTests
{
    private readonly VgaAdapter vga = new();
    private readonly StdVgaPciFunction pci;

    public StdVgaPciTests() => pci = new StdVgaPciFunction(vga);

    [Fact]
    public void IdentifiesAsQemusStdVga()
    {
        Assert.Equal(0x1111_1234u, pci.ReadConfig(PciFunction.VendorId, 4));
        Assert.Equal(0x03_0000u, pci.ReadConfig(0x08, 4) >> 8);
    }

    [Fact]
    public void Bar0SizesAsAPrefetchableFrameBuffer()
    {
        pci.WriteConfig(PciFunction.Bar0, 4, 0xFFFF_FFFF);
        Assert.Equal(0xFF00_0008u, pci.ReadConfig(PciFunction.Bar0, 4));
        pci.WriteConfig(PciFunction.Bar0 + 8, 4, 0xFFFF_FFFF);
        Assert.Equal(0xFFFF_F000u, pci.ReadConfig(PciFunction.Bar0 + 8, 4));
    }

    [Fact]
    public void TheFrameBufferFollowsBar0OnceMemoryDecodingIsOn()
    {
        int changes = 0;
        pci.DecodingChanged += _ => changes++;
        vga.Write(0xE000_0010, 4, 0x12345678);
        Assert.Equal(0xFFFF_FFFFu, vga.Read(0xE000_0010, 4)); // no decoding before the firmware enables it
        pci.WriteConfig(PciFunction.Bar0, 4, 0xFD00_0000);
        Assert.Null(pci.FrameBufferAddress);
        Assert.Equal(0, changes);
        pci.WriteConfig(PciFunction.Command, 2, 0x0003);
        Assert.Equal(1, changes);
        Assert.Equal(0xFD00_0000u, pci.FrameBufferAddress);
        Assert.Equal(0xFD00_0000u, vga.LfbAddress);
        vga.Write(0xFD00_0010, 4, 0xCAFEF00D);
        Assert.Equal(0xCAFEF00Du, vga.Read(0xFD00_0010, 4));
        Assert.Equal(0xFFFF_FFFFu, vga.Read(0xE000_0010, 4)); // the old place no longer answers
        pci.WriteConfig(PciFunction.Command, 2, 0x0000);
        Assert.Equal(2, changes);
        Assert.Equal(0xFFFF_FFFFu, vga.Read(0xFD00_0010, 4));
    }

    [Fact]
    public void Bar2ReachesTheDispiAndVgaRegisters()
    {
        pci.WriteConfig(PciFunction.Bar0 + 8, 4, 0xFEBF_0000);
        pci.WriteConfig(PciFunction.Command, 2, 0x0002);
        Assert.Equal(VgaAdapter.DispiId5, pci.Read(0xFEBF_0500, 2));
        pci.Write(0xFEBF_0500 + 2 * VgaAdapter.DispiIndexXres, 2, 1024);
        Assert.Equal(1024u, pci.Read(0xFEBF_0500 + 2 * VgaAdapter.DispiIndexXres, 2));
        pci.Write(0xFEBF_0402, 1, 0x67); // 3C2h
        Assert.Equal(0x67u, pci.Read(0xFEBF_040C, 1)); // 3CCh
        Assert.Equal(0xFFu, pci.Read(0xFEC0_0000, 1));
    }
}
