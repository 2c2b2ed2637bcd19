using System;
using System.Collections.Generic;
using Emu.Cpu.Tests.Support;
using Emu.Memory;
using Emu.TestSupport;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.Decoding;

/// <summary>How guest code becomes blocks: decoded once, ended where the design says, limited by the page and the CS limit.</summary>
public class BlockCacheTests
{
    private const uint At = 0x1000;

    private static void SetCsLimit(Emu.X86.Cpu c, uint limit)
    {
        c.Seg[SegReg.CS].Load(0x08, 0, limit, SegmentCache.RightsP | SegmentCache.RightsS | SegmentCache.RightsDB | 0xB);
        c.UpdateModes();
    }

    [Theory]
    [InlineDataOnEveryEngine(2)]
    [InlineDataOnEveryEngine(10)]
    [InlineDataOnEveryEngine(100_000)]
    public void AHotLoopIsDecodedOnce(int iterations, string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.RunToHalt(At, a =>
        {
            var top = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, iterations);
            a.Label(ref top);
            a.add(eax, ecx);
            a.dec(ecx);
            a.jnz(top);
        });
        Assert.Equal((uint)((long)iterations * (iterations + 1) / 2), t.Cpu.Eax);
        // The entry block (to the first JNZ), the loop body, and the HLT: whatever the count.
        Assert.Equal(3, t.Cpu.Blocks.Decoded);
        Assert.Equal(0, t.Cpu.Blocks.Invalidated);
        Assert.Equal(3L * iterations + 3, t.Cpu.InstructionCount);
    }

    [Theory, OnEveryEngine]
    public void RunningTheSameCodeAgainDecodesNothing(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.RunToHalt(At, a => { a.mov(eax, 5); a.add(eax, eax); });
        long decoded = t.Cpu.Blocks.Decoded;
        for (int i = 0; i < 3; i++) Assert.Equal(StopReason.Halted, t.Run(At));
        Assert.Equal(decoded, t.Cpu.Blocks.Decoded);
    }

    /// <summary>
    /// More distinct blocks than the cache may hold: it is flushed when full and the code runs
    /// on, right, with never more than <see cref="BlockCache.MaxBlocks"/> blocks cached.
    /// </summary>
    [Theory, OnEveryEngine]
    public void AFullCacheIsFlushedAndTheCodeRunsOn(string engine)
    {
        const int blocks = 40, iterations = 50;
        using var t = TestCpu.Flat32(engine);
        t.Cpu.Blocks.MaxBlocks = 16;
        t.RunToHalt(At, a =>
        {
            var top = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, iterations);
            a.Label(ref top);
            for (int i = 1; i <= blocks; i++)
            {
                var next = a.CreateLabel();
                a.add(eax, i);
                a.jmp(next);
                a.Label(ref next);
            }
            a.dec(ecx);
            a.jnz(top);
        });
        Assert.Equal((uint)(iterations * blocks * (blocks + 1) / 2), t.Cpu.Eax);
        Assert.True(t.Cpu.Blocks.CapacityFlushes >= iterations, $"{t.Cpu.Blocks.CapacityFlushes} flushes at the cap");
        Assert.True(t.Cpu.Blocks.PeakBlocks <= 16, $"{t.Cpu.Blocks.PeakBlocks} blocks cached at once");
    }

    // ---- where blocks end ----

    public static TheoryData<string, bool> Enders() => new()
    {
        // name, whether the block ends after it
        { "jmp short", true }, { "jz", true }, { "call", true }, { "ret", true }, { "ret 8", true }, { "loop", true },
        { "jecxz", true }, { "jmp eax", true }, { "call [eax]", true }, { "jmp far", true }, { "call far", true },
        { "retf", true }, { "iretd", true }, { "int3", true }, { "int 21h", true }, { "into", true }, { "ud2", true },
        { "invalid", true }, { "hlt", true }, { "mov ds,ax", true }, { "pop ss", true }, { "lss", true }, { "popfd", true },
        { "sti", true }, { "mov cr0,eax", true }, { "lmsw", true }, { "invlpg", true },
        { "add", false }, { "cli", false }, { "pushfd", false }, { "in al,dx", false }, { "out dx,al", false },
        { "cpuid", false }, { "mov eax,cr0", false }, { "rep movsb", false }, { "lea", false }, { "push ds", false },
    };

    private static readonly Dictionary<string, Action<Assembler>> EnderCode = new()
    {
        ["jmp short"] = a => { var l = a.CreateLabel(); a.jmp(l); a.Label(ref l); },
        ["jz"] = a => { var l = a.CreateLabel(); a.jz(l); a.Label(ref l); },
        ["call"] = a => { var l = a.CreateLabel(); a.call(l); a.Label(ref l); },
        ["ret"] = a => a.ret(),
        ["ret 8"] = a => a.ret(8),
        ["loop"] = a => { var l = a.CreateLabel(); a.loop(l); a.Label(ref l); },
        ["jecxz"] = a => { var l = a.CreateLabel(); a.jecxz(l); a.Label(ref l); },
        ["jmp eax"] = a => a.jmp(eax),
        ["call [eax]"] = a => a.call(__dword_ptr[eax]),
        ["jmp far"] = a => a.jmp(0x08, At),
        ["call far"] = a => a.call(0x08, At),
        ["retf"] = a => a.retf(),
        ["iretd"] = a => a.iretd(),
        ["int3"] = a => a.int3(),
        ["int 21h"] = a => a.@int(0x21),
        ["into"] = a => a.into(),
        ["ud2"] = a => a.ud2(),
        ["invalid"] = a => a.db(0xFE, 0xF8),
        ["hlt"] = a => a.hlt(),
        ["mov ds,ax"] = a => a.mov(ds, ax),
        ["pop ss"] = a => a.pop(ss),
        ["lss"] = a => a.lss(eax, __fword_ptr[ebx]),
        ["popfd"] = a => a.popfd(),
        ["sti"] = a => a.sti(),
        ["mov cr0,eax"] = a => a.mov(cr0, eax),
        ["lmsw"] = a => a.lmsw(ax),
        ["invlpg"] = a => a.invlpg(__[eax]),
        ["add"] = a => a.add(eax, ebx),
        ["cli"] = a => a.cli(),
        ["pushfd"] = a => a.pushfd(),
        ["in al,dx"] = a => a.@in(al, dx),
        ["out dx,al"] = a => a.@out(dx, al),
        ["cpuid"] = a => a.cpuid(),
        ["mov eax,cr0"] = a => a.mov(eax, cr0),
        ["rep movsb"] = a => a.rep.movsb(),
        ["lea"] = a => a.lea(eax, __[ebx + 4]),
        ["push ds"] = a => a.push(ds),
    };

    [Theory]
    [MemberData(nameof(Enders))]
    public void BlocksEndAtControlTransfersAndAtInstructionsThatChangeDecoding(string name, bool ends)
    {
        // Decoding only, which both engines share: nothing runs, so one engine is enough.
        using var t = TestCpu.Flat32(Engines.Interpreter);
        t.Load(At, a =>
        {
            a.nop();
            a.nop();
            EnderCode[name](a);
            a.nop();
            a.nop();
            a.hlt();
        });
        t.Cpu.Eip = At;
        Block b = t.Cpu.Blocks.Get(); // decoding never runs anything, nor faults on what it decodes
        Assert.Equal(ends ? 3 : 6, b.Count);
        Assert.Equal(At, b.Eip);
        Assert.Equal((uint)b.Code[b.Count - 1].NextIP, b.NextEip);
        Assert.Equal(b.NextEip - At, b.PhysEnd - b.PhysStart);
        Assert.Equal(ends && b.Code[2].FlowControl != FlowControl.Next, b.EndsInBranch);
    }

    [Theory, OnEveryEngine]
    public void BlocksEndAtThePageEnd(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.Load(0x1FF0, a =>
        {
            for (int i = 0; i < 16; i++) a.inc(eax);
            a.hlt(); // at 2000h, on the next page
        });
        t.Cpu.Eip = 0x1FF0;
        Block b = t.Cpu.Blocks.Get();
        Assert.Equal(16, b.Count);
        Assert.Equal(0x2000u, b.NextEip);
        Assert.Equal(0x2000u, b.PhysEnd);
        Assert.False(b.EndsInBranch);
        t.Cpu.Eax = 0;
        Assert.Equal(StopReason.Halted, t.Run(0x1FF0));
        Assert.Equal(16u, t.Cpu.Eax);
        Assert.Equal(0x2001u, t.Cpu.Eip);
    }

    [Theory, OnEveryEngine]
    public void BlocksEndAtTheSizeCap(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.Load(At, a =>
        {
            for (int i = 0; i < 100; i++) a.inc(eax);
            a.hlt();
        });
        t.Cpu.Eip = At;
        Block b = t.Cpu.Blocks.Get();
        Assert.Equal(BlockCache.MaxInstructions, b.Count);
        Assert.Equal(At + (uint)BlockCache.MaxInstructions, b.NextEip);
        t.Cpu.Eax = 0;
        Assert.Equal(StopReason.Halted, t.Run(At));
        Assert.Equal(100u, t.Cpu.Eax);
        Assert.Equal(2, t.Cpu.Blocks.Decoded);
    }

    // ---- instructions that straddle a page boundary ----

    [Theory, OnEveryEngine]
    public void AnInstructionStraddlingAPageBoundaryRunsAndSeesItsCurrentBytes(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.Load(0x1FF0, a =>
        {
            for (int i = 0; i < 14; i++) a.nop();
            a.mov(eax, 0x1234_5678); // B8 at 1FFEh, its immediate at 1FFFh..2002h
            a.mov(ebx, eax);
            a.hlt();
        });
        t.Cpu.Eip = 0x1FF0;
        Assert.Equal(14, t.Cpu.Blocks.Get().Count); // the block stops before the straddler

        Assert.Equal(StopReason.Halted, t.Run(0x1FF0));
        Assert.Equal(0x1234_5678u, t.Cpu.Ebx);

        t.WriteBytes(0x2001, 0xAB); // change the immediate's third byte, on the second page
        Assert.Equal(StopReason.Halted, t.Run(0x1FF0));
        Assert.Equal(0x12AB_5678u, t.Cpu.Ebx);

        t.WriteBytes(0x1FFF, 0xCD); // and its first byte, on the first page
        Assert.Equal(StopReason.Halted, t.Run(0x1FF0));
        Assert.Equal(0x12AB_56CDu, t.Cpu.Ebx);
    }

    [Fact]
    public void AHotLoopThroughAStraddlingInstructionIsDecodedOnce()
    {
        using var t = TestCpu.Flat32();
        // loop: 14 NOPs up to 1FFEh, then ADD EAX, imm32 straddling into page 2000h, DEC ECX, JNZ loop.
        t.Load(0x1FF0, a =>
        {
            var loop = a.CreateLabel();
            a.Label(ref loop);
            for (int i = 0; i < 14; i++) a.nop();
            a.add(eax, 0x0101_0101);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        t.Cpu.Eax = 0;
        t.Cpu.Ecx = 1000;
        Assert.Equal(StopReason.Halted, t.Run(0x1FF0));
        Assert.Equal(unchecked(1000u * 0x0101_0101u), t.Cpu.Eax);
        Assert.Equal(4, t.Cpu.Blocks.Decoded); // NOPs, the straddler, DEC/JNZ, HLT: each once

        t.WriteBytes(0x2001, 0x02); // rewrite the straddler's immediate in the second page
        t.Cpu.Eax = 0;
        t.Cpu.Ecx = 10;
        Assert.Equal(StopReason.Halted, t.Run(0x1FF0));
        Assert.Equal(10u * 0x0102_0101u, t.Cpu.Eax);
    }

    [Theory, OnEveryEngine]
    public void ABranchTargetThatStraddlesAPageRuns(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.Load(0x2FFD, a => { a.add(eax, 0x1111_1111); a.hlt(); }); // 05 id: 5 bytes from 2FFDh
        t.RunToHalt(At, a => { a.mov(eax, 1); a.jmp(0x2FFD); });
        Assert.Equal(0x1111_1112u, t.Cpu.Eax);
    }

    // ---- the CS limit ----

    [Theory, OnEveryEngine]
    public void RunningOffTheEndOfTheCodeSegmentRaisesGp(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        SetCsLimit(t.Cpu, 0x1FFF);
        t.Load(0x1FF8, a => { for (int i = 0; i < 8; i++) a.inc(eax); a.hlt(); });
        t.Cpu.Eax = 0;
        Faults.AssertFault(t.Cpu, t.Run(0x1FF8), ExceptionVectors.GP, 0x2000, 0);
        Assert.Equal(8u, t.Cpu.Eax);
        Assert.Equal(8, t.Cpu.InstructionCount);
    }

    [Theory, OnEveryEngine]
    public void AnInstructionReachingPastTheCsLimitRaisesGpAtItself(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        SetCsLimit(t.Cpu, 0x1FFF);
        t.Load(0x1FFC, a => { a.inc(ecx); a.mov(eax, 0x1234_5678); a.hlt(); }); // the MOV at 1FFDh ends at 2001h
        t.Cpu.Ecx = 0;
        t.Cpu.Eax = 0;
        Faults.AssertFault(t.Cpu, t.Run(0x1FFC), ExceptionVectors.GP, 0x1FFD, 0);
        Assert.Equal(1u, t.Cpu.Ecx);
        Assert.Equal(0u, t.Cpu.Eax);
    }

    [Theory, OnEveryEngine]
    public void AnInstructionReachingPastTheCsLimitMidPageRaisesGpAtItself(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        SetCsLimit(t.Cpu, 0x1802);
        t.Load(0x1800, a => { a.mov(eax, 0x1234_5678); a.hlt(); }); // ends at 1804h
        Faults.AssertFault(t.Cpu, t.Run(0x1800), ExceptionVectors.GP, 0x1800, 0);
    }

    [Theory]
    [InlineDataOnEveryEngine("jmp")]
    [InlineDataOnEveryEngine("jz")]
    [InlineDataOnEveryEngine("call")]
    [InlineDataOnEveryEngine("ret")]
    [InlineDataOnEveryEngine("jmp eax")]
    [InlineDataOnEveryEngine("loop")]
    public void BranchesBeyondTheCsLimitRaiseGpAtTheBranch(string kind, string engine)
    {
        using var t = TestCpu.Flat32(engine);
        SetCsLimit(t.Cpu, 0x1FFF);
        t.Write32(0x7FFFC, 0x3000); // a return address beyond the limit
        t.Cpu.Esp = 0x7FFFC;
        t.Cpu.Eax = 0x3000;
        t.Cpu.Ecx = 5;
        t.Cpu.SetEflagsRaw(Flags.Reserved1 | Flags.ZF);
        t.Load(At, a =>
        {
            switch (kind)
            {
                case "jmp": a.jmp(0x3000); break;
                case "jz": a.jz(0x3000); break;
                case "call": a.call(0x3000); break;
                case "ret": a.ret(); break;
                case "jmp eax": a.jmp(eax); break;
                default: a.db(0xE2, 0x00); break; // loop $+2: patched below to reach 3000h
            }
        });
        if (kind == "loop")
        {
            // LOOP rel8 cannot reach 3000h from 1000h; run it from near the limit instead.
            t.WriteBytes(0x1FF0, 0xE2, 0x7F); // loop 1FF2h+7Fh = 2071h
            Faults.AssertFault(t.Cpu, t.Run(0x1FF0), ExceptionVectors.GP, 0x1FF0, 0);
        }
        else
        {
            Faults.AssertFault(t.Cpu, t.Run(At), ExceptionVectors.GP, At, 0);
        }
        Assert.Equal(0x7FFFCu, t.Cpu.Esp);
        Assert.Equal(5u, t.Cpu.Ecx);
    }

    [Theory, OnEveryEngine]
    public void ABlockDecodedUnderALargerCsLimitIsNotReusedPastASmallerOne(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.Load(At, a => { for (int i = 0; i < 8; i++) a.inc(eax); a.hlt(); });
        t.Cpu.Eax = 0;
        Assert.Equal(StopReason.Halted, t.Run(At));
        Assert.Equal(8u, t.Cpu.Eax);

        SetCsLimit(t.Cpu, At + 3);
        t.Cpu.Eax = 0;
        Faults.AssertFault(t.Cpu, t.Run(At), ExceptionVectors.GP, At + 4, 0);
        Assert.Equal(4u, t.Cpu.Eax);
    }

    /// <summary>
    /// In 16-bit code IP wraps at 64 KiB after every instruction, also when a 32-bit far
    /// transfer left EIP above FFFFh in a 16-bit segment with a large limit: the instruction
    /// after one at 1:2000h runs at 2001h. A block decoded on from 12000h ran the bytes at
    /// 12001h instead when executed whole, and those at 2001h when run one instruction at a
    /// time, so the engines disagreed (found by the instruction fuzzer).
    /// </summary>
    [Theory, OnEveryEngine]
    public void SixteenBitCodeWrapsIpAfterAnInstructionAboveFfffh(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        // GDT at 800h: null, flat 32-bit code (08h), 16-bit code with a 4 GiB limit (10h).
        t.Write32(0x800, 0);
        t.Write32(0x804, 0);
        t.Write32(0x808, 0x0000_FFFF);
        t.Write32(0x80C, 0x00CF_9B00);
        t.Write32(0x810, 0x0000_FFFF);
        t.Write32(0x814, 0x008F_9B00); // G=1, D=0
        t.Cpu.Gdtr = new TableRegister { Base = 0x800, Limit = 0x17 };
        t.Load(At, a => a.jmp(0x10, 0x1_2000));
        t.WriteBytes(0x1_2000, 0x40, 0x43, 0xF4); // INC AX; INC BX; HLT
        t.WriteBytes(0x2001, 0x41, 0xF4);         // INC CX; HLT
        t.Cpu.Eax = t.Cpu.Ebx = t.Cpu.Ecx = 0;
        Assert.Equal(StopReason.Halted, t.Run(At));
        Assert.Equal(1u, t.Cpu.Eax);
        Assert.Equal(0u, t.Cpu.Ebx);
        Assert.Equal(1u, t.Cpu.Ecx);
        Assert.Equal(0x2003u, t.Cpu.Eip);
    }

    // ---- #UD only when reached ----

    [Theory]
    [InlineDataOnEveryEngine("ud2")]
    [InlineDataOnEveryEngine("FE /7")]
    [InlineDataOnEveryEngine("movaps (SSE: not on this CPU)")]
    [InlineDataOnEveryEngine("lock nop")]
    public void AnInvalidInstructionRaisesUdAtItselfWhenReached(string kind, string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.Load(At, a =>
        {
            a.inc(eax);
            a.inc(eax);
            switch (kind)
            {
                case "ud2": a.ud2(); break;
                case "FE /7": a.db(0xFE, 0xF8); break;
                case "movaps (SSE: not on this CPU)": a.movaps(xmm0, xmm1); break;
                default: a.db(0xF0, 0x90); break;
            }
            a.hlt();
        });
        t.Cpu.Eax = 0;
        Faults.AssertFault(t.Cpu, t.Run(At), ExceptionVectors.UD, At + 2);
        Assert.Equal(2u, t.Cpu.Eax);
        Assert.Equal(2, t.Cpu.InstructionCount);
    }

    [Theory, OnEveryEngine]
    public void AnInvalidInstructionBehindAnEarlierFaultIsNotReported(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.Load(At, a =>
        {
            a.xor(ecx, ecx);
            a.div(ecx);
            a.db(0xFE, 0xF8);
        });
        Faults.AssertFault(t.Cpu, t.Run(At), ExceptionVectors.DE, At + 2);
    }

    [Theory, OnEveryEngine]
    public void AnInvalidInstructionThatIsSkippedNeverFaults(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.RunToHalt(At, a =>
        {
            var over = a.CreateLabel();
            a.mov(eax, 1);
            a.jmp(over);
            a.db(0xFE, 0xF8);
            a.ud2();
            a.Label(ref over);
        });
        Assert.Equal(1u, t.Cpu.Eax);
    }

    // ---- CR3 loads and the block lookup ----

    private const uint PdA = 0x10_0000, PtA = 0x10_1000, PdB = 0x10_2000, PtB = 0x10_3000;

    /// <summary>
    /// Two page directories (<see cref="PdA"/>, <see cref="PdB"/>) mapping every page to itself
    /// with the flags <paramref name="flagsOf"/> gives for its number, but linear 5000h: to code
    /// setting EAX = AAAAh (physical 5000h) in A, to code setting EAX = BBBBh (6000h) in B.
    /// </summary>
    private static void MapTwoAddressSpaces(TestCpu t, Func<uint, uint> flagsOf)
    {
        foreach ((uint pd, uint pt, uint x) in new[] { (PdA, PtA, 0x5000u), (PdB, PtB, 0x6000u) })
        {
            t.Write32(pd, pt | 3);
            for (uint i = 0; i < 1024; i++) t.Write32(pt + i * 4, (i << 12) | flagsOf(i));
            t.Write32(pt + 5 * 4, x | 3);
        }
        t.Load(0x5000, a => { a.mov(eax, 0xAAAA); a.ret(); });
        t.Load(0x6000, a => { a.mov(eax, 0xBBBB); a.ret(); });
    }

    [Theory, OnEveryEngine]
    public void AfterACr3LoadGlobalCodeIsStillFoundAndOtherCodeFollowsTheNewMapping(string engine)
    {
        // Two address spaces that map linear 5000h to different code (5000h: EAX = AAAAh, 6000h:
        // EAX = BBBBh), and share a global page of code at 1000h that switches between them
        // with MOV CR3 and calls 5000h in each. The EIP-keyed lookup must not run one space's
        // code in the other; the global page's blocks survive the switches.
        const uint Iterations = 50;
        using var t = TestCpu.Flat32(engine);
        MapTwoAddressSpaces(t, page => page == 1 ? 0x103u : 3u); // 1000h: global
        t.Load(0x1000, a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, Iterations);
            a.Label(ref top);
            a.mov(ebx, PdA);
            a.mov(cr3, ebx);
            a.call(0x5000);
            a.add(esi, eax);
            a.mov(ebx, PdB);
            a.mov(cr3, ebx);
            a.call(0x5000);
            a.add(edi, eax);
            a.dec(ecx);
            a.jnz(top);
            a.hlt();
        });
        t.Cpu.WriteCr4(Cr4Bits.PGE);
        t.Cpu.WriteCr3(PdA);
        t.Cpu.WriteCr0(t.Cpu.Cr0 | Cr0Bits.PG);
        Assert.Equal(StopReason.Halted, t.Run(0x1000));
        Assert.Equal(Iterations * 0xAAAAu, t.Cpu.Esi);
        Assert.Equal(Iterations * 0xBBBBu, t.Cpu.Edi);
        // Per pass two CR3 loads: each makes the next look-up at 5000h miss (it is not global);
        // the blocks of the global page after each MOV CR3 and each RET are still found.
        Assert.True(t.Cpu.Blocks.JumpMisses <= 2 * Iterations + 10, $"{t.Cpu.Blocks.JumpMisses} jump-cache misses in {Iterations} passes");
    }

    [Theory, OnEveryEngine]
    public void AfterInvlpgACallFollowsTheNewMapping(string engine)
    {
        // One CALL to 5000h, run again and again; before each, the PTE of 5000h is switched
        // between code setting EAX = AAAAh (physical 5000h) and code setting EAX = BBBBh (6000h),
        // and INVLPG run. The call must follow the new mapping at once: neither the block lookup
        // nor a link made from the caller's region into page 5000h may keep the old one.
        const uint Pd = 0x10_0000, Pt = 0x10_1000, Iterations = 50;
        using var t = TestCpu.Flat32(engine);
        MapFirst4MiB(t, Pd, Pt);
        t.Write32(Pt + 5 * 4, 0x6003);
        t.Load(0x5000, a => { a.mov(eax, 0xAAAA); a.ret(); });
        t.Load(0x6000, a => { a.mov(eax, 0xBBBB); a.ret(); });
        LoadSwitchAndCallLoop(t, 0x5000, Iterations, a =>
        {
            a.xor(__dword_ptr[Pt + 5 * 4], 0x5003 ^ 0x6003);
            a.invlpg(__dword_ptr[0x5000]);
        });
        t.Cpu.WriteCr3(Pd);
        t.Cpu.WriteCr0(t.Cpu.Cr0 | Cr0Bits.PG);
        AssertEachCallFollowedTheSwitch(t, Iterations);
    }

    /// <summary>Page directory <paramref name="pd"/> maps 0-4 MiB to itself through page table <paramref name="pt"/> (4 KiB pages, supervisor, writable).</summary>
    private static void MapFirst4MiB(TestCpu t, uint pd, uint pt)
    {
        t.Write32(pd, pt | 3);
        for (uint i = 0; i < 1024; i++) t.Write32(pt + i * 4, (i << 12) | 3);
    }

    /// <summary>
    /// The loop at 1000h of the tests below: <paramref name="iterations"/> times, the mapping
    /// switch <paramref name="switchMapping"/>, then a CALL to <paramref name="target"/> adding
    /// the EAX it returns to ESI, and the same call through EDX (a target known only at run
    /// time, from the same place each time) adding it to EDI; then HLT.
    /// </summary>
    private static void LoadSwitchAndCallLoop(TestCpu t, uint target, uint iterations, Action<Assembler> switchMapping, Action<Assembler>? setUp = null)
    {
        t.Load(0x1000, a =>
        {
            var top = a.CreateLabel();
            a.mov(esp, 0x9000);
            a.mov(ecx, iterations);
            setUp?.Invoke(a);
            a.Label(ref top);
            switchMapping(a);
            a.call(target);
            a.add(esi, eax);
            a.mov(edx, target);
            a.call(edx);
            a.add(edi, eax);
            a.dec(ecx);
            a.jnz(top);
            a.hlt();
        });
    }

    /// <summary>Runs that loop: every other call found AAAAh, the others BBBBh, both ways.</summary>
    private static void AssertEachCallFollowedTheSwitch(TestCpu t, uint iterations)
    {
        Assert.Equal(StopReason.Halted, t.Run(0x1000));
        Assert.Equal(iterations / 2 * (0xAAAAu + 0xBBBBu), t.Cpu.Esi);
        Assert.Equal(iterations / 2 * (0xAAAAu + 0xBBBBu), t.Cpu.Edi);
    }

    [Theory, OnEveryEngine]
    public void AfterInvlpgElsewhereInA4MiBPageACallFollowsItsNewMapping(string engine)
    {
        // Linear 400000h-7FFFFFh is one 4 MiB page, switched between physical 400000h (code at
        // +5000h setting EAX = AAAAh) and 800000h (EAX = BBBBh); the INVLPG names another 4 KiB
        // of it, where no code is. It drops the whole 4 MiB page (Intel SDM Vol. 3, 4.10.4.1),
        // so the call must follow the new mapping, in the TLB and in every shortcut to 405000h.
        const uint Pd = 0x10_0000, Pt = 0x10_1000, Iterations = 50;
        using var t = TestCpu.Flat32(engine);
        MapFirst4MiB(t, Pd, Pt);
        t.Write32(Pd + 4, 0x40_0000 | 0x83);
        t.Load(0x40_5000, a => { a.mov(eax, 0xAAAA); a.ret(); });
        t.Load(0x80_5000, a => { a.mov(eax, 0xBBBB); a.ret(); });
        LoadSwitchAndCallLoop(t, 0x40_5000, Iterations, a =>
        {
            a.xor(__dword_ptr[Pd + 4], 0x40_0000 ^ 0x80_0000);
            a.invlpg(__dword_ptr[0x7F_F000]);
        });
        t.Cpu.WriteCr4(Cr4Bits.PSE);
        t.Cpu.WriteCr3(Pd);
        t.Cpu.WriteCr0(t.Cpu.Cr0 | Cr0Bits.PG);
        AssertEachCallFollowedTheSwitch(t, Iterations);
    }

    [Theory, OnEveryEngine]
    public void AnInvlpgOfAPageWithoutCodeKeepsTheShortcutsToCode(string engine)
    {
        // The kernel's INVLPGs are mostly of data pages (a copy-on-write break, an unmap). Here a
        // loop remaps data page 7000h between physical 7000h and 8000h, INVLPGs it and reads
        // through it: the read follows each new mapping, and the jump cache is never cleared,
        // as no code was ever found in that page.
        const uint Pd = 0x10_0000, Pt = 0x10_1000, Iterations = 200;
        using var t = TestCpu.Flat32(engine);
        MapFirst4MiB(t, Pd, Pt);
        t.Write32(0x7000, 1);
        t.Write32(0x8000, 2);
        t.Load(0x1000, a =>
        {
            var top = a.CreateLabel();
            a.mov(esp, 0x9000);
            a.mov(ecx, Iterations);
            a.Label(ref top);
            a.xor(__dword_ptr[Pt + 7 * 4], 0x7000 ^ 0x8000);
            a.invlpg(__dword_ptr[0x7000]);
            a.add(esi, __dword_ptr[0x7000]);
            a.call(0x5000);
            a.dec(ecx);
            a.jnz(top);
            a.hlt();
        });
        t.Load(0x5000, a => { a.inc(edi); a.ret(); });
        t.Cpu.WriteCr3(Pd);
        t.Cpu.WriteCr0(t.Cpu.Cr0 | Cr0Bits.PG);
        long flushesBefore = t.Cpu.Blocks.JumpFlushes;
        Assert.Equal(StopReason.Halted, t.Run(0x1000));
        Assert.Equal(Iterations / 2 * (2u + 1u), t.Cpu.Esi);
        Assert.Equal(Iterations, t.Cpu.Edi);
        Assert.Equal(flushesBefore, t.Cpu.Blocks.JumpFlushes);
        Assert.Equal((long)Iterations, t.Cpu.Blocks.InvlpgsKept);
    }

    [Theory, OnEveryEngine]
    public void AfterACr3LoadACallFollowsTheNewAddressSpace(string engine)
    {
        // As above, with one CALL to 5000h between MOV CR3 loads that switch between two page
        // directories mapping 5000h to different code.
        const uint Iterations = 50;
        using var t = TestCpu.Flat32(engine);
        // Every page but 5000h global, so the CALL's push still hits the TLB after a load (a
        // miss would end the region there, before its exit to 5000h).
        MapTwoAddressSpaces(t, page => 0x103u);
        LoadSwitchAndCallLoop(t, 0x5000, Iterations, a =>
        {
            a.xor(ebx, PdA ^ PdB);
            a.mov(cr3, ebx);
        }, setUp: a => a.mov(ebx, PdB));
        t.Cpu.WriteCr4(Cr4Bits.PGE);
        t.Cpu.WriteCr3(PdA);
        t.Cpu.WriteCr0(t.Cpu.Cr0 | Cr0Bits.PG);
        AssertEachCallFollowedTheSwitch(t, Iterations);
    }

    [Theory, OnEveryEngine]
    public void UserCodeCallingSupervisorCodeTheKernelRanFaults(string engine)
    {
        UserCodeCallingSupervisorCode(engine, indirect: false);
        UserCodeCallingSupervisorCode(engine, indirect: true);
    }

    private static void UserCodeCallingSupervisorCode(string engine, bool indirect)
    {
        // Page 5000h is supervisor-only; the kernel (CPL 0) calls a function there, so its block
        // is cached and found by EIP. Then user code (CPL 3) calls it from the same place: the
        // fetch must still be checked at CPL 3 and raise #PF with error code 5 (present, user,
        // read), as it would with nothing cached (Intel SDM Vol. 3, 4.6). Found by the
        // instruction fuzzer: the EIP-keyed lookup answered the user's fetch with the kernel's
        // block. A link from the caller's region into page 5000h must not answer it either.
        const uint Pd = 0x10_0000, Pt = 0x10_1000;
        using var t = TestCpu.Flat32(engine);
        t.Write32(Pd, Pt | 7);
        for (uint i = 0; i < 1024; i++) t.Write32(Pt + i * 4, (i << 12) | (i == 5 ? 3u : 7u));
        t.Load(0x5000, a => { a.mov(eax, 0xAAAA); a.ret(); });
        // In a user page: the kernel runs it twice (so the CALL's exit is linked, or its target
        // remembered), then user code.
        t.Load(0x2000, a =>
        {
            a.mov(esp, 0x9000);
            a.mov(eax, 0);
            if (indirect)
            {
                a.mov(edx, 0x5000);
                a.call(edx);
            }
            else
            {
                a.call(0x5000);
            }
            a.hlt();
        });
        t.Cpu.WriteCr3(Pd);
        t.Cpu.WriteCr0(t.Cpu.Cr0 | Cr0Bits.PG);
        for (int pass = 0; pass < 2; pass++)
        {
            Assert.Equal(StopReason.Halted, t.Run(0x2000));
            Assert.Equal(0xAAAAu, t.Cpu.Eax);
        }

        Emu.X86.Cpu c = t.Cpu;
        const uint common = SegmentCache.RightsP | SegmentCache.RightsS | SegmentCache.RightsDB | SegmentCache.RightsG | (3u << 5);
        for (int s = 0; s < 6; s++) c.Seg[s].Load(0x23, 0, 0xFFFF_FFFF, common | 3);
        c.Seg[SegReg.CS].Load(0x1B, 0, 0xFFFF_FFFF, common | 0xB);
        c.UpdateModes();
        // First a user write to the stack's page, so the CALL's push hits the TLB (a miss would
        // end the caller's region there, before its exit to 5000h); its HLT stops it with #GP.
        t.Load(0x3000, a => { a.mov(esp, 0x9000); a.push(eax); a.hlt(); });
        Assert.Equal(StopReason.UnhandledException, t.Run(0x3000));
        Assert.Equal(ExceptionVectors.GP, c.LastFault!.Value.Vector);
        Assert.Equal(StopReason.UnhandledException, t.Run(0x2000));
        Assert.Equal(ExceptionVectors.PF, c.LastFault!.Value.Vector);
        Assert.Equal(5u, c.LastFault.Value.ErrorCode);
        Assert.Equal(0x5000u, c.Cr2);
        Assert.Equal(0u, c.Eax); // the kernel's MOV EAX did not run at CPL 3
    }

    // ---- A20 and the block lookup ----

    [Theory, OnEveryEngine]
    public void ChangingA20ChangesWhichCodeRuns(string engine)
    {
        // In real mode, FFFF:0010 is linear 100000h: physical 100000h with A20 on, 000000h with it off.
        using var rig = new RealModeRig(engine);
        rig.T.Physical.WriteBytes(0x10_0000, Asm.Assemble(16, 0x10, a => { a.mov(ax, 0x1111); a.hlt(); }));
        rig.T.Physical.WriteBytes(0x00_0000, Asm.Assemble(16, 0x10, a => { a.mov(ax, 0x2222); a.hlt(); }));
        rig.LoadSeg(SegReg.CS, 0xFFFF);
        rig.AssertHalted(rig.Run(0x10));
        Assert.Equal(0x1111u, rig.Cpu.Eax & 0xFFFF);

        rig.T.Mmu.A20Enabled = false;
        rig.AssertHalted(rig.Run(0x10));
        Assert.Equal(0x2222u, rig.Cpu.Eax & 0xFFFF);

        rig.T.Mmu.A20Enabled = true;
        rig.AssertHalted(rig.Run(0x10));
        Assert.Equal(0x1111u, rig.Cpu.Eax & 0xFFFF);
    }

    [Theory, OnEveryEngine]
    public void CodeInRomIsDecodedAndRunsButStoresToItAreDropped(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        byte[] code = Asm.Assemble(32, 0xFFFF_0000, a =>
        {
            a.mov(__byte_ptr[0xFFFF_0000 + 11], 0x22); // try to patch the immediate below (10 bytes + 1)
            a.mov(eax, 0x11);
            a.hlt();
        });
        t.Physical.MapRom(0xFFFF_0000, code);
        Assert.Equal(StopReason.Halted, t.Run(0xFFFF_0000));
        Assert.Equal(0x11u, t.Cpu.Eax);
        Assert.Equal(StopReason.Halted, t.Run(0xFFFF_0000));
        Assert.Equal(0x11u, t.Cpu.Eax);
    }

    [Theory, OnEveryEngine]
    public void CodeInUnmappedSpaceDecodesAsAllOnesAndFaults(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        // FF FF is FF /7 with a register operand: invalid.
        Faults.AssertFault(t.Cpu, t.Run(0x8000_0000), ExceptionVectors.UD, 0x8000_0000);
    }
}
