using System;
using System.Buffers.Binary;
using System.Collections.Generic;

namespace Emu.Machine.Boot;

/// <summary>One program header of an ELF32 file (System V ABI, Program Header).</summary>
public readonly record struct Elf32Segment(int Index, uint Type, uint Offset, uint VirtualAddress, uint PhysicalAddress,
    uint FileSize, uint MemorySize, uint Flags)
{
    public const uint PtLoad = 1;
}

/// <summary>
/// The parts of an ELF32 executable a boot loader reads: the file header and the program
/// headers. Parsing checks everything the loader will rely on, so a malformed file is
/// refused with a message that says what is wrong rather than loaded half-way.
/// </summary>
public sealed class Elf32
{
    public const int HeaderSize = 52;
    public const int ProgramHeaderSize = 32;
    public const ushort TypeExecutable = 2;
    public const ushort Machine386 = 3;

    public ushort Type { get; }
    public ushort MachineKind { get; }
    public uint Entry { get; }
    public IReadOnlyList<Elf32Segment> Segments { get; }

    private Elf32(ushort type, ushort machine, uint entry, IReadOnlyList<Elf32Segment> segments)
    {
        Type = type;
        MachineKind = machine;
        Entry = entry;
        Segments = segments;
    }

    /// <summary>Whether the image starts with the ELF magic (0x7F 'E' 'L' 'F').</summary>
    public static bool HasMagic(ReadOnlySpan<byte> image) =>
        image.Length >= 4 && image[0] == 0x7F && image[1] == (byte)'E' && image[2] == (byte)'L' && image[3] == (byte)'F';

    /// <summary>Parses and checks an ELF32 little-endian i386 executable; throws <see cref="BootImageException"/> otherwise.</summary>
    public static Elf32 Parse(ReadOnlySpan<byte> image)
    {
        if (!HasMagic(image)) throw new BootImageException("not an ELF file (no 7F 45 4C 46 magic)");
        if (image.Length < HeaderSize)
            throw new BootImageException($"truncated ELF header: the file has {image.Length} bytes, the header needs {HeaderSize}");

        byte cls = image[4], data = image[5], version = image[6];
        if (cls != 1)
            throw new BootImageException(cls == 2
                ? "ELF class is 64-bit (ELFCLASS64); only 32-bit (ELFCLASS32) kernels can be loaded"
                : $"invalid ELF class {cls}");
        if (data != 1)
            throw new BootImageException(data == 2
                ? "ELF data encoding is big-endian (ELFDATA2MSB); x86 kernels are little-endian (ELFDATA2LSB)"
                : $"invalid ELF data encoding {data}");
        if (version != 1) throw new BootImageException($"unsupported ELF version {version} (expected 1)");

        ushort type = U16(image, 16);
        ushort machine = U16(image, 18);
        uint entry = U32(image, 24);
        uint phoff = U32(image, 28);
        ushort phentsize = U16(image, 42);
        ushort phnum = U16(image, 44);

        if (type != TypeExecutable)
            throw new BootImageException($"ELF type is {TypeName(type)}; a kernel must be an executable (ET_EXEC)");
        if (machine != Machine386)
            throw new BootImageException($"ELF machine is {MachineName(machine)}; the emulated CPU runs Intel 80386 (EM_386) code");
        if (phnum == 0) throw new BootImageException("the ELF file has no program headers");
        if (phentsize != ProgramHeaderSize)
            throw new BootImageException($"ELF program header size is {phentsize} bytes, expected {ProgramHeaderSize}");
        if ((ulong)phoff + (ulong)phnum * ProgramHeaderSize > (ulong)image.Length)
            throw new BootImageException(
                $"ELF program headers (offset 0x{phoff:X}, {phnum} entries) extend past the end of the file ({image.Length} bytes)");

        var segments = new List<Elf32Segment>();
        for (int i = 0; i < phnum; i++)
        {
            int at = (int)phoff + i * ProgramHeaderSize;
            var s = new Elf32Segment(i, U32(image, at), U32(image, at + 4), U32(image, at + 8), U32(image, at + 12),
                U32(image, at + 16), U32(image, at + 20), U32(image, at + 24));
            if (s.Type != Elf32Segment.PtLoad) continue;
            if ((ulong)s.Offset + s.FileSize > (ulong)image.Length)
                throw new BootImageException(
                    $"ELF segment {i} (file offset 0x{s.Offset:X}, 0x{s.FileSize:X} bytes) extends past the end of the file ({image.Length} bytes)");
            if (s.FileSize > s.MemorySize)
                throw new BootImageException(
                    $"ELF segment {i} has more bytes in the file (0x{s.FileSize:X}) than in memory (0x{s.MemorySize:X})");
            if ((ulong)s.PhysicalAddress + s.MemorySize > 0x1_0000_0000UL)
                throw new BootImageException($"ELF segment {i} at physical 0x{s.PhysicalAddress:X8} (0x{s.MemorySize:X} bytes) wraps past 4 GiB");
            if ((ulong)s.VirtualAddress + s.MemorySize > 0x1_0000_0000UL)
                throw new BootImageException($"ELF segment {i} at virtual 0x{s.VirtualAddress:X8} (0x{s.MemorySize:X} bytes) wraps past 4 GiB");
            if (s.MemorySize != 0) segments.Add(s);
        }
        if (segments.Count == 0) throw new BootImageException("the ELF file has no loadable segment (PT_LOAD)");
        return new Elf32(type, machine, entry, segments);
    }

    private static ushort U16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(at, 2));

    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.Slice(at, 4));

    private static string TypeName(ushort type) => type switch
    {
        0 => "none (ET_NONE)",
        1 => "relocatable (ET_REL, an object file)",
        3 => "shared object (ET_DYN, position-independent)",
        4 => "core dump (ET_CORE)",
        _ => $"0x{type:X4}",
    };

    private static string MachineName(ushort machine) => machine switch
    {
        0 => "none (EM_NONE)",
        6 => "Intel 80486 (EM_486)",
        40 => "ARM (EM_ARM)",
        62 => "x86-64 (EM_X86_64)",
        183 => "AArch64 (EM_AARCH64)",
        243 => "RISC-V (EM_RISCV)",
        _ => $"{machine}",
    };
}
