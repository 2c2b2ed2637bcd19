using System;
using System.Collections.Generic;
using System.IO;
using Microsoft.Win32.SafeHandles;

namespace Emu.Devices.Storage;

/// <summary>How guest writes reach a disk image (the meanings QEMU users know).</summary>
public enum DiskImageMode
{
    /// <summary>Read-only: the guest's writes fail as on a write-protected medium.</summary>
    ReadOnly,

    /// <summary>Copy on write (the default): writes go to an overlay (a deleted temporary file); the image is never written.</summary>
    CopyOnWrite,

    /// <summary>Read-write: writes go to the file.</summary>
    ReadWrite,
}

/// <summary>A disk image that cannot be used, with a message for the user.</summary>
public sealed class DiskImageException : Exception
{
    public DiskImageException(string message) : base(message) { }

    public DiskImageException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// A raw disk image file as an array of fixed-size sectors (512 bytes for a hard disk, 2048 for
/// a CD-ROM's ISO 9660 image). Opened and validated before the guest starts: a missing, unreadable,
/// empty or wrongly sized file is a <see cref="DiskImageException"/>. In <see cref="DiskImageMode.ReadOnly"/>
/// and <see cref="DiskImageMode.CopyOnWrite"/> the file is opened for reading only (shared with other
/// readers, never with a writer), so nothing the guest does can change it.
/// </summary>
/// <remarks>
/// A copy-on-write image file keeps the guest's writes in a temporary file of the image's size,
/// sparse, deleted as soon as it is opened (so nothing is left behind, even after a kill), with
/// one bit per sector in memory saying which sectors it holds: the host memory a guest can make
/// the disk use is that bitmap, whatever it writes. An image held in memory (tests, generated
/// media) keeps its overlay in memory.
/// </remarks>
public sealed class DiskImage : IDisposable
{
    public const int HardDiskSectorSize = 512, CdSectorSize = 2048;

    private readonly SafeFileHandle? file;
    private readonly byte[]? memory;                  // an image held in memory (tests, generated media)
    private readonly Dictionary<long, byte[]>? overlay; // copy-on-write sectors of an image in memory, by sector number
    private readonly SafeFileHandle? overlayFile;        // copy-on-write sectors of an image file, at their own offsets
    private readonly ulong[]? inOverlayFile;             // which sectors overlayFile holds, a bit each
    private int overlaySectors;
    private bool disposed;

    private DiskImage(string name, SafeFileHandle? file, byte[]? memory, long length, int sectorSize, DiskImageMode mode,
        SafeFileHandle? overlayFile = null)
    {
        Name = name;
        this.file = file;
        this.memory = memory;
        SectorSize = sectorSize;
        SectorCount = length / sectorSize;
        Mode = mode;
        if (mode != DiskImageMode.CopyOnWrite) return;
        if (overlayFile is null)
        {
            overlay = new Dictionary<long, byte[]>();
            return;
        }
        this.overlayFile = overlayFile;
        inOverlayFile = new ulong[(SectorCount + 63) / 64];
    }

    /// <summary>The file's path (or a description of an in-memory image), for messages.</summary>
    public string Name { get; }

    public int SectorSize { get; }

    public long SectorCount { get; }

    public DiskImageMode Mode { get; }

    /// <summary>Whether guest writes are accepted (false in read-only mode).</summary>
    public bool IsWritable => Mode != DiskImageMode.ReadOnly;

    /// <summary>How many sectors the copy-on-write overlay holds.</summary>
    public int OverlaySectors => overlaySectors;

    /// <summary>Parses a mode as given on the command line: <c>ro</c>, <c>cow</c> or <c>rw</c>.</summary>
    public static bool TryParseMode(string text, out DiskImageMode mode)
    {
        mode = text switch { "ro" => DiskImageMode.ReadOnly, "rw" => DiskImageMode.ReadWrite, _ => DiskImageMode.CopyOnWrite };
        return text is "ro" or "cow" or "rw";
    }

    /// <summary>As <see cref="TryParseMode"/>, throwing <see cref="DiskImageException"/> for anything else.</summary>
    public static DiskImageMode ParseMode(string text) =>
        TryParseMode(text, out DiskImageMode mode) ? mode : throw new DiskImageException($"unknown disk image mode '{text}' (expected ro, cow or rw)");

    /// <summary>Opens a hard disk image (512-byte sectors).</summary>
    public static DiskImage OpenHardDisk(string path, DiskImageMode mode = DiskImageMode.CopyOnWrite)
        => Open(path, mode, HardDiskSectorSize, "hard disk image");

    /// <summary>Opens a CD-ROM image (an ISO file of 2048-byte sectors), always read-only.</summary>
    public static DiskImage OpenCdrom(string path) => Open(path, DiskImageMode.ReadOnly, CdSectorSize, "CD-ROM image");

    /// <summary>An image held in memory (the array is used, not copied).</summary>
    public static DiskImage FromMemory(byte[] data, int sectorSize, DiskImageMode mode, string name = "memory image")
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length == 0 || data.Length % sectorSize != 0)
            throw new DiskImageException($"{name}: size {data.Length} bytes is not a non-zero multiple of {sectorSize}");
        return new DiskImage(name, null, data, data.Length, sectorSize, mode);
    }

    /// <summary>Opens and validates an image file.</summary>
    /// <param name="what">What the file is, for messages ("hard disk image").</param>
    public static DiskImage Open(string path, DiskImageMode mode, int sectorSize, string what = "disk image")
    {
        ArgumentNullException.ThrowIfNull(path);
        if (sectorSize <= 0 || (sectorSize & (sectorSize - 1)) != 0) throw new ArgumentOutOfRangeException(nameof(sectorSize));
        if (path.Length == 0) throw new DiskImageException($"{what}: no file name given");
        if (Directory.Exists(path)) throw new DiskImageException($"{what} '{path}' is a directory, not a file");
        if (!File.Exists(path)) throw new DiskImageException($"{what} '{path}' does not exist");

        bool write = mode == DiskImageMode.ReadWrite;
        SafeFileHandle handle;
        try
        {
            // Readers share with readers only: no other process may write the file while we use it,
            // and in rw mode nobody else may open it for writing either.
            handle = File.OpenHandle(path, FileMode.Open, write ? FileAccess.ReadWrite : FileAccess.Read, FileShare.Read);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new DiskImageException(write
                ? $"{what} '{path}' cannot be opened for writing (permission denied); open it in cow or ro mode to leave it unchanged"
                : $"{what} '{path}' cannot be read (permission denied)", e);
        }
        catch (IOException e)
        {
            throw new DiskImageException($"{what} '{path}' cannot be opened: {e.Message}", e);
        }

        try
        {
            long length = RandomAccess.GetLength(handle);
            if (length == 0) throw new DiskImageException($"{what} '{path}' is empty");
            if (length % sectorSize != 0)
                throw new DiskImageException($"{what} '{path}' is {length} bytes, which is not a multiple of the {sectorSize}-byte sector size");
            // Prove it is readable now rather than when the guest first touches it.
            Span<byte> probe = stackalloc byte[1];
            if (RandomAccess.Read(handle, probe, 0) != 1) throw new DiskImageException($"{what} '{path}' cannot be read");
            SafeFileHandle? overlayFile = mode == DiskImageMode.CopyOnWrite ? CreateOverlayFile(path, what) : null;
            return new DiskImage(path, handle, null, length, sectorSize, mode, overlayFile);
        }
        catch (IOException e)
        {
            handle.Dispose();
            throw new DiskImageException($"{what} '{path}' cannot be read: {e.Message}", e);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A temporary file for a copy-on-write overlay, in the host's temporary directory
    /// (TMPDIR), already deleted: only the handle keeps it.
    /// </summary>
    private static SafeFileHandle CreateOverlayFile(string image, string what)
    {
        string path = Path.Combine(Path.GetTempPath(), $"emu-cow-{Environment.ProcessId}-{Guid.NewGuid():N}.tmp");
        try
        {
            if (OperatingSystem.IsWindows())
                return File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose);
            SafeFileHandle h = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
            File.Delete(path);
            return h;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DiskImageException($"{what} '{image}': cannot create the file for its copy-on-write writes in {Path.GetTempPath()}: {e.Message}", e);
        }
    }

    private bool InOverlayFile(long sector) => (inOverlayFile![sector >> 6] & (1UL << (int)(sector & 63))) != 0;

    /// <summary>Reads <paramref name="count"/> whole sectors from <paramref name="sector"/> into <paramref name="destination"/>.</summary>
    /// <returns>False if the range is outside the image or the host read failed (the guest sees a medium error).</returns>
    public bool Read(long sector, int count, Span<byte> destination)
    {
        if (disposed || sector < 0 || count < 0 || sector + count > SectorCount || destination.Length < count * SectorSize) return false;
        for (int i = 0; i < count; i++)
        {
            Span<byte> d = destination.Slice(i * SectorSize, SectorSize);
            if (overlay is not null && overlay.TryGetValue(sector + i, out byte[]? copy))
            {
                copy.CopyTo(d);
                continue;
            }
            if (inOverlayFile is not null && InOverlayFile(sector + i))
            {
                if (!ReadFile(overlayFile!, (sector + i) * SectorSize, d)) return false;
                continue;
            }
            if (!ReadBacking(sector + i, d)) return false;
        }
        return true;
    }

    private bool ReadBacking(long sector, Span<byte> destination)
    {
        long offset = sector * SectorSize;
        if (memory is not null)
        {
            memory.AsSpan((int)offset, SectorSize).CopyTo(destination);
            return true;
        }
        return ReadFile(file!, offset, destination);
    }

    private static bool ReadFile(SafeFileHandle handle, long offset, Span<byte> destination)
    {
        try
        {
            int done = 0;
            while (done < destination.Length)
            {
                int n = RandomAccess.Read(handle, destination.Slice(done), offset + done);
                if (n <= 0) return false; // the file shrank under us
                done += n;
            }
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Writes <paramref name="count"/> whole sectors at <paramref name="sector"/>.</summary>
    /// <returns>False if the image is read-only, the range is outside it, or the host write failed.</returns>
    public bool Write(long sector, int count, ReadOnlySpan<byte> source)
    {
        if (disposed || !IsWritable || sector < 0 || count < 0 || sector + count > SectorCount || source.Length < count * SectorSize) return false;
        if (overlay is not null)
        {
            for (int i = 0; i < count; i++)
            {
                if (!overlay.TryGetValue(sector + i, out byte[]? copy))
                {
                    copy = new byte[SectorSize];
                    overlay[sector + i] = copy;
                    overlaySectors++;
                }
                source.Slice(i * SectorSize, SectorSize).CopyTo(copy);
            }
            return true;
        }
        long offset = sector * SectorSize;
        int length = count * SectorSize;
        if (inOverlayFile is not null)
        {
            try
            {
                RandomAccess.Write(overlayFile!, source.Slice(0, length), offset);
            }
            catch (IOException)
            {
                return false; // the temporary directory is full: the guest sees a write error
            }
            for (long s = sector; s < sector + count; s++)
            {
                if (InOverlayFile(s)) continue;
                inOverlayFile[s >> 6] |= 1UL << (int)(s & 63);
                overlaySectors++;
            }
            return true;
        }
        if (memory is not null)
        {
            source.Slice(0, length).CopyTo(memory.AsSpan((int)offset));
            return true;
        }
        try
        {
            RandomAccess.Write(file!, source.Slice(0, length), offset);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Makes written data durable (FLUSH CACHE); a no-op unless the file is written.</summary>
    public bool Flush()
    {
        if (disposed || file is null || Mode != DiskImageMode.ReadWrite) return !disposed;
        try
        {
            RandomAccess.FlushToDisk(file);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        file?.Dispose();
        overlayFile?.Dispose();
    }
}
