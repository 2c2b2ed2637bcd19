using System;
using System.Diagnostics;
using System.IO;
using System.Threading;

namespace Emu.Machine.Cli;

/// <summary>
/// The host's terminal as the guest's serial console (COM1), as QEMU's -nographic: the
/// terminal goes raw (every key reaches the guest, Ctrl-C included, no local echo), and a
/// thread copies standard input to the UART. Ctrl-A is the escape key: Ctrl-A x quits,
/// Ctrl-A Ctrl-A sends a Ctrl-A, Ctrl-A h lists the keys. Input from a pipe or a file is
/// copied as it comes, with the same escapes; at its end the guest simply gets no more.
/// </summary>
public sealed class HostConsole : IDisposable
{
    private const byte CtrlA = 0x01;

    private readonly Board board;
    private readonly Stream input;
    private readonly TextWriter messages;
    private readonly string? savedTerminal;
    private readonly Thread reader;

    private HostConsole(Board board, Stream input, TextWriter messages, string? savedTerminal)
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
        string? saved = null;
        if (!Console.IsInputRedirected && !OperatingSystem.IsWindows())
        {
            saved = Stty("-g");
            if (saved is not null) Stty("raw -echo");
        }
        return new HostConsole(board, Console.OpenStandardInput(), messages, saved?.Trim());
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
                                if (m > 0) board.Com1.QueueInput(forward.AsSpan(0, m));
                                board.RequestQuit();
                                return;
                            case CtrlA:
                                forward[m++] = CtrlA;
                                continue;
                            case (byte)'h' or (byte)'?':
                                messages.Write("\r\nC-a x    quit the emulator\r\nC-a C-a  send C-a to the guest\r\nC-a h    this help\r\n");
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
                if (m > 0) board.Com1.QueueInput(forward.AsSpan(0, m));
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

    /// <summary>Puts the terminal back as it was.</summary>
    public void Dispose()
    {
        if (savedTerminal is not null) Stty(savedTerminal);
    }

    private static string? Stty(string arguments)
    {
        try
        {
            var psi = new ProcessStartInfo("stty", arguments)
            {
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            // stty works on its standard input, which must be the terminal: the child inherits ours.
            using Process? p = Process.Start(psi);
            if (p is null) return null;
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // no stty: the terminal stays cooked, which still works line by line
        }
    }
}
