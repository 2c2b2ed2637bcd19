using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading;

namespace Emu.Machine.Cli;

/// <summary>
/// The host's terminal as the guest's serial console (COM1), as QEMU's -nographic: the
/// terminal goes raw (every key reaches the guest, Ctrl-C included, no local echo), and a
/// thread copies standard input to the UART. Ctrl-A is the escape key: Ctrl-A x quits,
/// Ctrl-A s prints the run's statistics, Ctrl-A Ctrl-A sends a Ctrl-A, Ctrl-A h lists the keys. Input from a pipe or a file is
/// copied as it comes, with the same escapes; at its end the guest simply gets no more.
/// </summary>
public sealed class HostConsole : IDisposable
{
    private const byte CtrlA = 0x01;

    private readonly Board board;
    private readonly Stream input;
    private readonly TextWriter messages;
    private readonly byte[]? savedTerminal;
    private readonly Thread reader;

    private HostConsole(Board board, Stream input, TextWriter messages, byte[]? savedTerminal)
    {
        this.board = board;
        this.input = input;
        this.messages = messages;
        this.savedTerminal = savedTerminal;
        board.InputAttached = true;
        reader = new Thread(ReadLoop) { IsBackground = true, Name = "console input" };
        reader.Start();
    }

    /// <summary>Connects the process's standard input to the board's COM1; raw mode when it is a terminal.</summary>
    public static HostConsole Attach(Board board, TextWriter messages)
    {
        byte[]? saved = Console.IsInputRedirected ? null : Terminal.MakeRaw();
        // Input from a pipe or a file is all there at once: it waits for the guest to listen.
        board.Com1.HoldInputUntilReceiverEnabled = Console.IsInputRedirected;
        // File descriptor 0 itself: Console.OpenStandardInput on a terminal reads through .NET's
        // line editor, which echoes what is typed and sets its own terminal modes.
        Stream input = OperatingSystem.IsWindows()
            ? Console.OpenStandardInput()
            : new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(0, ownsHandle: false), FileAccess.Read, 1);
        return new HostConsole(board, input, messages, saved);
    }

    private void ReadLoop()
    {
        var buffer = new byte[256];
        var forward = new byte[256];
        bool escape = false;
        try
        {
            while (true)
            {
                int n = input.Read(buffer, 0, buffer.Length);
                if (n <= 0) break;
                int m = 0;
                for (int i = 0; i < n; i++)
                {
                    byte b = buffer[i];
                    if (escape)
                    {
                        escape = false;
                        switch (b)
                        {
                            case (byte)'x' or (byte)'X':
                                if (m > 0) board.Com1.QueueInputWaiting(forward.AsSpan(0, m));
                                board.RequestQuit();
                                return;
                            case CtrlA:
                                forward[m++] = CtrlA;
                                continue;
                            case (byte)'s' or (byte)'S':
                                messages.Write("\r\n" + StatisticsNow().Replace("\n", "\r\n"));
                                messages.Flush();
                                continue;
                            case (byte)'h' or (byte)'?':
                                messages.Write("\r\nC-a x    quit the emulator\r\nC-a s    print the run's statistics (see --stats)\r\nC-a C-a  send C-a to the guest\r\nC-a h    this help\r\n");
                                messages.Flush();
                                continue;
                            default:
                                continue;
                        }
                    }
                    if (b == CtrlA)
                    {
                        escape = true;
                        continue;
                    }
                    forward[m++] = b;
                }
                if (m > 0) board.Com1.QueueInputWaiting(forward.AsSpan(0, m));
            }
        }
        catch (IOException)
        {
            // The terminal went away: the guest gets no more input.
        }
        catch (ObjectDisposedException)
        {
        }
        board.InputAttached = false;
        board.WakeIdle();
    }

    /// <summary>
    /// The run's statistics, read from this thread while the guest runs. A list the emulation
    /// thread changes at that moment (a device window mapped) can make the reading fail: then
    /// a line saying so, never an exception that would end the process.
    /// </summary>
    private string StatisticsNow()
    {
        try
        {
            return RunStatistics.Report(board);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            return "\nemu statistics: not readable at this moment (the machine changed under the reading); press C-a s again\n";
        }
    }

    /// <summary>
    /// Puts the terminal back as it was. .NET's console switches a terminal's keypad and
    /// cursor keys to application mode (ESC [?1h ESC =) and does not always switch them back:
    /// they are put back to normal (ESC [?1l ESC &gt;), or the shell's arrow keys misbehave.
    /// </summary>
    public void Dispose()
    {
        if (savedTerminal is null) return;
        Terminal.Restore(savedTerminal);
        if (!Console.IsOutputRedirected)
        {
            using Stream tty = Console.OpenStandardOutput();
            tty.Write("\x1b[?1l\x1b>"u8);
            tty.Flush();
        }
    }

    /// <summary>
    /// The POSIX terminal interface on standard input, called directly: a child "stty" would
    /// not do, because .NET puts its own terminal settings back whenever a child process ends.
    /// </summary>
    private static class Terminal
    {
        private const int StdinFd = 0, TcsaNow = 0;

        /// <summary>Linux's struct termios: c_oflag is the second 32-bit field; OPOST and ONLCR its bits.</summary>
        private const int LinuxOflagOffset = 4;
        private const uint Opost = 0x1, Onlcr = 0x4;

        /// <summary>Room for any platform's struct termios (60 bytes on Linux, 72 on macOS).</summary>
        private const int TermiosBytes = 256;

        [DllImport("libc", SetLastError = true)]
        private static extern int isatty(int fd);

        [DllImport("libc", SetLastError = true)]
        private static extern int tcgetattr(int fd, byte[] termios);

        [DllImport("libc", SetLastError = true)]
        private static extern int tcsetattr(int fd, int optionalActions, byte[] termios);

        [DllImport("libc")]
        private static extern void cfmakeraw(byte[] termios);

        /// <summary>Raw mode (no echo, no line editing, no signals from keys); returns the settings to restore, or null.</summary>
        public static byte[]? MakeRaw()
        {
            if (OperatingSystem.IsWindows()) return null;
            try
            {
                if (isatty(StdinFd) != 1) return null;
                var saved = new byte[TermiosBytes];
                if (tcgetattr(StdinFd, saved) != 0) return null;
                var raw = (byte[])saved.Clone();
                cfmakeraw(raw);
                // Output processing stays on, as QEMU keeps it: a guest's bare LF (port 0xE9,
                // most bare-metal programs) still starts the next line at its left edge.
                if (OperatingSystem.IsLinux())
                {
                    uint oflag = BitConverter.ToUInt32(raw, LinuxOflagOffset) | Opost | Onlcr;
                    BitConverter.TryWriteBytes(raw.AsSpan(LinuxOflagOffset), oflag);
                }
                return tcsetattr(StdinFd, TcsaNow, raw) == 0 ? saved : null;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                return null; // no POSIX terminal interface: the terminal stays as it is, line by line
            }
        }

        public static void Restore(byte[] saved)
        {
            try
            {
                tcsetattr(StdinFd, TcsaNow, saved);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
            }
        }
    }
}
