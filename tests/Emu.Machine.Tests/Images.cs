using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using Iced.Intel;

namespace Emu.Machine.Tests;

/// <summary>One loadable segment of a test ELF image.</summary>
public sealed record TestSegment(uint PhysicalAddress, byte[] Bytes, uint MemorySize, uint VirtualAddress)
{
    public TestSegment(uint address, byte[] bytes) : this(address, bytes, (uint)bytes.Length, address) { }
}

/// <summary>
/// Builds ELF32 and a.out-kludge images for the loader tests, every field settable, so each
/// test breaks exactly one thing. Defaults give a valid Multiboot ELF.
/// </summary>
public sealed class ElfBuilder
{
    public byte Class = 1, Data = 1, Version = 1;
    public ushort Type = 2, Machine = 3, PhEntSize = 32;
    public uint? PhOffOverride;
    public ushort? PhNumOverride;
    public uint Entry = 0x10_0000;
    public List<TestSegment> Segments = new();
    /// <summary>Extra program headers with other types (PT_NOTE, ...), written before the segments.</summary>
    public List<uint> OtherHeaderTypes = new();
    /// <summary>Multiboot header flags; null writes no header.</summary>
    public uint? MultibootFlags = 0x3;
    public bool BadChecksum;
    /// <summary>Where the Multiboot header goes in the file; null puts it right after the program headers.</summary>
    public int? MultibootOffset;
    /// <summary>Per segment index, a file offset to write instead of the real one.</summary>
    public Dictionary<int, uint> SegmentOffsetOverride = new();

    public static ElfBuilder WithCode(uint address, Action<Assembler> code) =>
        new() { Entry = address, Segments = { new TestSegment(address, Assemble(address, code)) } };

    public byte[] Build()
    {
        int phnum = OtherHeaderTypes.Count + Segments.Count;
        int phoff = 52;
        int mbAt = MultibootOffset ?? Align(phoff + phnum * 32, 4);
        int dataAt = Align(Math.Max(mbAt + 12, phoff + phnum * 32), 16);
        var offsets = new List<int>();
        foreach (TestSegment s in Segments)
        {
            offsets.Add(dataAt);
            dataAt = Align(dataAt + s.Bytes.Length, 16);
        }
        var f = new byte[Math.Max(dataAt, mbAt + 12)];
        f[0] = 0x7F; f[1] = (byte)'E'; f[2] = (byte)'L'; f[3] = (byte)'F';
        f[4] = Class; f[5] = Data; f[6] = Version;
        W16(f, 16, Type);
        W16(f, 18, Machine);
        W32(f, 20, 1);
        W32(f, 24, Entry);
        W32(f, 28, PhOffOverride ?? (uint)phoff);
        W16(f, 40, 52);
        W16(f, 42, PhEntSize);
        W16(f, 44, PhNumOverride ?? (ushort)phnum);
        int ph = phoff;
        foreach (uint t in OtherHeaderTypes)
        {
            W32(f, ph, t);
            ph += 32;
        }
        for (int i = 0; i < Segments.Count; i++, ph += 32)
        {
            TestSegment s = Segments[i];
            W32(f, ph, 1);
            W32(f, ph + 4, SegmentOffsetOverride.TryGetValue(i, out uint o) ? o : (uint)offsets[i]);
            W32(f, ph + 8, s.VirtualAddress);
            W32(f, ph + 12, s.PhysicalAddress);
            W32(f, ph + 16, (uint)s.Bytes.Length);
            W32(f, ph + 20, s.MemorySize);
            W32(f, ph + 24, 7);
            W32(f, ph + 28, 0x1000);
            s.Bytes.CopyTo(f, offsets[i]);
        }
        if (MultibootFlags is uint flags)
            WriteMultibootHeader(f, mbAt, flags, BadChecksum);
        return f;
    }

    public static void WriteMultibootHeader(byte[] f, int at, uint flags, bool badChecksum = false)
    {
        W32(f, at, 0x1BAD_B002);
        W32(f, at + 4, flags);
        W32(f, at + 8, unchecked(0u - 0x1BAD_B002u - flags + (badChecksum ? 1u : 0u)));
    }

    /// <summary>
    /// A raw (not ELF) image with the a.out-kludge header at <paramref name="headerOffset"/>
    /// followed by <paramref name="body"/>; the file is loaded at <paramref name="loadAddr"/>.
    /// </summary>
    public static byte[] Aout(uint loadAddr, byte[] body, uint loadEnd, uint bssEnd, uint entry, int headerOffset = 0,
        uint? headerAddr = null, uint extraFlags = 0)
    {
        int bodyAt = headerOffset + 32;
        var f = new byte[bodyAt + body.Length];
        WriteMultibootHeader(f, headerOffset, 0x0001_0003 | extraFlags);
        W32(f, headerOffset + 12, headerAddr ?? loadAddr + (uint)headerOffset);
        W32(f, headerOffset + 16, loadAddr);
        W32(f, headerOffset + 20, loadEnd);
        W32(f, headerOffset + 24, bssEnd);
        W32(f, headerOffset + 28, entry);
        body.CopyTo(f, bodyAt);
        return f;
    }

    public static byte[] Assemble(uint address, Action<Assembler> code)
    {
        var a = new Assembler(32);
        code(a);
        var w = new MemoryStream();
        a.Assemble(new StreamCodeWriter(w), address);
        return w.ToArray();
    }

    private static int Align(int v, int a) => (v + a - 1) & ~(a - 1);

    public static void W16(byte[] b, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(at), v);

    public static void W32(byte[] b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);
}
