using System;
using System.IO;
using System.Runtime.InteropServices;
using Emu.Machine.Cli;

namespace Emu.Machine;

internal static class Program
{
    private static int Main(string[] args)
    {
        Board? running = null;
        // The first Ctrl-C stops the guest cleanly (its output flushed, where it was reported);
        // a second one kills the process as usual.
        Console.CancelKeyPress += (_, e) =>
        {
            Board? b = running;
            if (b is null) return;
            running = null;
            e.Cancel = true;
            b.RequestInterrupt();
        };
        // SIGTERM ends the run the same way, once: a second one ends the process at once.
        PosixSignalRegistration? term = null;
        term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            Board? b = running;
            if (b is null) return;
            running = null;
            c.Cancel = true;
            b.RequestTerminate();
            term?.Dispose();
        });
        try
        {
            using Stream stdout = new BufferedStream(Console.OpenStandardOutput(), 1 << 16);
            return CommandLineProgram.Run(args, stdout, Console.Error, b =>
            {
                running = b;
                return HostConsole.Attach(b, Console.Error);
            });
        }
        catch (Exception e)
        {
            // A bug in the emulator, never the guest's doing: say so, with what happened.
            Console.Error.WriteLine($"emu: internal error: {e.GetType().Name}: {e.Message}");
            Console.Error.WriteLine("emu: this is a bug in the emulator; please report it with the command line that caused it");
            return ExitStatus.InternalError;
        }
    }
}
