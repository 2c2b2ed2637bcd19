using System;
using System.Collections.Generic;
using System.Linq;

namespace Emu.Machine;

/// <summary>What a range of physical memory is for, as the BIOS E820 map and Multiboot report it.</summary>
public enum MemoryKind
{
    /// <summary>RAM the operating system may use (E820 type 1).</summary>
    Available = 1,
    /// <summary>Not for the operating system (E820 type 2).</summary>
    Reserved = 2,
}

public readonly record struct MemoryRegion(ulong Base, ulong Length, MemoryKind Kind)
{
    public ulong End => Base + Length;
}

/// <summary>
/// The physical memory map of the PC we present, as a PC BIOS (and QEMU) reports it: low
/// memory up to the extended BIOS data area at 0x9FC00, the BIOS area 0xF0000-0xFFFFF
/// reserved, and extended memory from 1 MiB to the end of RAM. The VGA window and option-ROM
/// space in between are not RAM the operating system may claim, so they are in no region.
/// </summary>
public sealed class PcMemoryMap
{
    /// <summary>End of conventional memory: the EBDA (1 KiB) sits just below 640 KiB.</summary>
    public const uint LowMemoryEnd = 0x9_FC00;
    public const uint EbdaEnd = 0xA_0000;
    public const uint BiosStart = 0xF_0000;
    public const uint ExtendedMemoryStart = 0x10_0000;

    public uint RamSize { get; }
    public IReadOnlyList<MemoryRegion> Regions { get; }

    public PcMemoryMap(uint ramSize)
    {
        if (ramSize <= ExtendedMemoryStart) throw new ArgumentOutOfRangeException(nameof(ramSize), "RAM must extend past 1 MiB");
        RamSize = ramSize;
        Regions = new[]
        {
            new MemoryRegion(0, LowMemoryEnd, MemoryKind.Available),
            new MemoryRegion(LowMemoryEnd, EbdaEnd - LowMemoryEnd, MemoryKind.Reserved),
            new MemoryRegion(BiosStart, ExtendedMemoryStart - BiosStart, MemoryKind.Reserved),
            new MemoryRegion(ExtendedMemoryStart, ramSize - ExtendedMemoryStart, MemoryKind.Available),
        };
    }

    /// <summary>KiB of conventional memory from 0 (Multiboot mem_lower).</summary>
    public uint LowerKiB => LowMemoryEnd / 1024;

    /// <summary>KiB of extended memory from 1 MiB (Multiboot mem_upper).</summary>
    public uint UpperKiB => (RamSize - ExtendedMemoryStart) / 1024;

    /// <summary>Whether [start, start + length) lies wholly inside one available region.</summary>
    public bool IsAvailable(ulong start, ulong length) =>
        Regions.Any(r => r.Kind == MemoryKind.Available && start >= r.Base && start + length <= r.End);

    /// <summary>The available regions, for messages ("0x00000000-0x0009FBFF, 0x00100000-0x07FFFFFF").</summary>
    public string DescribeAvailable() => string.Join(", ",
        Regions.Where(r => r.Kind == MemoryKind.Available).Select(r => $"0x{r.Base:X8}-0x{r.End - 1:X8}"));
}
