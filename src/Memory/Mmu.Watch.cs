using System;

namespace Emu.Memory;

// Watched linear ranges, for the CPU's data breakpoints (DR0-DR3 with R/W = 01 or 11).
// A page holding a watched range never enters the TLB, so every access to it takes the slow
// path, which records the hit; accesses elsewhere cost nothing extra.
public sealed unsafe partial class Mmu
{
    private const int MaxWatches = 4;
    private int watchCount;
    private readonly uint[] watchStart = new uint[MaxWatches];
    private readonly uint[] watchLast = new uint[MaxWatches];
    private readonly bool[] watchWritesOnly = new bool[MaxWatches];
    private readonly int[] watchId = new int[MaxWatches];

    /// <summary>Bit n is set when an access touched the range registered with id n; the CPU clears it.</summary>
    public uint WatchHits;

    /// <summary>Replaces the watched ranges: (id, start, length, writes only).</summary>
    public void SetWatches(ReadOnlySpan<(int Id, uint Start, uint Length, bool WritesOnly)> ranges)
    {
        if (ranges.Length > MaxWatches) throw new ArgumentException("at most four watched ranges", nameof(ranges));
        watchCount = ranges.Length;
        for (int i = 0; i < ranges.Length; i++)
        {
            watchId[i] = ranges[i].Id;
            watchStart[i] = ranges[i].Start;
            watchLast[i] = ranges[i].Start + ranges[i].Length - 1;
            watchWritesOnly[i] = ranges[i].WritesOnly;
        }
        WatchHits = 0;
        FlushAll();
    }

    private bool PageWatched(uint linear)
    {
        uint page = linear & ~PhysicalMemory.PageMask;
        for (int i = 0; i < watchCount; i++)
            if ((watchStart[i] & ~PhysicalMemory.PageMask) <= page && page <= (watchLast[i] & ~PhysicalMemory.PageMask)) return true;
        return false;
    }

    private void CheckWatches(uint linear, int size, bool write)
    {
        uint last = linear + (uint)size - 1;
        for (int i = 0; i < watchCount; i++)
        {
            if (watchWritesOnly[i] && !write) continue;
            if (linear <= watchLast[i] && watchStart[i] <= last) WatchHits |= 1u << watchId[i];
        }
    }
}
