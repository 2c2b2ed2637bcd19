using System;
using System.Collections.Generic;

namespace Emu.Memory.Tests;

/// <summary>
/// A small physical address space with every kind of region next to every other, and a
/// byte-level model of what each physical address holds, so tests can compute the
/// expected result of any access independently of how the emulator splits it:
/// <code>
/// 0000_0000  RAM (64 KiB) ......... except 0000_8000-0000_8FFF: MMIO over RAM
/// 0001_0000  ROM "A" (100-byte image, rest of the page reads FFh)
/// 0001_1000  MMIO
/// 0001_2000  unmapped ... up to
/// FFFF_0000  ROM "B" (64 KiB image, up to the top of the 4 GiB space)
/// </code>
/// </summary>
public sealed unsafe class AddressSpaceFixture : IDisposable
{
    public const uint RamSize = 0x1_0000;
    public const uint MmioInRam = 0x8000;
    public const uint RomA = 0x1_0000;
    public const uint MmioAfterRom = 0x1_1000;
    public const uint Unmapped = 0x1_2000;
    public const uint RomB = 0xFFFF_0000;

    public readonly PhysicalMemory Physical;
    public readonly Mmu Mmu;
    public readonly RecordingMmio Device = new();
    public readonly byte[] RomAImage = new byte[100];
    public readonly byte[] RomBImage = new byte[0x1_0000];

    /// <summary>The expected contents of RAM (the model), kept in step by <see cref="ApplyWrite"/>.</summary>
    public readonly byte[] RamModel = new byte[RamSize];

    public AddressSpaceFixture()
    {
        Physical = new PhysicalMemory(RamSize);
        for (uint a = 0; a < RamSize; a++) RamModel[a] = (byte)(a * 13 + 7);
        new ReadOnlySpan<byte>(RamModel).CopyTo(new Span<byte>(Physical.Ram, (int)RamSize));
        for (int i = 0; i < RomAImage.Length; i++) RomAImage[i] = (byte)(i * 3 + 1);
        for (int i = 0; i < RomBImage.Length; i++) RomBImage[i] = (byte)(0x40 + i * 5);
        Physical.MapRom(RomA, RomAImage, "ROM A");
        Physical.MapRom(RomB, RomBImage, "ROM B");
        Physical.MapMmio(MmioInRam, 0x1000, Device, "MMIO in RAM");
        Physical.MapMmio(MmioAfterRom, 0x1000, Device, "MMIO after ROM");
        Mmu = new Mmu(Physical);
    }

    public static bool IsMmio(uint a) => (a >= MmioInRam && a < MmioInRam + 0x1000) || (a >= MmioAfterRom && a < MmioAfterRom + 0x1000);

    public static bool IsRamByte(uint a) => a < RamSize && !IsMmio(a);

    /// <summary>What a read of the byte at physical address <paramref name="a"/> returns.</summary>
    public byte Expected(uint a)
    {
        if (IsMmio(a)) return RecordingMmio.Pattern(a);
        if (a < RamSize) return RamModel[a];
        if (a >= RomA && a < RomA + 0x1000) return a - RomA < RomAImage.Length ? RomAImage[a - RomA] : (byte)0xFF;
        if (a >= RomB) return RomBImage[a - RomB];
        return 0xFF;
    }

    /// <summary>The expected little-endian value of <paramref name="size"/> bytes at <paramref name="a"/> (wrapping at 4 GiB).</summary>
    public ulong Expected(uint a, int size)
    {
        ulong v = 0;
        for (int k = 0; k < size; k++) v |= (ulong)Expected(unchecked(a + (uint)k)) << (8 * k);
        return v;
    }

    /// <summary>Updates the model for a write and returns the bytes the device should have received, by address.</summary>
    public SortedDictionary<uint, byte> ApplyWrite(uint a, int size, ulong value)
    {
        var toDevice = new SortedDictionary<uint, byte>();
        for (int k = 0; k < size; k++)
        {
            uint addr = unchecked(a + (uint)k);
            byte b = (byte)(value >> (8 * k));
            if (IsMmio(addr)) toDevice[addr] = b;
            else if (addr < RamSize) RamModel[addr] = b;
        }
        return toDevice;
    }

    /// <summary>The bytes the device was sent, by address, reconstructed from its log (whatever the access sizes).</summary>
    public SortedDictionary<uint, byte> DeviceWrites()
    {
        var d = new SortedDictionary<uint, byte>();
        foreach (var (write, address, size, value) in Device.Log)
        {
            if (!write) continue;
            for (int k = 0; k < size; k++) d[address + (uint)k] = (byte)(value >> (8 * k));
        }
        return d;
    }

    /// <summary>Interesting addresses: a few bytes either side of every boundary between regions and of 4 GiB.</summary>
    public static IEnumerable<uint> Boundaries()
    {
        uint[] edges = { 0x0, 0x1000, MmioInRam, MmioInRam + 0x1000, RamSize, MmioAfterRom, Unmapped, RomB, 0xFFFF_F000 };
        foreach (uint e in edges)
            for (int d = -4; d <= 2; d++)
                yield return unchecked(e + (uint)d);
    }

    public void Dispose()
    {
        Mmu.Dispose();
        Physical.Dispose();
    }
}
