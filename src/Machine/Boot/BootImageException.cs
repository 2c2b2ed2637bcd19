using System;

namespace Emu.Machine.Boot;

/// <summary>
/// A kernel image that cannot be booted: missing, unreadable, malformed, or asking for
/// something the loader cannot give. The message is one line, meant for the user.
/// Nothing has been written to guest memory when it is thrown.
/// </summary>
public sealed class BootImageException : Exception
{
    public BootImageException(string message) : base(message) { }
}
