using System.Linq;
using System;
using System.IO;
using Emu.Devices.Storage;

namespace Emu.Devices.Tests.Storage;

public sealed class DiskImageTests : IDisposable
{
    private readonly TempImages tmp = new();

    public void Dispose() => tmp.Dispose();

    [Fact]
    public void AMissingFileIsAClearError()
    {
        var e = Assert.Throws<DiskImageException>(() => DiskImage.OpenHardDisk(Path.Combine(tmp.Dir, "nope.img")));
        Assert.Contains("does not exist", e.Message);
        Assert.Contains("nope.img", e.Message);
    }

    [Fact]
    public void ADirectoryIsAClearError()
    {
        var e = Assert.Throws<DiskImageException>(() => DiskImage.OpenHardDisk(tmp.Dir));
        Assert.Contains("directory", e.Message);
    }

    [Fact]
    public void AnEmptyFileIsAClearError()
    {
        string p = Path.Combine(tmp.Dir, "empty.img");
        File.WriteAllBytes(p, Array.Empty<byte>());
        var e = Assert.Throws<DiskImageException>(() => DiskImage.OpenHardDisk(p));
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void AHardDiskImageMustBeWholeSectors()
    {
        string p = Path.Combine(tmp.Dir, "odd.img");
        File.WriteAllBytes(p, new byte[1000]);
        var e = Assert.Throws<DiskImageException>(() => DiskImage.OpenHardDisk(p));
        Assert.Contains("not a multiple of the 512-byte", e.Message);
    }

    [Fact]
    public void AnIsoMustBeWhole2048ByteSectors()
    {
        string p = tmp.Create("half.iso", 3, 512); // 1536 bytes: fine for a disk, not for a CD
        var e = Assert.Throws<DiskImageException>(() => DiskImage.OpenCdrom(p));
        Assert.Contains("2048", e.Message);
        using DiskImage ok = DiskImage.OpenHardDisk(p);
        Assert.Equal(3, ok.SectorCount);
    }

    [Fact]
    public void ModesParseAsOnTheCommandLine()
    {
        Assert.Equal(DiskImageMode.ReadOnly, DiskImage.ParseMode("ro"));
        Assert.Equal(DiskImageMode.CopyOnWrite, DiskImage.ParseMode("cow"));
        Assert.Equal(DiskImageMode.ReadWrite, DiskImage.ParseMode("rw"));
        Assert.Throws<DiskImageException>(() => DiskImage.ParseMode("rwx"));
    }

    [Fact]
    public void CopyOnWriteKeepsWritesAsideAndTheFileUnchanged()
    {
        string p = tmp.Create("cow.img", 8);
        byte[] before = File.ReadAllBytes(p);
        using DiskImage d = DiskImage.OpenHardDisk(p); // cow is the default
        Assert.Equal(DiskImageMode.CopyOnWrite, d.Mode);
        var data = new byte[1024];
        Array.Fill(data, (byte)0xC3);
        Assert.True(d.Write(2, 2, data));
        var back = new byte[3 * 512];
        Assert.True(d.Read(1, 3, back));
        Assert.Equal(TempImages.PatternByte(1, 5), back[5]);         // untouched sector from the file
        Assert.All(back.AsSpan(512, 1024).ToArray(), b => Assert.Equal(0xC3, b)); // overlay
        Assert.Equal(2, d.OverlaySectors);
        Assert.True(d.Flush());
        Assert.Equal(before, File.ReadAllBytes(p));
    }

    /// <summary>
    /// A copy-on-write image's writes go to a temporary file that is already deleted (nothing
    /// is left behind, even if the emulator is killed), and cost the process no memory per
    /// sector: a guest writing the whole disk allocates next to nothing.
    /// </summary>
    [Fact]
    public void CopyOnWriteWritesCostNoMemoryAndLeaveNoFile()
    {
        const int sectors = 64 * 2048; // 64 MiB, sparse
        string p = System.IO.Path.Combine(tmp.Dir, "big.img");
        using (var f = File.Create(p)) f.SetLength((long)sectors * 512);
        using DiskImage d = DiskImage.OpenHardDisk(p);
        Assert.Empty(Directory.GetFiles(System.IO.Path.GetTempPath(), $"emu-cow-{Environment.ProcessId}-*"));
        var chunk = new byte[128 * 512];
        var back = new byte[512];
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int s = 0; s < sectors; s += 128)
        {
            chunk[0] = (byte)(s >> 7);
            Assert.True(d.Write(s, 128, chunk));
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 1 << 20, $"writing 64 MiB allocated {allocated} bytes");
        Assert.Equal(sectors, d.OverlaySectors);
        Assert.True(d.Read(128 * 77, 1, back));
        Assert.Equal(77, back[0]);
        Assert.True(d.Read(128 * 77 + 1, 1, back));
        Assert.Equal(0, back[0]);
        Assert.Equal(0, File.ReadAllBytes(p).Count(b => b != 0)); // the image itself is untouched
    }

    [Fact]
    public void ReadOnlyRefusesWrites()
    {
        string p = tmp.Create("ro.img", 4);
        byte[] before = File.ReadAllBytes(p);
        using DiskImage d = DiskImage.OpenHardDisk(p, DiskImageMode.ReadOnly);
        Assert.False(d.IsWritable);
        Assert.False(d.Write(0, 1, new byte[512]));
        Assert.Equal(before, File.ReadAllBytes(p));
    }

    [Fact]
    public void ReadWriteWritesTheFile()
    {
        string p = tmp.Create("rw.img", 4);
        using (DiskImage d = DiskImage.OpenHardDisk(p, DiskImageMode.ReadWrite))
        {
            var data = new byte[512];
            Array.Fill(data, (byte)0x5A);
            Assert.True(d.Write(3, 1, data));
            Assert.True(d.Flush());
        }
        byte[] after = File.ReadAllBytes(p);
        Assert.Equal(0x5A, after[3 * 512]);
        Assert.Equal(0x5A, after[4 * 512 - 1]);
        Assert.Equal(TempImages.PatternByte(2, 511), after[3 * 512 - 1]);
    }

    [Fact]
    public void AccessesOutsideTheImageFail()
    {
        string p = tmp.Create("small.img", 2);
        using DiskImage d = DiskImage.OpenHardDisk(p, DiskImageMode.ReadWrite);
        Assert.False(d.Read(1, 2, new byte[1024]));
        Assert.False(d.Write(2, 1, new byte[512]));
        Assert.False(d.Read(-1, 1, new byte[512]));
    }

    [Fact]
    public void TwoCopyOnWriteUsersMayShareAFile()
    {
        string p = tmp.Create("shared.img", 2);
        using DiskImage a = DiskImage.OpenHardDisk(p);
        using DiskImage b = DiskImage.OpenHardDisk(p, DiskImageMode.ReadOnly);
        var x = new byte[512];
        Assert.True(b.Read(1, 1, x));
        Assert.Equal(TempImages.PatternByte(1, 0), x[0]);
    }
}
