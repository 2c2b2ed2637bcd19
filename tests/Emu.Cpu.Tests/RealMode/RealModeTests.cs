using System;
using System.Collections.Generic;
using Emu.Cpu.Tests.Support;
using Emu.Memory;
using Emu.TestSupport;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.RealMode;

/// <summary>The RESET state, real-mode segment arithmetic and limits, and control transfer in real mode.</summary>
public class RealModeTests
{
    private static void Pushd(Assembler a, uint value) => a.AddInstruction(Instruction.Create(Code.Pushd_imm32, value));

    // ---- RESET (Intel SDM Vol. 3, 9.1.1, Table 9-1) ----

    private static void AssertResetState(Emu.X86.Cpu c)
    {
        Assert.Equal(0xF000, c.Seg[SegReg.CS].Selector);
        Assert.Equal(0xFFFF_0000u, c.Seg[SegReg.CS].Base);
        Assert.Equal(0xFFFFu, c.Seg[SegReg.CS].Limit);
        Assert.Equal(0xFFF0u, c.Eip);
        Assert.Equal(CpuidInfo.Signature, c.Edx);
        Assert.Equal(6u, (c.Edx >> 8) & 0xF); // family 6 in EDX, as CPUID.1:EAX reports it
        Assert.Equal(0x6000_0010u, c.Cr0);
        Assert.Equal(0x0000_0002u, c.GetEflags());
        foreach (int r in new[] { Reg.EAX, Reg.ECX, Reg.EBX, Reg.ESP, Reg.EBP, Reg.ESI, Reg.EDI })
            Assert.Equal(0u, c.Gpr[r]);
        foreach (int s in new[] { SegReg.DS, SegReg.ES, SegReg.SS, SegReg.FS, SegReg.GS })
        {
            Assert.Equal(0, c.Seg[s].Selector);
            Assert.Equal(0u, c.Seg[s].Base);
            Assert.Equal(0xFFFFu, c.Seg[s].Limit);
            Assert.True(c.Seg[s].Present);
        }
        Assert.Equal(0u, c.Gdtr.Base);
        Assert.Equal(0xFFFF, c.Gdtr.Limit);
        Assert.Equal(0u, c.Idtr.Base);
        Assert.Equal(0xFFFF, c.Idtr.Limit);
        Assert.Equal(0, c.Ldtr.Selector);
        Assert.Equal(0xFFFFu, c.Ldtr.Limit);
        Assert.Equal(0, c.Tr.Selector);
        Assert.Equal(0xFFFFu, c.Tr.Limit);
        Assert.Equal(0u, c.Cr2);
        Assert.Equal(0u, c.Cr3);
        Assert.Equal(0u, c.Cr4);
        Assert.Equal(0xFFFF_0FF0u, c.Dr[6]);
        Assert.Equal(0x0000_0400u, c.Dr[7]);
        for (int i = 0; i < 4; i++) Assert.Equal(0u, c.Dr[i]);
        Assert.False(c.ProtectedMode);
        Assert.False(c.V86Mode);
        Assert.Equal(0, c.Cpl);
        Assert.False(c.Code32);
        Assert.False(c.Stack32);
        Assert.False(c.Halted);
    }

    [Fact]
    public void ResetStateIsTable9_1()
    {
        // No guest code runs: the engine plays no part.
        using var t = new TestCpu(Engines.Interpreter);
        AssertResetState(t.Cpu);
    }

    [Theory, OnEveryEngine]
    public void ResetAgainRestoresTheResetState(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.RunToHalt(a =>
        {
            a.mov(eax, 0x1234_5678);
            a.mov(ebp, eax);
            a.std();
            a.add(eax, eax);
        });
        rig.Cpu.Cr2 = 5;
        rig.Cpu.Reset();
        AssertResetState(rig.Cpu);
    }

    [Theory, OnEveryEngine]
    public void ExecutionStartsAtTheResetVectorInRom(string engine)
    {
        using var t = new TestCpu(engine);
        var rom = new byte[0x1_0000];
        Array.Fill(rom, (byte)0xF4);
        // At F000:FFF0 (linear FFFFFFF0h) a near jump, within the ROM, to F000:E000.
        byte[] vector = Asm.Assemble(16, 0xFFF0, a => a.jmp(0xE000));
        vector.CopyTo(rom, 0xFFF0);
        // At F000:E000: read a word through CS (base FFFF0000h), then jump far into RAM.
        byte[] body = Asm.Assemble(16, 0xE000, a =>
        {
            a.mov(ax, __word_ptr.cs[0xE100]);
            a.jmp(0x2000, 0x0010);
        });
        body.CopyTo(rom, 0xE000);
        rom[0xE100] = 0x34;
        rom[0xE101] = 0x12;
        t.Physical.MapRom(0xFFFF_0000, rom, "BIOS");
        t.Physical.WriteBytes(0x2_0010, Asm.Assemble(16, 0x10, a => { a.mov(bx, cs); a.hlt(); }));

        StopReason r = t.Cpu.Run(1000);

        Assert.Equal(StopReason.Halted, r);
        Assert.Equal(0x1234u, t.Cpu.Eax);
        Assert.Equal(0x2000u, t.Cpu.Ebx);
        Assert.Equal(0x2_0000u, t.Cpu.Seg[SegReg.CS].Base); // the far jump dropped the high base
        Assert.Equal(0x2000, t.Cpu.Seg[SegReg.CS].Selector);
    }

    // ---- segment arithmetic and limits ----

    [Theory, OnEveryEngine]
    public void SegmentBaseIsSelectorTimes16(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.T.Physical.Write(0x1_2345 + 0x10, 2, 0xBEEF); // 1234:0015 = 12355h
        rig.RunToHalt(a =>
        {
            a.mov(ax, 0x1234);
            a.mov(ds, ax);
            a.mov(bx, __word_ptr[0x15]);
        });
        Assert.Equal(0xBEEFu, rig.Cpu.Ebx & 0xFFFF);
        Assert.Equal(0x1_2340u, rig.Cpu.Seg[SegReg.DS].Base);
        Assert.Equal(0xFFFFu, rig.Cpu.Seg[SegReg.DS].Limit);
    }

    [Theory, OnEveryEngine]
    public void SegmentFFFFReachesAbove1MiBWithA20On(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.T.Physical.Write(0x10_0005, 1, 0x11);
        rig.T.Physical.Write(0x00_0005, 1, 0x22);
        rig.RunToHalt(a =>
        {
            a.mov(ax, 0xFFFF);
            a.mov(es, ax);
            a.mov(bl, __byte_ptr.es[0x15]); // FFFF0h + 15h = 100005h
        });
        Assert.Equal(0x11u, rig.Cpu.Ebx & 0xFF);

        rig.T.Mmu.A20Enabled = false; // now it wraps to 000005h
        rig.RunToHalt(a => a.mov(bl, __byte_ptr.es[0x15]));
        Assert.Equal(0x22u, rig.Cpu.Ebx & 0xFF);
    }

    public static TheoryData<string, int> LimitFaults() => new()
    {
        { "mov ax,[FFFFh]", ExceptionVectors.GP },
        { "mov eax,[FFFDh]", ExceptionVectors.GP },
        { "mov ax,es:[FFFFh]", ExceptionVectors.GP },
        { "mov ax,ss:[FFFFh]", ExceptionVectors.SS },
        { "mov ax,[bp-1] (BP=0, SS)", ExceptionVectors.SS },
        { "mov al,[ebx] (EBX=10000h)", ExceptionVectors.GP },
        { "mov [di],ax (DI=FFFFh)", ExceptionVectors.GP },
        { "add [bx],ax (BX=FFFFh)", ExceptionVectors.GP },
        { "push ax (SP=1)", ExceptionVectors.SS },
        { "pop ax (SP=FFFFh)", ExceptionVectors.SS },
        { "call near (SP=1)", ExceptionVectors.SS },
        { "movsw (SI=FFFFh)", ExceptionVectors.GP },
        { "stosw (DI=FFFFh)", ExceptionVectors.GP },
        { "lds si,[FFFFh]", ExceptionVectors.GP },
        { "jmp near to 10106h (66h)", ExceptionVectors.GP },
        { "mov ax,imm16 crossing IP FFFFh", ExceptionVectors.GP },
    };

    private static readonly Dictionary<string, (Action<RealModeRig> Setup, Action<Assembler> Code)> LimitCases = new()
    {
        ["mov ax,[FFFFh]"] = (_ => { }, a => a.mov(ax, __word_ptr[0xFFFF])),
        ["mov eax,[FFFDh]"] = (_ => { }, a => a.mov(eax, __dword_ptr[0xFFFD])),
        ["mov ax,es:[FFFFh]"] = (_ => { }, a => a.mov(ax, __word_ptr.es[0xFFFF])),
        ["mov ax,ss:[FFFFh]"] = (_ => { }, a => a.mov(ax, __word_ptr.ss[0xFFFF])),
        ["mov ax,[bp-1] (BP=0, SS)"] = (r => r.Cpu.Ebp = 0, a => a.mov(ax, __word_ptr[bp - 1])),
        ["mov al,[ebx] (EBX=10000h)"] = (r => r.Cpu.Ebx = 0x1_0000, a => a.mov(al, __byte_ptr[ebx])),
        ["mov [di],ax (DI=FFFFh)"] = (r => r.Cpu.Edi = 0xFFFF, a => a.mov(__word_ptr[di], ax)),
        ["add [bx],ax (BX=FFFFh)"] = (r => r.Cpu.Ebx = 0xFFFF, a => a.add(__word_ptr[bx], ax)),
        ["push ax (SP=1)"] = (r => r.Cpu.Esp = 1, a => a.push(ax)),
        ["pop ax (SP=FFFFh)"] = (r => r.Cpu.Esp = 0xFFFF, a => a.pop(ax)),
        ["call near (SP=1)"] = (r => r.Cpu.Esp = 1, a => { var l = a.CreateLabel(); a.call(l); a.Label(ref l); a.nop(); }),
        ["movsw (SI=FFFFh)"] = (r => r.Cpu.Esi = 0xFFFF, a => a.movsw()),
        ["stosw (DI=FFFFh)"] = (r => r.Cpu.Edi = 0xFFFF, a => a.stosw()),
        ["lds si,[FFFFh]"] = (_ => { }, a => a.lds(si, __dword_ptr[0xFFFF])),
        ["jmp near to 10106h (66h)"] = (_ => { }, a => a.db(0x66, 0xE9, 0x00, 0x00, 0x01, 0x00)),
        ["mov ax,imm16 crossing IP FFFFh"] = (_ => { }, a => a.db(0xB8, 0x34, 0x12)),
    };

    /// <summary>An access that runs past offset FFFFh faults (#SS for the stack segment) and changes nothing.</summary>
    [Theory]
    [MemberDataOnEveryEngine(nameof(LimitFaults))]
    public void AccessesCrossingThe64KLimitFault(string name, int vector, string engine)
    {
        using var rig = new RealModeRig(engine);
        var (setup, code) = LimitCases[name];
        setup(rig);
        ushort ip = name.Contains("crossing IP") ? (ushort)0xFFFE : RealModeRig.CodeIp;
        rig.Load(ip, code);
        var before = new uint[8];
        for (int r = 0; r < 8; r++) before[r] = rig.Cpu.Gpr[r];
        StopReason stop = rig.Run(ip);
        rig.AssertFault(stop, vector, ip, 0);
        for (int r = 0; r < 8; r++) Assert.Equal(before[r], rig.Cpu.Gpr[r]);
        Assert.Equal(RealModeRig.CodeSeg, rig.Cpu.Seg[SegReg.CS].Selector);
    }

    [Theory, OnEveryEngine]
    public void IpWrapsFromFFFFhTo0(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.Write8(SegReg.CS, 0xFFFF, 0x40); // inc ax, the last byte of the segment
        rig.Load(0x0000, a => { a.inc(ax); a.hlt(); });
        rig.Cpu.Eax = 0;
        rig.AssertHalted(rig.Run(0xFFFF));
        Assert.Equal(2u, rig.Cpu.Eax);
        Assert.Equal(2u, rig.Cpu.Eip);
    }

    [Theory, OnEveryEngine]
    public void NearJumpTargetsWrapAt64K(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.Write8(SegReg.CS, 0xFFF0, 0xEB); // jmp short +1Eh: FFF2h + 1Eh = 10010h -> 0010h
        rig.Write8(SegReg.CS, 0xFFF1, 0x1E);
        rig.Load(0x0010, a => a.hlt());
        rig.AssertHalted(rig.Run(0xFFF0));
        Assert.Equal(0x11u, rig.Cpu.Eip);
    }

    [Theory, OnEveryEngine]
    public void MovToCsIsInvalid(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.Load(RealModeRig.CodeIp, a => a.db(0x8E, 0xC8)); // mov cs,ax
        rig.AssertFault(rig.Run(), ExceptionVectors.UD, RealModeRig.CodeIp);
        Assert.Equal(RealModeRig.CodeSeg, rig.Cpu.Seg[SegReg.CS].Selector);
    }

    [Theory, OnEveryEngine]
    public void PopfInRealModeLoadsIoplAndNt(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.Write16(SegReg.SS, RealModeRig.InitialSp, 0x7002);
        rig.RunToHalt(a => a.popf());
        Assert.Equal(0x7002u, rig.Cpu.GetEflags() & 0xFFFF);
    }

    [Theory, OnEveryEngine]
    public void Popfd32LeavesVmAndRfClear(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.Write32(SegReg.SS, RealModeRig.InitialSp, 0x0003_0202); // VM, RF, IF
        rig.RunToHalt(a => a.popfd());
        Assert.Equal(0x0000_0202u, rig.Cpu.GetEflags());
        Assert.False(rig.Cpu.V86Mode);
    }

    // ---- near and far control transfer ----

    [Theory, OnEveryEngine]
    public void NearCallPushesA16BitReturnAddress(string engine)
    {
        using var rig = new RealModeRig(engine);
        ushort after;
        after = (ushort)(RealModeRig.CodeIp + 3);
        rig.Load(RealModeRig.CodeIp, a =>
        {
            var f = a.CreateLabel();
            a.call(f);
            a.hlt();
            a.Label(ref f);
            a.mov(bp, sp);
            a.mov(ax, __word_ptr[bp]);
            a.mov(dx, sp);
            a.ret();
        });
        rig.AssertHalted(rig.Run());
        Assert.Equal(after, (ushort)rig.Cpu.Eax);
        Assert.Equal(RealModeRig.InitialSp - 2u, rig.Cpu.Edx & 0xFFFF);
        Assert.Equal(RealModeRig.InitialSp, (ushort)rig.Cpu.Esp);
        Assert.Equal(after + 1u, rig.Cpu.Eip);
    }

    [Theory, OnEveryEngine]
    public void RetImmReleasesArguments(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.RunToHalt(a =>
        {
            var f = a.CreateLabel();
            var done = a.CreateLabel();
            a.push(0x1111);
            a.push(0x2222);
            a.call(f);
            a.jmp(done);
            a.Label(ref f);
            a.mov(bp, sp);
            a.mov(ax, __word_ptr[bp + 2]);
            a.add(ax, __word_ptr[bp + 4]);
            a.ret(4);
            a.Label(ref done);
        });
        Assert.Equal(0x3333u, rig.Cpu.Eax & 0xFFFF);
        Assert.Equal(RealModeRig.InitialSp, (ushort)rig.Cpu.Esp);
    }

    [Theory, OnEveryEngine]
    public void FarCallAndFarReturnSwitchCodeSegments(string engine)
    {
        using var rig = new RealModeRig(engine);
        // 2000:0010: a far procedure that looks at its stack frame and returns with RETF.
        rig.T.Physical.WriteBytes(0x2_0010, Asm.Assemble(16, 0x10, a =>
        {
            a.mov(bp, sp);
            a.mov(ax, __word_ptr[bp]);     // return IP
            a.mov(dx, __word_ptr[bp + 2]); // return CS
            a.mov(bx, cs);
            a.retf();
        }));
        rig.Load(RealModeRig.CodeIp, a =>
        {
            a.call(0x2000, 0x0010);
            a.mov(cx, cs);
            a.hlt();
        });
        rig.AssertHalted(rig.Run());
        Assert.Equal(RealModeRig.CodeIp + 5u, rig.Cpu.Eax & 0xFFFF);
        Assert.Equal((uint)RealModeRig.CodeSeg, rig.Cpu.Edx & 0xFFFF);
        Assert.Equal(0x2000u, rig.Cpu.Ebx & 0xFFFF);
        Assert.Equal((uint)RealModeRig.CodeSeg, rig.Cpu.Ecx & 0xFFFF);
        Assert.Equal(RealModeRig.InitialSp, (ushort)rig.Cpu.Esp);
    }

    [Theory, OnEveryEngine]
    public void FarCallAndJumpThroughMemoryPointers(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.T.Physical.WriteBytes(0x3_0020, Asm.Assemble(16, 0x20, a => { a.inc(si); a.retf(2); }));
        rig.T.Physical.WriteBytes(0x3_0040, Asm.Assemble(16, 0x40, a => { a.mov(di, cs); a.hlt(); }));
        rig.Write16(SegReg.DS, 0x0100, 0x0020); // m16:16 -> 3000:0020
        rig.Write16(SegReg.DS, 0x0102, 0x3000);
        rig.Write16(SegReg.DS, 0x0104, 0x0040); // m16:16 -> 3000:0040
        rig.Write16(SegReg.DS, 0x0106, 0x3000);
        rig.Load(RealModeRig.CodeIp, a =>
        {
            a.mov(bx, 0x0100);
            a.push(0x7777);                      // an argument RETF 2 releases
            a.call(__dword_ptr[bx]);
            a.jmp(__dword_ptr[bx + 4]);
        });
        rig.Cpu.Esi = 0;
        rig.AssertHalted(rig.Run());
        Assert.Equal(1u, rig.Cpu.Esi & 0xFFFF);
        Assert.Equal(0x3000u, rig.Cpu.Edi & 0xFFFF);
        Assert.Equal(RealModeRig.InitialSp, (ushort)rig.Cpu.Esp);
        Assert.Equal(0x3_0000u, rig.Cpu.Seg[SegReg.CS].Base);
    }

    [Theory, OnEveryEngine]
    public void IretPopsIpCsAndFlags(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.T.Physical.WriteBytes(0x5_0000, Asm.Assemble(16, 0, a => { a.mov(ax, cs); a.hlt(); }));
        rig.RunToHalt(a =>
        {
            a.push(0x0ED5);  // FLAGS: OF DF IF SF ZF AF PF CF
            a.push(0x5000);  // CS
            a.push(0x0000);  // IP
            a.iret();
        });
        Assert.Equal(0x5000u, rig.Cpu.Eax & 0xFFFF);
        Assert.Equal(0x0ED7u, rig.Cpu.GetEflags());
        Assert.Equal(RealModeRig.InitialSp, (ushort)rig.Cpu.Esp);
    }

    [Theory, OnEveryEngine]
    public void IretdPops32BitSlots(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.T.Physical.WriteBytes(0x5_0000, Asm.Assemble(16, 0, a => { a.mov(ax, cs); a.hlt(); }));
        rig.RunToHalt(a =>
        {
            Pushd(a, 0x0000_0001); // EFLAGS: CF
            Pushd(a, 0x0000_5000); // CS
            Pushd(a, 0x0000_0000); // EIP
            a.iretd();
        });
        Assert.Equal(0x5000u, rig.Cpu.Eax & 0xFFFF);
        Assert.Equal(0x0000_0003u, rig.Cpu.GetEflags());
        Assert.Equal(RealModeRig.InitialSp, (ushort)rig.Cpu.Esp);
    }

    [Theory, OnEveryEngine]
    public void FarReturnToAnOffsetBeyondTheLimitFaults(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.Load(RealModeRig.CodeIp, a =>
        {
            Pushd(a, 0x2000);
            Pushd(a, 0x1_0000);
            a.db(0x66); a.retf(); // RETF with 32-bit operands: EIP 10000h > FFFFh
        });
        ushort retfIp = (ushort)(RealModeRig.CodeIp + Asm.Length(16, a => { Pushd(a, 0x2000); Pushd(a, 0x1_0000); }));
        rig.AssertFault(rig.Run(), ExceptionVectors.GP, retfIp, 0);
        Assert.Equal(RealModeRig.InitialSp - 8u, rig.Cpu.Esp & 0xFFFF);
        Assert.Equal(RealModeRig.CodeSeg, rig.Cpu.Seg[SegReg.CS].Selector);
    }

    // ---- LOOP, JCXZ, Jcc ----

    [Theory, OnEveryEngine]
    public void LoopCountsCxAndKeepsTheUpperHalfOfEcx(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.Cpu.Ecx = 0xABCD_0003;
        rig.Cpu.Eax = 0;
        rig.RunToHalt(a =>
        {
            var top = a.CreateLabel();
            a.Label(ref top);
            a.inc(ax);
            a.loop(top);
        });
        Assert.Equal(3u, rig.Cpu.Eax);
        Assert.Equal(0xABCD_0000u, rig.Cpu.Ecx);
    }

    [Theory, OnEveryEngine]
    public void LoopWithCx0Runs65536Times(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.Cpu.Ecx = 0x0001_0000;
        rig.Cpu.Eax = 0;
        rig.RunToHalt(a =>
        {
            var top = a.CreateLabel();
            a.Label(ref top);
            a.inc(eax);
            a.loop(top);
        });
        Assert.Equal(0x1_0000u, rig.Cpu.Eax);
        Assert.Equal(0x0001_0000u, rig.Cpu.Ecx);
    }

    [Theory, OnEveryEngine]
    public void AddressSizePrefixMakesLoopCountEcx(string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.Cpu.Ecx = 0x0001_0002;
        rig.Cpu.Eax = 0;
        rig.Load(RealModeRig.CodeIp, a =>
        {
            a.inc(eax);              // 66 40, 2 bytes
            a.db(0x67, 0xE2, 0xFB);  // a32 loop -5: back to the inc
            a.hlt();
        });
        rig.AssertHalted(rig.Run());
        Assert.Equal(0x1_0002u, rig.Cpu.Eax);
        Assert.Equal(0u, rig.Cpu.Ecx);
    }

    [Theory]
    [InlineDataOnEveryEngine(0x0000_0000u, true, true)]
    [InlineDataOnEveryEngine(0x0001_0000u, true, false)]  // CX=0 but ECX is not
    [InlineDataOnEveryEngine(0x0000_0001u, false, false)]
    public void JcxzTestsCxAndJecxzTestsEcx(uint ecx, bool jcxzTaken, bool jecxzTaken, string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.Cpu.Ecx = ecx;
        rig.RunToHalt(a =>
        {
            var l1 = a.CreateLabel();
            var l2 = a.CreateLabel();
            a.xor(ax, ax);
            a.jcxz(l1);
            a.or(al, 1);
            a.Label(ref l1);
            a.jecxz(l2);
            a.or(al, 2);
            a.Label(ref l2);
        });
        Assert.Equal((jcxzTaken ? 0u : 1u) | (jecxzTaken ? 0u : 2u), rig.Cpu.Eax & 0xFF);
        Assert.Equal(ecx, rig.Cpu.Ecx);
    }

    /// <summary>LOOPE runs while ZF=1, LOOPNE while ZF=0; both stop when CX reaches 0.</summary>
    [Theory]
    [InlineDataOnEveryEngine(false, 10u, 4u, 6u)] // ZF=1 while AX &lt; 4: the fourth pass clears it
    [InlineDataOnEveryEngine(false, 2u, 2u, 0u)]  // CX runs out first
    [InlineDataOnEveryEngine(true, 10u, 3u, 7u)]  // ZF=0 until AX = 3
    [InlineDataOnEveryEngine(true, 2u, 2u, 0u)]
    public void LoopeAndLoopneStopOnZfOrCx(bool ne, uint cx, uint expectedAx, uint expectedCx, string engine)
    {
        using var rig = new RealModeRig(engine);
        rig.Cpu.Ecx = cx;
        rig.Cpu.Eax = 0;
        rig.RunToHalt(a =>
        {
            var top = a.CreateLabel();
            a.Label(ref top);
            a.inc(ax);
            if (ne)
            {
                a.cmp(ax, 3);
                a.loopne(top);
            }
            else
            {
                a.test(ax, 4);
                a.loope(top);
            }
        });
        Assert.Equal(expectedAx, rig.Cpu.Eax);
        Assert.Equal(expectedCx, rig.Cpu.Ecx);
    }

    public static TheoryData<int, string> Conditions() => new()
    {
        // condition code (low nibble of 7xh), flags; taken is computed from the SDM's definitions below
        { 0x0, "O" }, { 0x0, "-" }, { 0x1, "O" }, { 0x1, "-" }, { 0x2, "C" }, { 0x2, "Z" }, { 0x3, "C" }, { 0x3, "-" },
        { 0x4, "Z" }, { 0x4, "C" }, { 0x5, "Z" }, { 0x5, "-" }, { 0x6, "C" }, { 0x6, "Z" }, { 0x6, "S" }, { 0x7, "-" }, { 0x7, "Z" },
        { 0x8, "S" }, { 0x8, "O" }, { 0x9, "S" }, { 0x9, "-" }, { 0xA, "P" }, { 0xA, "-" }, { 0xB, "P" }, { 0xB, "-" },
        { 0xC, "S" }, { 0xC, "OS" }, { 0xC, "O" }, { 0xD, "S" }, { 0xD, "OS" }, { 0xE, "Z" }, { 0xE, "S" }, { 0xE, "OS" },
        { 0xF, "-" }, { 0xF, "Z" }, { 0xF, "O" }, { 0xF, "OS" },
    };

    [Theory]
    [MemberDataOnEveryEngine(nameof(Conditions))]
    public void JccFollowsTheConditionTable(int cc, string flags, string engine)
    {
        uint f = StateSpec.FlagBits(flags);
        bool of = (f & Flags.OF) != 0, sf = (f & Flags.SF) != 0, zf = (f & Flags.ZF) != 0, cf = (f & Flags.CF) != 0, pf = (f & Flags.PF) != 0;
        bool taken = (cc >> 1) switch
        {
            0 => of,
            1 => cf,
            2 => zf,
            3 => cf || zf,
            4 => sf,
            5 => pf,
            6 => sf != of,
            _ => zf || sf != of,
        } ^ ((cc & 1) != 0);

        using var rig = new RealModeRig(engine);
        rig.Cpu.SetEflagsRaw(Flags.Reserved1 | f);
        rig.Cpu.Eax = 0;
        // 7x 02 skips MOV AL,1 when taken (the short form), then 0F 8x 0002 skips MOV AH,1 (the near form).
        // MOV changes no flags, so both branches see the same ones.
        rig.Load(RealModeRig.CodeIp, a =>
        {
            a.db((byte)(0x70 + cc), 0x02);
            a.db(0xB0, 0x01);
            a.db(0x0F, (byte)(0x80 + cc), 0x02, 0x00);
            a.db(0xB4, 0x01);
            a.hlt();
        });
        rig.AssertHalted(rig.Run());
        Assert.Equal(taken ? 0u : 0x0101u, rig.Cpu.Eax);
        Assert.Equal(f | Flags.Reserved1, rig.Cpu.GetEflags());
    }
}
