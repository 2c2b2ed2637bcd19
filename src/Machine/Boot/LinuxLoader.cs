using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Text;
using Emu.Memory;

namespace Emu.Machine.Boot;

/// <summary>Where a loaded Linux kernel starts, and what the loader prepared for it.</summary>
/// <param name="Entry">The 32-bit entry point (the setup header's code32_start).</param>
/// <param name="BootParams">Physical address of the zero page (ESI at entry).</param>
/// <param name="GdtBase">The loader's GDT: flat code at 10h (__BOOT_CS), flat data at 18h (__BOOT_DS).</param>
/// <param name="GdtLimit">Its limit.</param>
/// <param name="InitrdAddress">Where the initrd was put (0: none).</param>
/// <param name="InitrdSize">Its size.</param>
/// <param name="ProtocolVersion">The boot protocol version the kernel speaks (0x020F is 2.15).</param>
public readonly record struct LinuxEntry(uint Entry, uint BootParams, uint GdtBase, ushort GdtLimit, uint InitrdAddress, uint InitrdSize,
    ushort ProtocolVersion);

/// <summary>
/// Loads a Linux bzImage as a boot loader does with the 32-bit boot protocol (the kernel's
/// Documentation/arch/x86/boot.rst): the protected-mode part at 1 MiB, the initrd as high as
/// the kernel allows, and a zero page ("boot_params") holding a copy of the setup header, the
/// E820 memory map, the command line pointer and the initrd's place. The CPU then enters the
/// kernel's 32-bit entry in flat protected mode with ESI pointing at the zero page. Every
/// check happens before the first byte is written.
/// </summary>
public static class LinuxLoader
{
    // Offsets in the bzImage's first sector and in the zero page (boot.rst, "The real-mode kernel header").
    public const int SetupSects = 0x1F1, BootFlag = 0x1FE, Jump = 0x200, Header = 0x202, Version = 0x206,
        TypeOfLoader = 0x210, LoadFlags = 0x211, Code32Start = 0x214, RamdiskImage = 0x218, RamdiskSize = 0x21C,
        HeapEndPtr = 0x224, CmdLinePtr = 0x228, InitrdAddrMax = 0x22C, KernelAlignment = 0x230, RelocatableKernel = 0x234,
        SysSize = 0x1F4, CmdlineSize = 0x238, PrefAddress = 0x258, InitSize = 0x260;

    // Zero-page fields outside the setup header (the kernel's arch/x86/include/uapi/asm/bootparam.h layout).
    public const int ScreenInfo = 0x000, AcpiRsdpAddr = 0x070, AltMemK = 0x1E0, E820Entries = 0x1E8, E820Table = 0x2D0;
    public const int MaxE820Entries = 128;

    /// <summary>"HdrS": the header signature of boot protocol 2.00 and later.</summary>
    public const uint HeaderMagic = 0x5372_6448;

    /// <summary>LOADED_HIGH: the protected-mode code loads at 1 MiB (every bzImage).</summary>
    public const byte LoadedHigh = 0x01;
    public const byte CanUseHeap = 0x80;

    /// <summary>Where the loader's own things go: GDT, zero page and command line, below the EBDA.</summary>
    public const uint GdtAddress = 0x8000;
    public const uint BootParamsAddress = 0x9000;
    public const uint CommandLineAddress = 0x2_0000;
    public const uint ProtectedModeAddress = 0x10_0000;

    /// <summary>The oldest protocol we load: 2.06 gives cmdline_size and a 32-bit entry loaders may use.</summary>
    public const ushort MinimumVersion = 0x0206;

    /// <summary>Whether <paramref name="image"/> looks like a bzImage (so --kernel can tell it from Multiboot).</summary>
    public static bool IsBzImage(ReadOnlySpan<byte> image) =>
        image.Length >= 0x240 &&
        BinaryPrimitives.ReadUInt16LittleEndian(image[BootFlag..]) == 0xAA55 &&
        BinaryPrimitives.ReadUInt32LittleEndian(image[Header..]) == HeaderMagic;

    /// <summary>
    /// Loads the kernel and the initrd and builds the zero page.
    /// </summary>
    /// <param name="map">The E820 map the kernel is given.</param>
    /// <param name="acpiRsdp">Physical address of the ACPI RSDP the board built (0: none).</param>
    public static LinuxEntry Load(ReadOnlySpan<byte> image, ReadOnlySpan<byte> initrd, string commandLine, PhysicalMemory memory,
        IReadOnlyList<MemoryRegion> map, uint ramSize, uint acpiRsdp)
    {
        if (!IsBzImage(image))
            throw new BootImageException("the kernel is not a Linux bzImage (no boot-sector signature 55AAh and \"HdrS\" header)");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(image[Version..]);
        if (version < MinimumVersion)
            throw new BootImageException($"the kernel speaks boot protocol {version >> 8}.{version & 0xFF:D2}; this loader needs 2.06 or later");
        byte loadFlags = image[LoadFlags];
        if ((loadFlags & LoadedHigh) == 0)
            throw new BootImageException("the kernel is a zImage (loaded low); only bzImage kernels are supported");

        int setupSectors = image[SetupSects] == 0 ? 4 : image[SetupSects];
        int setupBytes = (setupSectors + 1) * 512;
        if (image.Length <= setupBytes)
            throw new BootImageException($"the kernel image is truncated: {image.Length} bytes, its setup code alone takes {setupBytes}");
        ReadOnlySpan<byte> payload = image[setupBytes..];
        // syssize: the protected-mode code's size in 16-byte paragraphs, rounded up (32 bits from protocol 2.04).
        ulong sysBytes = (ulong)BinaryPrimitives.ReadUInt32LittleEndian(image[SysSize..]) * 16;
        if ((ulong)payload.Length + 15 < sysBytes)
            throw new BootImageException($"the kernel image is truncated: its header says {(ulong)setupBytes + sysBytes} bytes, the file has {image.Length}");
        uint initSize = BinaryPrimitives.ReadUInt32LittleEndian(image[InitSize..]);
        uint kernelEnd = ProtectedModeAddress + Math.Max((uint)payload.Length, initSize);
        if (kernelEnd > ramSize)
            throw new BootImageException($"the kernel needs memory up to 0x{kernelEnd:X8} to decompress, but guest RAM ends at 0x{ramSize:X8}; give it more --memory");

        uint cmdlineMax = BinaryPrimitives.ReadUInt32LittleEndian(image[CmdlineSize..]);
        byte[] cmdline = Encoding.UTF8.GetBytes(commandLine);
        if ((uint)cmdline.Length > cmdlineMax)
            throw new BootImageException($"the command line is {cmdline.Length} bytes; this kernel takes at most {cmdlineMax}");
        if (cmdline.Length + 1 > (int)(PcMemoryMap.LowMemoryEnd - CommandLineAddress))
            throw new BootImageException("the command line is too long");

        // The initrd goes as high as the kernel can reach (initrd_addr_max) and RAM allows,
        // page-aligned, above the kernel's decompression area: where QEMU and GRUB put it.
        uint initrdAddress = 0;
        if (initrd.Length > 0)
        {
            uint max = BinaryPrimitives.ReadUInt32LittleEndian(image[InitrdAddrMax..]);
            ulong top = Math.Min((ulong)max + 1, HighestAvailable(map));
            if ((ulong)initrd.Length > top) throw new BootImageException("the initrd does not fit in guest RAM; give it more --memory");
            initrdAddress = (uint)((top - (ulong)initrd.Length) & ~0xFFFUL);
            if (initrdAddress < kernelEnd)
                throw new BootImageException($"the initrd ({initrd.Length} bytes) does not fit between the kernel (ending at 0x{kernelEnd:X8}) " +
                                             $"and 0x{top:X8}; give the guest more --memory");
        }

        // Nothing is written before this point.
        memory.WriteBytes(ProtectedModeAddress, payload);
        if (initrd.Length > 0) memory.WriteBytes(initrdAddress, initrd);

        var zero = new byte[4096];
        // The setup header, as the kernel file has it: from 1F1h to the end given by the byte at 201h.
        int headerEnd = Math.Min(Jump + 2 + image[Jump + 1], 0x290);
        image[SetupSects..headerEnd].CopyTo(zero.AsSpan(SetupSects));
        zero[TypeOfLoader] = 0xFF; // "undefined" loader: we have no assigned ID
        zero[LoadFlags] = (byte)((loadFlags & ~0x60) | CanUseHeap); // not QUIET, not KEEP_SEGMENTS
        BinaryPrimitives.WriteUInt16LittleEndian(zero.AsSpan(HeapEndPtr), 0xFE00);
        BinaryPrimitives.WriteUInt32LittleEndian(zero.AsSpan(CmdLinePtr), CommandLineAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(zero.AsSpan(RamdiskImage), initrdAddress);
        BinaryPrimitives.WriteUInt32LittleEndian(zero.AsSpan(RamdiskSize), (uint)initrd.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(zero.AsSpan(Code32Start), ProtectedModeAddress);
        if (version >= 0x020E) BinaryPrimitives.WriteUInt64LittleEndian(zero.AsSpan(AcpiRsdpAddr), acpiRsdp);

        // Extended memory in KiB above 1 MiB (the old INT 15h E801 answer), then the E820 map.
        BinaryPrimitives.WriteUInt32LittleEndian(zero.AsSpan(AltMemK), (ramSize - ProtectedModeAddress) >> 10);
        BinaryPrimitives.WriteUInt16LittleEndian(zero.AsSpan(0x002), (ushort)Math.Min(0xFC00u, (ramSize - ProtectedModeAddress) >> 10));
        int n = 0;
        foreach (MemoryRegion r in map)
        {
            if (n == MaxE820Entries) break;
            int o = E820Table + 20 * n++;
            BinaryPrimitives.WriteUInt64LittleEndian(zero.AsSpan(o), r.Base);
            BinaryPrimitives.WriteUInt64LittleEndian(zero.AsSpan(o + 8), r.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(zero.AsSpan(o + 16), (uint)r.Kind);
        }
        zero[E820Entries] = (byte)n;
        // screen_info: a VGA text screen of 80x25 (orig_video_cols, _lines, isVGA), so a
        // kernel that looks there finds the text console where the board's VGA has it.
        zero[ScreenInfo + 0x07] = 80;
        zero[ScreenInfo + 0x0E] = 25;
        zero[ScreenInfo + 0x0F] = 1;
        zero[ScreenInfo + 0x06] = 3; // orig_video_mode
        memory.WriteBytes(BootParamsAddress, zero);

        var cl = new byte[cmdline.Length + 1];
        cmdline.CopyTo(cl, 0);
        memory.WriteBytes(CommandLineAddress, cl);

        // The GDT the 32-bit protocol asks for: __BOOT_CS (10h) and __BOOT_DS (18h), flat 4 GiB.
        ushort gdtLimit = FlatGdt.Write(memory, GdtAddress, 0x10, 0x18);

        return new LinuxEntry(ProtectedModeAddress, BootParamsAddress, GdtAddress, gdtLimit, initrdAddress,
            (uint)initrd.Length, version);
    }

    private static ulong HighestAvailable(IReadOnlyList<MemoryRegion> map)
    {
        ulong top = 0;
        foreach (MemoryRegion r in map)
            if (r.Kind == MemoryKind.Available && r.End <= 0x1_0000_0000UL && r.End > top) top = r.End;
        return top;
    }
}
