using System;
using Emu.Translator;
using Emu.X86;

namespace Emu.Machine;

/// <summary>How guest code runs: the <c>--engine</c> option.</summary>
public enum EngineKind
{
    /// <summary>The interpreter alone.</summary>
    Interpreter,
    /// <summary>The translator: blocks interpreted until hot, then compiled to IL in the background.</summary>
    Translator,
    /// <summary>The translator checked against the interpreter after every block (see <see cref="Board.StartLockstep"/>).</summary>
    Lockstep,
}

public static class EngineKinds
{
    /// <summary>The names <c>--engine</c> accepts, in the order the help lists them.</summary>
    public const string Names = "interpreter, translator, lockstep";

    /// <summary>
    /// Lockstep compiles every block at its first entry, on the emulation thread, so that the
    /// translator's code (not the interpreter's, which it would otherwise run while a block is
    /// cold) is what gets checked, and so that a run is the same run every time.
    /// </summary>
    public const int LockstepDefaultThreshold = 1;

    public static bool TryParse(string name, out EngineKind kind)
    {
        switch (name)
        {
            case "interpreter": kind = EngineKind.Interpreter; return true;
            case "translator": kind = EngineKind.Translator; return true;
            case "lockstep": kind = EngineKind.Lockstep; return true;
            default: kind = default; return false;
        }
    }

    public static string Name(EngineKind kind) => kind switch
    {
        EngineKind.Interpreter => "interpreter",
        EngineKind.Translator => "translator",
        _ => "lockstep",
    };

    /// <summary>
    /// The engine the CPU runs: null for the interpreter, a <see cref="TranslatorEngine"/>
    /// otherwise (background compiles for the translator; compiles on the emulation thread for
    /// lockstep, which must be deterministic). The caller disposes it.
    /// </summary>
    /// <param name="threshold">Block entries before compiling; null for the engine's default.</param>
    public static IExecutionEngine? Create(EngineKind kind, int? threshold = null) => kind switch
    {
        EngineKind.Interpreter => null,
        EngineKind.Translator => new TranslatorEngine(threshold ?? TranslatorEngine.DefaultThreshold),
        EngineKind.Lockstep => new TranslatorEngine(threshold ?? LockstepDefaultThreshold, synchronous: true),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
