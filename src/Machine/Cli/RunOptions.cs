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
        HelpText = "How guest code runs: interpreter (the only engine so far).")]
    public string Engine { get; set; } = "interpreter";

    [Option("max-instructions", Default = 0L, MetaValue = "N",
        HelpText = "Stop after N guest instructions (0: no limit).")]
    public long MaxInstructions { get; set; }
}
