using Emu.Memory;

namespace Emu.Machine.Boot;

/// <summary>
/// The GDT a boot loader leaves for a kernel it starts in flat 32-bit protected mode: a null
/// descriptor, then a 4 GiB execute/read code segment and a 4 GiB read/write data segment
/// (base 0, G=1, D=1, accessed) at the selectors the boot protocol names, so that reloading
/// a segment register with the selector it holds works before the kernel has its own GDT.
/// </summary>
public static class FlatGdt
{
    public const ulong FlatCode = 0x00CF_9B00_0000_FFFFUL;
    public const ulong FlatData = 0x00CF_9300_0000_FFFFUL;

    /// <summary>Writes the table at <paramref name="address"/>, zeroing the unused entries; returns its limit.</summary>
    public static ushort Write(PhysicalMemory memory, uint address, ushort codeSelector, ushort dataSelector)
    {
        int entries = System.Math.Max(codeSelector, dataSelector) / 8 + 1;
        for (int n = 0; n < entries; n++)
        {
            ulong d = n * 8 == codeSelector ? FlatCode : n * 8 == dataSelector ? FlatData : 0;
            memory.Write(address + (uint)n * 8, 4, (uint)d);
            memory.Write(address + (uint)n * 8 + 4, 4, (uint)(d >> 32));
        }
        return (ushort)(entries * 8 - 1);
    }
}
