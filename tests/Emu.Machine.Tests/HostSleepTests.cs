using System.Diagnostics;

namespace Emu.Machine.Tests;

/// <summary>
/// An idle guest whose next timer is less than a millisecond away sleeps for it: the event
/// waits of .NET time in whole milliseconds and returned at once for such waits, and the
/// idle guest spun a host core.
/// </summary>
public class HostSleepTests
{
    [Fact]
    public void ASleepBelowAMillisecondSleeps()
    {
        // Ten sleeps of 0.5 ms take at least 5 ms (an upper bound would be a timing test).
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < 10; i++) HostSleep.Sleep(500_000);
        Assert.True(Stopwatch.GetElapsedTime(t0).TotalMilliseconds >= 4.5,
            $"ten sleeps of 0.5 ms took {Stopwatch.GetElapsedTime(t0).TotalMilliseconds:F2} ms");
    }
}
