using System;
using System.Collections.Generic;
using System.Text;
using Emu.Memory;

namespace Emu.Machine.Boot;

/// <summary>Where a loaded Multiboot kernel starts, and what the loader prepared for it.</summary>
/// <param name="Entry">Physical address to jump to.</param>
/// <param name="InfoAddress">Physical address of the Multiboot information structure (EBX).</param>
/// <param name="GdtBase">The GDT the loader built (flat code at 08h, flat data at 10h).</param>
/// <param name="GdtLimit">Its limit.</param>
/// <param name="ImageStart">Lowest physical address the kernel image occupies.</param>
/// <param name="ImageEnd">One past the highest (including bss).</param>
public readonly record struct MultibootEntry(uint Entry, uint InfoAddress, uint GdtBase, ushort GdtLimit, uint ImageStart, uint ImageEnd);

/// <summary>
/// Loads a Multiboot (version 1) kernel into guest RAM and builds the information structure
/// the specification hands it (Multiboot Specification 0.6.96, chapter 3). An ELF32 image is
/// loaded by its PT_LOAD program headers at their physical addresses; an image whose header
/// sets flag bit 16 is loaded by the header's address fields (the "a.out kludge"), ELF or
/// not. Everything is checked before the first byte is written, so a refused image leaves
/// memory as it was.
/// </summary>
public static class MultibootLoader
{
    /// <summary>The value in EAX that tells the kernel a Multiboot loader started it.</summary>
    public const uint BootloaderMagic = 0x2BAD_B002;

    /// <summary>
    /// The boot information area: the loader's GDT, the information structure, the memory
    /// map, the loader's name and the command line. Below 1 MiB and above the real-mode IVT
    /// and BIOS data area, where GRUB and QEMU put theirs too; no image may load over it.
    /// </summary>
    public const uint InfoAreaStart = 0x8000;
    public const uint InfoAreaEnd = 0x1_0000;

    public const uint GdtAddress = InfoAreaStart;
    public const uint InfoAddress = InfoAreaStart + 0x40;
    public const uint MemoryMapAddress = InfoAreaStart + 0x100;
    public const uint LoaderNameAddress = InfoAreaStart + 0x200;
    public const uint CommandLineAddress = InfoAreaStart + 0x300;

    /// <summary>Longest command line (bytes, UTF-8, without its terminating NUL).</summary>
    public const int MaxCommandLineBytes = (int)(InfoAreaEnd - CommandLineAddress) - 1;

    public const string LoaderName = "emu flat runner";

    // Multiboot information flags (specification 3.3).
    public const uint InfoMemory = 1u << 0;
    public const uint InfoCommandLine = 1u << 2;
    public const uint InfoMemoryMap = 1u << 6;
    public const uint InfoLoaderName = 1u << 9;

    /// <summary>Size of the information structure through the framebuffer fields.</summary>
    public const int InfoSize = 116;

    private readonly record struct Copy(int FileOffset, uint Length, uint Destination);

    private sealed class Plan
    {
        public readonly List<Copy> Copies = new();
        /// <summary>Ranges to zero (bss): destination and length.</summary>
        public readonly List<(uint Start, uint Length)> Zeros = new();
        public uint Entry;
        public uint Start = uint.MaxValue;
        public uint End;
    }

    /// <summary>Checks <paramref name="image"/> and loads it; throws <see cref="BootImageException"/> with nothing written when it cannot.</summary>
    public static MultibootEntry Load(ReadOnlySpan<byte> image, PhysicalMemory memory, PcMemoryMap map, string commandLine)
    {
        byte[] cmdline = EncodeCommandLine(commandLine);
        Plan plan = MakePlan(image, map);
        Write(image, memory, plan);
        WriteInfo(memory, map, cmdline);
        return new MultibootEntry(plan.Entry, InfoAddress, GdtAddress, 3 * 8 - 1, plan.Start, plan.End);
    }

    /// <summary>Checks an image without loading it.</summary>
    public static void Check(ReadOnlySpan<byte> image, PcMemoryMap map) => MakePlan(image, map);

    private static byte[] EncodeCommandLine(string commandLine)
    {
        if (commandLine.Contains('\0')) throw new ArgumentException("the kernel command line contains a NUL character");
        byte[] bytes = Encoding.UTF8.GetBytes(commandLine);
        if (bytes.Length > MaxCommandLineBytes)
            throw new ArgumentException($"the kernel command line is {bytes.Length} bytes long; at most {MaxCommandLineBytes} fit");
        return bytes;
    }

    private static Plan MakePlan(ReadOnlySpan<byte> image, PcMemoryMap map)
    {
        if (image.Length == 0) throw new BootImageException("the file is empty");
        MultibootHeader? header = MultibootHeader.Find(image, out int badChecksumAt);
        header?.CheckRequirements();
        if (header is { HasAoutKludge: true }) return PlanAout(image, header, map);

        bool elf = Elf32.HasMagic(image);
        if (!elf)
        {
            throw new BootImageException(header is null
                ? $"not an ELF file, and no Multiboot header in its first {MultibootHeader.SearchLimit} bytes{ChecksumHint(badChecksumAt)}"
                : "not an ELF file, and its Multiboot header does not give load addresses (flag bit 16 is clear)");
        }
        Elf32 file = Elf32.Parse(image);
        if (header is null)
            throw new BootImageException(
                $"no Multiboot header (magic 0x{MultibootHeader.Magic:X8}, 4-byte aligned, valid checksum) in the first " +
                $"{MultibootHeader.SearchLimit} bytes{ChecksumHint(badChecksumAt)}; only Multiboot kernels can be booted");
        return PlanElf(file, map);
    }

    private static string ChecksumHint(int badChecksumAt) =>
        badChecksumAt < 0 ? "" : $" (the magic at offset 0x{badChecksumAt:X} has a wrong checksum)";

    private static Plan PlanElf(Elf32 file, PcMemoryMap map)
    {
        var plan = new Plan();
        bool entryFound = false;
        foreach (Elf32Segment s in file.Segments)
        {
            string what = $"ELF segment {s.Index}";
            CheckPlacement(what, s.PhysicalAddress, s.MemorySize, map);
            if (s.FileSize > 0) plan.Copies.Add(new Copy((int)s.Offset, s.FileSize, s.PhysicalAddress));
            if (s.MemorySize > s.FileSize) plan.Zeros.Add((s.PhysicalAddress + s.FileSize, s.MemorySize - s.FileSize));
            Extend(plan, s.PhysicalAddress, s.MemorySize);
            // e_entry is a virtual address; the CPU starts with paging off, so go through the
            // segment that holds it to its physical address, as GRUB does.
            if (!entryFound && file.Entry >= s.VirtualAddress && file.Entry - s.VirtualAddress < s.MemorySize)
            {
                plan.Entry = s.PhysicalAddress + (file.Entry - s.VirtualAddress);
                entryFound = true;
            }
        }
        for (int i = 0; i < file.Segments.Count; i++)
        {
            for (int j = i + 1; j < file.Segments.Count; j++)
            {
                Elf32Segment a = file.Segments[i], b = file.Segments[j];
                if (a.PhysicalAddress < (ulong)b.PhysicalAddress + b.MemorySize && b.PhysicalAddress < (ulong)a.PhysicalAddress + a.MemorySize)
                    throw new BootImageException($"ELF segments {a.Index} and {b.Index} overlap in physical memory " +
                        $"({Range(a.PhysicalAddress, a.MemorySize)} and {Range(b.PhysicalAddress, b.MemorySize)})");
            }
        }
        if (!entryFound) throw new BootImageException($"the ELF entry point 0x{file.Entry:X8} lies in no loadable segment");
        return plan;
    }

    private static Plan PlanAout(ReadOnlySpan<byte> image, MultibootHeader h, PcMemoryMap map)
    {
        if (h.LoadAddress > h.HeaderAddress)
            throw new BootImageException($"the Multiboot header's load_addr 0x{h.LoadAddress:X8} is above its header_addr 0x{h.HeaderAddress:X8}");
        long fileStart = h.Offset - (long)(h.HeaderAddress - h.LoadAddress);
        if (fileStart < 0)
            throw new BootImageException($"the Multiboot header's load_addr 0x{h.LoadAddress:X8} lies {-fileStart} bytes before the start of the file");
        long loadLength;
        if (h.LoadEndAddress == 0)
        {
            loadLength = image.Length - fileStart; // 0 means "to the end of the file"
        }
        else
        {
            if (h.LoadEndAddress < h.LoadAddress)
                throw new BootImageException($"the Multiboot header's load_end_addr 0x{h.LoadEndAddress:X8} is below its load_addr 0x{h.LoadAddress:X8}");
            loadLength = h.LoadEndAddress - (long)h.LoadAddress;
            if (fileStart + loadLength > image.Length)
                throw new BootImageException($"the Multiboot header's load_end_addr 0x{h.LoadEndAddress:X8} lies past the end of the file " +
                    $"({image.Length} bytes hold the image up to 0x{h.LoadAddress + (ulong)(image.Length - fileStart):X8})");
        }
        ulong loadEnd = h.LoadAddress + (ulong)loadLength;
        ulong bssEnd = loadEnd;
        if (h.BssEndAddress != 0)
        {
            if (h.BssEndAddress < loadEnd)
                throw new BootImageException($"the Multiboot header's bss_end_addr 0x{h.BssEndAddress:X8} is below the end of the loaded image 0x{loadEnd:X8}");
            bssEnd = h.BssEndAddress;
        }
        if (bssEnd > 0x1_0000_0000UL) throw new BootImageException("the image (a.out kludge) wraps past 4 GiB");
        uint total = (uint)(bssEnd - h.LoadAddress);
        if (total == 0) throw new BootImageException("the Multiboot header's addresses describe an empty image");
        CheckPlacement("the image (a.out kludge)", h.LoadAddress, total, map);
        if (h.EntryAddress < h.LoadAddress || h.EntryAddress >= bssEnd)
            throw new BootImageException($"the Multiboot header's entry_addr 0x{h.EntryAddress:X8} lies outside the image {Range(h.LoadAddress, total)}");

        var plan = new Plan { Entry = h.EntryAddress };
        if (loadLength > 0) plan.Copies.Add(new Copy((int)fileStart, (uint)loadLength, h.LoadAddress));
        if (bssEnd > loadEnd) plan.Zeros.Add(((uint)loadEnd, (uint)(bssEnd - loadEnd)));
        Extend(plan, h.LoadAddress, total);
        return plan;
    }

    private static void CheckPlacement(string what, uint start, uint length, PcMemoryMap map)
    {
        if ((ulong)start + length > map.RamSize)
            throw new BootImageException($"{what} ({Range(start, length)}) does not fit in guest RAM ({map.RamSize >> 20} MiB); " +
                "give more with --memory");
        if (start < InfoAreaEnd && InfoAreaStart < (ulong)start + length)
            throw new BootImageException($"{what} ({Range(start, length)}) overlaps the boot information area " +
                $"({Range(InfoAreaStart, InfoAreaEnd - InfoAreaStart)}) where the loader puts the Multiboot information");
        if (!map.IsAvailable(start, length))
            throw new BootImageException($"{what} ({Range(start, length)}) lies outside usable RAM " +
                $"(usable: {map.DescribeAvailable()})");
    }

    private static string Range(uint start, uint length) => $"physical 0x{start:X8}-0x{(ulong)start + length - 1:X8}";

    private static void Extend(Plan plan, uint start, uint length)
    {
        plan.Start = Math.Min(plan.Start, start);
        plan.End = (uint)Math.Max(plan.End, (ulong)start + length);
    }

    private static unsafe void Write(ReadOnlySpan<byte> image, PhysicalMemory memory, Plan plan)
    {
        // Every range was checked to lie inside RAM, so the RAM block is written directly.
        foreach (Copy c in plan.Copies)
            image.Slice(c.FileOffset, (int)c.Length).CopyTo(new Span<byte>(memory.Ram + c.Destination, (int)c.Length));
        foreach ((uint start, uint length) in plan.Zeros)
        {
            for (ulong done = 0; done < length;)
            {
                int chunk = (int)Math.Min(length - done, 1u << 30);
                new Span<byte>(memory.Ram + start + done, chunk).Clear();
                done += (ulong)chunk;
            }
        }
    }

    private static unsafe void WriteInfo(PhysicalMemory memory, PcMemoryMap map, byte[] commandLine)
    {
        new Span<byte>(memory.Ram + InfoAreaStart, (int)(InfoAreaEnd - InfoAreaStart)).Clear();

        // The flat segments the kernel starts in: code at 08h, data at 10h.
        FlatGdt.Write(memory, GdtAddress, 0x08, 0x10);

        uint mmapLength = 0;
        foreach (MemoryRegion r in map.Regions)
        {
            uint at = MemoryMapAddress + mmapLength;
            memory.Write(at, 4, 20); // size of the entry, not counting this field
            memory.Write(at + 4, 4, (uint)r.Base);
            memory.Write(at + 8, 4, (uint)(r.Base >> 32));
            memory.Write(at + 12, 4, (uint)r.Length);
            memory.Write(at + 16, 4, (uint)(r.Length >> 32));
            memory.Write(at + 20, 4, (uint)r.Kind);
            mmapLength += 24;
        }
        memory.WriteBytes(LoaderNameAddress, Encoding.ASCII.GetBytes(LoaderName + "\0"));
        memory.WriteBytes(CommandLineAddress, commandLine); // followed by the NUL the clear left

        memory.Write(InfoAddress + 0, 4, InfoMemory | InfoCommandLine | InfoMemoryMap | InfoLoaderName);
        memory.Write(InfoAddress + 4, 4, map.LowerKiB);
        memory.Write(InfoAddress + 8, 4, map.UpperKiB);
        memory.Write(InfoAddress + 16, 4, CommandLineAddress);
        memory.Write(InfoAddress + 44, 4, mmapLength);
        memory.Write(InfoAddress + 48, 4, MemoryMapAddress);
        memory.Write(InfoAddress + 64, 4, LoaderNameAddress);
    }
}
