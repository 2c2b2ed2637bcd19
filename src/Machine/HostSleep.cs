using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace Emu.Machine;

/// <summary>
/// Sleeps shorter than a millisecond. <see cref="WaitHandle.WaitOne(TimeSpan)"/> and
/// <see cref="Thread.Sleep(TimeSpan)"/> time in whole milliseconds, so an idle guest whose
/// next timer is 0.5 ms away would get a wait of 0 and spin a host core; on a host with
/// POSIX nanosleep it sleeps that long, elsewhere a millisecond.
/// </summary>
public static class HostSleep
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public nint Seconds;
        public nint Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "nanosleep")]
    private static extern int NanoSleep(ref Timespec request, IntPtr remaining);

    private static readonly bool Posix = OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD();

    /// <summary>Sleeps about <paramref name="ns"/> nanoseconds (below a second); a signal may end it early.</summary>
    public static void Sleep(long ns)
    {
        if (ns <= 0) return;
        if (!Posix)
        {
            Thread.Sleep(1);
            return;
        }
        var t = new Timespec { Seconds = (nint)(ns / 1_000_000_000), Nanoseconds = (nint)(ns % 1_000_000_000) };
        NanoSleep(ref t, IntPtr.Zero);
    }
}
