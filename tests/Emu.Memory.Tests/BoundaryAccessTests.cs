using System;
using System.Collections.Generic;

namespace Emu.Memory.Tests;

/// <summary>
/// Every access size at a few bytes either side of every region boundary (RAM, ROM, MMIO,
/// unmapped, the top of the 4 GiB space), through the MMU and through the physical bus,
/// checked byte for byte against <see cref="AddressSpaceFixture"/>'s model. An access that
/// reached host memory outside guest RAM or a ROM block would read garbage or corrupt a
/// neighbour, and show up here as a mismatch.
/// </summary>
public unsafe class BoundaryAccessTests
{
    public static TheoryData<uint, int> Accesses(int[] sizes)
    {
        var d = new TheoryData<uint, int>();
        foreach (uint a in AddressSpaceFixture.Boundaries())
            foreach (int s in sizes)
                d.Add(a, s);
        return d;
    }

    public static TheoryData<uint, int> ReadCases() => Accesses(new[] { 1, 2, 4, 8 });
    public static TheoryData<uint, int> WriteCases() => Accesses(new[] { 1, 2, 4 });

    private static ulong MmuRead(Mmu m, uint a, int size) => size switch
    {
        1 => m.Read8(a),
        2 => m.Read16(a),
        4 => m.Read32(a),
        _ => m.Read64(a),
    };

    private static void MmuWrite(Mmu m, uint a, int size, uint v)
    {
        switch (size)
        {
            case 1: m.Write8(a, (byte)v); break;
            case 2: m.Write16(a, (ushort)v); break;
            default: m.Write32(a, v); break;
        }
    }

    private static uint Truncate(ulong v, int size) => (uint)(size == 4 ? v & 0xFFFF_FFFF : v & ((1UL << (8 * size)) - 1));

    [Theory]
    [MemberData(nameof(ReadCases))]
    public void MmuReadSeesEachByteOfEachRegion(uint address, int size)
    {
        using var f = new AddressSpaceFixture();
        ulong expected = f.Expected(address, size);
        Assert.Equal(expected, MmuRead(f.Mmu, address, size)); // cold TLB: the slow path
        Assert.Equal(expected, MmuRead(f.Mmu, address, size)); // warm TLB: the fast path
    }

    [Theory]
    [MemberData(nameof(WriteCases))]
    public void MmuWriteLandsOnlyInRamAndDevices(uint address, int size)
    {
        using var f = new AddressSpaceFixture();
        const ulong value = 0x8877_6655_4433_2211;
        // Twice: the second write may go through a write-TLB entry the first one filled.
        MmuWrite(f.Mmu, address, size, Truncate(value, size));
        f.Device.Log.Clear();
        MmuWrite(f.Mmu, address, size, Truncate(value, size));
        SortedDictionary<uint, byte> toDevice = f.ApplyWrite(address, size, value);
        AssertMemoryMatchesModel(f);
        Assert.Equal(toDevice, f.DeviceWrites());
        Assert.Equal(f.Expected(address, size), MmuRead(f.Mmu, address, size));
    }

    [Theory]
    [MemberData(nameof(WriteCases))]
    public void PhysicalReadSeesEachByteOfEachRegion(uint address, int size)
    {
        using var f = new AddressSpaceFixture();
        Assert.Equal(f.Expected(address, size), f.Physical.Read(address, size));
    }

    [Theory]
    [MemberData(nameof(WriteCases))]
    public void PhysicalWriteLandsOnlyInRamAndDevices(uint address, int size)
    {
        using var f = new AddressSpaceFixture();
        const ulong value = 0x8877_6655_4433_2211;
        f.Physical.Write(address, size, Truncate(value, size));
        SortedDictionary<uint, byte> toDevice = f.ApplyWrite(address, size, value);
        AssertMemoryMatchesModel(f);
        Assert.Equal(toDevice, f.DeviceWrites());
    }

    [Fact]
    public void BulkCopiesAcrossTheEndOfRamStopAtRam()
    {
        using var f = new AddressSpaceFixture();
        var data = new byte[64];
        for (int i = 0; i < data.Length; i++) data[i] = (byte)(0xC0 + i);
        uint at = AddressSpaceFixture.RamSize - 16;
        f.Physical.WriteBytes(at, data);
        f.ApplyWrite(at, 8, BitConverter.ToUInt64(data, 0));
        f.ApplyWrite(at + 8, 8, BitConverter.ToUInt64(data, 8));
        AssertMemoryMatchesModel(f); // the other 48 bytes went to ROM A: dropped
        var back = new byte[64];
        f.Physical.ReadBytes(at, back);
        for (int i = 0; i < back.Length; i++) Assert.Equal(f.Expected(at + (uint)i), back[i]);
    }

    /// <summary>All of RAM equals the model, and both ROM images are intact.</summary>
    private static void AssertMemoryMatchesModel(AddressSpaceFixture f)
    {
        var ram = new ReadOnlySpan<byte>(f.Physical.Ram, (int)AddressSpaceFixture.RamSize);
        for (uint a = 0; a < AddressSpaceFixture.RamSize; a++)
        {
            if (AddressSpaceFixture.IsMmio(a)) continue;
            if (ram[(int)a] != f.RamModel[a]) Assert.Fail($"RAM byte {a:X8} is {ram[(int)a]:X2}, expected {f.RamModel[a]:X2}");
        }
        for (uint a = AddressSpaceFixture.RomA; a < AddressSpaceFixture.RomA + 0x1000; a++)
            Assert.Equal(f.Expected(a), f.Physical.Read8(a));
        for (uint a = 0xFFFF_FFF0; a != 0; a++) Assert.Equal(f.Expected(a), f.Physical.Read8(a));
        for (uint a = AddressSpaceFixture.RomB; a < AddressSpaceFixture.RomB + 0x10; a++) Assert.Equal(f.Expected(a), f.Physical.Read8(a));
    }
}
