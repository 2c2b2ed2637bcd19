using System;
using Emu.TestSupport;
using Emu.X86;
using Iced.Intel;

namespace Emu.Cpu.Tests.Support;

/// <summary>
/// A CPU in flat 32-bit protected mode at CPL 0 with a GDT of our own in memory at 800h,
/// holding one descriptor of each kind the segment-load checks distinguish.
/// </summary>
public sealed class GdtRig : IDisposable
{
    public const uint GdtBase = 0x800;
    public const uint CodeAt = 0x1000;
    public const uint DataAt = 0x2000;

    public const ushort Code32 = 0x08;        // base 0, 4 GiB, execute/read, D=1
    public const ushort Data32 = 0x10;        // base 0, 4 GiB, read/write, B=1
    public const ushort Code16 = 0x18;        // base 10000h, 64 KiB, execute/read, D=0
    public const ushort Data16 = 0x20;        // base 20000h, 64 KiB, read/write (not accessed yet)
    public const ushort NotPresentData = 0x28;
    public const ushort Dpl3Data = 0x30;
    public const ushort ExecuteOnlyCode = 0x38; // base 0, 4 GiB
    public const ushort ReadOnlyData = 0x40;
    public const ushort LdtDescriptor = 0x48;   // a system descriptor
    public const ushort SmallData = 0x50;       // base 30000h, limit FFFh, B=1
    public const ushort NotPresentCode = 0x58;
    public const ushort ExpandDownData = 0x60;  // limit FFFh, B=1: valid offsets 1000h..FFFFFFFFh
    public const ushort ConformingCode = 0x68;  // readable, DPL 0
    public const ushort Stack16 = 0x70;         // base 40000h, 64 KiB, B=0
    public const ushort GdtLimit = 0x78 - 1;

    public readonly TestCpu T;

    /// <summary>An 8-byte segment descriptor (Intel SDM Vol. 3, Figure 3-8); flags is the G, D/B, L, AVL nibble in bits 7:4.</summary>
    public static ulong Descriptor(uint @base, uint limit, byte access, byte flags) =>
        (limit & 0xFFFF) | ((ulong)(@base & 0xFF_FFFF) << 16) | ((ulong)access << 40) |
        ((ulong)((limit >> 16) & 0xF) << 48) | ((ulong)(flags & 0xF0) << 48) | ((ulong)(@base >> 24) << 56);

    /// <param name="engine">The engine that runs the guest (see <see cref="Engines"/>).</param>
    public GdtRig(string engine)
    {
        T = TestCpu.Flat32(engine);
        WriteDescriptor(0x00, 0);
        WriteDescriptor(Code32, Descriptor(0, 0xF_FFFF, 0x9B, 0xC0));
        WriteDescriptor(Data32, Descriptor(0, 0xF_FFFF, 0x93, 0xC0));
        WriteDescriptor(Code16, Descriptor(0x1_0000, 0xFFFF, 0x9B, 0x00));
        WriteDescriptor(Data16, Descriptor(0x2_0000, 0xFFFF, 0x92, 0x00));
        WriteDescriptor(NotPresentData, Descriptor(0, 0xF_FFFF, 0x12, 0xC0));
        WriteDescriptor(Dpl3Data, Descriptor(0, 0xF_FFFF, 0xF3, 0xC0));
        WriteDescriptor(ExecuteOnlyCode, Descriptor(0, 0xF_FFFF, 0x99, 0xC0));
        WriteDescriptor(ReadOnlyData, Descriptor(0, 0xF_FFFF, 0x91, 0xC0));
        WriteDescriptor(LdtDescriptor, Descriptor(0x5000, 0xFF, 0x82, 0x00));
        WriteDescriptor(SmallData, Descriptor(0x3_0000, 0xFFF, 0x93, 0x40));
        WriteDescriptor(NotPresentCode, Descriptor(0, 0xF_FFFF, 0x1B, 0xC0));
        WriteDescriptor(ExpandDownData, Descriptor(0, 0xFFF, 0x97, 0x40));
        WriteDescriptor(ConformingCode, Descriptor(0, 0xF_FFFF, 0x9F, 0xC0));
        WriteDescriptor(Stack16, Descriptor(0x4_0000, 0xFFFF, 0x93, 0x00));
        Cpu.Gdtr = new TableRegister { Base = GdtBase, Limit = GdtLimit };
    }

    public Emu.X86.Cpu Cpu => T.Cpu;

    public void WriteDescriptor(ushort selector, ulong d)
    {
        T.Write32(GdtBase + (uint)(selector & ~7), (uint)d);
        T.Write32(GdtBase + (uint)(selector & ~7) + 4, (uint)(d >> 32));
    }

    public byte AccessByte(ushort selector) => T.Read8(GdtBase + (uint)(selector & ~7) + 5);

    /// <summary>Assembles 32-bit code at <see cref="CodeAt"/> and runs it.</summary>
    public StopReason Run(Action<Assembler> build, bool appendHlt = true)
    {
        T.Load(CodeAt, a => { build(a); if (appendHlt) a.hlt(); });
        return T.Run(CodeAt);
    }

    public void AssertHalted(StopReason r)
    {
        if (r == StopReason.Halted) return;
        string fault = Cpu.LastFault is { } f ? $" {f.Name} (error {f.ErrorCode:X}) at {f.Cs:X4}:{f.Eip:X8}" : "";
        Assert.Fail($"guest stopped with {r}{fault}, expected HLT");
    }

    public void Dispose() => T.Dispose();
}
