using System;

namespace Emu.X86;

/// <summary>
/// Thrown when the guest uses something the CPU we emulate has but this emulator does not
/// implement yet. It is not a guest exception: the run stops and says what is missing,
/// rather than pretending the instruction does not exist.
/// </summary>
public sealed class EmulatorLimitationException : Exception
{
    public EmulatorLimitationException(string what) : base(what) { }
}
