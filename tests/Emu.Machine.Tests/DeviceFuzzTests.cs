using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using Emu.Devices.Firmware;
using Emu.Devices.Storage;
using Xunit.Abstractions;

namespace Emu.Machine.Tests;

/// <summary>
/// The device fuzzer (issue 12): random port and MMIO accesses, of random widths and values,
/// to a whole PC board (<see cref="Board"/>, 2 MiB of RAM, a BIOS ROM, two hard disks and a
/// CD-ROM on image files), driven from the host through the board's port and memory buses, with
/// the virtual clock advanced in between so that timers fire and interrupts are acknowledged.
/// Each test takes one device (a profile: its ports, biased towards its registers, and
/// structured sequences where randomness alone does not get deep: fw_cfg DMA descriptors
/// pointing anywhere, IDE and ATAPI commands with absurd counts and LBAs, DISPI and VGA
/// registers out of range, PCI BARs moved onto other devices, ...); "board" takes them all, and
/// ports and addresses anywhere. "stdvga" adds QEMU's PCI std VGA function (which the board does
/// not wire yet) at 00:02.0, mapped as docs/wiring-video.md says, and moves its BARs around.
/// <para>
/// After every sequence: no host exception escaped; guest RAM holds exactly what the fuzzer
/// wrote to it and what fw_cfg DMA was told to write (nothing else writes RAM); the BIOS ROM is
/// unchanged (both copies, checked at the end of each board's life); the sequence allocated a
/// bounded amount of host memory, and a flood of one access repeated 200,000 times allocates
/// almost none (device state does not grow on guest demand), beyond the copy-on-write overlay,
/// which stays within the disk; the bus-master and PM blocks decode where their BARs say;
/// INTR follows the PIC. Guest-visible errors where the hardware gives them: fw_cfg DMA sets
/// its error bit exactly when told to move data to or from something that is not RAM; an ATA
/// read, write or verify past the end of the disk fails with IDNF, a write to the read-only
/// disk with ABRT; an ATAPI READ past the end of the disc is a CHECK CONDITION; a PACKET
/// command's data block moves at least one byte. At the end the disk image files (copy-on-write
/// and read-only) are unchanged. A fresh board every 200 sequences.
/// </para>
/// <para>
/// CI runs 400 sequences per device (about a second each, 15 s in all). EMU_DEVICE_FUZZ_SEQUENCES=N runs N sequences per
/// device instead (the issue's long run is 100000); EMU_DEVICE_FUZZ_SEED=S changes the seed (the
/// runs are deterministic: the clock counts no host time). The test output gives each run's
/// sequences, accesses and time.
/// </para>
/// </summary>
public sealed class DeviceFuzzTests : IDisposable
{
    private const int CiSequences = 400;

    private readonly ITestOutputHelper output;
    private readonly Media media = new();

    public DeviceFuzzTests(ITestOutputHelper output) => this.output = output;

    public void Dispose() => media.Dispose();

    [Theory]
    [InlineData("pic")]
    [InlineData("pit")]
    [InlineData("rtc")]
    [InlineData("system")]
    [InlineData("uart")]
    [InlineData("i8042")]
    [InlineData("pci")]
    [InlineData("pm")]
    [InlineData("ide")]
    [InlineData("atapi")]
    [InlineData("fwcfg")]
    [InlineData("vga")]
    [InlineData("stdvga")]
    [InlineData("board")]
    public void RandomAccessesKeepTheHostAndGuestMemorySafe(string device)
    {
        int sequences = CiSequences;
        if (int.TryParse(Environment.GetEnvironmentVariable("EMU_DEVICE_FUZZ_SEQUENCES"), out int asked) && asked > 0) sequences = asked;
        int seed = 12;
        if (int.TryParse(Environment.GetEnvironmentVariable("EMU_DEVICE_FUZZ_SEED"), out int s)) seed = s;
        seed = seed * 1000 + Array.IndexOf(Profiles, device);
        Assert.True(Array.IndexOf(Profiles, device) >= 0, $"unknown profile {device}");

        var random = new Random(seed);
        var clock = Stopwatch.StartNew();
        var stats = new Stats();
        Rig? rig = null;
        try
        {
            for (int n = 0; n < sequences; n++)
            {
                if (rig is null || n % Rig.SequencesPerBoard == 0)
                {
                    rig?.Finish();
                    rig?.Dispose();
                    // Every third board has no drives: both channels empty, floating.
                    rig = new Rig(media, device, seed, stats, drives: n / Rig.SequencesPerBoard % 3 != 2);
                }
                rig.Sequence = n;
                rig.RunSequence(random, flood: n == 0 || random.Next(40) == 0);
            }
            rig?.Finish();
        }
        finally
        {
            rig?.Dispose();
        }
        media.CheckUnchanged();
        output.WriteLine($"device fuzzer, {device}: {sequences} sequences, {stats.Accesses} accesses, {stats.Floods} floods, " +
                         $"{stats.Dmas} fw_cfg DMAs ({stats.DmaErrors} with the error bit), {stats.IdeChecks} IDE/ATAPI error checks, " +
                         $"{stats.StaleMappingChecks} old std VGA mappings checked, " +
                         $"seed {seed}, {clock.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>
    /// fw_cfg DMA told to read a file into memory that is not RAM (past the top of RAM, across
    /// it, the VGA window and frame buffer, the APIC, the BIOS ROM): the error bit, and the ROM,
    /// video memory and RAM (but for the descriptor's control word) unchanged.
    /// </summary>
    [Theory]
    [InlineData(Rig.RamBytes)]
    [InlineData(Rig.RamBytes - 8)]
    [InlineData(0xA_0000u)]
    [InlineData(0xE000_0000u)]
    [InlineData(0xFEE0_0000u)]
    [InlineData(0xFFFE_0000u)]
    public void DmaToMemoryThatIsNotRamSetsTheErrorBitAndWritesNothingThere(uint target)
    {
        using var rig = new Rig(media, "fwcfg", 1, new Stats());
        Board board = rig.Board;
        const uint descriptor = 0x1000;
        byte[] vram = board.Vga.VideoRam.ToArray();
        byte[] ramBefore = new byte[Rig.RamBytes];
        ushort key = FindFile(board, "bootorder");
        uint length = 32;
        rig.Write(descriptor, 4, BinaryPrimitives.ReverseEndianness(FwCfg.DmaSelect | FwCfg.DmaRead | (uint)key << 16));
        rig.Write(descriptor + 4, 4, BinaryPrimitives.ReverseEndianness(length));
        rig.Write(descriptor + 8, 4, 0);
        rig.Write(descriptor + 12, 4, BinaryPrimitives.ReverseEndianness(target));
        board.Physical.ReadBytes(0, ramBefore); // the descriptor is the guest's own write
        rig.Out(FwCfg.DmaLowPort, 4, BinaryPrimitives.ReverseEndianness(descriptor));

        Assert.Equal(FwCfg.DmaError, BinaryPrimitives.ReverseEndianness(board.Physical.Read(descriptor, 4)));
        Assert.True(vram.AsSpan().SequenceEqual(board.Vga.VideoRam), "video memory changed");
        rig.Finish(); // the ROM, both copies
        var ramAfter = new byte[Rig.RamBytes];
        board.Physical.ReadBytes(0, ramAfter);
        // Only the control word changed (the file's 32 bytes go in one piece, refused whole, even across the top of RAM).
        for (uint a = 0; a < Rig.RamBytes; a++)
            if (a < descriptor || a >= descriptor + 4) Assert.True(ramBefore[a] == ramAfter[a], $"RAM at {a:X} changed");
    }

    private static ushort FindFile(Board board, string name)
    {
        board.Io.Out(FwCfg.SelectorPort, 2, FwCfg.FileDir);
        var dir = new byte[4 + 64 * 16];
        for (int i = 0; i < dir.Length; i++) dir[i] = (byte)board.Io.In(FwCfg.DataPort, 1);
        uint count = BinaryPrimitives.ReadUInt32BigEndian(dir);
        for (int i = 0; i < count && i < 16; i++)
        {
            Span<byte> e = dir.AsSpan(4 + 64 * i, 64);
            if (System.Text.Encoding.ASCII.GetString(e[8..]).TrimEnd('\0') == name) return BinaryPrimitives.ReadUInt16BigEndian(e[4..]);
        }
        throw new InvalidOperationException($"no fw_cfg file {name}");
    }

    private static readonly string[] Profiles = ["pic", "pit", "rtc", "system", "uart", "i8042", "pci", "pm", "ide", "atapi", "fwcfg", "vga", "stdvga", "board"];

    /// <summary>The disk image files, made once per test, and what they held.</summary>
    private sealed class Media : IDisposable
    {
        public const int HdaSectors = 2048, HdbSectors = 64, CdSectors = 50;
        public readonly string Dir = Path.Combine(Path.GetTempPath(), "emu-device-fuzz-" + Guid.NewGuid().ToString("N"));
        public readonly string Hda, Hdb, Cd;
        private readonly Dictionary<string, (byte[] Hash, DateTime Written)> original = new();

        public Media()
        {
            Directory.CreateDirectory(Dir);
            var r = new Random(5);
            Hda = Make("hda.img", HdaSectors * 512, r);
            Hdb = Make("hdb.img", HdbSectors * 512, r);
            Cd = Make("cd.iso", CdSectors * 2048, r);
        }

        private string Make(string name, int size, Random r)
        {
            string path = Path.Combine(Dir, name);
            var data = new byte[size];
            r.NextBytes(data);
            File.WriteAllBytes(path, data);
            original[path] = (SHA256.HashData(data), File.GetLastWriteTimeUtc(path));
            return path;
        }

        /// <summary>The files were never written: the copy-on-write and read-only modes kept the guest's writes away from them.</summary>
        public void CheckUnchanged()
        {
            foreach ((string path, (byte[] hash, DateTime written)) in original)
            {
                Assert.True(SHA256.HashData(File.ReadAllBytes(path)).AsSpan().SequenceEqual(hash), $"{path} was changed");
                Assert.Equal(written, File.GetLastWriteTimeUtc(path));
            }
        }

        public void Dispose()
        {
            try { Directory.Delete(Dir, true); } catch (IOException) { }
        }
    }

    /// <summary>What a run did, for its report.</summary>
    private sealed class Stats
    {
        public long Accesses, Floods, Dmas, DmaErrors, IdeChecks, StaleMappingChecks;
    }

    private enum OpKind : byte { In, Out, Read, Write, Advance, Acknowledge, Flood, Note }

    private readonly record struct Op(OpKind Kind, ulong Address, int Size, ulong Value);

    /// <summary>One board and the fuzzer's model of what its RAM must hold.</summary>
    private sealed unsafe class Rig : IDisposable
    {
        public const int SequencesPerBoard = 200;
        public const uint RamBytes = 2u << 20;
        private const uint BiosBase = 0xFFFE_0000;
        private const long SequenceAllocationCap = 16L << 20;
        private const long FloodAllocationCap = 256L << 10;
        private const int FloodRepeats = 200_000;

        private readonly Stats stats;
        private readonly string profile;
        public readonly Board Board;
        private readonly DiskImage hda, hdb, cd;
        private readonly byte[] bios;
        private readonly byte[] expected;
        private readonly Op[] log = new Op[64];
        private long logCount;
        private ulong dmaHigh;
        private readonly long memoryAtStart, allocatedAtStart, threadAllocatedAtStart;
        public int Sequence;

        private readonly bool drives;

        public Rig(Media media, string profile, int seed, Stats stats, bool drives = true)
        {
            this.drives = drives;
            this.profile = profile;
            this.stats = stats;
            hda = DiskImage.OpenHardDisk(media.Hda, DiskImageMode.CopyOnWrite);
            hdb = DiskImage.OpenHardDisk(media.Hdb, DiskImageMode.ReadOnly);
            cd = DiskImage.OpenCdrom(media.Cd);
            Board = new Board(RamBytes >> 20, Stream.Null, null, new BoardOptions
            {
                Deterministic = true, SerialOutput = Stream.Null, Hda = drives ? hda : null, Hdb = drives ? hdb : null, Cdrom = drives ? cd : null,
            });
            var r = new Random(seed);
            bios = new byte[0x2_0000];
            r.NextBytes(bios);
            var vgaBios = new byte[0x8000];
            r.NextBytes(vgaBios);
            Board.BootBios(bios, vgaBios, 'c');
            // A file the guest may write through DMA (QEMU has such files; the board has none of its own).
            Board.FwCfg.AddFile("etc/fuzz-writable", new byte[300], writable: true);
            if (profile == "stdvga") WireStdVga();
            expected = Ram.ToArray();
            memoryAtStart = GC.GetTotalMemory(true);
            allocatedAtStart = GC.GetTotalAllocatedBytes();
            threadAllocatedAtStart = GC.GetAllocatedBytesForCurrentThread();
        }

        private Span<byte> Ram => new(Board.Physical.Ram, (int)RamBytes);

        private Emu.Devices.Video.StdVgaPciFunction? stdVga;
        private readonly List<(uint Address, bool Lfb)> stdVgaMapped = new();

        /// <summary>
        /// QEMU's std VGA function at 00:02.0 on the board's VGA, as docs/wiring-video.md wires it:
        /// PhysicalMemory cannot unmap, so each new BAR address in the PCI hole is mapped once and
        /// old mappings stay (the devices check the address). At most 32 here: PhysicalMemory holds
        /// 65535 regions, and a guest moving a BAR that often would exhaust them.
        /// </summary>
        private void WireStdVga()
        {
            var f = new Emu.Devices.Video.StdVgaPciFunction(Board.Vga);
            Board.Pci.Add(2, 0, f);
            f.DecodingChanged += fn =>
            {
                Map(fn.FrameBufferAddress, (uint)Board.Vga.VideoRamSize, lfb: true);
                Map(fn.MmioAddress, Emu.Devices.Video.StdVgaPciFunction.MmioBarSize, lfb: false);
            };
            stdVga = f;

            void Map(uint? at, uint size, bool lfb)
            {
                if (at is not uint a || a < RamBytes || (ulong)a + size > 0xFEC0_0000 || stdVgaMapped.Count >= 32) return;
                if (stdVgaMapped.Contains((a, lfb))) return;
                stdVgaMapped.Add((a, lfb));
                if (lfb) Board.Physical.MapMmio(a, size, Board.Vga, "VGA LFB");
                else Board.Physical.MapMmio(a, size, f, "VGA MMIO");
            }
        }

        private void StdVgaSequence(Random r)
        {
            if (stdVga is not { } f)
            {
                VgaSequence(r);
                return;
            }
            switch (r.Next(5))
            {
                case 0: // BAR0 or BAR2 anywhere (the hole, RAM, the BIOS, 0), decoding on or off
                    int bar = r.Next(2) == 0 ? 0x10 : 0x18;
                    uint at = r.Next(6) switch
                    {
                        0 => 0xE000_0000,
                        1 => 0xC000_0000 + ((uint)r.Next(0x100) << 20),
                        2 => (uint)r.Next((int)RamBytes),
                        3 => 0xFFFF_FFFF,
                        4 => 0xFEBF_F000,
                        _ => (uint)r.NextInt64(1L << 32),
                    };
                    ConfigWrite(2, 0, bar, 4, at);
                    ConfigWrite(2, 0, 4, 2, (uint)r.Next(8));
                    break;
                case 1: // the register window: the VGA ports, the DISPI registers, QEMU's extension
                    if (f.MmioAddress is not uint m) goto case 0;
                    for (int i = 0; i < r.Next(1, 16); i++)
                    {
                        uint a = m + (uint)(r.Next(3) switch { 0 => 0x400 + r.Next(0x20), 1 => 0x500 + r.Next(0x18), _ => r.Next(0x1000) });
                        if (r.Next(2) == 0) Read(a, Width(r));
                        else Write(a, Width(r), Value(r));
                    }
                    break;
                case 2: // the frame buffer where BAR0 is
                    if (f.FrameBufferAddress is not uint fb) goto case 0;
                    for (int i = 0; i < r.Next(1, 16); i++)
                    {
                        uint a = fb + (uint)r.Next(Board.Vga.VideoRamSize);
                        if (r.Next(2) == 0) Read(a, Width(r));
                        else Write(a, Width(r), Value(r));
                    }
                    break;
                case 3: // where the BARs were: the old mappings answer all ones and take no writes
                    if (stdVgaMapped.Count == 0) goto case 0;
                    (uint old, bool lfb) = stdVgaMapped[r.Next(stdVgaMapped.Count)];
                    if (lfb ? f.FrameBufferAddress == old : f.MmioAddress == old) break;
                    uint o = old + (uint)r.Next(lfb ? 0x1000 : 0x400, lfb ? Board.Vga.VideoRamSize : 0x1000) & ~3u;
                    // Unless the current BAR or the board's own frame buffer covers the address.
                    if (Covers(f.FrameBufferAddress, (uint)Board.Vga.VideoRamSize, o) || Covers(f.MmioAddress, 0x1000, o)) break;
                    stats.StaleMappingChecks++;
                    Write(o, 4, Value(r));
                    uint v = Read(o, 4);
                    if (v != 0xFFFF_FFFF) Fail($"the std VGA's old {(lfb ? "frame buffer" : "register")} mapping at {old:X8} reads {v:X8} at {o:X8}");
                    break;
                default:
                    VgaSequence(r);
                    break;
            }
        }

        private static bool Covers(uint? start, uint size, uint a) => start is uint s && a - s < size;

        public void Dispose()
        {
            Board.Dispose();
            hda.Dispose();
            hdb.Dispose();
            cd.Dispose();
        }

        // ---- the accesses, logged, with the model of RAM kept up to date ----

        private void Log(OpKind kind, ulong address, int size, ulong value)
        {
            log[logCount++ % log.Length] = new Op(kind, address, size, value);
            stats.Accesses++;
        }

        public uint In(int port, int size)
        {
            Log(OpKind.In, (ushort)port, size, 0);
            return Board.Io.In((ushort)port, size);
        }

        public void Out(int port, int size, uint value)
        {
            ushort p = (ushort)port;
            value = Truncate(value, size);
            Log(OpKind.Out, p, size, value);
            if (p == FwCfg.DmaPort && size == 4)
            {
                dmaHigh = (ulong)BinaryPrimitives.ReverseEndianness(value) << 32;
            }
            else if (p == FwCfg.DmaLowPort && size == 4)
            {
                ulong descriptor = dmaHigh | BinaryPrimitives.ReverseEndianness(value);
                dmaHigh = 0;
                Dma(descriptor, p, value);
                return;
            }
            Board.Io.Out(p, size, value);
        }

        public uint Read(uint address, int size)
        {
            Log(OpKind.Read, address, size, 0);
            return Board.Physical.Read(address, size);
        }

        public void Write(uint address, int size, uint value)
        {
            value = Truncate(value, size);
            Log(OpKind.Write, address, size, value);
            Board.Physical.Write(address, size, value);
            for (int i = 0; i < size; i++) Mirror(address + (uint)i);
        }

        private static uint Truncate(uint value, int size) => size == 4 ? value : value & ((1u << (8 * size)) - 1);

        /// <summary>A byte the fuzzer itself wrote: if it went to RAM, RAM may hold it now.</summary>
        private void Mirror(uint a)
        {
            if (a < RamBytes && WritesRam(a)) expected[a] = Ram[(int)a];
        }

        /// <summary><see cref="Mirror"/> for [<paramref name="a"/>, +<paramref name="n"/>), below the top of RAM.</summary>
        private void MirrorRange(uint a, uint n)
        {
            uint end = a + n;
            while (a < end)
            {
                // Outside A0000h-FFFFFh every byte is RAM: copy whole runs; inside, byte by byte.
                if (a < 0xA_0000 || a >= 0x10_0000)
                {
                    uint stop = a < 0xA_0000 ? Math.Min(end, 0xA_0000) : end;
                    Ram.Slice((int)a, (int)(stop - a)).CopyTo(expected.AsSpan((int)a));
                    a = stop;
                }
                else
                {
                    Mirror(a++);
                }
            }
        }

        /// <summary>Whether a write to <paramref name="a"/> (below the top of RAM) reaches RAM: not the VGA window, and in C0000h-FFFFFh only where the PAM registers say so.</summary>
        private bool WritesRam(uint a)
        {
            if (a >= 0xA_0000 && a < 0xC_0000) return false;
            if (a >= 0xC_0000 && a < 0x10_0000) return Board.Physical.ShadowRouting(a).WriteRam;
            return true;
        }

        /// <summary>
        /// An fw_cfg DMA request at <paramref name="descriptor"/>: it may write the descriptor's
        /// control word and the buffer it names, and nothing else; its error bit is set exactly when
        /// it was told to move data between the item and anything but RAM.
        /// </summary>
        private void Dma(ulong descriptor, ushort port, uint value)
        {
            stats.Dmas++;
            bool valid = descriptor <= uint.MaxValue - 15 && Board.Physical.IsRam((uint)descriptor, 16);
            uint at = (uint)descriptor, control = 0, length = 0;
            ulong address = 0;
            if (valid)
            {
                Span<byte> d = stackalloc byte[16];
                Board.Physical.ReadBytes(at, d);
                control = BinaryPrimitives.ReadUInt32BigEndian(d);
                length = BinaryPrimitives.ReadUInt32BigEndian(d[4..]);
                address = BinaryPrimitives.ReadUInt64BigEndian(d[8..]);
            }
            bool read = (control & FwCfg.DmaRead) != 0, write = !read && (control & FwCfg.DmaWrite) != 0;
            bool targetIsRam = address + length <= 1UL << 32 && Board.Physical.IsRam((uint)address, length);
            Board.Io.Out(port, 4, value);
            if (!valid) return;
            for (uint i = 0; i < 4; i++) Mirror(at + i);
            // What lies in RAM of the buffer may be written, even when the rest is not RAM: the
            // transfer stops with the error bit where it leaves RAM, as QEMU's does.
            if (read && address < RamBytes) MirrorRange((uint)address, (uint)Math.Min(length, RamBytes - address));
            uint status = BinaryPrimitives.ReadUInt32BigEndian(Ram.Slice((int)at, 4));
            if (status != 0 && status != FwCfg.DmaError) Fail($"fw_cfg DMA left control word {status:X8} (expected 0 or the error bit)");
            bool error = status == FwCfg.DmaError;
            if (error) stats.DmaErrors++;
            if (read && length > 0 && error != !targetIsRam)
                Fail($"fw_cfg DMA read of {length} bytes to {address:X}: error bit {(error ? "set" : "clear")}, target {(targetIsRam ? "" : "not ")}RAM");
            if (write && length > 0 && !targetIsRam && !error) Fail($"fw_cfg DMA write of {length} bytes from {address:X}, not RAM, without the error bit");
        }

        /// <summary>The virtual clock moves on <paramref name="ns"/>; due timers fire, and the CPU takes what the PIC offers.</summary>
        public void Advance(long ns)
        {
            Log(OpKind.Advance, 0, 0, (ulong)ns);
            Board.Clock.SkipTo(Board.Clock.Now + ns);
            Board.Scheduler.RunDue(Board.Clock.Now);
            for (int i = 0; i < 3 && Board.InterruptLine.Intr; i++)
            {
                Log(OpKind.Acknowledge, 0, 0, 0);
                int vector = Board.Pic.Acknowledge();
                if ((uint)vector > 0xFF) Fail($"the PIC answered INTA with vector {vector}");
            }
        }

        /// <summary>Marks the start of a structured sequence of profile <paramref name="what"/> in the log.</summary>
        private void Note(string what) => Log(OpKind.Note, 0, 0, (ulong)Array.IndexOf(Profiles, what));

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        public void Fail(string what)
        {
            var s = new System.Text.StringBuilder();
            s.Append($"device fuzzer, profile {profile}, sequence {Sequence}: {what}\nthe last accesses:\n");
            for (long i = Math.Max(0, logCount - log.Length); i < logCount; i++)
            {
                Op o = log[i % log.Length];
                s.Append(o.Kind switch
                {
                    OpKind.In => $"  in  {o.Address:X4}/{o.Size}\n",
                    OpKind.Out => $"  out {o.Address:X4}/{o.Size} = {o.Value:X}\n",
                    OpKind.Read => $"  read  {o.Address:X8}/{o.Size}\n",
                    OpKind.Write => $"  write {o.Address:X8}/{o.Size} = {o.Value:X}\n",
                    OpKind.Advance => $"  clock +{o.Value} ns\n",
                    OpKind.Acknowledge => "  INTA\n",
                    OpKind.Flood => $"  flood {(o.Size < 0 ? "in" : "out")} {o.Address:X4} = {o.Value:X}\n",
                    _ => $"  (a structured {Profiles[(int)o.Value]} sequence)\n",
                });
            }
            Assert.Fail(s.ToString());
        }

        // ---- a sequence and its checks ----

        private long biggestStep, biggestStepLog;

        public void RunSequence(Random r, bool flood)
        {
            biggestStep = 0;
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            int overlay = hda.OverlaySectors;
            try
            {
                int ops = r.Next(4) == 0 ? r.Next(200, 1000) : r.Next(8, 120);
                for (int i = 0; i < ops; i++)
                {
                    long a0 = GC.GetAllocatedBytesForCurrentThread();
                    Step(r);
                    long a1 = GC.GetAllocatedBytesForCurrentThread() - a0;
                    if (a1 > biggestStep) (biggestStep, biggestStepLog) = (a1, logCount);
                    // INTR follows the PIC's output: a request is neither lost nor left standing.
                    if (Board.InterruptLine.Intr != Board.Pic.OutputAsserted)
                        Fail($"INTR is {(Board.InterruptLine.Intr ? "asserted" : "clear")}, the PIC's output {(Board.Pic.OutputAsserted ? "asserted" : "clear")}");
                }
                if (flood) Flood(r);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                Fail($"host exception: {e}");
            }
            long spent = GC.GetAllocatedBytesForCurrentThread() - allocated;
            long overlayGrowth = (long)(hda.OverlaySectors - overlay) * 1024;
            if (spent > SequenceAllocationCap + overlayGrowth)
                Fail($"the sequence allocated {spent} bytes of host memory (one step {biggestStep}, ending {logCount - biggestStepLog} accesses before the last)");
            CheckMemory();
            HostViews(r);
        }

        /// <summary>RAM holds what it should; the ROM is unchanged; the overlay stays within the disk.</summary>
        private void CheckMemory()
        {
            Span<byte> ram = Ram;
            if (!ram.SequenceEqual(expected))
            {
                int at = ram.CommonPrefixLength(expected);
                Fail($"guest RAM changed at {at:X} ({expected[at]:X2} -> {ram[at]:X2}) where nothing was told to write");
            }
            if (Sequence % 16 == 0) CheckRom(BiosBase);
            // A relocatable block decodes where its BAR says, or nowhere.
            uint bm = Board.Ide.BusMasterBase;
            if (bm != 0 && Board.Ide.BarAddress(4) != bm) Fail($"the IDE bus-master block answers at port {bm:X4}, its BAR says {Board.Ide.BarAddress(4):X8}");
            int pm = Board.PowerManagement.IoBase;
            if (pm >= 0 && (Board.PowerManagement.ReadConfig(0x40, 4) & 0xFFFF_FFC0) != pm)
                Fail($"the PM block answers at port {pm:X4}, PMBA says {Board.PowerManagement.ReadConfig(0x40, 4):X8}");
            if (hda.OverlaySectors > hda.SectorCount) Fail($"the copy-on-write overlay holds {hda.OverlaySectors} sectors of a {hda.SectorCount}-sector disk");
        }

        private void CheckRom(uint at)
        {
            for (int i = 0; i < bios.Length; i += 4)
            {
                uint v = Board.Physical.Read(at + (uint)i, 4);
                if (v != BinaryPrimitives.ReadUInt32LittleEndian(bios.AsSpan(i)))
                    Fail($"the BIOS ROM at {at + (uint)i:X8} reads {v:X8}, not the image's {BinaryPrimitives.ReadUInt32LittleEndian(bios.AsSpan(i)):X8}");
            }
        }

        /// <summary>What the host reads from the devices at any time (the screen dump at exit, the headless check).</summary>
        private void HostViews(Random r)
        {
            var vga = Board.Vga;
            _ = vga.ScreenDump();
            _ = vga.DescribeMode();
            _ = vga.Cursor;
            (int cols, int rows) = vga.TextSize;
            if (vga.IsTextMode && rows > 0 && cols > 0) _ = vga.TextAttribute(r.Next(Math.Min(rows, 256)), r.Next(cols));
            if (profile is "vga" or "stdvga" or "board")
            {
                (int w, int h, _, _) = vga.DispiMode;
                if (!vga.DispiEnabled || (long)w * h <= 1 << 18 || r.Next(64) == 0) _ = vga.RenderPpm();
            }
        }

        /// <summary>At the end of the board's life: the ROM (both copies) unchanged, and host memory no bigger than the board made it.</summary>
        public void Finish()
        {
            CheckRom(BiosBase);
            Board.NorthBridge.Reset(); // every PAM segment back to the bus: E0000h-FFFFFh reads the ROM's low copy
            CheckRom(0xE_0000);
            // The heap is the process's: what other tests running beside this one allocated meanwhile may be in it too.
            long others = GC.GetTotalAllocatedBytes() - allocatedAtStart - (GC.GetAllocatedBytesForCurrentThread() - threadAllocatedAtStart);
            long now = GC.GetTotalMemory(true);
            if (now - memoryAtStart > (64L << 20) + hda.OverlaySectors * 1024L + Math.Max(0, others))
                Fail($"the managed heap grew by {(now - memoryAtStart) >> 20} MiB over the board's life");
        }

        // ---- the generators ----

        private static readonly int[] PicPorts = [0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1];
        private static readonly int[] PitPorts = [0x40, 0x41, 0x42, 0x43, 0x61];
        private static readonly int[] RtcPorts = [0x70, 0x71];
        private static readonly int[] SystemPorts = [0x61, 0x92, 0x80, 0xF0, 0xE9, 0xF4, 0xF5, 0xCF9, 0xB2, 0xB3];
        private static readonly int[] UartPorts = Enumerable.Range(0x3F8, 8).Concat(Enumerable.Range(0x2F8, 8)).ToArray();
        private static readonly int[] KbdPorts = [0x60, 0x64];
        private static readonly int[] PciPorts = Enumerable.Range(0xCF8, 8).ToArray();
        private static readonly int[] PmPorts = [0xB2, 0xB3, 0xAFE0, 0xAFE1, 0xAFE2, 0xAFE3];
        private static readonly int[] IdePorts = Enumerable.Range(0x1F0, 8).Concat(Enumerable.Range(0x170, 8)).Concat([0x3F6, 0x376]).ToArray();
        private static readonly int[] FwCfgPorts = Enumerable.Range(0x510, 12).ToArray();
        private static readonly int[] VgaPorts = [.. Enumerable.Range(0x3C0, 16), 0x3B4, 0x3B5, 0x3BA, 0x3D4, 0x3D5, 0x3DA, 0x1CE, 0x1CF, 0x1D0];

        private int[] PortsOf(string p) => p switch
        {
            "pic" => PicPorts,
            "pit" => PitPorts,
            "rtc" => RtcPorts,
            "system" => SystemPorts,
            "uart" => UartPorts,
            "i8042" => KbdPorts,
            "pci" => PciPorts,
            "pm" => PmBlock(),
            "ide" or "atapi" => IdeBlock(),
            "fwcfg" => FwCfgPorts,
            "vga" or "stdvga" => VgaPorts,
            _ => AllPorts,
        };

        private static readonly int[] AllPorts =
            [.. PicPorts, .. PitPorts, .. RtcPorts, .. SystemPorts, .. UartPorts, .. KbdPorts, .. PciPorts, .. PmPorts, .. IdePorts, .. FwCfgPorts, .. VgaPorts];

        private int[] PmBlock()
        {
            int b = Board.PowerManagement.IoBase;
            return b < 0 ? PmPorts : [.. PmPorts, .. Enumerable.Range(b, 0x40)];
        }

        private int[] IdeBlock()
        {
            int b = Board.Ide.BusMasterBase;
            return b == 0 ? IdePorts : [.. IdePorts, .. Enumerable.Range(b, 16)];
        }

        private static int Width(Random r) => r.Next(10) switch { < 6 => 1, < 8 => 2, _ => 4 };

        private static uint Value(Random r) => r.Next(10) switch
        {
            0 => 0,
            1 => 0xFFFF_FFFF,
            2 => (uint)r.Next(16),
            3 => 1u << r.Next(32),
            4 => (uint)r.Next(256) * 0x0101_0101u,
            5 => 0x8000_0000u >> r.Next(32) ^ (uint)r.Next(3) - 1,
            _ => (uint)r.NextInt64(1L << 32),
        };

        private void Step(Random r)
        {
            int k = r.Next(100);
            if (k < 55)
            {
                int[] ports = PortsOf(profile);
                int port = ports[r.Next(ports.Length)];
                if (r.Next(2) == 0) In(port, Width(r));
                else Out(port, Width(r), Value(r));
            }
            else if (k < 60)
            {
                int port = profile == "board" || r.Next(4) == 0 ? r.Next(0x10000) : AllPorts[r.Next(AllPorts.Length)];
                if (port is >= 0xF4 and <= 0xF7 && profile != "system" && profile != "board") port = 0xE9;
                if (r.Next(2) == 0) In(port, Width(r));
                else Out(port, Width(r), Value(r));
            }
            else if (k < 67)
            {
                Advance(r.Next(8) switch { 0 => 0, 1 => r.Next(1000), < 6 => r.Next(1_000_000), 6 => r.Next(20_000_000), _ => r.Next(200_000_000) });
            }
            else if (k < 70)
            {
                RandomMemory(r);
            }
            else
            {
                Structured(r);
            }
        }

        /// <summary>An access anywhere in the 4 GiB space, or in the device windows (VGA, shadow RAM and ROM, LFB, APIC).</summary>
        private void RandomMemory(Random r)
        {
            uint a = r.Next(8) switch
            {
                0 => (uint)r.NextInt64(1L << 32),
                1 => 0xA_0000 + (uint)r.Next(0x2_0000),
                2 => 0xC_0000 + (uint)r.Next(0x4_0000),
                3 => 0xE000_0000 + (uint)r.Next(0x100_0000 + 0x1000) - 0x800,
                4 => RamBytes - 8 + (uint)r.Next(16),
                5 => 0xFEC0_0000 + (uint)r.Next(0x2_0000) + (r.Next(2) == 0 ? 0x20_0000u : 0),
                6 => BiosBase + (uint)r.Next(0x2_0000),
                _ => (uint)r.Next((int)RamBytes),
            };
            int size = Width(r);
            if (r.Next(2) == 0) Read(a, size);
            else Write(a, size, Value(r));
        }

        private void Structured(Random r)
        {
            string p = profile;
            if (p == "board") p = Profiles[r.Next(Profiles.Length - 1)];
            Note(p);
            switch (p)
            {
                case "pic": PicSequence(r); break;
                case "pit": PitSequence(r); break;
                case "rtc": RtcSequence(r); break;
                case "system": SystemSequence(r); break;
                case "uart": UartSequence(r); break;
                case "i8042": KeyboardSequence(r); break;
                case "pci": PciSequence(r); break;
                case "pm": PmSequence(r); break;
                case "ide": AtaSequence(r); break;
                case "atapi": AtapiSequence(r); break;
                case "fwcfg": FwCfgSequence(r); break;
                case "vga": VgaSequence(r); break;
                case "stdvga": StdVgaSequence(r); break;
            }
        }

        /// <summary>One access repeated 200,000 times: a device may not grow its state (host memory) on the guest's demand.</summary>
        private void Flood(Random r)
        {
            int[] ports = PortsOf(profile);
            int port = ports[r.Next(ports.Length)];
            int size = Width(r);
            bool write = r.Next(3) != 0;
            uint value = Value(r);
            if (port is >= 0xF4 and <= 0xF7) port = 0xE9;
            Log(OpKind.Flood, (ushort)port, write ? size : -size, value);
            stats.Floods++;
            int overlay = hda.OverlaySectors;
            long before = GC.GetAllocatedBytesForCurrentThread();
            if (write)
            {
                // fw_cfg DMA goes through the model, which allocates nothing itself.
                if (port == FwCfg.DmaLowPort && size == 4)
                    for (int i = 0; i < 1000; i++) Out(port, size, value);
                else
                    for (int i = 0; i < FloodRepeats; i++) Board.Io.Out((ushort)port, size, value);
            }
            else
            {
                for (int i = 0; i < FloodRepeats; i++) Board.Io.In((ushort)port, size);
            }
            if (write && port == FwCfg.DmaPort && size == 4) dmaHigh = (ulong)BinaryPrimitives.ReverseEndianness(value) << 32;
            long spent = GC.GetAllocatedBytesForCurrentThread() - before;
            long allowed = FloodAllocationCap + (long)(hda.OverlaySectors - overlay) * 1024;
            if (spent > allowed)
                Fail($"{FloodRepeats} {(write ? $"writes of {value:X} to" : "reads of")} port {port:X4} (size {size}) allocated {spent} bytes of host memory");
            stats.Accesses += FloodRepeats;
        }

        // ---- chipset ----

        private void PicSequence(Random r)
        {
            int chip = r.Next(2) == 0 ? 0x20 : 0xA0;
            switch (r.Next(5))
            {
                case 0: // initialisation with random words
                    Out(chip, 1, 0x10 | (uint)r.Next(16));
                    for (int i = 0; i < r.Next(1, 5); i++) Out(chip + 1, 1, Value(r));
                    break;
                case 1: // OCW2/OCW3
                    Out(chip, 1, (uint)r.Next(256) & ~0x10u);
                    In(chip, 1);
                    break;
                case 2: // device lines
                    for (int i = 0; i < r.Next(1, 8); i++) Board.Pic.SetIrq(r.Next(16), r.Next(2) == 0);
                    Advance(0);
                    break;
                case 3:
                    Out(0x4D0 + r.Next(2), 1, Value(r));
                    break;
                default: // EOIs
                    Out(0x20, 1, 0x20);
                    Out(0xA0, 1, 0x20);
                    break;
            }
        }

        private void PitSequence(Random r)
        {
            int counter = r.Next(3);
            switch (r.Next(4))
            {
                case 0: // a mode, then a count (0, 1 and 2 are the absurd ones)
                    Out(0x43, 1, (uint)(counter << 6 | r.Next(1, 4) << 4 | r.Next(8) << 1 | r.Next(2)));
                    uint count = r.Next(4) switch { 0 => 0, 1 => 1, 2 => 2, _ => (uint)r.Next(0x10000) };
                    Out(0x40 + counter, 1, count & 0xFF);
                    Out(0x40 + counter, 1, count >> 8);
                    Advance(r.Next(5_000_000));
                    break;
                case 1: // latch and read-back
                    Out(0x43, 1, r.Next(2) == 0 ? (uint)(counter << 6) : 0xC0u | (uint)r.Next(64));
                    for (int i = 0; i < 3; i++) In(0x40 + counter, 1);
                    break;
                case 2: // counter 2's gate
                    Out(0x61, 1, (uint)r.Next(16));
                    In(0x61, 1);
                    break;
                default:
                    Advance(r.Next(50_000_000));
                    break;
            }
        }

        private void RtcSequence(Random r)
        {
            int index = r.Next(3) == 0 ? r.Next(256) : r.Next(14);
            Out(0x70, 1, (uint)index);
            if (r.Next(2) == 0) Out(0x71, 1, Value(r));
            else In(0x71, 1);
            if (r.Next(4) == 0)
            {
                // Interrupts on at a random rate, then time passes and register C is read.
                Out(0x70, 1, 0x0A);
                Out(0x71, 1, (uint)r.Next(256));
                Out(0x70, 1, 0x0B);
                Out(0x71, 1, (uint)r.Next(256));
                Advance(r.Next(100) == 0 ? 2_000_000_000 : r.Next(20_000_000));
                Out(0x70, 1, 0x0C);
                In(0x71, 1);
            }
        }

        private void SystemSequence(Random r)
        {
            switch (r.Next(4))
            {
                case 0: // fast A20, the reset bit
                    uint a20 = (uint)r.Next(4);
                    Out(0x92, 1, a20);
                    if (Board.Mmu.A20Enabled != ((a20 & 2) != 0)) Fail($"A20 is {(Board.Mmu.A20Enabled ? "on" : "off")} after port 92h = {a20:X2}");
                    break;
                case 1: Out(0xCF9, 1, (uint)r.Next(16)); break;          // PIIX reset control
                case 2: Board.Cpu.FpuErrorPins!.SetFerr(r.Next(2) == 0); Out(0xF0, 1, 0); break;
                default: Out(0xE9, 1, (uint)r.Next(256)); break;
            }
        }

        private void UartSequence(Random r)
        {
            int b = r.Next(2) == 0 ? 0x3F8 : 0x2F8;
            switch (r.Next(4))
            {
                case 0: // divisor latch, line settings, FIFO with a random trigger
                    Out(b + 3, 1, 0x80);
                    Out(b, 1, (uint)r.Next(256));
                    Out(b + 1, 1, (uint)r.Next(256));
                    Out(b + 3, 1, (uint)r.Next(256));
                    Out(b + 2, 1, (uint)r.Next(256));
                    break;
                case 1: // loopback: what is sent comes back, past the FIFO
                    Out(b + 4, 1, 0x10 | (uint)r.Next(16));
                    for (int i = 0; i < r.Next(40); i++) Out(b, 1, (uint)r.Next(256));
                    break;
                case 2:
                    Board.Com1.QueueInput(RandomBytes(r, r.Next(64)));
                    Board.Com1.PumpInput();
                    break;
                default:
                    for (int i = 0; i < r.Next(20); i++) In(b + r.Next(8), 1);
                    break;
            }
        }

        private static byte[] RandomBytes(Random r, int n)
        {
            var b = new byte[n];
            r.NextBytes(b);
            return b;
        }

        private void KeyboardSequence(Random r)
        {
            switch (r.Next(4))
            {
                case 0: // a controller command and its data byte (D1h: the output port, A20 and reset)
                    uint cmd = r.Next(3) switch { 0 => 0xD1, 1 => (uint)(0x60 + (r.Next(2) == 0 ? 0 : 0x70 + r.Next(4))), _ => (uint)r.Next(256) };
                    uint data = (uint)r.Next(256);
                    Out(0x64, 1, cmd);
                    Out(0x60, 1, data);
                    // The output port's bit 1 is the A20 gate.
                    if (cmd == 0xD1 && Board.Mmu.A20Enabled != ((data & 2) != 0)) Fail($"A20 is {(Board.Mmu.A20Enabled ? "on" : "off")} after output port {data:X2}");
                    break;
                case 1: // a keyboard command and its parameter
                    Out(0x60, 1, (uint)(0xED + r.Next(19)));
                    Out(0x60, 1, (uint)r.Next(256));
                    break;
                case 2:
                    Board.Keyboard.QueueScancodes(RandomBytes(r, r.Next(8)));
                    break;
                default:
                    for (int i = 0; i < r.Next(20); i++) In(r.Next(2) == 0 ? 0x60 : 0x64, 1);
                    break;
            }
        }

        // ---- PCI ----

        private void ConfigWrite(int device, int function, int offset, int size, uint value)
        {
            Out(0xCF8, 4, 0x8000_0000u | (uint)device << 11 | (uint)function << 8 | ((uint)offset & 0xFC));
            Out(0xCFC + (offset & 3), size, value);
        }

        private uint ConfigRead(int device, int function, int offset, int size)
        {
            Out(0xCF8, 4, 0x8000_0000u | (uint)device << 11 | (uint)function << 8 | ((uint)offset & 0xFC));
            return In(0xCFC + (offset & 3), size);
        }

        /// <summary>A port for a BAR: free space, another device's ports, the top of the space, or past it.</summary>
        private static uint BarPort(Random r) => r.Next(8) switch
        {
            0 => 0xC000,
            1 => (uint)AllPorts[r.Next(AllPorts.Length)] & ~0xFu,
            2 => 0xFFF0,
            3 => 0xFFFF_FFF0,
            4 => 0,
            5 => 0xB000,
            6 => 0x1_0000 + (uint)r.Next(0x10000),
            _ => (uint)r.Next(0x10000),
        };

        private void PciSequence(Random r)
        {
            (int dev, int fn) = r.Next(6) switch { 0 => (0, 0), 1 => (1, 0), 2 => (1, 1), 3 => (1, 3), 4 => (r.Next(32), r.Next(8)), _ => (1, 1) };
            switch (r.Next(6))
            {
                case 0: // sizing and moving a BAR
                    int bar = 0x10 + 4 * r.Next(6);
                    ConfigWrite(dev, fn, bar, 4, 0xFFFF_FFFF);
                    ConfigRead(dev, fn, bar, 4);
                    ConfigWrite(dev, fn, bar, 4, BarPort(r) | 1);
                    ConfigWrite(dev, fn, 4, 2, (uint)r.Next(8));
                    break;
                case 1: // the IDE bus-master block anywhere, then used
                    ConfigWrite(1, 1, 0x20, 4, BarPort(r) | 1);
                    ConfigWrite(1, 1, 4, 2, (uint)r.Next(8));
                    UseBusMaster(r);
                    break;
                case 2: // the PM block anywhere
                    ConfigWrite(1, 3, 0x40, 4, BarPort(r) | 1);
                    ConfigWrite(1, 3, 0x80, 1, (uint)r.Next(2));
                    break;
                case 3: // shadow RAM (PAM), SMRAM, then the window is used
                    ConfigWrite(0, 0, 0x59 + r.Next(7), Width(r), Value(r));
                    if (r.Next(4) == 0) ConfigWrite(0, 0, 0x72, 1, (uint)r.Next(256));
                    for (int i = 0; i < 8; i++)
                    {
                        uint a = 0xC_0000 + (uint)r.Next(0x4_0000);
                        if (r.Next(2) == 0) Write(a, Width(r), Value(r));
                        else Read(a, Width(r));
                    }
                    break;
                case 4: // PIRQ routing
                    ConfigWrite(1, 0, 0x60 + r.Next(4), Width(r), Value(r));
                    break;
                default: // any register of any function
                    int offset = r.Next(256);
                    int size = Width(r);
                    offset &= ~(size - 1);
                    if (r.Next(2) == 0) ConfigWrite(dev, fn, offset, size, Value(r));
                    else ConfigRead(dev, fn, offset, size);
                    break;
            }
        }

        private void UseBusMaster(Random r)
        {
            int b = Board.Ide.BusMasterBase;
            if (b == 0) return;
            for (int i = 0; i < r.Next(1, 8); i++)
            {
                int port = b + r.Next(16);
                if (r.Next(2) == 0) In(port, Width(r));
                else Out(port, Width(r), Value(r));
            }
        }

        private void PmSequence(Random r)
        {
            switch (r.Next(5))
            {
                case 0:
                    ConfigWrite(1, 3, 0x40, 4, r.Next(2) == 0 ? 0xB001u : BarPort(r) | 1);
                    ConfigWrite(1, 3, 0x80, 1, (uint)r.Next(4));
                    break;
                case 1: // enables, SCI_EN, then the timer overflows
                    int b = Board.PowerManagement.IoBase;
                    if (b < 0) goto case 0;
                    Out(b + 2, 2, (uint)r.Next(0x10000));
                    Out(0xB2, 1, r.Next(2) == 0 ? 0xF1u : 0xF0u);
                    Advance(r.Next(20) == 0 ? 2_400_000_000 : r.Next(50_000_000)); // the timer's bit 23 changes every 2.34 s
                    In(b, 2);
                    Out(b, 2, Value(r));
                    break;
                case 2: // a sleep type other than soft off
                    int pb = Board.PowerManagement.IoBase;
                    if (pb >= 0) Out(pb + 4, 2, (uint)(r.Next(1, 8) << 10 | 1 << 13 | r.Next(2)));
                    break;
                case 3:
                    Board.PowerManagement.PressPowerButton();
                    Advance(0);
                    break;
                default:
                    Out(0xAFE0 + r.Next(4), Width(r), Value(r));
                    break;
            }
        }

        // ---- IDE ----

        private static readonly byte[] AtaCommands =
        [
            0xEC, 0xA1, 0x20, 0x21, 0x24, 0x29, 0xC4, 0x30, 0x31, 0x34, 0x39, 0xC5, 0x40, 0x41, 0x42, 0xC6, 0xEF, 0x91,
            0xE7, 0xEA, 0xE5, 0x98, 0xE0, 0xE1, 0xE2, 0xE3, 0xE6, 0x94, 0x95, 0x96, 0x97, 0x99, 0x70, 0xF8, 0x27, 0x10,
            0x08, 0x90, 0xA0, 0xC8, 0x25, 0xCA, 0x35, 0x00,
        ];

        private static readonly byte[] WriteCommands = [0x30, 0x31, 0x34, 0x39, 0xC5];

        /// <summary>An LBA for a disk of <paramref name="sectors"/>: the first, the last, the first past the end, far past it, or any.</summary>
        private static long Lba(Random r, long sectors) => r.Next(7) switch
        {
            0 => 0,
            1 => sectors - 1,
            2 => sectors,
            3 => sectors - 1 - r.Next(20),
            4 => 0x0FFF_FFFF,
            5 => (long)r.NextInt64(1L << 48),
            _ => r.NextInt64(sectors),
        };

        private void AtaSequence(Random r)
        {
            bool secondary = r.Next(6) == 0;
            int b = secondary ? 0x170 : 0x1F0, ctl = secondary ? 0x376 : 0x3F6;
            int slave = r.Next(3) == 0 ? 1 : 0;
            long sectors = slave == 0 ? Media.HdaSectors : Media.HdbSectors;
            long lba = Lba(r, sectors);
            uint count = r.Next(6) switch { 0 => 0, 1 => 1, 2 => 16, 3 => 0xFFFF, _ => (uint)r.Next(0x10000) };
            bool lbaMode = r.Next(5) != 0;
            byte command = AtaCommands[r.Next(AtaCommands.Length)];
            if (r.Next(10) == 0) command = (byte)r.Next(256);
            if (r.Next(4) == 0) Out(ctl, 1, (uint)(r.Next(2) << 1)); // nIEN
            uint before = In(ctl, 1);
            Out(b + 6, 1, (uint)(0xA0 | slave << 4 | (lbaMode ? 0x40 : 0) | (int)((lba >> 24) & 0x0F)));
            // The high bytes first (LBA48 reads them as the previous values), then the low ones.
            Out(b + 2, 1, count >> 8);
            Out(b + 3, 1, (uint)(lba >> 24));
            Out(b + 4, 1, (uint)(lba >> 32));
            Out(b + 5, 1, (uint)(lba >> 40));
            Out(b + 1, 1, (uint)r.Next(256));
            Out(b + 2, 1, count);
            Out(b + 3, 1, (uint)lba);
            Out(b + 4, 1, (uint)(lba >> 8));
            Out(b + 5, 1, (uint)(lba >> 16));
            Out(b + 7, 1, command);
            if (drives && !secondary && lbaMode && (before & 0x80) == 0) CheckAtaAddressing(b, ctl, command, slave == 1, lba, count, sectors);
            Drain(r, b, ctl, toDevice: Array.IndexOf(WriteCommands, command) >= 0, packet: secondary && slave == 0 && command == 0xA0);
            if (r.Next(3) == 0)
            {
                Out(ctl, 1, 0x80); // HOB: the previous values
                for (int i = 1; i < 8; i++) In(b + i, 1);
            }
            if (r.Next(8) == 0)
            {
                Out(ctl, 1, 0x04); // SRST
                Out(ctl, 1, 0x00);
            }
            if (r.Next(4) == 0) UseBusMaster(r);
        }

        /// <summary>
        /// A read, write or verify in LBA mode ends as the drive must end it: a write to the
        /// read-only disk aborted (ABRT), a range past the end of the disk refused (IDNF), any
        /// other accepted (a read or write offers its first block, DRQ).
        /// </summary>
        private void CheckAtaAddressing(int b, int ctl, byte command, bool readOnly, long lba, uint count, long sectors)
        {
            if (command is not (0x20 or 0x21 or 0x24 or 0x30 or 0x31 or 0x34 or 0x40 or 0x41 or 0x42)) return;
            stats.IdeChecks++;
            bool ext = command is 0x24 or 0x34 or 0x42, write = command is 0x30 or 0x31 or 0x34;
            long start = ext ? lba & 0xFFFF_FFFF_FFFF : lba & 0x0FFF_FFFF;
            long n = ext ? ((count & 0xFFFF) == 0 ? 65536 : count & 0xFFFF) : ((count & 0xFF) == 0 ? 256 : count & 0xFF);
            uint status = In(ctl, 1), error = In(b + 1, 1);
            string what = $"ATA command {command:X2} at LBA {start:X} for {n} sectors of a {sectors}-sector {(readOnly ? "read-only " : "")}disk";
            if (write && readOnly)
            {
                if ((status & 0x01) == 0 || error != 0x04) Fail($"{what}: status {status:X2}, error {error:X2}; expected ERR and ABRT");
            }
            else if (start + n > sectors)
            {
                if ((status & 0x01) == 0 || error != 0x10) Fail($"{what}: status {status:X2}, error {error:X2}; expected ERR and IDNF");
            }
            else if ((status & 0x01) != 0 || ((status & 0x08) == 0) != command is 0x40 or 0x41 or 0x42)
            {
                Fail($"{what}: status {status:X2}, error {error:X2}; expected it accepted");
            }
        }

        /// <summary>Moves the command's data through the data port (sometimes the wrong way, sometimes only part of it).</summary>
        private void Drain(Random r, int b, int ctl, bool toDevice, bool packet)
        {
            int budget = r.Next(4) switch { 0 => r.Next(8), 1 => 40_000, _ => r.Next(2000) };
            for (int i = 0; i < budget; i++)
            {
                uint status = In(ctl, 1);
                if ((status & 0x08) == 0 || status == 0xFF) break; // done, or nothing on the channel (the bus floats)
                // A PACKET command's data block (interrupt reason: I/O, not command) moves at least one byte.
                if (packet && (In(b + 2, 1) & 3) == 2 && (In(b + 4, 1) | In(b + 5, 1) << 8) == 0)
                    Fail("an ATAPI DRQ data block announces a byte count of 0");
                int size = r.Next(8) == 0 ? Width(r) : 2;
                bool write = r.Next(20) == 0 ? !toDevice : toDevice;
                if (write) Out(b, size, Value(r));
                else In(b, size);
            }
            In(b + 7, 1);
        }

        private void AtapiSequence(Random r)
        {
            const int b = 0x170, ctl = 0x376;
            if (r.Next(6) == 0)
            {
                AtaSequence(r);
                return;
            }
            int limit = r.Next(8) switch { 0 => 0, 1 => 1, 2 => 2, 3 => 3, 4 => 0xFFFF, 5 => 2048, 6 => 0xFFFE, _ => r.Next(0x10000) };
            bool master = r.Next(8) != 0, dma = r.Next(8) == 0;
            byte command = r.Next(10) == 0 ? AtaCommands[r.Next(AtaCommands.Length)] : (byte)0xA0;
            Out(b + 6, 1, master ? 0xA0u : 0xB0u);
            Out(b + 1, 1, dma ? 1u : 0u); // DMA asked for, sometimes
            Out(b + 4, 1, (uint)limit);
            Out(b + 5, 1, (uint)(limit >> 8));
            uint before = In(ctl, 1);
            Out(b + 7, 1, command);
            byte[] cdb = Cdb(r);
            for (int i = 0; i < 12; i += 2) Out(b, 2, (uint)(cdb[i] | cdb[i + 1] << 8));
            if (drives && master && !dma && command == 0xA0 && (before & 0x80) == 0 && cdb[0] is 0x28 or 0xA8)
            {
                // A read past the end of the disc: CHECK CONDITION, ILLEGAL REQUEST (or NOT READY once the guest ejected it).
                long lba = BinaryPrimitives.ReadUInt32BigEndian(cdb.AsSpan(2));
                long count = cdb[0] == 0x28 ? BinaryPrimitives.ReadUInt16BigEndian(cdb.AsSpan(7)) : BinaryPrimitives.ReadUInt32BigEndian(cdb.AsSpan(6));
                if (lba + count > Media.CdSectors)
                {
                    stats.IdeChecks++;
                    uint status = In(ctl, 1), error = In(b + 1, 1);
                    if ((status & 0x01) == 0 || (error >> 4) is not (5 or 2))
                        Fail($"ATAPI READ at {lba} for {count} blocks of a {Media.CdSectors}-block disc: status {status:X2}, error {error:X2}; expected CHECK CONDITION");
                }
            }
            Drain(r, b, ctl, toDevice: false, packet: master && !dma && command == 0xA0);
        }

        private static readonly byte[] ScsiCommands = [0x00, 0x03, 0x12, 0x1B, 0x1E, 0x25, 0x28, 0xA8, 0x43, 0x46, 0x4A, 0x5A, 0xBB];

        private static byte[] Cdb(Random r)
        {
            var c = new byte[12];
            if (r.Next(8) == 0)
            {
                r.NextBytes(c);
                return c;
            }
            c[0] = ScsiCommands[r.Next(ScsiCommands.Length)];
            c[1] = (byte)(r.Next(4) == 0 ? r.Next(256) : r.Next(4));
            c[2] = (byte)(r.Next(4) == 0 ? r.Next(256) : r.Next(4));
            uint lba = r.Next(5) switch { 0 => 0, 1 => Media.CdSectors - 1, 2 => Media.CdSectors, 3 => 0xFFFF_FFFF, _ => (uint)r.Next(100) };
            BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(2), lba);
            uint count = r.Next(5) switch { 0 => 0, 1 => 1, 2 => 0xFFFF, 3 => 0xFFFF_FFFF, _ => (uint)r.Next(60) };
            if (c[0] == 0xA8) BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(6), count);
            else BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(7), (ushort)count);
            if (c[0] is 0x03 or 0x1B or 0x1E) c[4] = (byte)r.Next(256);
            if (c[0] is 0x12) BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(3), (ushort)r.Next(0x10000));
            return c;
        }

        // ---- fw_cfg ----

        /// <summary>Where a DMA buffer or descriptor goes: RAM, its top edge, past it, the VGA window, shadow RAM or ROM, the LFB, the APIC, the BIOS, 64-bit addresses.</summary>
        private static ulong DmaAddress(Random r, uint length) => r.Next(12) switch
        {
            0 => (ulong)r.Next((int)RamBytes),
            1 => RamBytes - (ulong)Math.Min(length, RamBytes),
            2 => RamBytes - (ulong)r.Next(32),
            3 => RamBytes + (ulong)r.Next(0x10000),
            4 => 0xA_0000 + (ulong)r.Next(0x2_0000),
            5 => 0xC_0000 + (ulong)r.Next(0x4_0000),
            6 => 0xE000_0000 + (ulong)r.Next(0x100_0000),
            7 => 0xFEE0_0000 + (ulong)r.Next(0x1000),
            8 => BiosBase + (ulong)r.Next(0x2_0000),
            9 => (ulong)r.NextInt64() << 1 | 1UL << 63,
            10 => 0x1_0000_0000UL - (ulong)r.Next(64),
            _ => 0x1000 + (ulong)r.Next(0x1000),
        };

        private void FwCfgSequence(Random r)
        {
            ushort key = r.Next(6) switch
            {
                0 => (ushort)r.Next(0x20),
                1 => (ushort)(FwCfg.FileFirst + r.Next(8)),
                2 => (ushort)(0x8000 + r.Next(8)),
                3 => (ushort)(0x4000 | r.Next(0x30)),
                4 => FwCfg.FileDir,
                _ => (ushort)r.Next(0x10000),
            };
            if (r.Next(3) == 0)
            {
                Out(FwCfg.SelectorPort, r.Next(4) == 0 ? 1 : 2, key);
                for (int i = 0; i < r.Next(70); i++) In(FwCfg.DataPort, Width(r));
                return;
            }
            uint length = r.Next(8) switch
            {
                0 => 0,
                1 => (uint)r.Next(1, 64),
                2 => 4096,
                3 => RamBytes,
                4 => 0xFFFF_FFFF,
                5 => (uint)r.Next(0x2_0000),
                6 => 300,
                _ => (uint)r.Next(1024),
            };
            uint control = r.Next(10) switch
            {
                0 => Value(r),
                1 => FwCfg.DmaWrite | FwCfg.DmaSelect,
                2 => FwCfg.DmaSkip,
                3 => FwCfg.DmaRead,
                _ => FwCfg.DmaRead | FwCfg.DmaSelect,
            };
            if ((control & FwCfg.DmaSelect) != 0 && r.Next(4) != 0) control = (control & 0xFFFF) | (uint)key << 16;
            if (r.Next(6) == 0) control |= FwCfg.DmaError; // a stale error bit from the guest
            ulong buffer = DmaAddress(r, length);
            ulong descriptor = r.Next(4) == 0 ? DmaAddress(r, 16) : (ulong)r.Next((int)RamBytes - 16) & ~(r.Next(2) == 0 ? 0UL : 15UL);
            // The descriptor, written as the guest would (where it is RAM, that is where it lands).
            if (descriptor <= uint.MaxValue - 15)
            {
                uint d = (uint)descriptor;
                Write(d, 4, BinaryPrimitives.ReverseEndianness(control));
                Write(d + 4, 4, BinaryPrimitives.ReverseEndianness(length));
                Write(d + 8, 4, BinaryPrimitives.ReverseEndianness((uint)(buffer >> 32)));
                Write(d + 12, 4, BinaryPrimitives.ReverseEndianness((uint)buffer));
            }
            if (r.Next(8) == 0 || descriptor > uint.MaxValue) Out(FwCfg.DmaPort, 4, BinaryPrimitives.ReverseEndianness((uint)(descriptor >> 32)));
            Out(FwCfg.DmaLowPort, 4, BinaryPrimitives.ReverseEndianness((uint)descriptor));
        }

        // ---- VGA ----

        private static readonly ushort[] DispiValues = [0, 1, 4, 7, 8, 15, 16, 24, 32, 33, 640, 2560, 2561, 1600, 1601, 0x7FFF, 0x8000, 0xFFFF, 0xB0C0, 0xB0C5, 0xB0C6];

        private void VgaSequence(Random r)
        {
            switch (r.Next(6))
            {
                case 0: // DISPI registers, out of range as often as not, then enabled
                    for (int i = 0; i < r.Next(1, 8); i++)
                    {
                        Out(0x1CE, 2, (uint)(r.Next(8) == 0 ? r.Next(0x10000) : r.Next(11)));
                        Out(r.Next(8) == 0 ? 0x1D0 : 0x1CF, 2, r.Next(3) == 0 ? (uint)r.Next(0x10000) : DispiValues[r.Next(DispiValues.Length)]);
                    }
                    if (r.Next(2) == 0)
                    {
                        Out(0x1CE, 2, 4);
                        Out(0x1CF, 2, (uint)(r.Next(256) | 1) & ~(r.Next(4) == 0 ? 0u : 0x80u) | 0x80);
                    }
                    break;
                case 1: // sequencer, graphics controller, CRTC: any index, any value
                    int[] index = [0x3C4, 0x3CE, 0x3D4, 0x3B4];
                    int port = index[r.Next(index.Length)];
                    Out(port, 2, (uint)(r.Next(r.Next(4) == 0 ? 256 : 0x19) | r.Next(256) << 8));
                    if (r.Next(4) == 0) Out(0x3C2, 1, (uint)r.Next(256));
                    break;
                case 2: // the attribute controller's flip-flop and the DAC
                    In(0x3DA, 1);
                    Out(0x3C0, 1, (uint)r.Next(256));
                    Out(0x3C0, 1, (uint)r.Next(256));
                    Out(r.Next(2) == 0 ? 0x3C8 : 0x3C7, 1, (uint)r.Next(256));
                    for (int i = 0; i < r.Next(8); i++)
                    {
                        if (r.Next(2) == 0) Out(0x3C9, 1, (uint)r.Next(256));
                        else In(0x3C9, 1);
                    }
                    break;
                case 3: // the A0000h window
                    for (int i = 0; i < r.Next(1, 64); i++)
                    {
                        uint a = 0xA_0000 + (uint)r.Next(0x2_0000);
                        if (r.Next(2) == 0) Write(a, Width(r), Value(r));
                        else Read(a, Width(r));
                    }
                    break;
                case 4: // the linear frame buffer, to its end and past it
                    for (int i = 0; i < r.Next(1, 32); i++)
                    {
                        uint a = r.Next(3) == 0 ? 0xE100_0000u - (uint)r.Next(8) + (uint)r.Next(8) : 0xE000_0000u + (uint)r.Next(0x100_0000);
                        if (r.Next(2) == 0) Write(a, Width(r), Value(r));
                        else Read(a, Width(r));
                    }
                    break;
                default: // the bank
                    Out(0x1CE, 2, 5);
                    Out(0x1CF, 2, (uint)(r.Next(2) == 0 ? r.Next(0x10000) : r.Next(300)));
                    Read(0xA_0000 + (uint)r.Next(0x1_0000), Width(r));
                    break;
            }
        }
    }
}
