using CommandLine;

namespace Emu.Machine.Cli;

/// <summary>The options of <c>emu run</c>.</summary>
[Verb("run", HelpText = "Boot a Multiboot kernel (ELF32, or an image with the a.out-kludge header) and run it.")]
public sealed class RunOptions
{
    [Option("kernel", Required = true, MetaValue = "FILE",
        HelpText = "The Multiboot kernel image to boot.")]
    public string Kernel { get; set; } = "";

    [Option("append", Default = "", MetaValue = "TEXT",
        HelpText = "The kernel command line (Multiboot cmdline).")]
    public string Append { get; set; } = "";

    [Option("memory", Default = "128M", MetaValue = "SIZE",
        HelpText = "Guest RAM: MiB, or a number with an M or G suffix (2M to 3584M).")]
    public string Memory { get; set; } = "128M";

    [Option("engine", Default = "interpreter", MetaValue = "NAME",
        HelpText = "How guest code runs: interpreter; translator (hot blocks compiled to IL); lockstep (the translator checked against the interpreter after every block, stopping at the first divergence).")]
    public string Engine { get; set; } = "interpreter";

    [Option("jit-threshold", MetaValue = "N",
        HelpText = "Translator and lockstep: entries of a block before it is compiled (default: the translator's measured threshold, or 1 for lockstep: every block compiled at its first entry).")]
    public int? JitThreshold { get; set; }

    [Option("max-instructions", Default = 0L, MetaValue = "N",
        HelpText = "Stop after N guest instructions (0: no limit).")]
    public long MaxInstructions { get; set; }
}
