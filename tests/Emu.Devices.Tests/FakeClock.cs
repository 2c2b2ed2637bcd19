using Emu.Devices.Platform;

namespace Emu.Devices.Tests;

/// <summary>A clock the test moves by hand.</summary>
public sealed class FakeClock : IClock
{
    public long Now { get; set; }
}
