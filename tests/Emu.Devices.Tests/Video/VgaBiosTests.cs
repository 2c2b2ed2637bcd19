using System;
using System.IO;
using Emu.Devices.Video;
using Emu.TestSupport;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Devices.Tests.Video;

/// <summary>
/// SeaBIOS's own VGA BIOS (Debian's seabios package) run on our CPU against the adapter: its
/// initialisation (the DISPI probe included), a mode 3 set through INT 10h, teletype output,
/// and a VBE mode set. This is what a board with SeaBIOS does at boot.
/// </summary>
public sealed class VgaBiosTests : IDisposable
{
    private const string RomDirectory = "/usr/share/seabios";
    private const uint StubAddress = 0x7C00, IretAddress = 0x0500;

    private readonly TestCpu t = new((Emu.X86.IExecutionEngine?)null, 2u << 20);
    private readonly VgaAdapter vga = new();

    public VgaBiosTests()
    {
        t.Cpu.StopOnException = false; // INT 10h is vector 16: delivered through the IVT, not a stop
        vga.Attach(t.Io);
        vga.Map(t.Physical);
    }

    public void Dispose() => t.Dispose();

    private void LoadRom(string file)
    {
        string path = Path.Combine(RomDirectory, file);
        Assert.True(File.Exists(path), $"{path} is missing: install Debian's seabios package (apt-get install seabios)");
        byte[] rom = File.ReadAllBytes(path);
        Assert.Equal(0xAA55, rom[0] | rom[1] << 8);
        // Option ROM space is shadow RAM on a PC: the VGA BIOS writes its own variables there.
        t.Physical.WriteBytes(0xC0000, rom);
        t.WriteBytes(IretAddress, 0xCF);
        for (uint v = 0; v < 256; v++) t.Write32(v * 4, IretAddress); // every vector: an IRET at 0000:0500
    }

    /// <summary>Runs 16-bit code at 0000:7C00 (stack at 0000:7000) until its HLT.</summary>
    private void Run(Action<Assembler> build)
    {
        var c = t.Cpu;
        for (int s = 0; s < 6; s++) c.Seg[s].LoadReal(0);
        c.UpdateModes();
        c.Blocks.Flush();
        c.Esp = 0x7000;
        t.Load(StubAddress, a => { build(a); a.hlt(); }, 16);
        StopReason r = t.Run(StubAddress, 200_000_000);
        string fault = c.LastFault is { } f ? $" {f.Name} at {f.Cs:X4}:{f.Eip:X8}" : "";
        Assert.True(r == StopReason.Halted, $"the VGA BIOS stopped with {r}{fault} at {c.Seg[SegReg.CS].Selector:X4}:{c.Eip:X4}");
    }

    private static void Teletype(Assembler a, string s)
    {
        foreach (char ch in s)
        {
            a.mov(ax, (ushort)(0x0E00 | ch));
            a.mov(bx, 0x0007);
            a.@int(0x10);
        }
    }

    private void InitAndSetMode3(string romFile)
    {
        LoadRom(romFile);
        Run(a =>
        {
            a.call(0xC000, 0x0003); // the option ROM's init entry
            a.mov(ax, 0x0003);      // then mode 3, as SeaBIOS's enable_vga_console does
            a.@int(0x10);
        });
    }

    [Theory]
    [InlineData("vgabios-isavga.bin")]
    [InlineData("vgabios-stdvga.bin")]
    public void TheVgaBiosInitialisesTheAdapterAndPrintsThroughIt(string romFile)
    {
        InitAndSetMode3(romFile);
        Assert.Equal(0xC000u, t.Physical.Read(0x10 * 4 + 2, 2)); // INT 10h now points into the ROM
        Assert.True(vga.IsTextMode);
        Assert.Equal((80, 25), vga.TextSize);
        Assert.Equal(0x67, vga.MiscOutput);

        Run(a =>
        {
            Teletype(a, "SeaBIOS (version 1.16.2)\r\n\r\nBooting from Hard Disk...");
        });
        string[] lines = vga.DumpText();
        Assert.Equal("SeaBIOS (version 1.16.2)", lines[0]);
        Assert.Equal("", lines[1]);
        Assert.Equal("Booting from Hard Disk...", lines[2]);
        Assert.Equal(0x07, vga.TextAttribute(2, 0));
        Assert.Equal((2 * 80 + 25, true), vga.Cursor); // the BIOS moved the hardware cursor
        // The BIOS loaded its 8x16 font into plane 2: 'A' has ink in its middle rows, the space none.
        int inkA = 0, inkSpace = 0;
        for (int r = 0; r < 16; r++)
        {
            inkA |= vga.PlaneByte(2, 'A' * 32 + r);
            inkSpace |= vga.PlaneByte(2, ' ' * 32 + r);
        }
        Assert.NotEqual(0, inkA);
        Assert.Equal(0, inkSpace);
    }

    [Fact]
    public void TheVgaBiosScrollsTheScreen()
    {
        InitAndSetMode3("vgabios-isavga.bin");
        Run(a =>
        {
            for (int i = 0; i < 30; i++) Teletype(a, $"row {i}\r\n");
        });
        string[] lines = vga.DumpText();
        Assert.Equal("row 6", lines[0]);
        Assert.Equal("row 29", lines[23]);
        Assert.Equal("", lines[24]);
    }

    [Fact]
    public void AVbeModeSetThroughTheBiosTurnsOnTheLinearFrameBuffer()
    {
        InitAndSetMode3("vgabios-isavga.bin");
        // VBE function 02h, mode 118h (1024x768, 24 bpp in SeaBIOS's table) with the LFB bit (4000h).
        Run(a =>
        {
            a.mov(ax, 0x4F02);
            a.mov(bx, 0x4118);
            a.@int(0x10);
            a.mov(__word_ptr[0x600], ax);
        });
        Assert.Equal(0x004Fu, t.Physical.Read(0x600, 2)); // VBE success
        Assert.True(vga.DispiEnabled);
        Assert.Equal((1024, 768, 24, 3072), vga.DispiMode);
        Assert.False(vga.IsTextMode);
        t.Physical.Write(VgaAdapter.DefaultLfbAddress + 3072 + 2 * 3 + 2, 1, 0xFF); // pixel (2, 1), blue-green-red: red
        t.Physical.Write(VgaAdapter.DefaultLfbAddress + 3072 + 3 * 3 + 1, 1, 0x80); // pixel (3, 1): half green
        byte[] ppm = vga.RenderPpm()!;
        int header = "P6\n1024 768\n255\n".Length;
        Assert.Equal(new byte[] { 0xFF, 0, 0, 0, 0x80, 0 }, ppm[(header + (1024 + 2) * 3)..(header + (1024 + 4) * 3)]);

        // And back to text.
        Run(a =>
        {
            a.mov(ax, 0x0003);
            a.@int(0x10);
        });
        Assert.False(vga.DispiEnabled);
        Assert.True(vga.IsTextMode);
        Assert.Equal((80, 25), vga.TextSize);
    }
}
