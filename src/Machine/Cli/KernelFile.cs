using System;
using System.IO;
using Emu.Machine.Boot;

namespace Emu.Machine.Cli;

/// <summary>Reads a kernel image from the host file system, refusing what cannot be a kernel.</summary>
public static class KernelFile
{
    /// <summary>
    /// Reads the whole file, which may not be larger than <paramref name="limit"/> (guest RAM):
    /// reading stops there even for a file with no end (/dev/zero).
    /// </summary>
    public static byte[] Read(string path, ulong limit)
    {
        if (string.IsNullOrEmpty(path)) throw new BootImageException("no kernel file given");
        int max = (int)Math.Min(limit, (ulong)Array.MaxLength - 1);
        try
        {
            if (Directory.Exists(path)) throw new BootImageException("is a directory, not a kernel image");
            if (!File.Exists(path)) throw new BootImageException("no such file");
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            if (f.CanSeek && f.Length > max) throw TooLarge(f.Length.ToString(), limit);
            using var copy = new MemoryStream(f.CanSeek ? (int)f.Length : 1 << 20);
            var buffer = new byte[1 << 20];
            int n;
            while ((n = f.Read(buffer, 0, (int)Math.Min(buffer.Length, max + 1L - copy.Length))) > 0)
            {
                copy.Write(buffer, 0, n);
                if (copy.Length > max) throw TooLarge("more than " + max, limit);
            }
            return copy.ToArray();
        }
        catch (UnauthorizedAccessException)
        {
            throw new BootImageException("permission denied");
        }
        catch (IOException e)
        {
            throw new BootImageException($"cannot read the file: {e.Message}");
        }
    }

    private static BootImageException TooLarge(string size, ulong limit) =>
        new($"the file is {size} bytes, larger than guest RAM ({limit >> 20} MiB)");
}
