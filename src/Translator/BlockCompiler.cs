using System;
using Emu.X86;

namespace Emu.Translator;

/// <summary>Compiles one decoded block on its own, as a region of one block (compile-cost measurements).</summary>
public static class BlockCompiler
{
    /// <summary>
    /// Compiles <paramref name="block"/> as a one-block region, for flat segments when
    /// <paramref name="flat"/>; the delegate runs it from its start. Called with a null CPU
    /// it returns at once (so a caller can make RyuJIT compile it without running it).
    /// </summary>
    public static Action<Cpu> Compile(Block block, bool flat = true)
    {
        var region = new Region(new[] { block }, flat && block.Code32);
        Func<Cpu, int, int> code = RegionCompiler.Compile(region);
        return cpu => code(cpu, 0);
    }
}
