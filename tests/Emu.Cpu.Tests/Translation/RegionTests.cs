using System;
using Emu.Cpu.Tests.Support;
using Emu.Translator;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.Translation;

/// <summary>
/// Regions (issue 10): several blocks compiled into one method, exits linked to other
/// regions, and self-modifying code against both. The translator here forms regions after
/// a few entries (threshold 3, compiling on the emulation thread), so loops have run their
/// blocks before they are compiled together; every result is checked against the
/// interpreter and against the value worked out by hand.
/// </summary>
public class RegionTests
{
    private const int Threshold = 3;

    private static (uint Eax, uint Ebx, long Retired, TranslatorEngine? Engine) Run(bool translate, Action<TestCpu> load, uint start)
    {
        TranslatorEngine? engine = translate ? new TranslatorEngine(Threshold, synchronous: true) : null;
        using var t = TestCpu.Flat32(engine);
        load(t);
        StopReason r = t.Run(start);
        Assert.Equal(StopReason.Halted, r);
        engine?.Dispose();
        if (engine is not null) Assert.Equal(0, engine.Failures);
        return (t.Cpu.Eax, t.Cpu.Ebx, t.Cpu.InstructionCount, engine);
    }

    [Fact]
    public void CompileAndQueueTimesConvertLongSumsWithoutOverflow()
    {
        // An hour of stopwatch ticks (a queue wait summed over a Linux run's regions passes 920 s,
        // where ticks * 10^7 overflowed 64 bits with a 1 GHz stopwatch and --stats went negative).
        TimeSpan hour = TranslatorEngine.FromStopwatchTicks(System.Diagnostics.Stopwatch.Frequency * 3600);
        Assert.InRange(hour.TotalSeconds, 3599.999, 3600.001);
    }

    /// <summary>
    /// A function at 3000h, and at 1000h a loop of <paramref name="iterations"/> (ECX counts
    /// down; EAX and EBX start at 0) that calls it from <paramref name="callSites"/> places,
    /// each call followed by <paramref name="afterCall"/>; then <paramref name="end"/> and HLT.
    /// </summary>
    private static void LoadCallLoop(TestCpu t, Action<Assembler> function, int callSites, uint iterations,
        Action<Assembler> afterCall, Action<Assembler> end)
    {
        t.Load(0x3000, function);
        t.Load(0x1000, a =>
        {
            var loop = a.CreateLabel();
            a.mov(esp, 0x9000);
            a.xor(eax, eax);
            a.xor(ebx, ebx);
            a.mov(ecx, iterations);
            a.Label(ref loop);
            for (int i = 0; i < callSites; i++)
            {
                a.call(0x3000);
                afterCall(a);
            }
            a.dec(ecx);
            a.jnz(loop);
            end(a);
            a.hlt();
        });
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ACallIntoAnotherPageIsLinkedAndItsReturnGoesStraightBack(int callSites)
    {
        // A loop in page 1000h calls a function in page 3000h from one or two places: once both
        // are compiled, each CALL's exit is linked to the function's region, and its RET (a
        // target known only at run time) goes back through a target its exit remembers. With
        // two callers the RET goes to the two return addresses in turn, so an exit remembering
        // only its last target would miss every time.
        const uint Iterations = 1000;
        void Load(TestCpu t)
        {
            LoadCallLoop(t, a => { a.add(eax, ecx); a.ret(); }, callSites, Iterations, a => a.add(ebx, eax), a => { });
        }
        var interpreted = Run(false, Load, 0x1000);
        var compiled = Run(true, Load, 0x1000);
        long calls = callSites * Iterations;
        Assert.Equal((uint)(callSites * Iterations * (Iterations + 1) / 2), interpreted.Eax);
        Assert.Equal(interpreted.Eax, compiled.Eax);
        Assert.Equal(interpreted.Ebx, compiled.Ebx);
        Assert.Equal(interpreted.Retired, compiled.Retired);
        Assert.True(compiled.Engine!.LinkedEntries >= calls - 20,
            $"{compiled.Engine.LinkedEntries} linked entries, {compiled.Engine.DispatchedEntries} through the dispatcher, in {calls} calls");
        Assert.True(compiled.Engine.DynamicHits >= calls - 20,
            $"{compiled.Engine.DynamicHits} entries after a RET by a remembered target, {compiled.Engine.DispatchedEntries} through the dispatcher, in {calls} calls");
    }

    [Fact]
    public void AThunkCalledFromManyPlacesReturnsStraightToEachCaller()
    {
        // i386 position-independent code calls __x86.get_pc_thunk.bx (mov ebx, [esp]; ret) in
        // every function's prologue. Here a loop in page 1000h calls such a thunk in page 3000h
        // from 8 places: more return addresses than a RET's exit remembers (Region.DynamicWays),
        // so each RET would go through the dispatcher, were the return point of the call just
        // followed not remembered.
        const uint Iterations = 500;
        const int CallSites = 8;
        void Load(TestCpu t)
        {
            LoadCallLoop(t, a => { a.mov(ebx, __dword_ptr[esp]); a.ret(); }, CallSites, Iterations, a => a.add(eax, ebx), a => a.mov(ebx, eax));
        }
        var interpreted = Run(false, Load, 0x1000);
        var compiled = Run(true, Load, 0x1000);
        long calls = CallSites * Iterations;
        Assert.Equal(interpreted.Eax, compiled.Eax);
        Assert.Equal(interpreted.Ebx, compiled.Ebx);
        Assert.Equal(interpreted.Retired, compiled.Retired);
        // The RET's exit remembers 4 of the 8 return points (those it saw first); the other
        // returns go back through the call's.
        TranslatorEngine e = compiled.Engine!;
        Assert.True(e.ReturnHits + e.DynamicHits >= calls - 100 && e.ReturnHits >= calls / 4,
            $"{e.ReturnHits} returns to the last call's return point, {e.DynamicHits} to a remembered target, {e.DispatchedEntries} entries through the dispatcher, in {calls} calls");
        Assert.True(e.DispatchedEntries < 100, $"{e.DispatchedEntries} entries through the dispatcher in {calls} calls");
    }

    [Fact]
    public void ARegionGoesOnAfterStiPopfAndDataSegmentLoadsUntilTheSegmentsAreNoLongerFlat()
    {
        // Linux's entry code reloads DS, ES and FS on every system call and interrupt, and
        // spin_unlock_irqrestore is a POPF: each such instruction ends its block, and went to
        // the dispatcher. A loop of them here runs in its region instead; after the loop, DS
        // gets a segment based at 4000h, and the region must leave for the read through it.
        const uint Iterations = 1000, Gdt = 0x2_0000, Gdtr = 0x2_0100;
        void Load(TestCpu t)
        {
            t.Write32(Gdt + 0x08, 0x0000_FFFF);
            t.Write32(Gdt + 0x0C, 0x00CF_9A00); // 08h: flat code
            t.Write32(Gdt + 0x10, 0x0000_FFFF);
            t.Write32(Gdt + 0x14, 0x00CF_9200); // 10h: flat data
            t.Write32(Gdt + 0x18, 0x4000_FFFF);
            t.Write32(Gdt + 0x1C, 0x00CF_9200); // 18h: data based at 4000h
            t.Write32(Gdtr, 0x1F | Gdt << 16);
            t.Write32(Gdtr + 4, Gdt >> 16);
            t.Write32(0x5000, 7);
            t.Load(0x1000, a =>
            {
                var loop = a.CreateLabel();
                a.lgdt(__[Gdtr]);
                a.mov(esp, 0x9000);
                a.xor(eax, eax);
                a.xor(ebx, ebx);
                a.mov(ecx, Iterations);
                a.mov(edx, 0x10);
                a.Label(ref loop);
                a.pushfd();
                a.cli();
                a.add(eax, ecx);
                a.popfd();
                a.mov(ds, dx);
                a.push(ds);
                a.pop(es);
                a.mov(fs, dx);
                a.add(ebx, __dword_ptr[0x5000]);
                a.cli();
                a.sti();
                a.dec(ecx);
                a.jnz(loop);
                a.mov(edx, 0x18);
                a.mov(ds, dx);
                a.add(ebx, __dword_ptr[0x1000]); // linear 5000h
                a.hlt();
            });
        }
        var interpreted = Run(false, Load, 0x1000);
        var compiled = Run(true, Load, 0x1000);
        Assert.Equal(Iterations * (Iterations + 1) / 2, interpreted.Eax);
        Assert.Equal(7 * (Iterations + 1), interpreted.Ebx);
        Assert.Equal(interpreted.Eax, compiled.Eax);
        Assert.Equal(interpreted.Ebx, compiled.Ebx);
        Assert.Equal(interpreted.Retired, compiled.Retired);
        Assert.True(compiled.Engine!.DispatchedEntries < 100, $"{compiled.Engine.DispatchedEntries} entries through the dispatcher in {Iterations} iterations");
    }

    [Fact]
    public void ARunEndingRightAfterStiInCompiledCodeKeepsItsInterruptShadow()
    {
        // A fuzzer finding: compiled code going on after STI cleared its interrupt shadow before
        // looking at the budget, so a run ending right there (a single step, a stop) showed no
        // shadow where the interpreter showed one. Every budget from 1 to 60 instructions,
        // from the same start, on both engines, once the loop is compiled: wherever both stop
        // at the same count, their states agree.
        static void Load(TestCpu t) => t.Load(0x1000, a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 20);
            a.Label(ref top);
            a.cli();
            a.sti();
            a.inc(eax);
            a.dec(ecx);
            a.jnz(top);
            a.hlt();
        });
        using var engine = new TranslatorEngine(Threshold, synchronous: true);
        using var compiled = TestCpu.Flat32(engine);
        using var interpreted = TestCpu.Flat32();
        Load(compiled);
        Load(interpreted);
        Assert.Equal(StopReason.Halted, compiled.Run(0x1000)); // compiles the loop
        Assert.Equal(StopReason.Halted, interpreted.Run(0x1000));
        int compared = 0, inShadow = 0;
        for (int n = 1; n <= 60; n++)
        {
            long[] retired = new long[2];
            int k = 0;
            foreach (TestCpu t in new[] { interpreted, compiled })
            {
                t.Cpu.Eax = 0;
                t.Cpu.Eflags &= ~Flags.IF;
                t.Cpu.InterruptShadow = false;
                long before = t.Cpu.InstructionCount;
                t.Run(0x1000, n);
                retired[k++] = t.Cpu.InstructionCount - before;
            }
            if (retired[0] != retired[1]) continue;
            compared++;
            if (interpreted.Cpu.InterruptShadow) inShadow++;
            Assert.Null(interpreted.Cpu.FirstDifference(compiled.Cpu));
        }
        Assert.True(engine.CompiledRegions > 0);
        Assert.True(inShadow > 0, $"no run of the {compared} compared ended right after an STI");
    }

    [Fact]
    public void ALoopOfSeveralBlocksRunsAsOneRegion()
    {
        // A loop with an if/else inside: four blocks, which one region holds.
        static void Load(TestCpu t) => t.Load(0x1000, a =>
        {
            var loop = a.CreateLabel();
            var even = a.CreateLabel();
            var next = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, 1000);
            a.Label(ref loop);
            a.test(ecx, 1);
            a.jz(even);
            a.add(eax, ecx);
            a.jmp(next);
            a.Label(ref even);
            a.sub(eax, 3);
            a.Label(ref next);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        var interpreted = Run(false, Load, 0x1000);
        var compiled = Run(true, Load, 0x1000);
        Assert.Equal(250000u - 1500u, interpreted.Eax); // odd 1..999 sum to 250000; 500 evens subtract 3 each
        Assert.Equal(interpreted.Eax, compiled.Eax);
        Assert.Equal(interpreted.Retired, compiled.Retired);
        Assert.True(compiled.Engine!.CompiledBlocks > compiled.Engine.CompiledRegions,
            $"{compiled.Engine.CompiledBlocks} blocks in {compiled.Engine.CompiledRegions} regions: no region holds more than one block");
    }

    [Fact]
    public void ARegionLeavesOutBlocksAnotherRegionHolds()
    {
        // Two loops in one page call the same function there. The first loop's region takes
        // the function's block (a CALL target in its page); the second loop's region, formed
        // later, leaves it out and links to it instead: every block is compiled once. Regions
        // taking every block they reached compiled the Linux workload's code almost twice over.
        static void Load(TestCpu t) => t.Load(0x1000, a =>
        {
            var loop1 = a.CreateLabel();
            var loop2 = a.CreateLabel();
            var function = a.CreateLabel();
            a.mov(esp, 0x9000);
            a.xor(eax, eax);
            a.xor(ebx, ebx);
            a.mov(ecx, 100);
            a.Label(ref loop1);
            a.call(function);
            a.dec(ecx);
            a.jnz(loop1);
            a.mov(ecx, 100);
            a.Label(ref loop2);
            a.call(function);
            a.add(ebx, eax);
            a.dec(ecx);
            a.jnz(loop2);
            a.hlt();
            a.Label(ref function);
            a.add(eax, ecx);
            a.ret();
        });
        var (engine, formed, t) = RunFormingRegionsAsInTheInterpreter(Load);
        using var _ = t;

        var seen = new System.Collections.Generic.HashSet<Block>();
        foreach (Region r in formed)
            foreach (Block b in r.Blocks)
                Assert.True(seen.Add(b), $"the block at {b.Eip:X} is in two regions: {string.Join(", ", formed)}");
        Assert.Contains(formed, r => Array.Exists(r.Blocks, b => b.Code[0].Mnemonic == Mnemonic.Add && b.Code[0].Op0Register == Register.EBX));
        Assert.True(engine.LinkedEntries >= 90, $"{engine.LinkedEntries} linked entries, {engine.DispatchedEntries} through the dispatcher");
    }

    [Fact]
    public void RegionsOfOnePageThatKeepCrossingIntoEachOtherAreMerged()
    {
        // A switch through a jump table whose cases 2 and 3 are first taken after the dispatch
        // has been compiled: they form regions of their own in the same page, and every pass
        // through them crosses between regions twice, once through the indirect JMP's dynamic
        // exit. Once the dispatch's region has crossed so MergeAfter times, a merged region
        // takes every block of the page, and the rest of the passes run inside it.
        const uint Table = 0x3000, Loop = 0x1000, Cases = 0x1200, Setup = 0x1800;
        const int Passes = 100_000, OnlyTwoCasesAbove = 90_000;
        static void Load(TestCpu t)
        {
            t.Load(Loop, a =>
            {
                var dispatch = a.CreateLabel();
                a.mov(edx, ecx);
                a.and(edx, 1);
                a.cmp(ecx, OnlyTwoCasesAbove);
                a.ja(dispatch);
                a.mov(edx, ecx);
                a.and(edx, 3);
                a.Label(ref dispatch);
                a.jmp(__dword_ptr[edx * 4 + Table]);
            });
            for (uint k = 0; k < 4; k++)
            {
                t.Load(Cases + k * 0x40, a =>
                {
                    a.add(eax, (int)k + 1);
                    a.dec(ecx);
                    a.jnz(Loop);
                    a.hlt();
                });
                t.Write32(Table + k * 4, Cases + k * 0x40);
            }
            t.Load(Setup, a =>
            {
                a.xor(eax, eax);
                a.mov(ecx, Passes);
                a.jmp(Loop);
            });
        }
        var (engine, formed, t) = RunFormingRegionsAsInTheInterpreter(Load, Setup);
        using var _ = t;
        Assert.True(engine.MergedRegions >= 1, $"no merged region: {string.Join(", ", formed)}");
        Region merged = formed.FindLast(r => r.Merged)!;
        foreach (uint eip in new[] { Loop, Cases, Cases + 0x40, Cases + 0x80, Cases + 0xC0 })
            Assert.True(merged.IndexOf(eip) >= 0, $"{merged} does not hold the block at {eip:X}");
        // Unmerged, every pass crossed between regions twice (200,000 crossings); merged, the
        // passes before each of the two merges do (about 2 x 2 x MergeAfter).
        long crossings = engine.LinkedEntries + engine.DynamicHits + engine.DispatchedEntries + engine.ReturnHits;
        Assert.True(crossings < 40_000, $"{string.Join("; ", formed)}: {crossings} region entries ({engine.LinkedEntries} linked, {engine.DynamicHits} remembered, {engine.DispatchedEntries} dispatched)");
    }

    [Fact]
    public void RegionsOfOnePageThatLinkToEachOtherOftenEnoughAreMerged()
    {
        // A loop whose middle block first runs after the loop was compiled: it forms a region
        // of its own, and every pass follows a link into it and one back. After
        // MergeAfterLinks of them the two are merged, and the rest of the passes stay inside.
        const int Passes = 200_000, SkipAbove = 140_000;
        static void Load(TestCpu t) => t.Load(0x1000, a =>
        {
            var loop = a.CreateLabel();
            var skip = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, Passes);
            a.Label(ref loop);
            a.cmp(ecx, SkipAbove);
            a.ja(skip);
            a.add(eax, ecx);
            a.Label(ref skip);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        var (engine, formed, t) = RunFormingRegionsAsInTheInterpreter(Load);
        using var _ = t;
        Region? merged = formed.FindLast(r => r.Merged);
        Assert.True(merged is not null, $"no merged region: {string.Join(", ", formed)}");
        Assert.True(merged!.Blocks.Length >= 3, $"{merged}");
        // Unmerged, each of the 140,000 passes through the middle block followed two links.
        Assert.True(engine.LinkedEntries < 2 * TranslatorEngine.MergeAfterLinks + 20_000,
            $"{engine.LinkedEntries} links followed: {string.Join(", ", formed)}");
    }

    [Fact]
    public void ARetIsComparedOnlyWithTheReturnPointsOfCallsThatReachIt()
    {
        // Two functions called from one loop: each RET may go back only after its own CALL.
        // Once, g rewrites its return address to f's return point (f keeps it in ESI), which
        // its RET does not expect: it leaves the region there and comes back in at that block.
        static void Load(TestCpu t) => t.Load(0x1000, a =>
        {
            var loop = a.CreateLabel();
            var f = a.CreateLabel();
            var g = a.CreateLabel();
            var gReturns = a.CreateLabel();
            a.mov(esp, 0x9000);
            a.xor(eax, eax);
            a.xor(ebx, ebx);
            a.xor(edx, edx);
            a.mov(ecx, 100);
            a.Label(ref loop);
            a.call(f);
            a.add(ebx, eax);
            a.call(g);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
            a.Label(ref f);
            a.mov(esi, __dword_ptr[esp]);
            a.add(eax, 1);
            a.ret();
            a.Label(ref g);
            a.cmp(ecx, 50);
            a.jne(gReturns);
            a.test(edx, edx);
            a.jnz(gReturns);
            a.inc(edx);
            a.mov(__dword_ptr[esp], esi);
            a.Label(ref gReturns);
            a.ret();
        });
        RunsAsInTheInterpreter(Load);

        var (_, formed, t) = RunFormingRegions(Load);
        t.Dispose();
        Region region = Assert.Single(formed, r => Array.Exists(r.Blocks, b => b.Code[0].Mnemonic == Mnemonic.Dec));
        var targets = ReturnAnalysis.Targets(region);
        int afterF = Array.FindIndex(region.Blocks, b => b.Code[0].Mnemonic == Mnemonic.Add && b.Code[0].Op0Register == Register.EBX);
        int afterG = Array.FindIndex(region.Blocks, b => b.Code[0].Mnemonic == Mnemonic.Dec);
        int rets = 0;
        for (int i = 0; i < region.Blocks.Length; i++)
        {
            Block b = region.Blocks[i];
            if (b.Code[b.Count - 1].Mnemonic != Mnemonic.Ret)
            {
                Assert.Null(targets[i]);
                continue;
            }
            rets++;
            bool inF = Array.Exists(b.Code, ins => ins.Mnemonic == Mnemonic.Mov && ins.Op0Register == Register.ESI);
            Assert.Equal(new[] { inF ? afterF : afterG }, targets[i]!);
        }
        Assert.True(rets >= 2, $"{rets} RETs in {region}");
    }

    [Fact]
    public void AStoreIntoAnotherBlockOfTheRunningRegionTakesEffect()
    {
        // Even passes store ECX into the immediate of the ADD that odd passes run, in another
        // block of the same loop (and region). Each store drops the region while it runs.
        uint patch = 0;
        void Load(TestCpu t)
        {
            // Assemble once to find the ADD's immediate, then for real.
            byte[] probe = t.Load(0x1000, a => Body(a, 0x1234_5678));
            int at = FindAddImm32(probe);
            patch = 0x1000u + (uint)at;
            t.Load(0x1000, a => Body(a, patch));
        }
        static void Body(Assembler a, uint immAddress)
        {
            var loop = a.CreateLabel();
            var even = a.CreateLabel();
            var next = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, 100);
            a.Label(ref loop);
            a.test(ecx, 1);
            a.jz(even);
            a.db(0x05, 0, 0, 0, 0); // add eax, imm32 (the immediate is patched)
            a.jmp(next);
            a.Label(ref even);
            a.mov(__dword_ptr[immAddress], ecx);
            a.Label(ref next);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        }
        var interpreted = Run(false, Load, 0x1000);
        var compiled = Run(true, Load, 0x1000);
        Assert.Equal(2550u, interpreted.Eax); // 100 + 98 + ... + 2
        Assert.Equal(interpreted.Eax, compiled.Eax);
        Assert.Equal(interpreted.Retired, compiled.Retired);
        Assert.True(compiled.Engine!.CompiledBlocks > compiled.Engine.CompiledRegions);
    }

    [Fact]
    public void AStoreIntoTheRunningBlockOfARegionTakesEffectAtOnce()
    {
        // Each pass stores CL into the immediate of the ADD right after the store, in the same
        // block of a two-block loop: the ADD must run with the value just stored.
        uint patch = 0;
        void Load(TestCpu t)
        {
            byte[] probe = t.Load(0x1000, a => Body(a, 0x1234_5678));
            patch = 0x1000u + (uint)FindAddImm32(probe);
            t.Load(0x1000, a => Body(a, patch));
        }
        static void Body(Assembler a, uint immAddress)
        {
            var loop = a.CreateLabel();
            var skip = a.CreateLabel();
            a.xor(eax, eax);
            a.xor(ebx, ebx);
            a.mov(ecx, 60);
            a.Label(ref loop);
            a.mov(__dword_ptr[immAddress], ecx);
            a.db(0x05, 0, 0, 0, 0); // add eax, imm32: always the ECX just stored
            a.test(ecx, 3);
            a.jnz(skip);
            a.inc(ebx);
            a.Label(ref skip);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        }
        var interpreted = Run(false, Load, 0x1000);
        var compiled = Run(true, Load, 0x1000);
        Assert.Equal(1830u, interpreted.Eax); // 60 + 59 + ... + 1
        Assert.Equal(15u, interpreted.Ebx);
        Assert.Equal(interpreted.Eax, compiled.Eax);
        Assert.Equal(interpreted.Ebx, compiled.Ebx);
        Assert.Equal(interpreted.Retired, compiled.Retired);
    }

    [Fact]
    public void ALinkedRegionInvalidatedWhileLinkedRunsItsNewCode()
    {
        // F (page 1000h) is called from a loop in another page. Its region forms before the
        // path to X has run; X later gets a region of its own, and F's exit to X is linked to
        // it. Then the caller patches X's ADD: the link must not lead into the old code.
        uint x = 0;
        void Load(TestCpu t)
        {
            byte[] f = t.Load(0x1000, a =>
            {
                var early = a.CreateLabel();
                a.cmp(edi, 6);
                a.jg(early);
                a.db(0x83, 0xC3, 0x01); // X: add ebx, 1 (patched to 6)
                a.ret();
                a.Label(ref early);
                a.add(ebx, 100);
                a.ret();
            });
            x = 0x1000u + (uint)Array.IndexOf(f, (byte)0x83, 1);
            uint imm = x + 2;
            t.Load(0x3000, a =>
            {
                var outer = a.CreateLabel();
                var skip = a.CreateLabel();
                a.mov(esp, 0x8000);
                a.xor(ebx, ebx);
                a.mov(edi, 10);
                a.Label(ref outer);
                a.call(0x1000UL);
                a.cmp(edi, 2);
                a.jne(skip);
                a.add(__byte_ptr[imm], 5);
                a.Label(ref skip);
                a.dec(edi);
                a.jnz(outer);
                a.hlt();
            });
        }
        var interpreted = Run(false, Load, 0x3000);
        var compiled = Run(true, Load, 0x3000);
        Assert.Equal(411u, interpreted.Ebx); // 4 x 100, 5 x 1, then 6
        Assert.Equal(interpreted.Ebx, compiled.Ebx);
        Assert.Equal(interpreted.Retired, compiled.Retired);
        Assert.True(compiled.Engine!.LinkedEntries > 0, "no region was entered through a link");
    }

    [Fact]
    public void FlagsOfRotatesAndShiftsMeetTheirReadersAsInTheInterpreter()
    {
        // Rotates (whose CF and OF compiled code keeps aside) and shifts and multiplies (whose
        // flags are recorded lazily) followed by every kind of flag reader: ADC, SBB, SETcc,
        // CMOVcc, Jcc, PUSHFD, and a store that may take the slow path in between.
        static void Load(TestCpu t) => t.Load(0x1000, a =>
        {
            var loop = a.CreateLabel();
            var skip = a.CreateLabel();
            a.mov(eax, 0x1234_5678);
            a.mov(ebx, 0x9ABC_DEF0);
            a.mov(esi, 0);
            a.mov(edi, 300);
            a.Label(ref loop);
            a.mov(ecx, edi);
            a.and(ecx, 7);              // counts 0-7: zero keeps the flags
            a.add(eax, ebx);
            a.rol(ebx, cl);
            a.adc(esi, 0);
            a.mov(__dword_ptr[0x6000 + 4 * 0], eax);
            a.ror(eax, 3);
            a.setc(dl);
            a.movzx(edx, dl);
            a.add(esi, edx);
            a.shl(ebx, cl);
            a.cmovs(edx, eax);
            a.xor(esi, edx);
            a.imul(eax, eax, 0x4F1B);
            a.sbb(esi, 1);
            a.rol(eax, 1);
            a.jno(skip);
            a.inc(esi);
            a.Label(ref skip);
            a.sar(ebx, cl);
            a.pushfd();
            a.pop(edx);
            a.and(edx, 0x8D5);          // the six arithmetic flags
            a.add(esi, edx);
            a.dec(edi);
            a.jnz(loop);
            a.hlt();
        });
        RunsAsInTheInterpreter(Load);
    }

    [Fact]
    public void FlagsNoOneSeesAreSkippedButAFaultStillSeesTheRightOnes()
    {
        // Per pass: a load (which faults on the last pass, in a not-present page), an INC whose
        // flags the XOR after it overwrites (skipped in compiled code), INC and DEC at a block's
        // start after a CMP in the block before (their CF guessed from it), a non-repeated
        // MOVSB and LODSB, and ADC reading the carry. At the fault, every register and EFLAGS
        // (the first SUB's flags, not the XOR's) must be the interpreter's.
        const uint PageDirectory = 0x10_0000, PageTable = 0x10_1000, Missing = 0x9000;
        static void Load(TestCpu t)
        {
            t.Write32(PageDirectory, PageTable | 3);
            for (uint i = 0; i < 1024; i++) t.Write32(PageTable + i * 4, (i << 12) | 3);
            t.Write32(PageTable + (Missing >> 12) * 4, 0);
            t.Load(0x1000, a =>
            {
                var loop = a.CreateLabel();
                var next = a.CreateLabel();
                a.mov(esi, Missing - 200 * 16);
                a.mov(edi, 0x20000);
                a.mov(ebx, 0x7777);
                a.mov(ecx, 1000);
                a.Label(ref loop);
                a.sub(ebx, 0x1234);
                a.mov(edx, __dword_ptr[esi]);
                a.inc(ebp);
                a.xor(eax, edx);
                a.add(esi, 8);
                a.movsb();
                a.lodsb();
                a.adc(ebx, eax);
                a.sub(ebx, ecx);
                a.cmp(ecx, 500);
                a.jb(next);
                a.Label(ref next);
                a.inc(eax);
                a.adc(ebx, 3);
                a.sub(ebx, ecx);
                a.dec(ecx);
                a.jnz(loop);
                a.hlt();
            });
            t.Cpu.WriteCr3(PageDirectory);
            t.Cpu.WriteCr0(t.Cpu.Cr0 | Cr0Bits.PG);
        }
        TranslatorEngine engine = new(Threshold, synchronous: true);
        using var interpreted = TestCpu.Flat32();
        Load(interpreted);
        StopReason expected = interpreted.Run(0x1000);
        using var compiled = TestCpu.Flat32(engine);
        Load(compiled);
        StopReason actual = compiled.Run(0x1000);
        engine.Dispose();
        Assert.NotEqual(StopReason.Halted, expected); // the load faulted
        Assert.Equal(expected, actual);
        Assert.Equal(interpreted.Cpu.Cr2, compiled.Cpu.Cr2);
        Assert.Equal(Missing, compiled.Cpu.Cr2);
        for (int r = 0; r < 8; r++) Assert.Equal(interpreted.Cpu.Gpr[r], compiled.Cpu.Gpr[r]);
        Assert.Equal(interpreted.Cpu.Eip, compiled.Cpu.Eip);
        Assert.Equal(interpreted.Cpu.GetEflags(), compiled.Cpu.GetEflags());
        Assert.Equal(interpreted.Cpu.InstructionCount, compiled.Cpu.InstructionCount);
        Assert.True(engine.CompiledRegions > 0);
    }

    [Fact]
    public void ByteResultsForwardedToMovzxAndBranchFreeCmovsMatchTheInterpreter()
    {
        // Compiled code hands an 8-bit result straight to a later MOVZX/MOVSX of the same
        // register, unless something in between writes the whole register (the MOV EAX, EBX
        // below: forwarding past it would read the XOR's byte, not EBX's); and CMOVcc runs
        // without a branch, a 16-bit one keeping the destination's upper half, a memory one
        // reading its source whatever the condition.
        static void Load(TestCpu t) => t.Load(0x1000, a =>
        {
            var loop = a.CreateLabel();
            a.mov(esi, 0x1357_9BDF);
            a.mov(edi, 500);
            a.mov(ebp, 0);
            a.Label(ref loop);
            a.imul(esi, esi, 0x0019_660D);
            a.add(esi, 0x3C6E_F35F);
            a.mov(edx, esi);
            a.mov(eax, esi);
            a.shr(eax, 13);
            a.xor(al, dl);              // forwarded across the SHR to the MOVZX
            a.shr(edx, 8);
            a.movzx(eax, al);
            a.add(ebp, eax);
            a.mov(cl, 0x80);
            a.add(cl, dl);
            a.movsx(ecx, cl);           // forwarded, sign-extended
            a.add(ebp, ecx);
            a.xor(bl, dl);
            a.mov(ebx, esi);            // writes EBX: no forwarding past it
            a.movzx(ebx, bl);
            a.add(ebp, ebx);
            a.mov(__dword_ptr[0x6000], edx);
            a.cmp(edx, 0x0080_0000);
            a.cmovb(ebx, esi);
            a.cmova(ecx, __dword_ptr[0x6000]);
            a.test(esi, 0x10);
            a.cmovne(bx, si);
            a.add(ebp, ebx);
            a.xor(ebp, ecx);
            a.dec(edi);
            a.jnz(loop);
            a.hlt();
        });
        RunsAsInTheInterpreter(Load);
    }

    /// <summary>
    /// <see cref="RunFormingRegions"/>, checked against the interpreter: nothing refused, and
    /// EAX, EBX and the instruction count as the interpreter leaves them.
    /// </summary>
    private static (TranslatorEngine Engine, System.Collections.Generic.List<Region> Formed, TestCpu Cpu) RunFormingRegionsAsInTheInterpreter(Action<TestCpu> load, uint start = 0x1000)
    {
        var interpreted = Run(false, load, start);
        var (engine, formed, t) = RunFormingRegions(load, start);
        Assert.Equal(0, engine.Failures);
        Assert.Equal(interpreted.Eax, t.Cpu.Eax);
        Assert.Equal(interpreted.Ebx, t.Cpu.Ebx);
        Assert.Equal(interpreted.Retired, t.Cpu.InstructionCount);
        return (engine, formed, t);
    }

    /// <summary>Runs the code <paramref name="load"/> writes, from <paramref name="start"/> to its HLT, compiled in regions, noting the regions formed.</summary>
    private static (TranslatorEngine Engine, System.Collections.Generic.List<Region> Formed, TestCpu Cpu) RunFormingRegions(Action<TestCpu> load, uint start = 0x1000)
    {
        var engine = new TranslatorEngine(Threshold, synchronous: true);
        var formed = new System.Collections.Generic.List<Region>();
        engine.RegionFormed = formed.Add;
        var t = TestCpu.Flat32(engine);
        load(t);
        Assert.Equal(StopReason.Halted, t.Run(start));
        return (engine, formed, t);
    }

    /// <summary>Runs the code <paramref name="load"/> writes at 1000h to its HLT on the interpreter and compiled in regions: every register, EFLAGS and the count must agree.</summary>
    private static void RunsAsInTheInterpreter(Action<TestCpu> load)
    {
        TranslatorEngine engine = new(Threshold, synchronous: true);
        using var interpreted = TestCpu.Flat32();
        load(interpreted);
        Assert.Equal(StopReason.Halted, interpreted.Run(0x1000));
        using var compiled = TestCpu.Flat32(engine);
        load(compiled);
        Assert.Equal(StopReason.Halted, compiled.Run(0x1000));
        engine.Dispose();
        for (int r = 0; r < 8; r++) Assert.Equal(interpreted.Cpu.Gpr[r], compiled.Cpu.Gpr[r]);
        Assert.Equal(interpreted.Cpu.GetEflags(), compiled.Cpu.GetEflags());
        Assert.Equal(interpreted.Cpu.InstructionCount, compiled.Cpu.InstructionCount);
        Assert.True(engine.CompiledRegions > 0);
    }

    /// <summary>The offset of the immediate of the first "add eax, imm32" (05 00 00 00 00) in assembled code.</summary>
    private static int FindAddImm32(byte[] code)
    {
        for (int i = 0; i + 5 <= code.Length; i++)
            if (code[i] == 0x05 && code[i + 1] == 0 && code[i + 2] == 0 && code[i + 3] == 0 && code[i + 4] == 0) return i + 1;
        throw new InvalidOperationException("no add eax, imm32 in the code");
    }
}
