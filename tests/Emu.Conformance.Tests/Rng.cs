namespace Emu.Conformance.Tests;

/// <summary>SplitMix64: a small, fixed generator, so a seed means the same cases on every .NET version.</summary>
public sealed class Rng
{
    private ulong state;

    public Rng(ulong seed) => state = seed;

    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong Next64() => Mix(state += 0x9E3779B97F4A7C15UL);

    public uint Next32() => (uint)(Next64() >> 32);

    /// <summary>A value in [0, n).</summary>
    public int Below(int n) => (int)((Next64() >> 33) % (ulong)n);

    /// <summary>A value in [lo, hi] (inclusive).</summary>
    public int Range(int lo, int hi) => lo + Below(hi - lo + 1);

    public bool Chance(int percent) => Below(100) < percent;

    public T Pick<T>(T[] items) => items[Below(items.Length)];

    /// <summary>A stable hash of a string (forms get their own stream from the global seed).</summary>
    public static ulong Hash(string s)
    {
        ulong h = 0xCBF29CE484222325UL;
        foreach (char ch in s) h = (h ^ ch) * 0x100000001B3UL;
        return h;
    }
}
