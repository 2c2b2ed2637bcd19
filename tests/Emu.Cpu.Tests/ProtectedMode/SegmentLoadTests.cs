using System;
using System.Collections.Generic;
using Emu.Cpu.Tests.Support;
using Emu.Memory;
using Emu.X86;
using Iced.Intel;
using static Emu.Cpu.Tests.Support.GdtRig;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.ProtectedMode;

/// <summary>
/// Segment-register loads in protected mode from a GDT built in memory: the checks of Intel
/// SDM Vol. 3, 5.4-5.6 and Vol. 2 (MOV, POP, LDS/LES/LFS/LGS/LSS), with the selector in the
/// error code, and nothing changed when a load faults.
/// </summary>
public class SegmentLoadTests
{
    public enum Loader { Mov, Pop, Lxs }

    /// <summary>Expected: null for success, else (vector, error code).</summary>
    public static TheoryData<string, Loader, ushort, int, int> Loads()
    {
        var d = new TheoryData<string, Loader, ushort, int, int>();
        void Add(string seg, ushort sel, int vector, int error)
        {
            foreach (Loader l in Enum.GetValues<Loader>())
            {
                if (l == Loader.Pop && seg == "CS") continue;
                d.Add(seg, l, sel, vector, error);
            }
        }
        const int ok = -1;
        foreach (string seg in new[] { "DS", "ES", "FS", "GS" })
        {
            Add(seg, 0x0000, ok, 0);                                   // null: allowed, the register becomes unusable
            Add(seg, 0x0003, ok, 0);                                   // null with an RPL
            Add(seg, Data32, ok, 0);
            Add(seg, Data16, ok, 0);
            Add(seg, Code32, ok, 0);                                   // readable code
            Add(seg, ReadOnlyData, ok, 0);
            Add(seg, Dpl3Data, ok, 0);                                 // DPL 3 >= CPL 0
            Add(seg, ConformingCode | 3, ok, 0);                       // conforming: no privilege check
            Add(seg, NotPresentData, ExceptionVectors.NP, NotPresentData);
            Add(seg, ExecuteOnlyCode, ExceptionVectors.GP, ExecuteOnlyCode);
            Add(seg, LdtDescriptor, ExceptionVectors.GP, LdtDescriptor);
            Add(seg, 0x1000, ExceptionVectors.GP, 0x1000);             // beyond the GDT limit
            Add(seg, GdtLimit + 1 - 4, ExceptionVectors.GP, (GdtLimit + 1 - 4) & 0xFFFC); // the descriptor straddles the limit
            Add(seg, Data32 | 3, ExceptionVectors.GP, Data32);         // RPL 3 > DPL 0
        }
        Add("SS", 0x0000, ExceptionVectors.GP, 0);
        Add("SS", 0x0003, ExceptionVectors.GP, 0);
        Add("SS", Data32, ok, 0);
        Add("SS", Stack16, ok, 0);
        Add("SS", NotPresentData, ExceptionVectors.SS, NotPresentData);
        Add("SS", Dpl3Data, ExceptionVectors.GP, Dpl3Data);            // DPL must equal CPL
        Add("SS", Data32 | 3, ExceptionVectors.GP, Data32);            // RPL must equal CPL
        Add("SS", ReadOnlyData, ExceptionVectors.GP, ReadOnlyData);
        Add("SS", Code32, ExceptionVectors.GP, Code32);
        Add("SS", LdtDescriptor, ExceptionVectors.GP, LdtDescriptor);
        Add("SS", 0x1000, ExceptionVectors.GP, 0x1000);
        return d;
    }

    private static int SegNumber(string s) => Array.IndexOf(SegReg.Names, s);

    private static readonly Dictionary<string, AssemblerRegisterSegment> SegRegs = new()
    {
        ["DS"] = ds, ["ES"] = es, ["FS"] = fs, ["GS"] = gs, ["SS"] = ss,
    };

    [Theory]
    [MemberDataOnEveryEngine(nameof(Loads))]
    public void SegmentLoadChecksTheDescriptor(string segName, Loader loader, ushort selector, int vector, int errorCode, string engine)
    {
        using var rig = new GdtRig(engine);
        Emu.X86.Cpu c = rig.Cpu;
        int seg = SegNumber(segName);
        rig.T.Write32(DataAt, 0x1234_5678);            // far pointer: offset
        rig.T.Physical.Write(DataAt + 4, 2, selector); // and selector
        // The load under test follows a prefix that pushes the selector (and reads it into AX for MOV).
        byte[] prefix = Asm.Assemble(32, CodeAt, a =>
        {
            a.mov(ecx, 0xC0C0_C0C0);
            a.push((int)selector);
            if (loader == Loader.Mov) a.mov(ax, __word_ptr[esp]);
        });
        uint faultAt = CodeAt + (uint)prefix.Length;
        rig.T.Load(CodeAt, a =>
        {
            a.mov(ecx, 0xC0C0_C0C0);
            a.push((int)selector);
            if (loader == Loader.Mov) a.mov(ax, __word_ptr[esp]);
            AssemblerRegisterSegment sr = SegRegs[segName];
            switch (loader)
            {
                case Loader.Mov: a.mov(sr, ax); break;
                case Loader.Pop: a.pop(sr); break;
                default:
                    var mem = __fword_ptr[DataAt];
                    if (segName == "DS") a.lds(ecx, mem);
                    else if (segName == "ES") a.les(ecx, mem);
                    else if (segName == "FS") a.lfs(ecx, mem);
                    else if (segName == "GS") a.lgs(ecx, mem);
                    else a.lss(ecx, mem);
                    break;
            }
            a.hlt();
        });
        SegmentCache before = c.Seg[seg];
        StopReason r = rig.T.Run(CodeAt);

        if (vector < 0)
        {
            rig.AssertHalted(r);
            Assert.Equal(selector, c.Seg[seg].Selector);
            if ((selector & 0xFFFC) != 0)
            {
                ulong d = (ulong)rig.T.Read32(GdtBase + (uint)(selector & ~7)) | ((ulong)rig.T.Read32(GdtBase + (uint)(selector & ~7) + 4) << 32);
                Assert.Equal(new Descriptor(d).Base, c.Seg[seg].Base);
                Assert.Equal(new Descriptor(d).Limit, c.Seg[seg].Limit);
                Assert.True((rig.AccessByte(selector) & 1) != 0, "the descriptor's accessed bit is set");
            }
            if (loader == Loader.Lxs) Assert.Equal(0x1234_5678u, c.Ecx);
            if (loader == Loader.Pop) Assert.Equal(0x80000u, c.Esp);
            if (seg == SegReg.SS) Assert.Equal(selector != Stack16, c.Stack32);
            return;
        }

        Faults.AssertFault(c, r, vector, faultAt, (uint)errorCode);
        Assert.Equal(before.Selector, c.Seg[seg].Selector);
        Assert.Equal(before.Base, c.Seg[seg].Base);
        Assert.Equal(before.Limit, c.Seg[seg].Limit);
        Assert.Equal(0xC0C0_C0C0u, c.Ecx);              // LDS & co. leave the offset register alone
        Assert.Equal(0x80000u - 4, c.Esp);              // POP leaves ESP alone
    }

    [Theory, OnEveryEngine]
    public void ANullDataSegmentFaultsOnUse(string engine)
    {
        using var rig = new GdtRig(engine);
        void Prefix(Assembler a)
        {
            a.xor(eax, eax);
            a.mov(ds, ax);          // allowed
        }
        StopReason r = rig.Run(a =>
        {
            Prefix(a);
            a.mov(ebx, __dword_ptr[0x2000]);
        });
        Faults.AssertFault(rig.Cpu, r, ExceptionVectors.GP, CodeAt + (uint)Asm.Length(32, Prefix), 0);
        Assert.Equal(0, rig.Cpu.Seg[SegReg.DS].Selector);
    }

    public static TheoryData<string, ushort, uint, bool, int> LimitAndRightsCases() => new()
    {
        // segment, offset, write?, expected fault (-1: none)
        { "small data: last dword", SmallData, 0xFFC, false, -1 },
        { "small data: dword crossing the limit", SmallData, 0xFFD, false, ExceptionVectors.GP },
        { "small data: write crossing the limit", SmallData, 0xFFE, true, ExceptionVectors.GP },
        { "expand-down: first valid dword", ExpandDownData, 0x1000, false, -1 },
        { "expand-down: at the limit", ExpandDownData, 0xFFF, false, ExceptionVectors.GP },
        { "expand-down: top of 4 GiB", ExpandDownData, 0xFFFF_FFFC, true, -1 },
        { "expand-down: wrapping past 4 GiB", ExpandDownData, 0xFFFF_FFFE, false, ExceptionVectors.GP },
        { "read-only data: read", ReadOnlyData, 0x2000, false, -1 },
        { "read-only data: write", ReadOnlyData, 0x2000, true, ExceptionVectors.GP },
        { "readable code: read", Code32, 0x2000, false, -1 },
        { "readable code: write", Code32, 0x2000, true, ExceptionVectors.GP },
    };

    [Theory]
    [MemberDataOnEveryEngine(nameof(LimitAndRightsCases))]
    public void DataAccessesAreCheckedAgainstTheCachedDescriptor(string name, ushort selector, uint offset, bool write, int vector, string engine)
    {
        _ = name;
        using var rig = new GdtRig(engine);
        rig.Cpu.Ebx = offset;
        rig.Cpu.Eax = 0x1111_1111;
        rig.Cpu.Esi = 0xFACE;
        void Prefix(Assembler a)
        {
            a.mov(dx, (short)selector);
            a.mov(es, dx);
        }
        StopReason r = rig.Run(a =>
        {
            Prefix(a);
            if (write) a.mov(__dword_ptr.es[ebx], esi);
            else a.mov(eax, __dword_ptr.es[ebx]);
        });
        if (vector < 0)
        {
            rig.AssertHalted(r);
            uint linear = rig.Cpu.Seg[SegReg.ES].Base + offset;
            if (write && linear < rig.T.Physical.RamSize) Assert.Equal(0xFACEu, rig.T.Physical.Read(linear, 4));
            if (!write) Assert.Equal(rig.T.Mmu.Read32(linear), rig.Cpu.Eax);
            return;
        }
        Faults.AssertFault(rig.Cpu, r, vector, CodeAt + (uint)Asm.Length(32, Prefix), 0);
        Assert.Equal(0x1111_1111u, rig.Cpu.Eax);
    }

    [Theory, OnEveryEngine]
    public void StackAccessesBeyondTheLimitRaiseStackFault(string engine)
    {
        using var rig = new GdtRig(engine);
        rig.WriteDescriptor(0x78, GdtRig.Descriptor(0x3_0000, 0xFFF, 0x93, 0x40));
        rig.Cpu.Gdtr = new TableRegister { Base = GdtBase, Limit = 0x7F };
        void Prefix(Assembler a)
        {
            a.mov(ax, 0x78);
            a.mov(ss, ax);
            a.mov(esp, 0x1002);
        }
        StopReason r = rig.Run(a =>
        {
            Prefix(a);
            a.push(eax);          // [SS:0FFE..1001]: beyond the limit
        });
        Faults.AssertFault(rig.Cpu, r, ExceptionVectors.SS, CodeAt + (uint)Asm.Length(32, Prefix), 0);
        Assert.Equal(0x1002u, rig.Cpu.Esp);
    }

    [Theory, OnEveryEngine]
    public void A16BitStackSegmentWrapsSpIn32BitCode(string engine)
    {
        using var rig = new GdtRig(engine);
        StopReason r = rig.Run(a =>
        {
            var f = a.CreateLabel();
            var done = a.CreateLabel();
            a.mov(ax, Stack16);
            a.mov(ss, ax);
            a.mov(esp, 0x1234_0000);
            a.push(0x5566_7788);     // SP 0000h -> FFFCh
            a.mov(ebx, esp);
            a.call(f);               // a 32-bit return address at SS:FFF8
            a.jmp(done);
            a.Label(ref f);
            a.mov(ecx, __dword_ptr.ss[0xFFF8]);
            a.ret();
            a.Label(ref done);
            a.pop(edx);              // SP FFFCh -> 0000h
        });
        rig.AssertHalted(r);
        Emu.X86.Cpu c = rig.Cpu;
        Assert.False(c.Stack32);
        Assert.Equal(0x1234_FFFCu, c.Ebx);             // the upper half of ESP is kept
        Assert.Equal(0x1234_0000u, c.Esp);
        Assert.Equal(0x5566_7788u, c.Edx);
        Assert.Equal(0x5566_7788u, rig.T.Physical.Read(0x4_FFFC, 4));
        Assert.True(c.Ecx > CodeAt && c.Ecx < CodeAt + 0x40); // the return address CALL pushed
    }

    [Theory, OnEveryEngine]
    public void ADwordPushStraddlingTheSpWrapIsAStackFault(string engine)
    {
        // SP=2: the dword would occupy SS:FFFE..0001, which runs past the 64 KiB limit.
        using var rig = new GdtRig(engine);
        void Prefix(Assembler a)
        {
            a.mov(ax, Stack16);
            a.mov(ss, ax);
            a.mov(esp, 0x1234_0002);
        }
        StopReason r = rig.Run(a => { Prefix(a); a.push(eax); });
        Faults.AssertFault(rig.Cpu, r, ExceptionVectors.SS, CodeAt + (uint)Asm.Length(32, Prefix), 0);
        Assert.Equal(0x1234_0002u, rig.Cpu.Esp);
    }

    // ---- far transfers to code segments ----

    public static TheoryData<ushort, uint, int, int> FarJumps() => new()
    {
        { Code16, 0x0000, -1, 0 },
        { ConformingCode, CodeAt + 0x100, -1, 0 },
        { NotPresentCode, 0, ExceptionVectors.NP, NotPresentCode },
        { Data32, 0, ExceptionVectors.GP, Data32 },
        { 0x0000, 0, ExceptionVectors.GP, 0 },
        { Code16, 0x1_0000, ExceptionVectors.GP, 0 },   // offset beyond the limit
        { 0x1000, 0, ExceptionVectors.GP, 0x1000 },     // beyond the GDT
        { Code32 | 3, 0, ExceptionVectors.GP, Code32 }, // RPL 3 > CPL to a non-conforming segment
    };

    [Theory]
    [MemberDataOnEveryEngine(nameof(FarJumps))]
    public void FarJumpChecksTheCodeDescriptor(ushort selector, uint offset, int vector, int errorCode, string engine)
    {
        using var rig = new GdtRig(engine);
        rig.T.Physical.WriteBytes(0x1_0000, Asm.Assemble(16, 0, a => { a.mov(ax, cs); a.hlt(); }));
        rig.T.Physical.WriteBytes(CodeAt + 0x100, Asm.Assemble(32, CodeAt + 0x100, a => { a.mov(eax, cs); a.hlt(); }));
        StopReason r = rig.Run(a => a.jmp(selector, offset), appendHlt: false);
        if (vector >= 0)
        {
            Faults.AssertFault(rig.Cpu, r, vector, CodeAt, (uint)errorCode);
            Assert.Equal(Code32, rig.Cpu.Seg[SegReg.CS].Selector);
            Assert.True(rig.Cpu.Code32);
            return;
        }
        rig.AssertHalted(r);
        Assert.Equal((uint)selector, rig.Cpu.Eax & 0xFFFF);
        Assert.Equal(selector == Code32 || selector == ConformingCode, rig.Cpu.Code32);
    }

    [Theory, OnEveryEngine]
    public void FarCallIntoA16BitSegmentAndBack(string engine)
    {
        using var rig = new GdtRig(engine);
        // In the 16-bit segment: read the return frame (32-bit slots: this was a 32-bit call), return with RETFD.
        rig.T.Physical.WriteBytes(0x1_0000, Asm.Assemble(16, 0, a =>
        {
            a.mov(ebx, esp);
            a.mov(ecx, __dword_ptr[ebx]);
            a.mov(edx, __dword_ptr[ebx + 4]);
            a.db(0x66); a.retf();
        }));
        StopReason r = rig.Run(a =>
        {
            a.call(Code16, 0);
            a.mov(esi, cs);
        });
        rig.AssertHalted(r);
        Assert.Equal(CodeAt + 7, rig.Cpu.Ecx);     // return EIP after the 7-byte far call
        Assert.Equal((uint)Code32, rig.Cpu.Edx);   // CS in a 32-bit slot
        Assert.Equal((uint)Code32, rig.Cpu.Esi);
        Assert.Equal(0x80000u, rig.Cpu.Esp);
        Assert.True(rig.Cpu.Code32);
    }

    [Theory, OnEveryEngine]
    public void IretdAtTheSamePrivilegeLevelLoadsCsEipAndEflags(string engine)
    {
        using var rig = new GdtRig(engine);
        rig.T.Physical.WriteBytes(0x1_0000, Asm.Assemble(16, 0, a => { a.mov(ax, cs); a.hlt(); }));
        StopReason r = rig.Run(a =>
        {
            a.push(0x3203);        // EFLAGS: IOPL 3, IF, CF (and bit 1)
            a.push((int)Code16);
            a.push(0);
            a.iretd();
        }, appendHlt: false);
        rig.AssertHalted(r);
        Assert.Equal((uint)Code16, rig.Cpu.Eax & 0xFFFF);
        Assert.Equal(0x3203u, rig.Cpu.GetEflags());
        Assert.Equal(0x80000u, rig.Cpu.Esp);
        Assert.False(rig.Cpu.Code32);
    }

    [Theory, OnEveryEngine]
    public void FarReturnChecksTheSelectorItPops(string engine)
    {
        using var rig = new GdtRig(engine);
        StopReason r = rig.Run(a =>
        {
            a.push((int)NotPresentCode);
            a.push(0);
            a.retf();
        });
        Faults.AssertFault(rig.Cpu, r, ExceptionVectors.NP, CodeAt + 4, NotPresentCode);
        Assert.Equal(0x80000u - 8, rig.Cpu.Esp);
    }

    [Theory, OnEveryEngine]
    public void AFaultingFarCallLeavesTheStackPointer(string engine)
    {
        using var rig = new GdtRig(engine);
        StopReason r = rig.Run(a => a.call(NotPresentCode, 0));
        Faults.AssertFault(rig.Cpu, r, ExceptionVectors.NP, CodeAt, NotPresentCode);
        Assert.Equal(0x80000u, rig.Cpu.Esp);
    }

    [Theory, OnEveryEngine]
    public void ExecuteOnlyCodeCannotBeReadThroughCs(string engine)
    {
        using var rig = new GdtRig(engine);
        rig.T.Load(0x3000, a =>
        {
            a.mov(eax, __dword_ptr.cs[0x3000]);
            a.hlt();
        });
        StopReason r = rig.Run(a => a.jmp(ExecuteOnlyCode, 0x3000), appendHlt: false);
        Faults.AssertFault(rig.Cpu, r, ExceptionVectors.GP, 0x3000, 0);
        Assert.Equal(ExecuteOnlyCode, rig.Cpu.Seg[SegReg.CS].Selector);
    }
}
