using Emu.Cpu.Tests.Support;
using Emu.TestSupport;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.Decoding;

/// <summary>
/// Self-modifying code (issue 3, point 5), on every engine: a store into decoded or compiled
/// code takes the slow path through the code-page write protection, drops the blocks it
/// overwrites, and completes; when it overwrites the block being run, the block is left
/// right after the store, so the rewritten instruction runs in its new form. With the
/// translator every block here runs compiled from its first entry.
/// </summary>
public class SelfModifyingCodeTests
{
    private const uint At = 0x1000;

    // ---- the instruction it runs next ----

    [Theory, OnEveryEngine]
    public void AGuestPatchesTheImmediateOfTheInstructionItRunsNext(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        uint next = At + (uint)Asm.Length(32, a => a.mov(__byte_ptr[0x1234_5678], 0)); // C6 05 disp32 imm8
        t.RunToHalt(At, a =>
        {
            a.mov(__byte_ptr[next + 1], 42);
            a.mov(eax, 1); // at next: B8 01 00 00 00
        });
        Assert.Equal(42u, t.Cpu.Eax);
        Assert.Equal(1, t.Cpu.Blocks.Invalidated);
    }

    [Theory, OnEveryEngine]
    public void AGuestRewritesTheNextInstructionIntoOneOfAnotherLengthInTwoStores(string engine)
    {
        // The first store leaves B8 2A 00 00 90 (mov eax,9000002Ah) where five NOPs were; the
        // second completes mov eax,2Ah. Each store must drop the block decoded after the one before.
        using var t = TestCpu.Flat32(engine);
        uint p = At + (uint)Asm.Length(32, a =>
        {
            a.mov(__dword_ptr[0x1234_5678], 0);
            a.mov(__byte_ptr[0x1234_5678], 0);
        });
        t.RunToHalt(At, a =>
        {
            a.mov(__dword_ptr[p], 0x0000_2AB8);
            a.mov(__byte_ptr[p + 4], 0);
            for (int i = 0; i < 5; i++) a.nop();
        });
        Assert.Equal(42u, t.Cpu.Eax);
        Assert.Equal(2, t.Cpu.Blocks.Invalidated);
        Assert.Equal(4, t.Cpu.InstructionCount); // two stores, the new MOV, HLT
    }

    [Theory, OnEveryEngine]
    public void APushOntoTheNextInstructionRewritesIt(string engine)
    {
        // The stack runs through the code: the PUSH stores over the next instruction's immediate.
        using var t = TestCpu.Flat32(engine);
        uint next = At + (uint)Asm.Length(32, a => { a.mov(esp, 0x1234_5678); a.push(42); });
        t.RunToHalt(At, a =>
        {
            a.mov(esp, next + 5);
            a.push(42);    // writes next+1..next+4
            a.mov(eax, 1); // at next
        });
        Assert.Equal(42u, t.Cpu.Eax);
        Assert.Equal(next + 1, t.Cpu.Esp);
    }

    [Theory, OnEveryEngine]
    public void AReadModifyWriteOfTheNextInstructionRewritesIt(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        uint next = At + (uint)Asm.Length(32, a => a.add(__byte_ptr[0x1234_5678], 1));
        t.RunToHalt(At, a =>
        {
            a.add(__byte_ptr[next + 1], 1);
            a.mov(eax, 1); // at next: becomes mov eax,2
        });
        Assert.Equal(2u, t.Cpu.Eax);
    }

    // ---- loops that rewrite themselves ----

    [Theory, OnEveryEngine]
    public void ALoopRewritesAnEarlierInstructionOfItsBodyOnEveryIteration(string engine)
    {
        // Each pass stores CL into the immediate of the ADD at the top: the next pass adds it.
        using var t = TestCpu.Flat32(engine);
        uint top = At + (uint)Asm.Length(32, a => { a.xor(eax, eax); a.mov(ecx, 100); });
        t.RunToHalt(At, a =>
        {
            var loop = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, 100);
            a.Label(ref loop);
            a.db(0x83, 0xC0, 0x00);        // at top: add eax,imm8
            a.mov(__byte_ptr[top + 2], cl);
            a.loop(loop);
        });
        Assert.Equal(5049u, t.Cpu.Eax); // 0 on the first pass, then 100 + 99 + ... + 2
        Assert.Equal(100, t.Cpu.Blocks.Invalidated);
    }

    [Theory, OnEveryEngine]
    public void ALoopRewritesALaterInstructionOfItsBodyOnEveryIteration(string engine)
    {
        // Each pass stores CL into the immediate of the ADD that follows the store in the same block.
        using var t = TestCpu.Flat32(engine);
        uint top = At + (uint)Asm.Length(32, a => { a.xor(eax, eax); a.mov(ecx, 100); });
        uint add = top + (uint)Asm.Length(32, a => a.mov(__byte_ptr[0x1234_5678], cl));
        t.RunToHalt(At, a =>
        {
            var loop = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, 100);
            a.Label(ref loop);
            a.mov(__byte_ptr[add + 2], cl);
            a.db(0x83, 0xC0, 0x00);        // at add: add eax,imm8
            a.loop(loop);
        });
        Assert.Equal(5050u, t.Cpu.Eax); // 100 + 99 + ... + 1
        Assert.Equal(0u, t.Cpu.Ecx);
    }

    // ---- string instructions over running code ----

    private static readonly byte[] NewCode = Asm.Assemble(32, 0, a => { a.mov(eax, 2); a.mov(ebx, 3); });

    [Theory, OnEveryEngine]
    public void RepMovsbCopiesNewCodeOverTheCodeAfterIt(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        const uint src = 0x3000;
        t.WriteBytes(src, NewCode);
        uint dst = At + (uint)Asm.Length(32, a => { a.mov(esi, 0); a.mov(edi, 0); a.mov(ecx, 0); a.rep.movsb(); });
        t.RunToHalt(At, a =>
        {
            a.mov(esi, src);
            a.mov(edi, dst);
            a.mov(ecx, NewCode.Length);
            a.rep.movsb();
            a.mov(eax, 1);  // at dst: replaced by mov eax,2 ...
            a.mov(ebx, 1);  // ... and mov ebx,3
        });
        Assert.Equal(2u, t.Cpu.Eax);
        Assert.Equal(3u, t.Cpu.Ebx);
        Assert.Equal(0u, t.Cpu.Ecx);
        Assert.Equal(src + (uint)NewCode.Length, t.Cpu.Esi);
    }

    [Theory, OnEveryEngine]
    public void RepMovsbCopyingOverItselfFinishesAndRunsTheNewCodeAfterIt(string engine)
    {
        // The destination starts at the REP MOVSB itself: its own two bytes are rewritten with
        // the same bytes, the code after it with new code. The instruction was fetched before
        // it stored, so it runs to the end (ECX = 0); execution goes on with the new code.
        using var t = TestCpu.Flat32(engine);
        const uint src = 0x3000;
        byte[] image = new byte[2 + NewCode.Length];
        image[0] = 0xF3; // rep
        image[1] = 0xA4; // movsb
        NewCode.CopyTo(image, 2);
        t.WriteBytes(src, image);
        uint movsb = At + (uint)Asm.Length(32, a => { a.mov(esi, 0); a.mov(edi, 0); a.mov(ecx, 0); });
        t.RunToHalt(At, a =>
        {
            a.mov(esi, src);
            a.mov(edi, movsb);
            a.mov(ecx, image.Length);
            a.rep.movsb();  // at movsb
            a.mov(eax, 1);
            a.mov(ebx, 1);
        });
        Assert.Equal(2u, t.Cpu.Eax);
        Assert.Equal(3u, t.Cpu.Ebx);
        Assert.Equal(0u, t.Cpu.Ecx);
    }

    [Theory, OnEveryEngine]
    public void RepMovsbReplacesAFunctionThatAlreadyRan(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        const uint f = 0x3000, replacement = 0x3800;
        t.Load(f, a => { a.mov(eax, 5); a.ret(); });
        byte[] body = Asm.Assemble(32, f, a => { a.mov(eax, 9); a.ret(); });
        t.WriteBytes(replacement, body);
        t.RunToHalt(At, a =>
        {
            a.call(f);
            a.mov(ebx, eax);
            a.mov(esi, replacement);
            a.mov(edi, f);
            a.mov(ecx, body.Length);
            a.rep.movsb();
            a.call(f);
        });
        Assert.Equal(5u, t.Cpu.Ebx);
        Assert.Equal(9u, t.Cpu.Eax);
    }

    // ---- earlier cases ----

    [Theory, OnEveryEngine]
    public void AStoreIntoALaterInstructionOfTheRunningBlockTakesEffect(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.Load(At, a =>
        {
            var target = a.CreateLabel();
            a.mov(__dword_ptr[At + 10 + 1], 42); // C7 05 disp32 imm32: 10 bytes; rewrites the immediate below
            a.Label(ref target);
            a.mov(eax, 1);
            a.hlt();
        });
        t.Cpu.Eip = At;
        Assert.Equal(3, t.Cpu.Blocks.Get().Count); // the store and its target are one block
        Assert.Equal(StopReason.Halted, t.Run(At));
        Assert.Equal(42u, t.Cpu.Eax);
        Assert.True(t.Cpu.Blocks.Invalidated >= 1);
    }

    [Theory, OnEveryEngine]
    public void ARepStosOverwritingTheRestOfItsBlockTakesEffect(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        uint after = At + (uint)Asm.Length(32, a =>
        {
            a.mov(edi, 0);
            a.mov(al, 0x90);
            a.mov(ecx, 5);
            a.rep.stosb();
        });
        t.Load(At, a =>
        {
            a.mov(edi, after);
            a.mov(al, 0x90);
            a.mov(ecx, 5);
            a.rep.stosb();
            a.mov(eax, 0x1111_1111); // 5 bytes that become NOPs
            a.hlt();
        });
        t.Cpu.Eip = At;
        Assert.True(t.Cpu.Blocks.Get().Count >= 5);
        Assert.Equal(StopReason.Halted, t.Run(At));
        Assert.Equal(0x90u, t.Cpu.Eax);
    }

    [Theory, OnEveryEngine]
    public void ABlockThatRewritesItsOwnEarlierInstructionRunsTheNewCodeNextTime(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.RunToHalt(At, a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 2);
            a.Label(ref top);
            a.mov(eax, 1);                        // at At+5; immediate at At+6
            a.mov(__byte_ptr[At + 6], 7);
            a.dec(ecx);
            a.jnz(top);
        });
        Assert.Equal(7u, t.Cpu.Eax);
    }

    [Theory, OnEveryEngine]
    public void ARewrittenLoopBodyRunsItsNewCode(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        const uint body = 0x1800;
        t.WriteBytes(body, 0x83, 0xC0, 0x01, 0xC3); // add eax,1 (immediate at body+2); ret
        t.RunToHalt(At, a =>
        {
            var top = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, 3);
            a.Label(ref top);
            a.call(body);
            a.mov(__byte_ptr[body + 2], cl);      // the next pass adds the current count
            a.loop(top);
        });
        Assert.Equal(1u + 3 + 2, t.Cpu.Eax);
    }

    [Theory, OnEveryEngine]
    public void CodeFirstWrittenAsDataIsInvalidatedByLaterStores(string engine)
    {
        // The first stores fill the write TLB for the page; decoding it then marks it as code,
        // and later stores must not go through the stale write translation.
        using var t = TestCpu.Flat32(engine);
        const uint f = 0x3000;
        t.RunToHalt(At, a =>
        {
            a.mov(__dword_ptr[f], 0x0000_05B8);       // B8 05 00 00 = mov eax,5 ...
            a.mov(__dword_ptr[f + 4], 0x9090_C300);   // ... 00, then ret
            a.call(f);
            a.mov(ebx, eax);
            a.mov(__byte_ptr[f + 1], 9);              // now mov eax,9
            a.call(f);
        });
        Assert.Equal(5u, t.Cpu.Ebx);
        Assert.Equal(9u, t.Cpu.Eax);
    }

    [Theory, OnEveryEngine]
    public void StoresNextToCodeDoNotInvalidateIt(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.RunToHalt(At, a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 100);
            a.Label(ref top);
            a.mov(__dword_ptr[At + 0x800], ecx);      // same page, no code there
            a.loop(top);
        });
        Assert.Equal(0, t.Cpu.Blocks.Invalidated);
        // Compiled, the store into the code page always misses the TLB (code pages never enter
        // its write side): the interpreter runs it and the region leaves after it, so the rest
        // of the loop's block is decoded once more, as a block of its own.
        Assert.Equal(engine == Engines.Translator ? 4 : 3, t.Cpu.Blocks.Decoded);
        Assert.Equal(1u, t.Read32(At + 0x800));
    }

    [Theory, OnEveryEngine]
    public void AStoreThroughAnA20AliasInvalidatesTheCode(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        const uint f = 0x3000;
        t.Load(f, a => { a.mov(eax, 5); a.ret(); });
        t.Mmu.A20Enabled = false;
        t.RunToHalt(At, a =>
        {
            a.call(f);
            a.mov(ebx, eax);
            a.mov(__byte_ptr[0x10_0000 + f + 1], 9); // linear 103001h is physical 3001h with A20 off
            a.call(f);
        });
        Assert.Equal(5u, t.Cpu.Ebx);
        Assert.Equal(9u, t.Cpu.Eax);
    }

    [Theory, OnEveryEngine]
    public void DmaIntoCodeInvalidatesIt(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        const uint f = 0x3000;
        t.Load(f, a => { a.mov(eax, 5); a.ret(); });
        t.RunToHalt(At, a => a.call(f));
        Assert.Equal(5u, t.Cpu.Eax);
        t.Physical.WriteBytes(f + 1, new byte[] { 9 }); // a device writing guest memory
        t.RunToHalt(At, a => a.call(f));
        Assert.Equal(9u, t.Cpu.Eax);
    }

    // ---- linear aliases ----

    /// <summary>
    /// Code written through one linear alias and run through another (issue 3, point 5): the
    /// guest maps linear 400000h and 800000h to the same physical page, writes "mov eax,2; ret"
    /// through the first, calls it through the second, patches it through the first and calls
    /// it again. Blocks are keyed and write-protected by physical page, so the patch reaches
    /// the second call.
    /// </summary>
    [Theory, OnEveryEngine]
    public void CodeWrittenThroughOneLinearAliasRunsThroughAnother(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        const uint pageDirectory = 0x10_0000, pageTable = 0x10_1000, shared = 0x20_0000;
        const uint aliasA = 0x40_0000, aliasB = 0x80_0000;
        t.Write32(pageDirectory + 0 * 4, pageTable | 3);         // 0-4 MiB: identity (this code, the stack)
        t.Write32(pageDirectory + 1 * 4, (pageTable + 0x1000) | 3); // 4 MiB: alias A
        t.Write32(pageDirectory + 2 * 4, (pageTable + 0x2000) | 3); // 8 MiB: alias B
        for (uint i = 0; i < 1024; i++) t.Write32(pageTable + i * 4, (i << 12) | 3);
        t.Write32(pageTable + 0x1000, shared | 3);
        t.Write32(pageTable + 0x2000, shared | 3);
        t.Load(At, a =>
        {
            a.mov(eax, pageDirectory);
            a.mov(cr3, eax);
            a.mov(eax, cr0);
            a.or(eax, unchecked((int)Cr0Bits.PG));
            a.mov(cr0, eax);
            a.mov(__dword_ptr[aliasA], 0x0000_02B8);         // B8 02 00 00 ...
            a.mov(__dword_ptr[aliasA + 4], 0x9090_C300);     // ... 00 (mov eax,2), ret
            a.call(aliasB);
            a.mov(ebx, eax);
            a.mov(__byte_ptr[aliasA + 1], 7);                // now mov eax,7
            a.call(aliasB);
            a.hlt();
        });
        Assert.Equal(StopReason.Halted, t.Run(At));
        Assert.Equal(2u, t.Cpu.Ebx);
        Assert.Equal(7u, t.Cpu.Eax);
    }
}
