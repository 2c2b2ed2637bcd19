using System;
using System.Buffers.Binary;

namespace Emu.Machine.Boot;

/// <summary>
/// The Multiboot (version 1) header of an OS image (Multiboot Specification 0.6.96, 3.1):
/// magic 0x1BADB002, flags and a checksum making the three sum to zero, 4-byte aligned
/// inside the first 8192 bytes; with flag bit 16, the a.out-kludge load addresses follow.
/// </summary>
public sealed class MultibootHeader
{
    public const uint Magic = 0x1BAD_B002;
    public const int SearchLimit = 8192;

    /// <summary>Flag bit 0: align modules on 4 KiB pages.</summary>
    public const uint FlagPageAlignModules = 1u << 0;
    /// <summary>Flag bit 1: the kernel needs mem_lower, mem_upper and the memory map.</summary>
    public const uint FlagMemoryInfo = 1u << 1;
    /// <summary>Flag bit 2: the kernel needs the video mode table.</summary>
    public const uint FlagVideoMode = 1u << 2;
    /// <summary>Flag bit 16: the address fields below are valid (the "a.out kludge").</summary>
    public const uint FlagAoutKludge = 1u << 16;

    /// <summary>The flags in 0-15 that the loader understands; any other bit there is a requirement it cannot meet.</summary>
    public const uint UnderstoodRequirements = FlagPageAlignModules | FlagMemoryInfo;

    /// <summary>File offset of the magic.</summary>
    public int Offset { get; }
    public uint Flags { get; }
    public uint HeaderAddress { get; }
    public uint LoadAddress { get; }
    public uint LoadEndAddress { get; }
    public uint BssEndAddress { get; }
    public uint EntryAddress { get; }

    public bool HasAoutKludge => (Flags & FlagAoutKludge) != 0;

    private MultibootHeader(int offset, uint flags, uint headerAddr, uint loadAddr, uint loadEnd, uint bssEnd, uint entry)
    {
        Offset = offset;
        Flags = flags;
        HeaderAddress = headerAddr;
        LoadAddress = loadAddr;
        LoadEndAddress = loadEnd;
        BssEndAddress = bssEnd;
        EntryAddress = entry;
    }

    /// <summary>
    /// Finds the first valid header (magic and checksum) in the image, or null when there is
    /// none. <paramref name="badChecksumAt"/> gives the offset of a magic whose checksum
    /// failed, so the caller can say why nothing was found.
    /// </summary>
    public static MultibootHeader? Find(ReadOnlySpan<byte> image, out int badChecksumAt)
    {
        badChecksumAt = -1;
        int limit = Math.Min(image.Length, SearchLimit);
        for (int at = 0; at + 12 <= limit; at += 4)
        {
            if (U32(image, at) != Magic) continue;
            uint flags = U32(image, at + 4);
            uint checksum = U32(image, at + 8);
            if (unchecked(Magic + flags + checksum) != 0)
            {
                if (badChecksumAt < 0) badChecksumAt = at;
                continue;
            }
            if ((flags & FlagAoutKludge) == 0) return new MultibootHeader(at, flags, 0, 0, 0, 0, 0);
            if (at + 32 > image.Length)
                throw new BootImageException(
                    $"the Multiboot header at offset 0x{at:X} sets flag bit 16 but its address fields run past the end of the file");
            return new MultibootHeader(at, flags, U32(image, at + 12), U32(image, at + 16), U32(image, at + 20),
                U32(image, at + 24), U32(image, at + 28));
        }
        return null;
    }

    /// <summary>Refuses a header whose required features (flag bits 0-15) the loader cannot provide, as the specification asks.</summary>
    public void CheckRequirements()
    {
        if ((Flags & FlagVideoMode) != 0)
            throw new BootImageException("the Multiboot header asks for video mode information (flag bit 2), which this loader cannot provide");
        uint unknown = Flags & 0xFFFF & ~UnderstoodRequirements;
        if (unknown != 0)
            throw new BootImageException($"the Multiboot header requires features this loader does not know (flags 0x{unknown:X4} in bits 0-15)");
    }

    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.Slice(at, 4));
}
