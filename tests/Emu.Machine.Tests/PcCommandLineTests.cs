using System;
using System.Buffers.Binary;
using System.IO;
using System.Text;
using Emu.Machine.Boot;
using Emu.Machine.Cli;
using Emu.Memory;

namespace Emu.Machine.Tests;

/// <summary>The PC's boot options: what is refused before the guest starts, and what the Linux loader hands the kernel.</summary>
public sealed class PcCommandLineTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("emu-pc-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static (int Status, string Stderr) Run(params string[] args)
    {
        var stderr = new StringWriter();
        int status = CommandLineProgram.Run(args, new MemoryStream(), stderr);
        return (status, stderr.ToString());
    }

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void NothingToBootIsAUsageError()
    {
        var (status, stderr) = Run("run");
        Assert.Equal(ExitStatus.Usage, status);
        Assert.Contains("nothing to boot", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void ABadBootDeviceIsAUsageError()
    {
        var (status, stderr) = Run("run", "--hda", Write("d.img", new byte[512]), "--boot", "z");
        Assert.Equal(ExitStatus.Usage, status);
        Assert.Contains("--boot z", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "empty")]
    [InlineData(1000, "multiple of")]
    public void AWronglySizedDiskImageIsRefusedBeforeTheGuestStarts(int size, string expected)
    {
        var (status, stderr) = Run("run", "--hda", Write("bad.img", new byte[size]));
        Assert.Equal(ExitStatus.BadImage, status);
        Assert.Contains(expected, stderr, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void AMissingDiskImageIsRefused()
    {
        var (status, stderr) = Run("run", "--hda", Path.Combine(dir, "nope.img"));
        Assert.Equal(ExitStatus.BadImage, status);
        Assert.Contains("nope.img", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void ABadDiskModeIsRefused()
    {
        var (status, stderr) = Run("run", "--hda", Write("d.img", new byte[512]), "--hda-mode", "sometimes");
        Assert.Equal(ExitStatus.Usage, status);
        Assert.Equal("emu: --hda-mode sometimes: expected ro, cow or rw\n", stderr.ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData("--initrd")]
    [InlineData("--bios")]
    public void AMissingFileIsNamedWithItsOption(string option)
    {
        string missing = Path.Combine(dir, "missing.bin");
        string[] args = option == "--initrd"
            ? new[] { "run", "--kernel", Write("k", BzImage(100)), "--initrd", missing }
            : new[] { "run", "--bios", missing, "--hda", Write("d.img", new byte[512]) };
        var (status, stderr) = Run(args);
        Assert.Equal(ExitStatus.BadImage, status);
        Assert.Equal($"emu: {option} {missing}: no such file\n", stderr.ReplaceLineEndings("\n"));
    }

    /// <summary>
    /// SeaBIOS with nothing bootable says "No bootable device" on the screen and reboots: the
    /// run ends with its own status and the reason each drive failed, not a plain reset.
    /// </summary>
    [Fact]
    public void ABiosBootWithNothingBootableSaysWhy()
    {
        var junk = new byte[1 << 20];
        new Random(7).NextBytes(junk);
        var (status, stderr) = Run("run", "--cdrom", Write("junk.iso", junk), "--boot", "d", "--deterministic");
        Assert.Equal(ExitStatus.NothingToBoot, status);
        Assert.Equal("emu: the BIOS found nothing to boot (DVD/CD: Could not read from CDROM (code 0004); "
            + "Floppy: could not read the boot disk; Hard Disk: could not read the boot disk)\n", stderr.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void AnInitrdNeedsABzImage()
    {
        string kernel = Write("k.elf", ElfBuilder.WithCode(0x10_0000, a => a.hlt()).Build());
        var (status, stderr) = Run("run", "--kernel", kernel, "--initrd", Write("i.gz", new byte[100]));
        Assert.Equal(ExitStatus.Usage, status);
        Assert.Contains("bzImage", stderr, StringComparison.Ordinal);
    }

    /// <summary>A minimal bzImage: one setup sector, the header fields the loader reads, and a payload.</summary>
    private static byte[] BzImage(int payload, ushort version = 0x020F, uint initrdMax = 0x37FF_FFFF)
    {
        var image = new byte[2 * 512 + payload];
        image[LinuxLoader.SetupSects] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(LinuxLoader.BootFlag), 0xAA55);
        image[LinuxLoader.Jump] = 0xEB;
        image[LinuxLoader.Jump + 1] = 0x66; // the header runs to 268h
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(LinuxLoader.Header), LinuxLoader.HeaderMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(LinuxLoader.Version), version);
        image[LinuxLoader.LoadFlags] = LinuxLoader.LoadedHigh;
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(LinuxLoader.InitrdAddrMax), initrdMax);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(LinuxLoader.CmdlineSize), 2047);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(LinuxLoader.InitSize), 0x40_0000);
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(LinuxLoader.SysSize), (uint)(payload + 15) / 16);
        for (int i = 0; i < payload; i++) image[1024 + i] = (byte)(i * 7);
        return image;
    }

    [Fact]
    public void TheLinuxLoaderFillsTheZeroPage()
    {
        using var memory = new PhysicalMemory(64u << 20);
        var map = new PcMemoryMap(64u << 20);
        byte[] kernel = BzImage(3000);
        var initrd = new byte[10_000];
        initrd[0] = 0x1F;
        LinuxEntry e = LinuxLoader.Load(kernel, initrd, "console=ttyS0 quiet", memory, map.Regions, map.RamSize, 0xF_0000);

        Assert.Equal(0x10_0000u, e.Entry);
        Assert.Equal(kernel[1024 + 2999], memory.Read8(0x10_0000 + 2999));
        uint z = e.BootParams;
        Assert.Equal(0xFFu, memory.Read8(z + LinuxLoader.TypeOfLoader));
        // The initrd sits page-aligned at the top of RAM.
        uint initrdAt = memory.Read(z + LinuxLoader.RamdiskImage, 4);
        Assert.Equal(((64u << 20) - 10_000u) & ~0xFFFu, initrdAt);
        Assert.Equal(10_000u, memory.Read(z + LinuxLoader.RamdiskSize, 4));
        Assert.Equal(0x1F, memory.Read8(initrdAt));
        // The command line, NUL-terminated, where cmd_line_ptr says.
        uint cl = memory.Read(z + LinuxLoader.CmdLinePtr, 4);
        var text = new byte[20];
        memory.ReadBytes(cl, text);
        Assert.Equal("console=ttyS0 quiet\0", Encoding.ASCII.GetString(text));
        // The E820 map: the board's four regions, and the RSDP address for protocol 2.14+.
        Assert.Equal(4, memory.Read8(z + LinuxLoader.E820Entries));
        Assert.Equal(0x10_0000u, memory.Read(z + LinuxLoader.E820Table + 3 * 20, 4));
        Assert.Equal(1u, memory.Read(z + LinuxLoader.E820Table + 3 * 20 + 16, 4));
        Assert.Equal(0xF_0000u, memory.Read(z + LinuxLoader.AcpiRsdpAddr, 4));
    }

    [Fact]
    public void TheLinuxLoaderRefusesWhatItCannotBoot()
    {
        using var memory = new PhysicalMemory(8u << 20);
        var map = new PcMemoryMap(8u << 20);
        var notLinux = new byte[4096];
        Assert.Contains("not a Linux bzImage", Assert.Throws<BootImageException>(() =>
            LinuxLoader.Load(notLinux, default, "", memory, map.Regions, map.RamSize, 0)).Message, StringComparison.Ordinal);
        Assert.Contains("2.06", Assert.Throws<BootImageException>(() =>
            LinuxLoader.Load(BzImage(100, version: 0x0204), default, "", memory, map.Regions, map.RamSize, 0)).Message, StringComparison.Ordinal);
        Assert.Contains("at most 2047", Assert.Throws<BootImageException>(() =>
            LinuxLoader.Load(BzImage(100), default, new string('x', 3000), memory, map.Regions, map.RamSize, 0)).Message, StringComparison.Ordinal);
        // An initrd that cannot fit above the kernel's decompression area (1 MiB + 4 MiB) in 8 MiB.
        Assert.Contains("initrd", Assert.Throws<BootImageException>(() =>
            LinuxLoader.Load(BzImage(100), new byte[4 << 20], "", memory, map.Regions, map.RamSize, 0)).Message, StringComparison.Ordinal);
        // A file cut short: its header still gives the whole size.
        byte[] whole = BzImage(5000);
        Assert.Contains("truncated: its header says 6032 bytes, the file has 4024", Assert.Throws<BootImageException>(() =>
            LinuxLoader.Load(whole.AsSpan(0, 4024), default, "", memory, map.Regions, map.RamSize, 0)).Message, StringComparison.Ordinal);
        // Nothing was written.
        Assert.Equal(0u, memory.Read(0x10_0000, 4));
    }
}
