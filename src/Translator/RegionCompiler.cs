using System;
using System.Collections.Generic;
using System.Reflection.Emit;
using Emu.Translator.Emit;
using Emu.X86;
using Iced.Intel;
using Label = System.Reflection.Emit.Label;
using FlowControl = Iced.Intel.FlowControl;

namespace Emu.Translator;

/// <summary>
/// Compiles a <see cref="Region"/> into one DynamicMethod <c>int (RegionConstants, Cpu, int entry)</c>.
/// The entry number selects the block to start at (an IL switch); blocks branch to each
/// other with IL branches and leave through exits, returning an exit slot (a target known
/// here, which the engine may link to another region) or a <see cref="RegionExit"/> value.
/// </summary>
/// <remarks>
/// At every block boundary the code retires the block's instructions and compares the count
/// with <see cref="Cpu.ExitAt"/>, the one word that folds together the budget, the next timer,
/// a stop request and a raised interrupt line; past it the region leaves, so interrupts are
/// taken between blocks as in the interpreter. In a flat region the guest registers, the lazy
/// flags and EFLAGS live in locals; they are stored back before anything that can fault or
/// call into the CPU, and at every exit (see <see cref="EmitContext"/>).
/// </remarks>
public static class RegionCompiler
{
    private static readonly Type[] Parameters = { typeof(RegionConstants), typeof(Cpu), typeof(int) };

    /// <summary>Whether a block-ending branch is emitted inline in a flat region (JMP, Jcc and CALL with targets known here, and RET).</summary>
    internal static bool IsFastBranch(Block b, ref Instruction ins)
    {
        if (!b.Code32) return false;
        if (ins.Code is Code.Retnd or Code.Retnd_imm16 or Code.Jmp_rm32 or Code.Call_rm32) return true;
        if (ins.Op0Kind is not (OpKind.NearBranch32 or OpKind.NearBranch16)) return false;
        return ins.FlowControl switch
        {
            FlowControl.UnconditionalBranch => ins.Mnemonic == Mnemonic.Jmp,
            FlowControl.ConditionalBranch => ins.Mnemonic is not (Mnemonic.Loop or Mnemonic.Loope or Mnemonic.Loopne
                or Mnemonic.Jcxz or Mnemonic.Jecxz),
            FlowControl.Call => ins.Code == Code.Call_rel32_32,
            _ => false,
        };
    }

    public static Func<Cpu, int, int> Compile(Region region)
    {
        Block[] blocks = region.Blocks;
        var dm = new DynamicMethod($"region_{region.CsBase + blocks[0].Eip:X8}", typeof(int), Parameters,
            typeof(RegionConstants).Module, skipVisibility: true);
        ILGenerator il = dm.GetILGenerator(256 + region.Instructions * 64);
        var ctx = new EmitContext(il, region.Flat);
        var c = new Compilation(region, ctx);

        // Called with a null CPU, the method returns at once: the compile thread uses that to
        // make RyuJIT compile it there rather than on the emulation thread.
        Label body = il.DefineLabel();
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Brtrue, body);
        il.Emit(OpCodes.Ldc_I4, RegionExit.Dispatcher);
        il.Emit(OpCodes.Ret);
        il.MarkLabel(body);

        ctx.LoadState();
        il.Emit(OpCodes.Ldarg_2);
        il.Emit(OpCodes.Switch, c.BlockLabels);
        il.Emit(OpCodes.Ldc_I4, RegionExit.Dispatcher);
        il.Emit(OpCodes.Ret);

        for (int b = 0; b < blocks.Length; b++) c.EmitBlock(b);
        c.EmitSharedExit();
        ctx.EmitSlowPaths(RegionExit.Dispatcher);

        region.Links = c.Links.ToArray();
        region.Dynamics = new DynamicLink[Region.DynamicWays * c.DynamicSites];
        if (Environment.GetEnvironmentVariable("EMU_REGION_IL") is not null)
            Console.Error.WriteLine($"IL {il.ILOffset} bytes for {region.Instructions} instructions in {blocks.Length} blocks, {c.Links.Count} exits");
        return (Func<Cpu, int, int>)dm.CreateDelegate(typeof(Func<Cpu, int, int>), new RegionConstants(region));
    }

    /// <summary>One region being compiled.</summary>
    private sealed class Compilation
    {
        private readonly Region region;
        private readonly EmitContext ctx;
        private readonly ILGenerator il;
        public readonly Label[] BlockLabels;
        public readonly List<RegionLink> Links = new();

        /// <summary>Dynamic exits emitted so far (see <see cref="RegionExit.FirstDynamicSite"/>).</summary>
        public int DynamicSites;
        private readonly Dictionary<uint, int> slotOf = new();
        private readonly int[] dirtyIn;
        private readonly int[] entryGuess;
        private readonly uint linearPage;

        public Compilation(Region region, EmitContext ctx)
        {
            this.region = region;
            this.ctx = ctx;
            il = ctx.Il;
            BlockLabels = new Label[region.Blocks.Length];
            for (int i = 0; i < BlockLabels.Length; i++) BlockLabels[i] = il.DefineLabel();
            linearPage = (region.CsBase + region.Blocks[0].Eip) & ~Emu.Memory.PhysicalMemory.PageMask;
            sharedExit = il.DefineLabel();
            earlyExit = il.DefineLabel();
            earlyExitAt = il.DeclareLocal(typeof(int));
            exitEip = il.DeclareLocal(typeof(uint));
            exitValue = il.DeclareLocal(typeof(int));
            dirtyIn = DirtyAnalysis.Run(region);
            entryGuess = FlagGuess.Run(region);
            for (int i = 0; i < region.Blocks.Length; i++) allBlocks.Add(i);
            returnTargets = ReturnAnalysis.Targets(region);
        }

        private readonly List<int> allBlocks = new();
        private static readonly List<int> noBlocks = new();

        /// <summary>Per block: the blocks a RET ending it may go back to inside the region (see <see cref="ReturnAnalysis"/>).</summary>
        private readonly List<int>?[] returnTargets;

        /// <summary>
        /// Continues at the EIP in local <paramref name="target"/>, known only at run time:
        /// compared with the candidate blocks of the region in turn; any other target, or a
        /// spent budget, leaves with a dynamic exit.
        /// </summary>
        private void DispatchDynamic(LocalBuilder target, List<int> candidates)
        {
            Label leave = il.DefineLabel();
            EmitBudgetCheck(leave);
            // A binary search over the candidates' EIPs (a switch's cases or a function's return
            // points can be dozens), then each match's branch.
            var sorted = new List<int>(candidates);
            sorted.Sort((x, y) => region.Blocks[x].Eip.CompareTo(region.Blocks[y].Eip));
            var found = new Label[sorted.Count];
            for (int k = 0; k < found.Length; k++) found[k] = il.DefineLabel();
            Search(target, sorted, found, 0, sorted.Count, leave);
            for (int k = 0; k < found.Length; k++)
            {
                il.MarkLabel(found[k]);
                BranchTo(sorted[k]);
            }
            il.MarkLabel(leave);
            il.Emit(OpCodes.Ldloc, target);
            LeaveThrough(RegionExit.DynamicSite(DynamicSites++));
        }

        /// <summary>Branches to found[k] when the target is the EIP of sorted[k] for some k in [lo, hi), else to <paramref name="none"/>.</summary>
        private void Search(LocalBuilder target, List<int> sorted, Label[] found, int lo, int hi, Label none)
        {
            if (hi - lo <= 3)
            {
                for (int k = lo; k < hi; k++)
                {
                    il.Emit(OpCodes.Ldloc, target);
                    ctx.Const(region.Blocks[sorted[k]].Eip);
                    il.Emit(OpCodes.Beq, found[k]);
                }
                il.Emit(OpCodes.Br, none);
                return;
            }
            int mid = (lo + hi) / 2;
            Label upper = il.DefineLabel();
            il.Emit(OpCodes.Ldloc, target);
            ctx.Const(region.Blocks[sorted[mid]].Eip);
            il.Emit(OpCodes.Bge_Un, upper);
            Search(target, sorted, found, lo, mid, none);
            il.MarkLabel(upper);
            Search(target, sorted, found, mid, hi, none);
        }

        /// <summary>
        /// Leaves with the EIP on the IL stack and this exit value, through the region's one
        /// shared exit, which stores every local: exits are many, and each would otherwise
        /// carry its own stores for RyuJIT to compile.
        /// </summary>
        private void LeaveThrough(int exit)
        {
            ctx.Materialize();
            il.Emit(OpCodes.Stloc, exitEip);
            ctx.Const(exit);
            il.Emit(OpCodes.Stloc, exitValue);
            il.Emit(OpCodes.Br, sharedExit);
            sharedExitUsed = true;
        }

        /// <summary>
        /// The shared exits, after the last block: the one of <see cref="LeaveThrough"/>, and the
        /// early exit of <see cref="EmitExitCheck"/> (block index << 16 | instruction index in
        /// <c>earlyExitAt</c>).
        /// </summary>
        public void EmitSharedExit()
        {
            if (sharedExitUsed)
            {
                il.MarkLabel(sharedExit);
                ctx.StoreEverything(exitEip);
                il.Emit(OpCodes.Ldloc, exitValue);
                il.Emit(OpCodes.Ret);
            }
            if (earlyExitUsed)
            {
                il.MarkLabel(earlyExit);
                ctx.LoadCpu();
                il.Emit(OpCodes.Ldarg_0);
                il.Emit(OpCodes.Ldfld, typeof(RegionConstants).GetField(nameof(RegionConstants.Blocks))!);
                il.Emit(OpCodes.Ldloc, earlyExitAt);
                ctx.Const(16);
                il.Emit(OpCodes.Shr_Un);
                il.Emit(OpCodes.Ldelem_Ref);
                il.Emit(OpCodes.Ldloc, earlyExitAt);
                ctx.Const(0xFFFF);
                il.Emit(OpCodes.And);
                ctx.Call(Members.LeaveEarly);
                Return(RegionExit.Dispatcher);
            }
        }

        private readonly Label sharedExit, earlyExit;
        private readonly LocalBuilder exitEip, exitValue, earlyExitAt;
        private bool sharedExitUsed, earlyExitUsed;

        /// <summary>Whether the running block's index has been stored in the CPU in the block being emitted (it stays until the next block).</summary>
        private bool regionBlockStored;

        public void EmitBlock(int bi)
        {
            Block b = region.Blocks[bi];
            Instruction[] code = b.Code;
            il.MarkLabel(BlockLabels[bi]);
            ctx.Block = b;
            ctx.BlockIndex = bi;
            ctx.Dirty = dirtyIn[bi];
            ctx.ForgetFlags();
            ctx.GuessOp = entryGuess[bi];
            ctx.CaptureLowByte = ctx.ForwardLowByte = -1;
            int forwardUntil = -1;

            // Which block runs, for a fault's or a device's count of the instructions retired,
            // and for the block cache to tell a store into the running block. A flat region
            // stores it only where the CPU can look: on slow paths (with the rest of the state)
            // and before generic instructions.
            regionBlockStored = !ctx.Flat;
            if (!ctx.Flat) SetRegionBlock(bi);

            bool[] deadFlags = FlagLiveness.DeadAfter(b);
            for (int n = 0; n < b.Count; n++)
            {
                ref Instruction ins = ref code[n];
                ctx.Index = n;
                bool last = n == b.Count - 1;
                if (last && b.EndsInBranch && ctx.Flat && EmitFastBranch(bi, ref ins)) return;

                IFastEmitter? fast = ctx.Flat ? EmitterTable.Fast(ref ins) : null;
                if (fast is not null)
                {
                    // Fast code faults only on its slow paths, which synchronise the CPU themselves
                    // (an inline access's slow path hands the whole instruction to the interpreter
                    // and leaves, so a store into the running code leaves there too).
                    ctx.Generic = false;
                    ctx.FlagsDead = deadFlags[n];
                    ctx.WroteThroughCpu = false;
                    // Low-byte forwarding: between the capturing instruction and its MOVZX/MOVSX.
                    if (n > forwardUntil) ctx.ForwardLowByte = -1;
                    int until = LowByteForwarding.Reader(b, n);
                    ctx.CaptureLowByte = until > n ? Cpu.RegNum(ins.Op0Register) : -1;
                    ctx.LowByteCaptured = false;
                    fast.Emit(ctx, ref ins);
                    if (ctx.LowByteCaptured)
                    {
                        ctx.ForwardLowByte = ctx.CaptureLowByte;
                        forwardUntil = until;
                    }
                    ctx.CaptureLowByte = -1;
                    ctx.FlagsDead = false;
                    ctx.Generic = true;
                    if (ctx.WroteThroughCpu || InstructionFacts.IsRepeated(ref ins)) EmitExitCheck(bi, n);
                    continue;
                }

                // Generic: the CPU object holds the whole state around the instruction.
                ctx.ForwardLowByte = -1;
                ctx.SpillAll();
                if (!regionBlockStored)
                {
                    SetRegionBlock(bi);
                    regionBlockStored = true;
                }
                IInstructionEmitter? emitter = EmitterTable.Folded(ins.Code);
                bool folded = emitter is not null && emitter.CanEmit(ref ins);
                if (!folded || !InstructionFacts.IsFaultFree(ref ins)) ctx.SetEip((uint)ins.IP);
                if (folded) emitter!.Emit(ctx, ref ins);
                else CallHandler(bi, n, ref ins);
                if (!folded || EmitterTable.MayWriteOrLeave(ref ins)) EmitExitCheck(bi, n);
                // Reload what it may have changed: everything after a sensitive instruction (a
                // task switch changes every register), else what the table says it writes.
                if (InstructionTable.IsSensitive(ins.Code)) ctx.ReloadAll();
                else ctx.Reload(DirtyAnalysis.Writes(ref ins));
                if (InstructionTable.FlagsModified[(int)ins.Code] != 0) ctx.GuessOp = FlagGuess.Of(ref ins);
            }

            // The block ended without a branch emitted here.
            ctx.Materialize();
            Retire(b.Count);
            ref Instruction end = ref code[b.Count - 1];
            if (b.EndsInBranch)
            {
                // A branch ran generically and set EIP: continue inside the region when it went
                // to one of its blocks, else leave with a dynamic target.
                if (InstructionTable.IsSensitive(end.Code))
                {
                    ctx.SpillAll();
                    Return(RegionExit.Dispatcher);
                    return;
                }
                Span<uint> next = stackalloc uint[3];
                int k = RegionBuilder.Successors(b, next);
                Label leave = il.DefineLabel();
                EmitBudgetCheck(leave);
                for (int s = 0; s < k; s++)
                {
                    int j = region.IndexOf(next[s]);
                    if (j < 0) continue;
                    Label skip = il.DefineLabel();
                    ctx.LoadCpu();
                    il.Emit(OpCodes.Ldfld, Members.Eip);
                    ctx.Const(next[s]);
                    il.Emit(OpCodes.Bne_Un, skip);
                    BranchTo(j);
                    il.MarkLabel(skip);
                }
                il.MarkLabel(leave);
                ctx.SpillAll();
                Return(RegionExit.DynamicSite(DynamicSites++));
                return;
            }
            if (InstructionTable.Has(end.Code, InstrFlags.EndsBlock))
            {
                // A sensitive instruction that can change how the code after it runs: back to
                // the dispatcher, unless it is one a flat region goes on after and nothing
                // needs the dispatcher now.
                ctx.SpillAll();
                ctx.SetEip(b.NextEip);
                if (ctx.Flat && RegionBuilder.GoesOnAfter(ref end))
                {
                    // The budget first: a run that ends here (a step, a stop) sees the state the
                    // dispatcher would, STI's interrupt shadow included.
                    Label stop = il.DefineLabel();
                    EmitBudgetCheck(stop);
                    ctx.LoadCpu();
                    il.Emit(OpCodes.Call, Members.MayGoOnAfterSensitive);
                    il.Emit(OpCodes.Brfalse, stop);
                    Edge(b.NextEip);
                    il.MarkLabel(stop);
                }
                Return(RegionExit.Dispatcher);
                return;
            }
            Edge(b.NextEip);
        }

        /// <summary>JMP, Jcc and CALL with targets known here, at the end of a block of a flat region.</summary>
        private bool EmitFastBranch(int bi, ref Instruction ins)
        {
            Block b = region.Blocks[bi];
            if (!IsFastBranch(b, ref ins)) return false;
            ctx.Materialize(); // the next block expects the flag locals merged
            uint target = (uint)ins.NearBranchTarget;
            uint next = (uint)ins.NextIP;
            switch (ins.FlowControl)
            {
                case FlowControl.UnconditionalBranch when ins.Mnemonic == Mnemonic.Jmp:
                    Retire(b.Count);
                    Edge(target);
                    return true;
                case FlowControl.ConditionalBranch when ins.Mnemonic is not (Mnemonic.Loop or Mnemonic.Loope or Mnemonic.Loopne
                    or Mnemonic.Jcxz or Mnemonic.Jecxz):
                {
                    Retire(b.Count);
                    Label taken = il.DefineLabel();
                    ctx.Condition((int)ins.ConditionCode - 1);
                    il.Emit(OpCodes.Brtrue, taken);
                    int dirty = ctx.Dirty, known = ctx.KnownOp;
                    Edge(next);
                    il.MarkLabel(taken);
                    ctx.Dirty = dirty;
                    ctx.KnownOp = known;
                    Edge(target);
                    return true;
                }
                case FlowControl.Return when ins.Code is Code.Retnd or Code.Retnd_imm16:
                {
                    // RET [imm16]: EIP = [ESP] (which may fault), ESP += 4 + imm16. The target is
                    // looked for among the region's return points; elsewhere, a dynamic exit.
                    LocalBuilder esp = ctx.RegLocal(Reg.ESP);
                    LocalBuilder popped = ctx.Temp(1);
                    ctx.Generic = false;
                    il.Emit(OpCodes.Ldloc, esp);
                    ctx.ReadFlat(2);
                    ctx.Generic = true;
                    il.Emit(OpCodes.Stloc, popped);
                    il.Emit(OpCodes.Ldloc, esp);
                    ctx.Const(4u + (ins.Code == Code.Retnd_imm16 ? ins.Immediate16 : 0u));
                    il.Emit(OpCodes.Add);
                    il.Emit(OpCodes.Stloc, esp);
                    ctx.MarkDirty(Reg.ESP);
                    Retire(b.Count);
                    DispatchDynamic(popped, returnTargets[bi] ?? noBlocks);
                    return true;
                }
                case FlowControl.IndirectBranch when ins.Code == Code.Jmp_rm32:
                {
                    LocalBuilder to = ctx.Temp(1);
                    ctx.Generic = false;
                    ctx.ReadOperand(ref ins, 0, 2);
                    ctx.Generic = true;
                    il.Emit(OpCodes.Stloc, to);
                    Retire(b.Count);
                    DispatchDynamic(to, allBlocks);
                    return true;
                }
                case FlowControl.IndirectCall when ins.Code == Code.Call_rm32:
                {
                    // The target is read first, then the return address pushed (either may fault).
                    LocalBuilder to = ctx.Temp(1), sp = ctx.Temp(2), v = ctx.Temp(3);
                    ctx.Generic = false;
                    ctx.ReadOperand(ref ins, 0, 2);
                    il.Emit(OpCodes.Stloc, to);
                    ctx.Const(next);
                    il.Emit(OpCodes.Stloc, v);
                    ctx.PushFlat32(v, sp);
                    ctx.Generic = true;
                    Retire(b.Count);
                    DispatchDynamic(to, allBlocks);
                    return true;
                }
                case FlowControl.Call when ins.Code == Code.Call_rel32_32:
                {
                    // Near CALL: the return address goes to [ESP - 4] (which may fault: nothing
                    // has changed then), ESP moves, EIP is the target.
                    LocalBuilder sp = ctx.Temp(1), v = ctx.Temp(2);
                    ctx.Const(next);
                    il.Emit(OpCodes.Stloc, v);
                    ctx.Generic = false;
                    ctx.PushFlat32(v, sp);
                    ctx.Generic = true;
                    Retire(b.Count);
                    int returnBlock = region.IndexOf(next);
                    if (region.IndexOf(target) < 0 && returnBlock >= 0)
                    {
                        // Into another region, returning to this one: the exit notes where.
                        ctx.Const(target);
                        LeaveThrough(CallSlot(target, next, returnBlock));
                        return true;
                    }
                    Edge(target);
                    return true;
                }
            }
            return false;
        }

        /// <summary>The block's instructions retire (in the count local of a flat region, else in the CPU).</summary>
        private void Retire(int n)
        {
            if (ctx.Flat)
            {
                ctx.Retire(n);
                return;
            }
            ctx.LoadCpu();
            ctx.LoadCpu();
            il.Emit(OpCodes.Ldfld, Members.InstructionCount);
            il.Emit(OpCodes.Ldc_I8, (long)n);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stfld, Members.InstructionCount);
        }

        private void SetRegionBlock(int bi)
        {
            ctx.LoadCpu();
            ctx.Const(bi);
            il.Emit(OpCodes.Stfld, Members.RegionBlock);
        }

        /// <summary>Goes to <paramref name="leave"/> when the count has reached <see cref="Cpu.ExitAt"/>.</summary>
        private void EmitBudgetCheck(Label leave)
        {
            ctx.LoadCount();
            ctx.LoadCpu();
            il.Emit(OpCodes.Ldfld, Members.ExitAt);
            il.Emit(OpCodes.Bge, leave);
        }

        /// <summary>Continues at <paramref name="eip"/>: inside the region when it is one of its blocks and the budget allows, else through an exit slot.</summary>
        private void Edge(uint eip)
        {
            int j = region.IndexOf(eip);
            if (j >= 0)
            {
                Label leave = il.DefineLabel();
                EmitBudgetCheck(leave);
                BranchTo(j);
                il.MarkLabel(leave);
            }
            ctx.Const(eip);
            LeaveThrough(SlotFor(eip));
        }

        /// <summary>An IL branch to block <paramref name="j"/>, storing first what that block does not expect to be dirty.</summary>
        private void BranchTo(int j)
        {
            int extra = ctx.Dirty & ~dirtyIn[j];
            if (extra != 0) ctx.Spill(extra);
            il.Emit(OpCodes.Br, BlockLabels[j]);
        }

        /// <summary>
        /// The exit slot of a CALL to <paramref name="eip"/> outside the region whose return
        /// point is block <paramref name="returnBlock"/> of it: one per call site, since each
        /// returns elsewhere (see <see cref="RegionLink.ReturnEntry"/>).
        /// </summary>
        private int CallSlot(uint eip, uint returnEip, int returnBlock) => AddLink(eip, returnEip, returnBlock);

        private int SlotFor(uint eip)
        {
            if (slotOf.TryGetValue(eip, out int slot)) return slot;
            return slotOf[eip] = AddLink(eip, 0, -1);
        }

        /// <summary>A new exit slot to <paramref name="eip"/>, linkable without a mapping check when that is in the region's page.</summary>
        private int AddLink(uint eip, uint returnEip, int returnBlock)
        {
            bool samePage = ((region.CsBase + eip) & ~Emu.Memory.PhysicalMemory.PageMask) == linearPage;
            Links.Add(new RegionLink { TargetEip = eip, Linkable = samePage, ReturnEip = returnEip, ReturnEntry = returnBlock });
            return Links.Count - 1;
        }

        private void Return(int value)
        {
            ctx.Const(value);
            il.Emit(OpCodes.Ret);
        }

        /// <summary>
        /// if (cpu.BlockExit != 0) { store the locals; Interpreter.LeaveEarly(cpu, block, n); return Dispatcher; }
        /// A store into the region's own code, or a repeated string instruction yielding, leaves
        /// here. When the CPU holds the whole state already (after a generic instruction), the
        /// leave goes through the region's one early exit (<see cref="EmitSharedExit"/>), which
        /// has no locals to store.
        /// </summary>
        private void EmitExitCheck(int bi, int n)
        {
            Label go = il.DefineLabel();
            ctx.LoadCpu();
            il.Emit(OpCodes.Ldfld, Members.BlockExit);
            il.Emit(OpCodes.Brfalse, go);
            if (ctx.Dirty == 0)
            {
                ctx.Const(bi << 16 | n);
                il.Emit(OpCodes.Stloc, earlyExitAt);
                il.Emit(OpCodes.Br, earlyExit);
                earlyExitUsed = true;
                il.MarkLabel(go);
                return;
            }
            ctx.Spill(ctx.Dirty);
            ctx.LoadCpu();
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldfld, typeof(RegionConstants).GetField(nameof(RegionConstants.Blocks))!);
            ctx.Const(bi);
            il.Emit(OpCodes.Ldelem_Ref);
            ctx.Const(n);
            ctx.Call(Members.LeaveEarly);
            Return(RegionExit.Dispatcher);
            il.MarkLabel(go);
        }

        /// <summary>Calls the instruction's interpreter handler with a reference to its decoded form.</summary>
        private unsafe void CallHandler(int bi, int n, ref Instruction ins)
        {
            ctx.LoadCpu();
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldfld, typeof(RegionConstants).GetField(nameof(RegionConstants.Code))!);
            ctx.Const(bi);
            il.Emit(OpCodes.Ldelem_Ref);
            ctx.Const(n);
            il.Emit(OpCodes.Ldelema, typeof(Instruction));
            il.Emit(OpCodes.Ldc_I8, (long)(nint)InstructionTable.Handlers[(int)ins.Code]);
            il.Emit(OpCodes.Conv_I);
            il.EmitCalli(OpCodes.Calli, System.Reflection.CallingConventions.Standard, typeof(void),
                new[] { typeof(Cpu), typeof(Instruction).MakeByRefType() }, null);
        }
    }
}

/// <summary>
/// Which instructions of a block set flags that nothing can observe: a later instruction of
/// the block sets all six arithmetic flags (without reading them, and unable to fault) before
/// any instruction reads a flag, may fault (a fault must see the flags as they were), runs
/// generically, or ends the block. Their fast emitters skip the flag work.
/// </summary>
internal static class FlagLiveness
{
    private const RflagsBits Arith = RflagsBits.OF | RflagsBits.SF | RflagsBits.ZF | RflagsBits.AF | RflagsBits.CF | RflagsBits.PF;

    public static bool[] DeadAfter(Block b)
    {
        var dead = new bool[b.Count];
        bool overwritten = false; // the flags are set again before anything can see them
        for (int n = b.Count - 1; n >= 0; n--)
        {
            ref Instruction ins = ref b.Code[n];
            if (InstructionTable.FlagsModified[(int)ins.Code] != 0) dead[n] = overwritten;
            bool fast = EmitterTable.Fast(ref ins) is not null && !(n == b.Count - 1 && b.EndsInBranch);
            if (!fast || InstructionTable.FlagsRead[(int)ins.Code] != 0 || !InstructionFacts.IsFaultFree(ref ins)) overwritten = false;
            else if (SetsAll(ref ins)) overwritten = true;
        }
        return dead;
    }

    /// <summary>Whether the instruction sets every arithmetic flag whatever its operands (no shift or rotate by CL, no rotate).</summary>
    private static bool SetsAll(ref Instruction ins)
    {
        if ((InstructionTable.FlagsModified[(int)ins.Code] & Arith) != Arith) return false;
        return ins.Mnemonic switch
        {
            Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr or Mnemonic.Sar =>
                ins.Op1Kind == OpKind.Immediate8 && (ins.Immediate8 & 0x1F) != 0,
            Mnemonic.Rol or Mnemonic.Ror or Mnemonic.Rcl or Mnemonic.Rcr or Mnemonic.Shld or Mnemonic.Shrd => false,
            _ => true,
        };
    }
}

/// <summary>
/// A guess, per block, of the lazy flag operation the flag locals hold when it starts: the
/// operation of the last flag-setting instruction of its predecessors in the region, when they
/// agree. Only a guess: the code tests it at run time (an entry from outside the region may
/// bring any state), and a wrong one costs the general path.
/// </summary>
internal static class FlagGuess
{
    public static int[] Run(Region region)
    {
        Block[] blocks = region.Blocks;
        var guess = new int[blocks.Length];
        Array.Fill(guess, int.MinValue); // no predecessor seen yet
        Span<uint> next = stackalloc uint[3];
        for (int b = 0; b < blocks.Length; b++)
        {
            int exit = AtEnd(blocks[b]);
            int k = RegionBuilder.Successors(blocks[b], next);
            for (int s = 0; s < k; s++)
            {
                int j = region.IndexOf(next[s]);
                if (j < 0) continue;
                guess[j] = guess[j] == int.MinValue || guess[j] == exit ? exit : -1;
            }
        }
        for (int j = 0; j < guess.Length; j++)
            if (guess[j] == int.MinValue) guess[j] = -1;
        return guess;
    }

    /// <summary>The operation of the block's last flag-setting instruction, or -1.</summary>
    private static int AtEnd(Block b)
    {
        for (int n = b.Count - 1; n >= 0; n--)
            if (InstructionTable.FlagsModified[(int)b.Code[n].Code] != 0) return Of(ref b.Code[n]);
        return -1;
    }

    /// <summary>The lazy operation (kind | size) this instruction most likely leaves, or -1.</summary>
    public static int Of(ref Instruction ins)
    {
        int kind = ins.Mnemonic switch
        {
            Mnemonic.Cmp or Mnemonic.Sub or Mnemonic.Neg or Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd
                or Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd => LazyFlags.Sub,
            Mnemonic.Add => LazyFlags.Add,
            Mnemonic.And or Mnemonic.Or or Mnemonic.Xor or Mnemonic.Test => LazyFlags.Logic,
            Mnemonic.Inc => LazyFlags.Inc,
            Mnemonic.Dec => LazyFlags.Dec,
            _ => -1,
        };
        if (kind < 0) return -1;
        int bytes = ins.Op0Kind == OpKind.Register ? ins.Op0Register.GetSize() : ins.MemorySize.GetSize();
        return bytes switch
        {
            1 => kind | LazyFlags.Size8,
            2 => kind | LazyFlags.Size16,
            4 => kind | LazyFlags.Size32,
            _ => -1,
        };
    }
}

/// <summary>
/// Where each RET of a flat region may go back to inside it. The compiled RET compares the
/// popped EIP only with these blocks before it leaves through its dynamic exit.
/// </summary>
public static class ReturnAnalysis
{
    /// <summary>
    /// Per block ending in RET (null for the others), the region's blocks it may return to:
    /// the block after each CALL of the region whose callee reaches the RET through the
    /// region's edges (a CALL block's edges go to its callee and to its return point, so
    /// nested calls return), and the block after each indirect CALL, whose callee is not
    /// known. A region's blocks are often several functions and their callers, and comparing
    /// every RET with every return point made RETs a tenth of a region's IL. A RET that goes
    /// elsewhere (a callee entered another way, a return address rewritten) leaves through
    /// its dynamic exit, which finds the block all the same.
    /// </summary>
    public static List<int>?[] Targets(Region region)
    {
        Block[] blocks = region.Blocks;
        var targets = new List<int>?[blocks.Length];
        var index = new Dictionary<uint, int>(blocks.Length);
        for (int i = 0; i < blocks.Length; i++) index[blocks[i].Eip] = i;
        var successors = new List<int>[blocks.Length];
        Span<uint> next = stackalloc uint[3];
        bool anyIndirectJump = false;
        for (int i = 0; i < blocks.Length; i++)
        {
            successors[i] = new List<int>(2);
            int k = RegionBuilder.Successors(blocks[i], next);
            for (int s = 0; s < k; s++)
                if (index.TryGetValue(next[s], out int j)) successors[i].Add(j);
            ref Instruction last = ref blocks[i].Code[blocks[i].Count - 1];
            anyIndirectJump |= blocks[i].EndsInBranch && last.FlowControl == FlowControl.IndirectBranch;
        }
        var reached = new bool[blocks.Length];
        var work = new Stack<int>();
        for (int c = 0; c < blocks.Length; c++)
        {
            Block b = blocks[c];
            ref Instruction last = ref b.Code[b.Count - 1];
            if (!b.EndsInBranch || last.FlowControl is not (FlowControl.Call or FlowControl.IndirectCall)) continue;
            if (!index.TryGetValue(b.NextEip, out int returnPoint)) continue;
            bool knownCallee = last.FlowControl == FlowControl.Call && RegionBuilder.IsNearRelative(ref last);
            if (knownCallee && !index.ContainsKey(RegionBuilder.Target(b, ref last))) continue;
            // The blocks the callee reaches; all of them when it is not known, or when an
            // indirect JMP of the region may lead anywhere in it.
            bool all = !knownCallee || anyIndirectJump;
            Array.Clear(reached);
            if (!all)
            {
                int callee = index[RegionBuilder.Target(b, ref last)];
                reached[callee] = true;
                work.Push(callee);
                while (work.Count > 0)
                    foreach (int j in successors[work.Pop()])
                        if (!reached[j])
                        {
                            reached[j] = true;
                            work.Push(j);
                        }
            }
            for (int r = 0; r < blocks.Length; r++)
            {
                if (!(all || reached[r]) || !EndsInRet(blocks[r])) continue;
                List<int> t = targets[r] ??= new List<int>();
                if (!t.Contains(returnPoint)) t.Add(returnPoint);
            }
        }
        return targets;
    }

    /// <summary>Whether the block ends in a RET that the region compiles inline (<see cref="RegionCompiler.IsFastBranch"/>), the one that looks for these targets.</summary>
    private static bool EndsInRet(Block b) =>
        b.EndsInBranch && b.Code[b.Count - 1].FlowControl == FlowControl.Return && RegionCompiler.IsFastBranch(b, ref b.Code[b.Count - 1]);
}

/// <summary>
/// Which of a flat region's locals may differ from the CPU at the start of each block
/// (registers written since the last store-back, the lazy flags, EFLAGS), so the code stores
/// back only those before a fault point. A forward may-analysis over the region's branches;
/// the compiler also stores, on each branch, whatever the target does not expect.
/// </summary>
internal static class DirtyAnalysis
{
    public static int[] Run(Region region)
    {
        Block[] blocks = region.Blocks;
        var dirtyIn = new int[blocks.Length];
        if (!region.Flat) return dirtyIn;
        var transfer = new (int Kill, int Gen)[blocks.Length];
        for (int b = 0; b < blocks.Length; b++) transfer[b] = Transfer(blocks[b]);
        Span<uint> next = stackalloc uint[3];
        bool changed = true;
        for (int round = 0; changed && round < 50; round++)
        {
            changed = false;
            for (int b = 0; b < blocks.Length; b++)
            {
                int o = (dirtyIn[b] & ~transfer[b].Kill) | transfer[b].Gen;
                int k = RegionBuilder.Successors(blocks[b], next);
                for (int s = 0; s < k; s++)
                {
                    int j = region.IndexOf(next[s]);
                    if (j < 0 || (dirtyIn[j] | o) == dirtyIn[j]) continue;
                    dirtyIn[j] |= o;
                    changed = true;
                }
            }
        }
        return dirtyIn;
    }

    /// <summary>What a block does to the dirty set: out = (in &amp; ~Kill) | Gen.</summary>
    private static (int Kill, int Gen) Transfer(Block b)
    {
        int dirty = 0;
        bool killed = false;
        for (int n = 0; n < b.Count; n++)
        {
            ref Instruction ins = ref b.Code[n];
            IFastEmitter? fast = EmitterTable.Fast(ref ins);
            bool fastBranch = n == b.Count - 1 && b.EndsInBranch && RegionCompiler.IsFastBranch(b, ref ins);
            if (fast is null && !fastBranch)
            {
                dirty = 0; // stored before, reloaded after
                killed = true;
                continue;
            }
            dirty |= Writes(ref ins);
        }
        return (killed ? EmitContext.DirtyAll : 0, dirty | EmitContext.DirtyCount);
    }

    /// <summary>The locals an instruction may change: the general registers it writes, and the flags when it modifies any.</summary>
    internal static int Writes(ref Instruction ins)
    {
        int mask = InstructionFacts.RegistersWritten(ref ins);
        if (InstructionTable.FlagsModified[(int)ins.Code] != 0) mask |= EmitContext.DirtyFlags | EmitContext.DirtyEflags;
        return mask;
    }
}
