namespace Emu.Machine;

internal static class Program
{
    private static int Main(string[] args)
    {
        System.Console.Error.WriteLine("emu: the command-line program is not built yet");
        return 2;
    }
}
