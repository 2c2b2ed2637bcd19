using System;
using System.Text;
using Emu.Machine.Boot;
using Emu.Memory;

namespace Emu.Machine.Tests;

public sealed class LoaderTests : IDisposable
{
    private const uint Ram = 16u << 20;
    private readonly PhysicalMemory memory = new(Ram);
    private readonly PcMemoryMap map = new(Ram);

    public void Dispose() => memory.Dispose();

    private MultibootEntry Load(byte[] image, string cmdline = "") => MultibootLoader.Load(image, memory, map, cmdline);

    /// <summary>Loading must fail with a message containing <paramref name="expected"/>, having written nothing.</summary>
    private void Refused(byte[] image, string expected)
    {
        memory.Write(0x10_0000, 4, 0xDEAD_BEEF);
        memory.Write(MultibootLoader.InfoAddress, 4, 0xCAFE_F00D);
        var e = Assert.Throws<BootImageException>(() => Load(image));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(0xDEAD_BEEFu, memory.Read(0x10_0000, 4));
        Assert.Equal(0xCAFE_F00Du, memory.Read(MultibootLoader.InfoAddress, 4));
    }

    private static byte[] Code(params byte[] b) => b;

    [Fact]
    public void ElfSegmentsLoadAtTheirPhysicalAddressesAndBssIsZeroed()
    {
        var b = new ElfBuilder
        {
            Entry = 0x10_0000,
            Segments =
            {
                new TestSegment(0x10_0000, Code(0x90, 0x90, 0xF4)),
                new TestSegment(0x20_0000, Code(1, 2, 3, 4), 0x2000, 0x20_0000),
            },
        };
        memory.Write(0x20_0004, 4, 0xFFFF_FFFF); // stale bytes where .bss goes
        memory.Write(0x20_1FFC, 4, 0xFFFF_FFFF);
        MultibootEntry e = Load(b.Build());
        Assert.Equal(0x10_0000u, e.Entry);
        Assert.Equal(0x90u, memory.Read8(0x10_0000));
        Assert.Equal(0xF4u, memory.Read8(0x10_0002));
        Assert.Equal(0x0403_0201u, memory.Read(0x20_0000, 4));
        Assert.Equal(0u, memory.Read(0x20_0004, 4));
        Assert.Equal(0u, memory.Read(0x20_1FFC, 4));
        Assert.Equal(0x10_0000u, e.ImageStart);
        Assert.Equal(0x20_2000u, e.ImageEnd);
    }

    [Fact]
    public void AVirtualEntryPointIsTranslatedThroughItsSegment()
    {
        // A higher-half kernel: linked at 0xC0100000, loaded at 1 MiB.
        var b = new ElfBuilder
        {
            Entry = 0xC010_0010,
            Segments = { new TestSegment(0x10_0000, new byte[0x20], 0x20, 0xC010_0000) },
        };
        Assert.Equal(0x10_0010u, Load(b.Build()).Entry);
    }

    [Fact]
    public void TheInformationStructureDescribesMemoryCommandLineAndLoader()
    {
        MultibootEntry e = Load(ElfBuilder.WithCode(0x10_0000, a => a.hlt()).Build(), "console=e9 quiet");
        uint mbi = e.InfoAddress;
        Assert.True(mbi < 0x10_0000, "the information structure lies in low memory");
        uint flags = memory.Read(mbi, 4);
        Assert.Equal(MultibootLoader.InfoMemory | MultibootLoader.InfoCommandLine | MultibootLoader.InfoMemoryMap | MultibootLoader.InfoLoaderName, flags);
        Assert.Equal(639u, memory.Read(mbi + 4, 4));
        Assert.Equal((Ram - 0x10_0000) / 1024, memory.Read(mbi + 8, 4));
        Assert.Equal("console=e9 quiet", ReadString(memory.Read(mbi + 16, 4)));
        Assert.Equal(MultibootLoader.LoaderName, ReadString(memory.Read(mbi + 64, 4)));

        uint length = memory.Read(mbi + 44, 4), at = memory.Read(mbi + 48, 4);
        Assert.Equal(4u * 24, length);
        var expected = new (ulong Base, ulong Len, uint Type)[]
        {
            (0, 0x9_FC00, 1), (0x9_FC00, 0x400, 2), (0xF_0000, 0x1_0000, 2), (0x10_0000, Ram - 0x10_0000, 1),
        };
        foreach (var (baseAddr, len, type) in expected)
        {
            Assert.Equal(20u, memory.Read(at, 4));
            Assert.Equal(baseAddr, memory.Read(at + 4, 4) | ((ulong)memory.Read(at + 8, 4) << 32));
            Assert.Equal(len, memory.Read(at + 12, 4) | ((ulong)memory.Read(at + 16, 4) << 32));
            Assert.Equal(type, memory.Read(at + 20, 4));
            at += 24;
        }
    }

    [Fact]
    public void TheCommandLineIsEmptyWithoutAppend()
    {
        MultibootEntry e = Load(ElfBuilder.WithCode(0x10_0000, a => a.hlt()).Build());
        Assert.Equal("", ReadString(memory.Read(e.InfoAddress + 16, 4)));
    }

    [Fact]
    public void TheLoaderGdtHoldsFlatCodeAndData()
    {
        MultibootEntry e = Load(ElfBuilder.WithCode(0x10_0000, a => a.hlt()).Build());
        Assert.Equal(23, e.GdtLimit);
        Assert.Equal(0ul, Read64(e.GdtBase));
        Assert.Equal(0x00CF_9B00_0000_FFFFul, Read64(e.GdtBase + 8));
        Assert.Equal(0x00CF_9300_0000_FFFFul, Read64(e.GdtBase + 16));
    }

    [Fact]
    public void AoutKludgeLoadsTheFileAtLoadAddrAndZeroesBss()
    {
        byte[] body = { 0xB8, 1, 0, 0, 0, 0xF4 }; // mov eax, 1; hlt
        const uint load = 0x10_0000;
        uint loadEnd = load + 32 + (uint)body.Length;
        memory.Write(loadEnd, 4, 0xFFFF_FFFF);
        byte[] image = ElfBuilder.Aout(load, body, loadEnd, loadEnd + 0x100, entry: load + 32);
        MultibootEntry e = Load(image);
        Assert.Equal(load + 32, e.Entry);
        Assert.Equal(0x1BAD_B002u, memory.Read(load, 4)); // the header is loaded with the rest
        Assert.Equal(0xB8u, memory.Read8(load + 32));
        Assert.Equal(0u, memory.Read(loadEnd, 4));
        Assert.Equal(loadEnd + 0x100, e.ImageEnd);
    }

    [Fact]
    public void AoutKludgeWinsOverElfHeaders()
    {
        // An x86-64 ELF whose Multiboot header gives load addresses: the ELF headers are not read.
        byte[] image = ElfBuilder.Aout(0x10_0000, new byte[64], 0, 0, 0x10_0000, headerOffset: 64);
        image[0] = 0x7F; image[1] = (byte)'E'; image[2] = (byte)'L'; image[3] = (byte)'F'; image[4] = 2;
        Assert.Equal(0x10_0000u, Load(image).Entry);
    }

    [Fact]
    public void AoutLoadEndZeroMeansTheWholeFile()
    {
        byte[] image = ElfBuilder.Aout(0x10_0000, new byte[] { 0xAA, 0xBB }, 0, 0, 0x10_0020);
        Load(image);
        Assert.Equal(0xBBu, memory.Read8(0x10_0021));
    }

    [Fact]
    public void ImagesOnTheEdgesOfUsableRamLoad()
    {
        var b = new ElfBuilder
        {
            Entry = 0x1_0000,
            Segments = { new TestSegment(0x1_0000, new byte[0x10], 0x9_FC00 - 0x1_0000, 0x1_0000), new TestSegment(Ram - 0x10, new byte[0x10]) },
        };
        Load(b.Build());
    }

    // ---- refusals ----

    [Fact]
    public void EmptyFile() => Refused(Array.Empty<byte>(), "the file is empty");

    [Fact]
    public void NeitherElfNorMultiboot() => Refused(Encoding.ASCII.GetBytes("#!/bin/sh\necho hello\n"), "not an ELF file, and no Multiboot header");

    [Fact]
    public void TruncatedElfHeader()
    {
        byte[] full = ElfBuilder.WithCode(0x10_0000, a => a.hlt()).Build();
        Refused(full.AsSpan(0, 40).ToArray(), "truncated ELF header");
    }

    [Fact]
    public void TruncatedProgramHeaders()
    {
        byte[] full = ElfBuilder.WithCode(0x10_0000, a => a.hlt()).Build();
        Refused(full.AsSpan(0, 60).ToArray(), "program headers (offset 0x34, 1 entries) extend past the end of the file");
    }

    [Fact]
    public void SixtyFourBitElf() => Refused(new ElfBuilder { Class = 2 }.Build(), "ELF class is 64-bit");

    [Fact]
    public void InvalidElfClass() => Refused(new ElfBuilder { Class = 7 }.Build(), "invalid ELF class 7");

    [Fact]
    public void BigEndianElf() => Refused(new ElfBuilder { Data = 2 }.Build(), "big-endian");

    [Fact]
    public void WrongElfVersion() => Refused(new ElfBuilder { Version = 0 }.Build(), "unsupported ELF version 0");

    [Fact]
    public void WrongMachine() => Refused(new ElfBuilder { Machine = 62 }.Build(), "ELF machine is x86-64 (EM_X86_64)");

    [Fact]
    public void SharedObject() => Refused(new ElfBuilder { Type = 3 }.Build(), "ELF type is shared object");

    [Fact]
    public void WrongProgramHeaderSize()
    {
        var b = ElfBuilder.WithCode(0x10_0000, a => a.hlt());
        b.PhEntSize = 40;
        Refused(b.Build(), "program header size is 40 bytes, expected 32");
    }

    [Fact]
    public void NoProgramHeaders() => Refused(new ElfBuilder { PhNumOverride = 0 }.Build(), "no program headers");

    [Fact]
    public void ProgramHeadersOutsideTheFile()
    {
        var b = ElfBuilder.WithCode(0x10_0000, a => a.hlt());
        b.PhOffOverride = 0x7FFF_FFF0;
        Refused(b.Build(), "extend past the end of the file");
    }

    [Fact]
    public void SegmentDataOutsideTheFile()
    {
        var b = ElfBuilder.WithCode(0x10_0000, a => a.hlt());
        b.SegmentOffsetOverride[0] = 0x10_0000;
        Refused(b.Build(), "ELF segment 0 (file offset 0x100000, 0x1 bytes) extends past the end of the file");
    }

    [Fact]
    public void SegmentWithMoreFileThanMemoryBytes()
    {
        var b = new ElfBuilder { Segments = { new TestSegment(0x10_0000, new byte[16], 8, 0x10_0000) } };
        Refused(b.Build(), "more bytes in the file (0x10) than in memory (0x8)");
    }

    [Fact]
    public void NoLoadableSegment() => Refused(new ElfBuilder { OtherHeaderTypes = { 4 } }.Build(), "no loadable segment (PT_LOAD)");

    [Fact]
    public void SegmentBeyondRam()
    {
        var b = new ElfBuilder { Entry = Ram - 8, Segments = { new TestSegment(Ram - 8, new byte[16]) } };
        Refused(b.Build(), "does not fit in guest RAM (16 MiB); give more with --memory");
    }

    [Fact]
    public void SegmentWrappingPast4GiB()
    {
        var b = new ElfBuilder { Entry = 0xFFFF_FFF0, Segments = { new TestSegment(0xFFFF_FFF0, new byte[4], 0x100, 0xFFFF_FFF0) } };
        Refused(b.Build(), "wraps past 4 GiB");
    }

    [Fact]
    public void SegmentInTheBiosArea()
    {
        var b = new ElfBuilder { Entry = 0xF_0000, Segments = { new TestSegment(0xF_0000, new byte[16]) } };
        Refused(b.Build(), "lies outside usable RAM (usable: 0x00000000-0x0009FBFF, 0x00100000-0x00FFFFFF)");
    }

    [Fact]
    public void SegmentOverTheBootInformationArea()
    {
        var b = new ElfBuilder { Entry = 0x7000, Segments = { new TestSegment(0x7000, new byte[0x1100]) } };
        Refused(b.Build(), "overlaps the boot information area");
    }

    [Fact]
    public void OverlappingSegments()
    {
        var b = new ElfBuilder { Segments = { new TestSegment(0x10_0000, new byte[0x100]), new TestSegment(0x10_0080, new byte[0x100]) } };
        Refused(b.Build(), "ELF segments 0 and 1 overlap");
    }

    [Fact]
    public void EntryPointInNoSegment()
    {
        var b = ElfBuilder.WithCode(0x10_0000, a => a.hlt());
        b.Entry = 0x30_0000;
        Refused(b.Build(), "entry point 0x00300000 lies in no loadable segment");
    }

    [Fact]
    public void ElfWithoutMultibootHeader()
    {
        var b = ElfBuilder.WithCode(0x10_0000, a => a.hlt());
        b.MultibootFlags = null;
        Refused(b.Build(), "no Multiboot header (magic 0x1BADB002, 4-byte aligned, valid checksum) in the first 8192 bytes");
    }

    [Fact]
    public void MultibootHeaderWithBadChecksum()
    {
        var b = ElfBuilder.WithCode(0x10_0000, a => a.hlt());
        b.BadChecksum = true;
        Refused(b.Build(), "has a wrong checksum");
    }

    [Fact]
    public void MultibootHeaderPast8192Bytes()
    {
        var b = ElfBuilder.WithCode(0x10_0000, a => a.hlt());
        b.MultibootOffset = 8192;
        Refused(b.Build(), "no Multiboot header");
    }

    [Fact]
    public void MisalignedMultibootHeaderIsNotFound()
    {
        var b = ElfBuilder.WithCode(0x10_0000, a => a.hlt());
        b.MultibootOffset = 0x72;
        Refused(b.Build(), "no Multiboot header");
    }

    [Fact]
    public void VideoModeRequirement()
    {
        var b = ElfBuilder.WithCode(0x10_0000, a => a.hlt());
        b.MultibootFlags = 0x7;
        Refused(b.Build(), "video mode information (flag bit 2)");
    }

    [Fact]
    public void UnknownRequirement()
    {
        var b = ElfBuilder.WithCode(0x10_0000, a => a.hlt());
        b.MultibootFlags = 0x3 | 0x100;
        Refused(b.Build(), "requires features this loader does not know (flags 0x0100");
    }

    [Fact]
    public void UnknownOptionalFlagsAreFine()
    {
        var b = ElfBuilder.WithCode(0x10_0000, a => a.hlt());
        b.MultibootFlags = 0x3 | 0x0100_0000; // bits 16-31 other than 16 are optional
        Load(b.Build());
    }

    [Fact]
    public void RawImageWithoutLoadAddresses()
    {
        var f = new byte[64];
        ElfBuilder.WriteMultibootHeader(f, 0, 0x3);
        Refused(f, "not an ELF file, and its Multiboot header does not give load addresses (flag bit 16 is clear)");
    }

    [Fact]
    public void AoutHeaderCutShort()
    {
        byte[] image = ElfBuilder.Aout(0x10_0000, Array.Empty<byte>(), 0, 0, 0x10_0000);
        Refused(image.AsSpan(0, 20).ToArray(), "address fields run past the end of the file");
    }

    [Fact]
    public void AoutLoadAddrAboveHeaderAddr() =>
        Refused(ElfBuilder.Aout(0x10_0000, new byte[16], 0, 0, 0x10_0000, headerAddr: 0xF_F000), "load_addr 0x00100000 is above its header_addr");

    [Fact]
    public void AoutLoadAddrBeforeTheFile() =>
        Refused(ElfBuilder.Aout(0x10_0000, new byte[16], 0, 0, 0x10_0000, headerAddr: 0x10_0100), "lies 256 bytes before the start of the file");

    [Fact]
    public void AoutLoadEndPastTheFile() =>
        Refused(ElfBuilder.Aout(0x10_0000, new byte[16], 0x10_1000, 0, 0x10_0000), "load_end_addr 0x00101000 lies past the end of the file");

    [Fact]
    public void AoutLoadEndBelowLoadAddr() =>
        Refused(ElfBuilder.Aout(0x10_0000, new byte[16], 0xF_0000, 0, 0x10_0000), "load_end_addr 0x000F0000 is below its load_addr");

    [Fact]
    public void AoutBssEndBelowLoadEnd() =>
        Refused(ElfBuilder.Aout(0x10_0000, new byte[16], 0x10_0030, 0x10_0010, 0x10_0000), "bss_end_addr 0x00100010 is below the end");

    [Fact]
    public void AoutEntryOutsideTheImage() =>
        Refused(ElfBuilder.Aout(0x10_0000, new byte[16], 0, 0, 0x20_0000), "entry_addr 0x00200000 lies outside the image");

    [Fact]
    public void AoutImageBeyondRam() =>
        Refused(ElfBuilder.Aout(Ram - 16, new byte[16], 0, 0, Ram - 16), "does not fit in guest RAM");

    [Fact]
    public void CommandLineTooLong()
    {
        byte[] image = ElfBuilder.WithCode(0x10_0000, a => a.hlt()).Build();
        var e = Assert.Throws<ArgumentException>(() => Load(image, new string('x', MultibootLoader.MaxCommandLineBytes + 1)));
        Assert.Contains("at most", e.Message, StringComparison.Ordinal);
        Load(image, new string('x', MultibootLoader.MaxCommandLineBytes));
    }

    [Fact]
    public void GarbageNeverEscapesAsAnotherException()
    {
        // Random bytes behind a valid ELF header and Multiboot header: the loader either
        // loads or refuses with its own exception, whatever the fields say.
        var rng = new Random(12345);
        byte[] good = new ElfBuilder
        {
            Segments = { new TestSegment(0x10_0000, new byte[64]), new TestSegment(0x20_0000, new byte[64]) },
        }.Build();
        for (int round = 0; round < 2000; round++)
        {
            byte[] image = (byte[])good.Clone();
            int flips = rng.Next(1, 8);
            for (int k = 0; k < flips; k++) image[rng.Next(16, 52 + 2 * 32)] = (byte)rng.Next(256);
            try
            {
                Load(image);
            }
            catch (BootImageException)
            {
            }
        }
    }

    private string ReadString(uint address)
    {
        var s = new StringBuilder();
        for (byte b; (b = memory.Read8(address)) != 0; address++) s.Append((char)b);
        return s.ToString();
    }

    private ulong Read64(uint address) => memory.Read(address, 4) | ((ulong)memory.Read(address + 4, 4) << 32);
}
