namespace Emu.Machine;

/// <summary>
/// The exit statuses of the emulator process. A guest that ends the run through the debug-exit
/// port (0xF4) chooses an odd status, (V &lt;&lt; 1) | 1, as under QEMU's isa-debug-exit; every
/// status the emulator chooses itself is even, so the two never collide. The README lists them.
/// </summary>
public static class ExitStatus
{
    /// <summary>Nothing was run (--help, --version).</summary>
    public const int Success = 0;
    /// <summary>The command line is wrong: an unknown verb or option, a bad value.</summary>
    public const int Usage = 2;
    /// <summary>The kernel image cannot be booted: missing, unreadable, malformed, or does not fit.</summary>
    public const int BadImage = 4;
    /// <summary>The guest executed HLT and nothing can wake it (there are no interrupt sources yet).</summary>
    public const int Halted = 6;
    /// <summary>The guest raised an exception (or INT n) that the emulator cannot deliver yet.</summary>
    public const int GuestException = 8;
    /// <summary>The guest used something the emulator does not implement yet.</summary>
    public const int Unimplemented = 10;
    /// <summary>The run reached the limit given with --max-instructions.</summary>
    public const int InstructionLimit = 12;
    /// <summary>The guest shut the processor down (triple fault).</summary>
    public const int Shutdown = 14;
    /// <summary>A bug in the emulator: an internal error stopped the run.</summary>
    public const int InternalError = 16;
    /// <summary>The ./emu script could not build the emulator.</summary>
    public const int BuildFailed = 18;
    /// <summary>Lockstep (--engine lockstep) found the translator disagreeing with the interpreter.</summary>
    public const int Divergence = 20;
    /// <summary>emu bench: a workload did not pass its own check (or the engines disagreed on it).</summary>
    public const int WorkloadFailed = 22;
    /// <summary>Booting through the BIOS, nothing could be booted: the BIOS said so and reset the machine.</summary>
    public const int NothingToBoot = 24;
    /// <summary>The user interrupted the run (Ctrl-C), as shells report SIGINT.</summary>
    public const int Interrupted = 130;
    /// <summary>The process was sent SIGTERM, as shells report it (128 + 15).</summary>
    public const int Terminated = 143;
}
