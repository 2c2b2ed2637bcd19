using Emu.Cpu.Tests.Support;
using Emu.Memory;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.ProtectedMode;

/// <summary>
/// Entering protected mode from real mode and leaving it again (Intel SDM Vol. 3, 9.9): the
/// segment caches keep what was loaded until the register is loaded again, which is what
/// makes "unreal" mode work.
/// </summary>
public class ModeSwitchTests
{
    private const uint Gdt = 0x800;
    private const ushort Code16Sel = 0x08;  // base 10000h (= real-mode CS 1000h), 64 KiB
    private const ushort FlatData = 0x10;   // base 0, 4 GiB
    private const ushort Code32Sel = 0x18;  // base 0, 4 GiB, D=1
    private const ushort Data16Sel = 0x20;  // base 0, 64 KiB: what the SDM says to load before going back

    private static void WriteGdt(RealModeRig rig)
    {
        var p = rig.T.Physical;
        void D(ushort sel, ulong d)
        {
            p.Write(Gdt + sel, 4, (uint)d);
            p.Write(Gdt + sel + 4, 4, (uint)(d >> 32));
        }
        D(0, 0);
        D(Code16Sel, GdtRig.Descriptor(0x1_0000, 0xFFFF, 0x9B, 0x00));
        D(FlatData, GdtRig.Descriptor(0, 0xF_FFFF, 0x93, 0xC0));
        D(Code32Sel, GdtRig.Descriptor(0, 0xF_FFFF, 0x9B, 0xC0));
        D(Data16Sel, GdtRig.Descriptor(0, 0xFFFF, 0x93, 0x00));
        // The pseudo-descriptor for LGDT at DS:0000.
        rig.Write16(SegReg.DS, 0, 0x27);
        rig.Write32(SegReg.DS, 2, Gdt);
    }

    private static void EnterProtectedMode(Assembler a)
    {
        a.lgdt(__[0]);
        a.mov(eax, cr0);
        a.or(eax, 1);
        a.mov(cr0, eax);
    }

    private static void LeaveProtectedMode(Assembler a)
    {
        a.mov(eax, cr0);
        a.and(eax, ~1);
        a.mov(cr0, eax);
    }

    [Theory, OnEveryEngine]
    public void UnrealModeKeepsA4GiBDataLimitAfterReturningToRealMode(string engine)
    {
        using var rig = new RealModeRig(engine);
        WriteGdt(rig);
        // Offsets of the pieces, assembled for CS:0100h.
        ushort pmIp = 0x0200, realIp = 0x0300;
        rig.Load(RealModeRig.CodeIp, a =>
        {
            EnterProtectedMode(a);
            a.jmp(Code16Sel, pmIp);
        });
        rig.Load(pmIp, a =>
        {
            a.mov(ax, FlatData);
            a.mov(ds, ax);
            a.mov(es, ax);
            LeaveProtectedMode(a);
            a.jmp(RealModeRig.CodeSeg, realIp);
        });
        rig.Load(realIp, a =>
        {
            a.xor(ax, ax);
            a.mov(ds, ax);                              // real-mode load: base 0, the 4 GiB limit stays
            a.mov(ebx, 0x20_0000);
            a.mov(__dword_ptr[ebx], unchecked((int)0xCAFE_BABE));
            a.mov(ecx, __dword_ptr[ebx]);
            a.mov(dx, __word_ptr[0xFFFF]);              // would be #GP with a 64 KiB limit
            a.hlt();
        });
        rig.AssertHalted(rig.Run());

        Emu.X86.Cpu c = rig.Cpu;
        Assert.False(c.ProtectedMode);
        Assert.False(c.Code32);
        Assert.Equal(0xCAFE_BABEu, c.Ecx);
        Assert.Equal(0xCAFE_BABEu, rig.T.Physical.Read(0x20_0000, 4));
        Assert.Equal(0, c.Seg[SegReg.DS].Selector);
        Assert.Equal(0u, c.Seg[SegReg.DS].Base);
        Assert.Equal(0xFFFF_FFFFu, c.Seg[SegReg.DS].Limit);
        Assert.Equal(0xFFFF_FFFFu, c.Seg[SegReg.ES].Limit);
        Assert.Equal(FlatData, c.Seg[SegReg.ES].Selector); // not reloaded since
        Assert.Equal(RealModeRig.CodeSeg, c.Seg[SegReg.CS].Selector);
        Assert.Equal(0x1_0000u, c.Seg[SegReg.CS].Base);
        Assert.Equal(0xFFFFu, c.Seg[SegReg.SS].Limit);
    }

    [Theory, OnEveryEngine]
    public void SettingPeKeepsTheRealModeCachesUntilTheyAreReloaded(string engine)
    {
        using var rig = new RealModeRig(engine);
        WriteGdt(rig);
        rig.Write16(SegReg.DS, 0x40, 0x4321);
        rig.RunToHalt(a =>
        {
            EnterProtectedMode(a);
            // Still running 16-bit code through the real-mode CS cache (selector 1000h is not in the GDT),
            // and DS still has base 20000h.
            a.mov(bx, __word_ptr[0x40]);
            a.mov(cx, cs);
        });
        Emu.X86.Cpu c = rig.Cpu;
        Assert.True(c.ProtectedMode);
        Assert.False(c.Code32);
        Assert.Equal(0x4321u, c.Ebx & 0xFFFF);
        Assert.Equal((uint)RealModeRig.CodeSeg, c.Ecx & 0xFFFF);
        Assert.Equal(0, c.Cpl);
    }

    [Theory, OnEveryEngine]
    public void FarJumpInto32BitCodeAndBackTo16BitRealMode(string engine)
    {
        using var rig = new RealModeRig(engine);
        WriteGdt(rig);
        const uint pm32 = 0x3_0000;
        rig.T.Physical.WriteBytes(pm32, Asm.Assemble(32, pm32, a =>
        {
            a.mov(eax, FlatData);
            a.mov(ds, ax);
            a.mov(esi, 0x12_3456);
            a.mov(__dword_ptr[esi], 0x600D);
            a.mov(ax, Data16Sel);                       // what the SDM loads before returning to real mode
            a.mov(ss, ax);
            a.mov(es, ax);
            a.jmp(Code16Sel, 0x0400);
        }));
        rig.Load(0x0400, a =>
        {
            LeaveProtectedMode(a);
            a.jmp(RealModeRig.CodeSeg, 0x0500);
        });
        rig.Load(0x0500, a =>
        {
            a.mov(ax, RealModeRig.StackSeg);
            a.mov(ss, ax);
            a.mov(ax, cs);
            a.hlt();
        });
        rig.Load(RealModeRig.CodeIp, a =>
        {
            EnterProtectedMode(a);
            a.db(0x66, 0xEA, 0x00, 0x00, 0x03, 0x00, (byte)Code32Sel, 0x00); // jmp 0018:00030000 (ptr16:32) from 16-bit code
        });
        rig.AssertHalted(rig.Run());
        Emu.X86.Cpu c = rig.Cpu;
        Assert.Equal(0x600Du, rig.T.Physical.Read(0x12_3456, 4));
        Assert.False(c.ProtectedMode);
        Assert.False(c.Code32);
        Assert.False(c.Stack32);
        Assert.Equal((uint)RealModeRig.CodeSeg, c.Eax & 0xFFFF);
        Assert.Equal(0x4_0000u, c.Seg[SegReg.SS].Base);
        Assert.Equal(0xFFFFu, c.Seg[SegReg.SS].Limit);
    }

    [Theory]
    [InlineDataOnEveryEngine(false, 0x0034_5678u)] // 16-bit operand size: 24 bits of base (Intel SDM Vol. 2, LGDT)
    [InlineDataOnEveryEngine(true, 0x1234_5678u)]
    public void LgdtAndLidtLoadLimitAndBase(bool o32, uint expectedBase, string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.Write16(SegReg.DS, 0x10, 0x03FF);
        rig.Write32(SegReg.DS, 0x12, 0x1234_5678);
        rig.RunToHalt(a =>
        {
            if (o32) a.db(0x66);
            a.lgdt(__[0x10]);
            if (o32) a.db(0x66);
            a.lidt(__[0x10]);
        });
        Assert.Equal(0x03FF, rig.Cpu.Gdtr.Limit);
        Assert.Equal(expectedBase, rig.Cpu.Gdtr.Base);
        Assert.Equal(0x03FF, rig.Cpu.Idtr.Limit);
        Assert.Equal(expectedBase, rig.Cpu.Idtr.Base);
    }

    [Theory, OnEveryEngine]
    public void LmswCanSetPeButNotClearIt(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.RunToHalt(a =>
        {
            a.smsw(bx);
            a.mov(ax, 1);
            a.lmsw(ax);
            a.xor(ax, ax);
            a.lmsw(ax);
            a.smsw(cx);
        });
        Assert.Equal(0x0010u, rig.Cpu.Ebx & 0xFFFF); // ET
        Assert.Equal(0x0011u, rig.Cpu.Ecx & 0xFFFF); // PE stuck
        Assert.True(rig.Cpu.ProtectedMode);
    }

    [Theory, OnEveryEngine]
    public void Cr0WithNwButNotCdIsGeneralProtection(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.Load(RealModeRig.CodeIp, a =>
        {
            a.mov(eax, 0x2000_0010); // NW without CD
            a.mov(cr0, eax);
            a.hlt();
        });
        rig.AssertFault(rig.Run(), ExceptionVectors.GP, RealModeRig.CodeIp + 6u, 0);
        Assert.Equal(0x6000_0010u, rig.Cpu.Cr0);
    }
}
