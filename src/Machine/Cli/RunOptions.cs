using CommandLine;

namespace Emu.Machine.Cli;

/// <summary>The options of <c>emu run</c>.</summary>
[Verb("run", HelpText = "Boot the PC: a Linux bzImage or a Multiboot kernel directly (--kernel), or the BIOS from its drives (--hda, --cdrom).")]
public sealed class RunOptions
{
    [Option("kernel", MetaValue = "FILE",
        HelpText = "Boot this kernel directly, without a BIOS: a Linux bzImage (boot protocol 2.06 or later) or a Multiboot kernel (ELF32 or a.out-kludge).")]
    public string? Kernel { get; set; }

    [Option("initrd", MetaValue = "FILE",
        HelpText = "With a Linux --kernel: the initial RAM disk.")]
    public string? Initrd { get; set; }

    [Option("bios", MetaValue = "FILE",
        HelpText = "The BIOS image for a boot without --kernel (default: SeaBIOS, /usr/share/seabios/bios-256k.bin).")]
    public string? Bios { get; set; }

    [Option("hda", MetaValue = "FILE", HelpText = "Raw disk image on the primary master.")]
    public string? Hda { get; set; }

    [Option("hda-mode", Default = "cow", MetaValue = "MODE",
        HelpText = "ro (read-only), cow (writes kept aside in a temporary file and dropped at exit; the image is never written) or rw (writes go to the file).")]
    public string HdaMode { get; set; } = "cow";

    [Option("hdb", MetaValue = "FILE", HelpText = "Raw disk image on the primary slave.")]
    public string? Hdb { get; set; }

    [Option("hdb-mode", Default = "cow", MetaValue = "MODE", HelpText = "As --hda-mode, for --hdb.")]
    public string HdbMode { get; set; } = "cow";

    [Option("cdrom", MetaValue = "FILE", HelpText = "ISO image in the CD-ROM drive (secondary master).")]
    public string? Cdrom { get; set; }

    [Option("boot", Default = "c", MetaValue = "c|d", HelpText = "BIOS boot: c boots the hard disk first, d the CD-ROM.")]
    public string Boot { get; set; } = "c";

    [Option("screen-dump", MetaValue = "FILE", HelpText = "At exit, write the VGA text screen to FILE.")]
    public string? ScreenDump { get; set; }

    [Option("deterministic", HelpText = "Derive the virtual clock from retired instructions: the same guest with the same input prints the same bytes at the same instruction counts.")]
    public bool Deterministic { get; set; }

    [Option("append", Default = "", MetaValue = "TEXT",
        HelpText = "The kernel command line.")]
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

    [Option("stats", HelpText = "At exit, print where the run went to stderr: instructions interpreted and compiled, compiling, block lookups, TLB misses and page walks, CR3 loads, exceptions and interrupts by vector, port and MMIO accesses by device, host time idle. Ctrl-A s prints the same while it runs.")]
    public bool Stats { get; set; }

    [Option("max-instructions", Default = 0L, MetaValue = "N",
        HelpText = "Stop after N guest instructions (0: no limit).")]
    public long MaxInstructions { get; set; }
}
