using System;
using System.Numerics;
using Emu.Memory;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Fpu.Tests.Unit;

/// <summary>
/// The memory images of the x87 state, field by field against the SDM's figures: FSTENV
/// and FSAVE in the 32- and 16-bit formats and the protected-mode and real-mode layouts
/// (Intel SDM Vol. 1, Figures 8-9 to 8-12), FXSAVE (Vol. 2, Table 3-53), and the round
/// trips through FLDENV, FRSTOR and FXRSTOR. The host suite covers protected mode; real
/// mode only runs here.
/// </summary>
public class X87StateImageTests
{
    public static TheoryData<string> Engines => new(FpuRig.Engines);

    [Theory]
    [MemberData(nameof(Engines))]
    public void RealModeEnvironmentsHoldLinearPointers(string engine)
    {
        using var r = new FpuRig(engine, realMode: true);
        r.LoadReal(SegReg.CS, 0x9000);
        r.LoadReal(SegReg.DS, 0xF000);
        void Code(Assembler a)
        {
            a.fninit();
            a.fld1();
            a.fld(__dword_ptr[0x8000]);      // the last non-control instruction: D9 06 0080
            a.fnstenv(__[0x8100]);           // 14 bytes
            a.db(0x66);
            a.fnstenv(__[0x8200]);           // 28 bytes
        }
        uint fld = r.AddressOf(Code, 2);
        r.Write32(0xF8000, 0x3F80_0000); // 1.0f
        r.RunToHalt(Code);
        uint ip = 0x90000 + fld, dp = 0xF8000;
        const int fop = (0xD9 & 7) << 8 | 0x06;
        ushort sw = r.Fpu.Sw;
        const ushort tags = 0x0FFF; // R7 and R6 valid (00), the rest empty (11)

        // 16-bit real-mode layout (Figure 8-12).
        uint e16 = 0xF8100;
        Assert.Equal(0x037F, r.Read16(e16 + 0));
        Assert.Equal(sw, r.Read16(e16 + 2));
        Assert.Equal(tags, r.Read16(e16 + 4));
        Assert.Equal((ushort)ip, r.Read16(e16 + 6));
        Assert.Equal((ushort)(((ip >> 16) << 12) | fop), r.Read16(e16 + 8));
        Assert.Equal((ushort)dp, r.Read16(e16 + 10));
        Assert.Equal((ushort)((dp >> 16) << 12), r.Read16(e16 + 12));

        // 32-bit real-mode layout (Figure 8-10).
        uint e32 = 0xF8200;
        Assert.Equal(0x037F, r.Read16(e32 + 0));
        Assert.Equal(sw, r.Read16(e32 + 4));
        Assert.Equal(tags, r.Read16(e32 + 8));
        Assert.Equal(ip & 0xFFFF, r.Read32(e32 + 12) & 0xFFFF);
        Assert.Equal(((ip >> 16) << 12) | fop, r.Read32(e32 + 16));
        Assert.Equal(dp & 0xFFFF, r.Read32(e32 + 20) & 0xFFFF);
        Assert.Equal((dp >> 16) << 12, r.Read32(e32 + 24));

        // FNSTENV masks every exception afterwards.
        Assert.Equal(0x037F, r.Fpu.ControlWord);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void ProtectedModeEnvironmentsHoldSelectorsAndOffsets(string engine)
    {
        using var r = new FpuRig(engine);
        void Code(Assembler a)
        {
            a.fninit();
            a.mov(ebx, FpuRig.Data);
            a.fld(__qword_ptr[ebx + 0x40]);  // DD 43 40
            a.fnstenv(__[FpuRig.Data + 0x100]);
            a.db(0x66);
            a.fnstenv(__[FpuRig.Data + 0x200]);
        }
        uint fld = r.AddressOf(Code, 2);
        r.Write32(FpuRig.Data + 0x44, 0x3FF0_0000); // 1.0
        r.RunToHalt(Code);
        const int fop = (0xDD & 7) << 8 | 0x43;
        // 32-bit protected-mode layout (Figure 8-9).
        uint e32 = FpuRig.Data + 0x100;
        Assert.Equal(0x037F, r.Read16(e32));
        Assert.Equal(0x3FFF, r.Read16(e32 + 8));   // R7 valid, the rest empty
        Assert.Equal(fld, r.Read32(e32 + 12));
        Assert.Equal(0x08u | (fop << 16), r.Read32(e32 + 16));
        Assert.Equal(FpuRig.Data + 0x40, r.Read32(e32 + 20));
        Assert.Equal(0x10, r.Read16(e32 + 24));
        // 16-bit protected-mode layout (Figure 8-11).
        uint e16 = FpuRig.Data + 0x200;
        Assert.Equal(0x3FFF, r.Read16(e16 + 4));
        Assert.Equal((ushort)fld, r.Read16(e16 + 6));
        Assert.Equal(0x08, r.Read16(e16 + 8));
        Assert.Equal(0x40, r.Read16(e16 + 10)); // FDP low 16 bits
        Assert.Equal(0x10, r.Read16(e16 + 12));
    }

    public static TheoryData<string, bool, bool> SaveForms
    {
        get
        {
            var d = new TheoryData<string, bool, bool>();
            foreach (string e in FpuRig.Engines)
                foreach (bool real in new[] { false, true })
                    foreach (bool op32 in new[] { false, true })
                        d.Add(e, real, op32);
            return d;
        }
    }

    [Theory]
    [MemberData(nameof(SaveForms))]
    public void FsaveThenFrstorRestoresEverything(string engine, bool realMode, bool op32)
    {
        using var r = new FpuRig(engine, realMode);
        uint image = realMode ? 0x8000u : FpuRig.Data + 0x300;
        bool prefix = op32 == realMode; // the non-default operand size needs 66h
        void Code(Assembler a)
        {
            a.fninit();
            a.fld1();
            a.fldpi();
            a.fldz();
            a.fld1();
            a.fchs();
            a.fdivr(st0, st2);   // pi / -1
            a.fxch(st0, st3);
            if (prefix) a.db(0x66);
            a.fnsave(__[image]);
            a.fnstsw(ax);
            a.mov(ebx, eax);
            a.fld1();            // scribble on the state
            a.fldlg2();
            if (prefix) a.db(0x66);
            a.frstor(__[image]);
        }
        uint fxch = r.AddressOf(Code, 7);
        r.RunToHalt(a =>
        {
            Code(a);
            a.wait();
        });
        FpuState f = r.Fpu;
        // FNSAVE left the FNINIT state behind (TOP 0) ...
        Assert.Equal(0, (int)(r.Cpu.Ebx >> 11) & 7);
        // ... and FRSTOR brought the saved one back: 1, 0, pi, -pi with TOP = 4.
        Assert.Equal(4, f.Top);
        Assert.Equal((byte)0xF0, f.Valid);
        Assert.Equal(0x037F, f.ControlWord);
        Assert.Equal(0x3FFF, f.St(0).SignExponent);
        Assert.Equal(Float80.One.Significand, f.St(0).Significand);
        Assert.Equal(FpClass.Zero, f.St(1).Class);
        Assert.Equal(0x4000, f.St(2).SignExponent);
        Assert.Equal(0xC90F_DAA2_2168_C235UL, f.St(2).Significand);
        Assert.Equal(0xC000, f.St(3).SignExponent);
        // The pointers too: FXCH was the last non-control instruction (in real mode the
        // image holds its linear address, which is the same here with CS = 0).
        Assert.Equal(fxch, f.Fip);
        // The 16-bit protected-mode layout has no room for the opcode: it comes back as 0.
        Assert.Equal(!realMode && !op32 ? 0 : (0xD9 & 7) << 8 | 0xCB, f.Fop);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void FxsaveLayoutAndFxrstorRoundTrip(string engine)
    {
        using var r = new FpuRig(engine);
        uint img = FpuRig.Data + 0x400;
        void Code(Assembler a)
        {
            a.fninit();
            a.fldl2e();
            a.fld(__dword_ptr[FpuRig.Data + 0x10]);
            a.fxsave(__[img]);
            a.fninit();
            a.fxrstor(__[img]);
        }
        uint fld = r.AddressOf(Code, 2);
        r.Write32(FpuRig.Data + 0x10, 0xC000_0000); // -2.0f
        r.RunToHalt(Code);
        Assert.Equal(0x037F, r.Read16(img + 0));
        Assert.Equal(6 << 11, r.Read16(img + 2));
        Assert.Equal(0xC0, r.Read16(img + 4));               // abridged tags: R6, R7 valid
        Assert.Equal((0xD9 & 7) << 8 | 0x05, r.Read16(img + 6)); // FOP of FLD m32fp [disp32]
        Assert.Equal(fld, r.Read32(img + 8));
        Assert.Equal(0x08u, r.Read32(img + 12));
        Assert.Equal(FpuRig.Data + 0x10, r.Read32(img + 16));
        Assert.Equal(0x10u, r.Read32(img + 20));
        Assert.Equal(0xC000, r.Read16(img + 32 + 8));        // ST(0) = -2.0
        Assert.Equal(0x8000_0000u, r.Read32(img + 32 + 4));
        // FXRSTOR restored it.
        Assert.Equal(6, r.Fpu.Top);
        Assert.Equal((byte)0xC0, r.Fpu.Valid);
        Assert.Equal(fld, r.Fpu.Fip);
        Assert.Equal(0xC000, r.Fpu.St(0).SignExponent);

        // A misaligned image is #GP(0); FXSAVE does not wait for pending exceptions.
        Assert.Equal(ExceptionVectors.GP, r.FaultOf(a => a.fxsave(__[img + 8])));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void MmxRegistersAliasTheSignificands(string engine)
    {
        using var r = new FpuRig(engine);
        r.Write32(FpuRig.Data, 0x8765_4321);
        r.Write32(FpuRig.Data + 4, 0x0FED_CBA9);
        r.RunToHalt(a =>
        {
            a.fninit();
            a.fld1();                                   // R7
            a.movq(mm2, __qword_ptr[FpuRig.Data]);
            a.paddd(mm2, mm2);
            a.movd(eax, mm2);
            a.fnstenv(__[FpuRig.Data + 0x100]);
        });
        FpuState f = r.Fpu;
        Assert.Equal(0x1FDB_9752_0ECA_8642UL, f.R[2].Significand); // each doubleword doubled, wrapping
        Assert.Equal(0xFFFF, f.R[2].SignExponent);           // a write sets sign and exponent to ones
        Assert.Equal(0x0ECA_8642u, r.Cpu.Eax);
        Assert.Equal(0, f.Top);                             // TOP = 0, every tag valid
        Assert.Equal((byte)0xFF, f.Valid);
        // FSTENV derives the full tags from the contents: R2 special (exponent all ones),
        // R7 valid (1.0), the never-written registers zero.
        Assert.Equal(0b00_01_01_01_01_10_01_01, r.Read16(FpuRig.Data + 0x100 + 8));
        r.RunToHalt(a => a.emms());
        Assert.Equal((byte)0, r.Fpu.Valid);
        r.RunToHalt(a => a.fld1());                          // no stack overflow after EMMS
        Assert.Equal(0, r.Fpu.Sw & FpuStatus.IE);
    }

    [Fact]
    public void ConstantsAgreeWithPublishedDigits()
    {
        // The hexadecimal digits of pi's fraction (the Blowfish P-array) and of ln 2.
        const string piFraction = "243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89";
        Assert.Equal(piFraction, ((X87Constants.PiFixed - (new BigInteger(3) << 320)) >> (320 - 256)).ToString("X64"));
        Assert.Equal(0xB17217F7D1CF79AB, (ulong)(X87Constants.Ln2.Sig >> 64));
        Assert.Equal(0xC9E3B39803F2F6AF, (ulong)X87Constants.Ln2.Sig);
        // The trigonometric reduction constant: pi to 66 significant bits, times 2^64.
        Assert.Equal(((UInt128)0x3UL << 64) | 0x243F6A8885A308D3, X87Constants.PiReduction);
    }
}
