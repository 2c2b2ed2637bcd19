using System;
using System.Reflection;
using System.Reflection.Emit;
using Emu.Memory;
using Emu.X86;
using Iced.Intel;
using Label = System.Reflection.Emit.Label;

namespace Emu.Translator.Emit;

/// <summary>
/// The IL being built for one region, with helpers that turn an instruction's operands into
/// IL with everything known at translation time (register numbers, sizes, displacements,
/// immediates) folded to constants. Argument 0 is the region's <see cref="RegionConstants"/>,
/// argument 1 the <see cref="Cpu"/>, argument 2 the entry.
/// </summary>
/// <remarks>
/// Two ways of emitting an instruction share this context:
/// <list type="bullet">
/// <item><b>Generic</b> (every emitter of a group, and handler calls): operands are read from
/// and written to the <see cref="Cpu"/> object, and the instruction's semantic methods run on
/// it. Before one, the region stores the state it keeps in locals (<see cref="SpillAll"/>);
/// after it, it loads it again (<see cref="ReloadAll"/>).</item>
/// <item><b>Fast</b> (<see cref="IFastEmitter"/>, <see cref="EmitterTable.Fast"/>, only in regions whose segments are flat):
/// the general registers, the lazy-flag operands and EFLAGS live in IL locals, memory is
/// reached through the MMU's TLB without segment checks, and flags are computed only into
/// locals, where RyuJIT drops what nothing reads. An inline access that misses the TLB (or
/// reaches a device, or runs into the next page) goes to a slow path that stores the locals,
/// which still hold the state before the instruction, hands the whole instruction to the
/// interpreter and leaves the region (<see cref="SlowPath"/>), so a fault leaves exactly the
/// interpreter's state and nothing joins the inline path after an access. An operand through
/// a segment that is not flat calls the CPU after storing the locals (<see cref="SyncSlow"/>).</item>
/// </list>
/// </remarks>
public sealed class EmitContext
{
    public ILGenerator Il { get; }

    /// <summary>The block being emitted.</summary>
    public Block Block { get; internal set; } = null!;

    /// <summary>Index of the instruction being emitted in <see cref="Block"/>.</summary>
    public int Index { get; internal set; }

    /// <summary>Whether the region's code and data segments are flat (fast emitters allowed).</summary>
    public bool Flat { get; }

    /// <summary>True while a generic emitter runs: register and memory helpers go through the CPU object.</summary>
    internal bool Generic { get; set; } = true;

    private readonly LocalBuilder scratchA;
    private readonly LocalBuilder scratchB;

    /// <summary>
    /// Low-byte forwarding (the region compiler sets these for one pair of instructions): while
    /// <see cref="CaptureLowByte"/> names a register 0-3, a store of its low byte also keeps the
    /// byte in a local; while <see cref="ForwardLowByte"/> names it, a read of its low byte takes
    /// that local instead of extracting it from the merged register. An 8-bit operation followed
    /// by MOVZX of its result (what compilers emit for byte arithmetic) then costs no merge.
    /// </summary>
    internal int CaptureLowByte = -1, ForwardLowByte = -1;

    /// <summary>Whether the byte of <see cref="CaptureLowByte"/> was stored (and kept) by the instruction just emitted.</summary>
    internal bool LowByteCaptured;

    private readonly LocalBuilder lowByte;
    private readonly LocalBuilder linear;

    // ---- the state a flat region keeps in locals ----
    private readonly LocalBuilder[] regs = new LocalBuilder[8];
    private readonly LocalBuilder flagsOp, flagsSrc1, flagsSrc2, flagsRes, eflags, count, tlb, entry, value, pendingBits;
    private readonly LocalBuilder[] temps = new LocalBuilder[4];

    /// <summary>Bits 0-7: registers whose local differs from the CPU; <see cref="DirtyFlags"/>: the lazy flags; <see cref="DirtyEflags"/>: EFLAGS.</summary>
    internal int Dirty;

    public const int DirtyFlags = 1 << 8;
    public const int DirtyEflags = 1 << 9;
    /// <summary>The retired-instruction count, kept in a local and added to at each block's end.</summary>
    public const int DirtyCount = 1 << 10;
    public const int DirtyAll = 0x7FF;

    /// <summary>Index of the block being emitted in its region.</summary>
    public int BlockIndex { get; internal set; }

    /// <summary>The lazy flag operation (kind | size) the flag locals hold, when known at translation time; -1 when not.</summary>
    internal int KnownOp = -1;

    /// <summary>
    /// Flags a rotate set (CF and OF) that are not merged into the flag locals yet: the lazy
    /// state still gives the others, and <c>pendingBits</c> these. Merged only where flags are
    /// read or leave the locals; a later instruction that sets every flag simply drops them.
    /// </summary>
    internal uint PendingMask;

    /// <summary>
    /// The lazy flag operation the flag locals most likely hold at the start of the block, from
    /// the flag-setting instructions that end its predecessors in the region; -1 when there is
    /// no guess. Flag reads test the guess at run time and take the inline form when it holds.
    /// </summary>
    internal int GuessOp = -1;

    /// <summary>
    /// Set while an instruction whose flags no one can see is emitted: a later instruction of
    /// the block sets every arithmetic flag before any instruction reads them, faults or leaves
    /// (see <c>FlagLiveness</c>). Its emitter then leaves the flag locals as they are.
    /// </summary>
    internal bool FlagsDead;

    /// <summary>Nothing is known about the flag locals at translation time.</summary>
    internal void ForgetFlags()
    {
        KnownOp = -1;
        PendingMask = 0;
    }

    internal EmitContext(ILGenerator il, bool flat)
    {
        Il = il;
        Flat = flat;
        scratchA = il.DeclareLocal(typeof(uint));
        scratchB = il.DeclareLocal(typeof(uint));
        lowByte = il.DeclareLocal(typeof(uint));
        linear = il.DeclareLocal(typeof(uint));
        for (int r = 0; r < 8; r++) regs[r] = il.DeclareLocal(typeof(uint));
        flagsOp = il.DeclareLocal(typeof(int));
        flagsSrc1 = il.DeclareLocal(typeof(uint));
        flagsSrc2 = il.DeclareLocal(typeof(uint));
        flagsRes = il.DeclareLocal(typeof(uint));
        eflags = il.DeclareLocal(typeof(uint));
        count = il.DeclareLocal(typeof(long));
        tlb = il.DeclareLocal(typeof(nint));
        entry = il.DeclareLocal(typeof(nint));
        value = il.DeclareLocal(typeof(uint));
        pendingBits = il.DeclareLocal(typeof(uint));
        for (int t = 0; t < temps.Length; t++) temps[t] = il.DeclareLocal(typeof(uint));
    }

    /// <summary>A uint local for an operand value.</summary>
    public LocalBuilder Src => scratchA;

    /// <summary>A uint local for a result.</summary>
    public LocalBuilder Result => scratchB;

    /// <summary>A uint local for a linear address.</summary>
    public LocalBuilder Linear => linear;

    /// <summary>Scratch uint locals for fast emitters (0-3).</summary>
    public LocalBuilder Temp(int n) => temps[n];

    public void LoadCpu() => Il.Emit(OpCodes.Ldarg_1);

    public void Const(int v)
    {
        switch (v)
        {
            case -1: Il.Emit(OpCodes.Ldc_I4_M1); return;
            case 0: Il.Emit(OpCodes.Ldc_I4_0); return;
            case 1: Il.Emit(OpCodes.Ldc_I4_1); return;
            case 2: Il.Emit(OpCodes.Ldc_I4_2); return;
            case 3: Il.Emit(OpCodes.Ldc_I4_3); return;
            case 4: Il.Emit(OpCodes.Ldc_I4_4); return;
            case 8: Il.Emit(OpCodes.Ldc_I4_8); return;
        }
        if (v is >= sbyte.MinValue and <= sbyte.MaxValue) Il.Emit(OpCodes.Ldc_I4_S, (sbyte)v);
        else Il.Emit(OpCodes.Ldc_I4, v);
    }

    public void Const(uint v) => Const(unchecked((int)v));

    public void Const(bool v) => Il.Emit(v ? OpCodes.Ldc_I4_1 : OpCodes.Ldc_I4_0);

    public void Call(MethodInfo m) => Il.Emit(OpCodes.Call, m);

    /// <summary>cpu.Eip = value.</summary>
    public void SetEip(uint value)
    {
        LoadCpu();
        Const(value);
        Il.Emit(OpCodes.Stfld, Members.Eip);
    }

    // ---- moving the region's locals to and from the CPU ----

    /// <summary>Loads every local the region keeps from the CPU (at entry).</summary>
    internal void LoadState()
    {
        if (!Flat) return;
        for (int r = 0; r < 8; r++)
        {
            LoadGprField(r);
            Il.Emit(OpCodes.Stloc, regs[r]);
        }
        LoadFlagFields();
        LoadCpu();
        Il.Emit(OpCodes.Ldfld, Members.MmuField);
        // The TLBs a privilege level uses change only with CPL or alignment checking, which
        // only instructions that end a block change: constant while the region runs. The
        // write TLB lies Mmu.WriteTlbOffset bytes after the read TLB: one base for both.
        Call(Members.ReadTlb);
        Il.Emit(OpCodes.Stloc, tlb);
        Dirty = 0;
        ForgetFlags();
    }

    /// <summary>Pushes the address of cpu.Gpr[r] (plain IL: nothing for RyuJIT to inline).</summary>
    private void GprFieldAddress(int r)
    {
        LoadCpu();
        Il.Emit(OpCodes.Ldflda, Members.Gpr);
        if (r != 0)
        {
            Const(4 * r);
            Il.Emit(OpCodes.Add);
        }
    }

    private void LoadGprField(int r)
    {
        GprFieldAddress(r);
        Il.Emit(OpCodes.Ldind_U4);
    }

    /// <summary>The CPU fields the flag locals and the count mirror, in the order of the locals.</summary>
    private (System.Reflection.FieldInfo Field, LocalBuilder Local)[] FlagFields =>
        new[] { (Members.FlagsOp, flagsOp), (Members.FlagsSrc1, flagsSrc1), (Members.FlagsSrc2, flagsSrc2),
                (Members.FlagsRes, flagsRes), (Members.Eflags, eflags), (Members.InstructionCount, count) };

    private void LoadFlagFields()
    {
        foreach ((System.Reflection.FieldInfo field, LocalBuilder local) in FlagFields)
        {
            LoadCpu();
            Il.Emit(OpCodes.Ldfld, field);
            Il.Emit(OpCodes.Stloc, local);
        }
    }

    /// <summary>cpu.field = local.</summary>
    private void StoreField(System.Reflection.FieldInfo field, LocalBuilder local)
    {
        LoadCpu();
        Il.Emit(OpCodes.Ldloc, local);
        Il.Emit(OpCodes.Stfld, field);
    }

    /// <summary>Stores the locals named by <paramref name="mask"/> (see <see cref="Dirty"/>) into the CPU; does not change <see cref="Dirty"/>.</summary>
    internal void Spill(int mask)
    {
        if (!Flat) return;
        for (int r = 0; r < 8; r++)
        {
            if ((mask & (1 << r)) == 0) continue;
            GprFieldAddress(r);
            Il.Emit(OpCodes.Ldloc, regs[r]);
            Il.Emit(OpCodes.Stind_I4);
        }
        if ((mask & DirtyFlags) != 0)
        {
            LoadCpu();
            PushFlagsOpForStore();
            Il.Emit(OpCodes.Stfld, Members.FlagsOp);
            StoreField(Members.FlagsSrc1, flagsSrc1);
            StoreField(Members.FlagsSrc2, flagsSrc2);
            StoreField(Members.FlagsRes, flagsRes);
        }
        if ((mask & (DirtyEflags | (PendingMask != 0 ? DirtyFlags : 0))) != 0)
        {
            LoadCpu();
            PushEflagsForStore();
            Il.Emit(OpCodes.Stfld, Members.Eflags);
        }
        if ((mask & DirtyCount) != 0) StoreField(Members.InstructionCount, count);
    }

    /// <summary>FlagsOp as the CPU must get it: with rotate flags pending, the merged (eager) state.</summary>
    private void PushFlagsOpForStore()
    {
        if (PendingMask != 0) Const(LazyFlags.Eager);
        else if (KnownOp >= 0) Const(KnownOp);
        else Il.Emit(OpCodes.Ldloc, flagsOp);
    }

    /// <summary>EFLAGS as the CPU must get it: with rotate flags pending, merged with the lazy state's other flags.</summary>
    private void PushEflagsForStore()
    {
        if (PendingMask == 0)
        {
            Il.Emit(OpCodes.Ldloc, eflags);
            return;
        }
        // (eflags & ~Arith) | (arith(lazy state) & ~pending) | pendingBits
        Il.Emit(OpCodes.Ldloc, eflags);
        Const(~Flags.Arith);
        Il.Emit(OpCodes.And);
        Const(KnownOp);
        Il.Emit(OpCodes.Ldloc, flagsSrc1);
        Il.Emit(OpCodes.Ldloc, flagsSrc2);
        Il.Emit(OpCodes.Ldloc, flagsRes);
        Il.Emit(OpCodes.Ldloc, eflags);
        Call(Members.ArithOf);
        Const(Flags.Arith & ~PendingMask);
        Il.Emit(OpCodes.And);
        Il.Emit(OpCodes.Or);
        Il.Emit(OpCodes.Ldloc, pendingBits);
        Il.Emit(OpCodes.Or);
    }

    /// <summary>Whether rotate flags can be kept aside now (see <see cref="PendingMask"/>).</summary>
    public bool CanDeferFlags => KnownOp >= 0 && PendingMask == 0;

    /// <summary>
    /// A rotate by CL: on each path the emitter stores the bits aside (<see cref="StorePending"/>,
    /// or <see cref="StorePendingFromCurrent"/> when the count is zero and nothing changes),
    /// then after the join calls <see cref="MarkPending"/>.
    /// </summary>
    public void StorePending(LocalBuilder bits, uint mask)
    {
        if (FlagsDead) return;
        Il.Emit(OpCodes.Ldloc, bits);
        Const(mask & Flags.Arith);
        Il.Emit(OpCodes.And);
        Il.Emit(OpCodes.Stloc, pendingBits);
    }

    /// <summary>pendingBits = the current flags of <paramref name="mask"/> (a rotate by zero changes none).</summary>
    public void StorePendingFromCurrent(uint mask)
    {
        if (FlagsDead) return;
        Const(KnownOp);
        Il.Emit(OpCodes.Ldloc, flagsSrc1);
        Il.Emit(OpCodes.Ldloc, flagsSrc2);
        Il.Emit(OpCodes.Ldloc, flagsRes);
        Il.Emit(OpCodes.Ldloc, eflags);
        Call(Members.ArithOf);
        Const(mask & Flags.Arith);
        Il.Emit(OpCodes.And);
        Il.Emit(OpCodes.Stloc, pendingBits);
    }

    public void MarkPending(uint mask)
    {
        if (FlagsDead) return;
        PendingMask = mask & Flags.Arith;
        Dirty |= DirtyFlags | DirtyEflags;
    }

    /// <summary>Merges pending rotate flags into the flag locals (the state becomes eager), where flags are read.</summary>
    public void Materialize()
    {
        if (PendingMask == 0) return;
        PushEflagsForStore();
        Il.Emit(OpCodes.Stloc, eflags);
        Const(LazyFlags.Eager);
        Il.Emit(OpCodes.Stloc, flagsOp);
        PendingMask = 0;
        KnownOp = LazyFlags.Eager;
        Dirty |= DirtyFlags | DirtyEflags;
    }

    /// <summary>Pushes the CPU and the locals as <see cref="StateStore"/>'s calls take them: the registers, the lazy flags and EFLAGS (pending rotate flags merged), the count.</summary>
    private void PushStateForStore()
    {
        LoadCpu();
        for (int r = 0; r < 8; r++) Il.Emit(OpCodes.Ldloc, regs[r]);
        PushFlagsOpForStore();
        Il.Emit(OpCodes.Ldloc, flagsSrc1);
        Il.Emit(OpCodes.Ldloc, flagsSrc2);
        Il.Emit(OpCodes.Ldloc, flagsRes);
        PushEflagsForStore();
        Il.Emit(OpCodes.Ldloc, count);
    }

    /// <summary>Stores every local that differs from the CPU: the CPU then holds the whole state.</summary>
    public void SpillAll()
    {
        Materialize();
        Spill(Dirty);
        Dirty = 0;
    }

    /// <summary>Reloads every local from the CPU (after code that may have changed any of it).</summary>
    public void ReloadAll() => Reload(DirtyAll);

    /// <summary>Reloads from the CPU the locals named by <paramref name="mask"/> (after generic code that may have changed them).</summary>
    public void Reload(int mask)
    {
        if (!Flat) return;
        for (int r = 0; r < 8; r++)
        {
            if ((mask & (1 << r)) == 0) continue;
            LoadGprField(r);
            Il.Emit(OpCodes.Stloc, regs[r]);
        }
        if ((mask & (DirtyFlags | DirtyEflags)) != 0)
        {
            LoadFlagFields();
            ForgetFlags();
        }
        Dirty &= ~mask;
    }

    /// <summary>Before an instruction that can fault or look at the clock: the CPU gets the whole state and this EIP.</summary>
    public void SyncForFault(uint eip)
    {
        SpillAll();
        SetEip(eip);
    }

    /// <summary>
    /// Before a fast instruction's operand goes through the CPU (a segment that is not flat),
    /// which may fault or reach a device: the CPU gets the state the locals
    /// hold, the instruction's EIP and the running block. The fast path is left as it is
    /// (<see cref="Dirty"/> does not change).
    /// </summary>
    public void SyncSlow()
    {
        if (Generic) return; // generic instructions are synchronised around as a whole
        StoreForLeaving((uint)Block.Code[Index].IP);
    }

    /// <summary>
    /// The CPU gets the state the locals hold, EIP = <paramref name="eip"/> and the running
    /// block: before a slow path, or when the region leaves. <see cref="Dirty"/> does not change.
    /// </summary>
    public void StoreForLeaving(uint eip)
    {
        if (!Flat)
        {
            SetEip(eip);
            return;
        }
        if (System.Numerics.BitOperations.PopCount((uint)Dirty) > 3)
        {
            // One call storing everything (clean locals equal the CPU's fields anyway).
            PushStateForStore();
            Const(eip);
            Const(BlockIndex);
            Call(Members.StoreState);
            return;
        }
        Spill(Dirty);
        SetEip(eip);
        LoadCpu();
        Const(BlockIndex);
        Il.Emit(OpCodes.Stfld, Members.RegionBlock);
    }

    /// <summary>
    /// Stores every local into the CPU, with EIP from local <paramref name="eip"/>: the shared
    /// exit of a region (clean locals equal the CPU's fields, so storing them too is harmless).
    /// Pending rotate flags must have been merged.
    /// </summary>
    internal void StoreEverything(LocalBuilder eip)
    {
        if (Flat)
        {
            // Inline stores, not StateStore's one call: there is one such exit per region, and
            // every RET and indirect jump leaving the region passes through it.
            int knownOp = KnownOp;
            uint pendingMask = PendingMask;
            ForgetFlags(); // paths with different flag states meet here (each merged any pending rotate flags)
            Spill(DirtyAll);
            KnownOp = knownOp;
            PendingMask = pendingMask;
            StoreField(Members.Eip, eip);
            LoadCpu();
            Const(0);
            Il.Emit(OpCodes.Stfld, Members.RegionBlock);
            return;
        }
        LoadCpu();
        Il.Emit(OpCodes.Ldloc, eip);
        Il.Emit(OpCodes.Stfld, Members.Eip);
    }

    /// <summary>count += n: the block's instructions retire (compiled code keeps the count in a local).</summary>
    internal void Retire(int n)
    {
        Il.Emit(OpCodes.Ldloc, count);
        Il.Emit(OpCodes.Ldc_I8, (long)n);
        Il.Emit(OpCodes.Add);
        Il.Emit(OpCodes.Stloc, count);
        Dirty |= DirtyCount;
    }

    /// <summary>Pushes the retired-instruction count (a long).</summary>
    internal void LoadCount()
    {
        if (Flat) Il.Emit(OpCodes.Ldloc, count);
        else
        {
            LoadCpu();
            Il.Emit(OpCodes.Ldfld, Members.InstructionCount);
        }
    }

    // ---- general registers ----

    /// <summary>Pushes the value of general register <paramref name="r"/> of the given size.</summary>
    public void LoadReg(int r, int size)
    {
        if (Generic)
        {
            LoadCpu();
            Const(r);
            if (size == 2)
            {
                Call(Members.GetReg32);
            }
            else
            {
                Const(size);
                Call(Members.GetReg);
            }
            return;
        }
        switch (size)
        {
            case 2:
                Il.Emit(OpCodes.Ldloc, regs[r]);
                break;
            case 1:
                Il.Emit(OpCodes.Ldloc, regs[r]);
                Il.Emit(OpCodes.Conv_U2);
                break;
            default:
                if (r == ForwardLowByte)
                {
                    Il.Emit(OpCodes.Ldloc, lowByte);
                    return;
                }
                if (r < 4)
                {
                    Il.Emit(OpCodes.Ldloc, regs[r]);
                }
                else
                {
                    Il.Emit(OpCodes.Ldloc, regs[r - 4]);
                    Const(8);
                    Il.Emit(OpCodes.Shr_Un);
                }
                Il.Emit(OpCodes.Conv_U1);
                break;
        }
    }

    /// <summary>Stores the value on top of the stack into general register <paramref name="r"/> (uses the Result local).</summary>
    public void StoreReg(int r, int size)
    {
        Il.Emit(OpCodes.Stloc, scratchB);
        if (Generic)
        {
            LoadCpu();
            Const(r);
            if (size == 2)
            {
                Il.Emit(OpCodes.Ldloc, scratchB);
                Call(Members.SetReg32);
            }
            else
            {
                Const(size);
                Il.Emit(OpCodes.Ldloc, scratchB);
                Call(Members.SetReg);
            }
            return;
        }
        switch (size)
        {
            case 2:
                Il.Emit(OpCodes.Ldloc, scratchB);
                Il.Emit(OpCodes.Stloc, regs[r]);
                Dirty |= 1 << r;
                break;
            case 1:
                // r = (r & 0xFFFF0000) | (ushort)v
                Il.Emit(OpCodes.Ldloc, regs[r]);
                Const(0xFFFF_0000u);
                Il.Emit(OpCodes.And);
                Il.Emit(OpCodes.Ldloc, scratchB);
                Il.Emit(OpCodes.Conv_U2);
                Il.Emit(OpCodes.Or);
                Il.Emit(OpCodes.Stloc, regs[r]);
                Dirty |= 1 << r;
                break;
            default:
            {
                int full = r & 3;
                bool high = r >= 4;
                if (r == CaptureLowByte)
                {
                    Il.Emit(OpCodes.Ldloc, scratchB);
                    Il.Emit(OpCodes.Conv_U1);
                    Il.Emit(OpCodes.Stloc, lowByte);
                    LowByteCaptured = true;
                }
                Il.Emit(OpCodes.Ldloc, regs[full]);
                Const(high ? 0xFFFF_00FFu : 0xFFFF_FF00u);
                Il.Emit(OpCodes.And);
                Il.Emit(OpCodes.Ldloc, scratchB);
                Il.Emit(OpCodes.Conv_U1);
                if (high)
                {
                    Const(8);
                    Il.Emit(OpCodes.Shl);
                }
                Il.Emit(OpCodes.Or);
                Il.Emit(OpCodes.Stloc, regs[full]);
                Dirty |= 1 << full;
                break;
            }
        }
    }

    /// <summary>The local holding the whole 32-bit register <paramref name="r"/> (fast emitters).</summary>
    public LocalBuilder RegLocal(int r) => regs[r];

    /// <summary>Marks register <paramref name="r"/>'s local as changed (fast emitters that store into <see cref="RegLocal"/>).</summary>
    public void MarkDirty(int r) => Dirty |= 1 << r;

    // ---- memory ----

    /// <summary>Pushes the effective address of the instruction's memory operand.</summary>
    public void EffectiveAddress(ref Instruction i)
    {
        MemoryOperand m = MemoryOperand.Of(ref i);
        if (Generic)
        {
            LoadCpu();
            Const(m.Base);
            Const(m.Index);
            Const(m.Scale);
            Const(m.Displacement);
            Const(m.AddressSize16);
            Call(Members.Ea);
            return;
        }
        // base + index * scale + displacement, from the locals, wrapped to 16 bits for 16-bit addressing.
        bool any = false;
        if (m.Base >= 0)
        {
            Il.Emit(OpCodes.Ldloc, regs[m.Base]);
            any = true;
        }
        if (m.Index >= 0)
        {
            Il.Emit(OpCodes.Ldloc, regs[m.Index]);
            if (m.Scale > 1)
            {
                Const(m.Scale switch { 2 => 1, 4 => 2, _ => 3 });
                Il.Emit(OpCodes.Shl);
            }
            if (any) Il.Emit(OpCodes.Add);
            any = true;
        }
        if (!any) Const(m.Displacement);
        else if (m.Displacement != 0)
        {
            Const(m.Displacement);
            Il.Emit(OpCodes.Add);
        }
        if (m.AddressSize16)
        {
            Il.Emit(OpCodes.Conv_U2);
        }
    }

    /// <summary>
    /// Whether the memory operand's segment is one of the flat ones (ES, SS, DS) in a flat
    /// region, so its offset is its linear address and no segment check is needed.
    /// </summary>
    public bool FlatOperand(ref Instruction i)
    {
        if (Generic || !Flat) return false;
        int s = Cpu.MemSeg(ref i);
        return s is SegReg.DS or SegReg.ES or SegReg.SS;
    }

    /// <summary>Pushes the segment number and the effective address of the memory operand: the (seg, ea) pair semantic methods take.</summary>
    public void MemoryAddress(ref Instruction i)
    {
        Const(Cpu.MemSeg(ref i));
        EffectiveAddress(ref i);
    }

    /// <summary>Calls static method <paramref name="name"/> of <paramref name="group"/> (an instruction group in src/Cpu).</summary>
    public void CallSemantic(Type group, string name) => Call(Members.Static(group, name));

    /// <summary>
    /// Calls static method <paramref name="name"/> of <paramref name="group"/> through its
    /// entry point, so that RyuJIT cannot inline it: for semantic methods that are large
    /// once their own callees are inlined (x87), where inlining costs compile time and saves
    /// little next to the work they do.
    /// </summary>
    public void CallSemanticNotInlined(Type group, string name)
    {
        MethodInfo m = Members.Static(group, name);
        Il.Emit(OpCodes.Ldc_I8, (long)m.MethodHandle.GetFunctionPointer());
        Il.Emit(OpCodes.Conv_I);
        var parameters = m.GetParameters();
        var types = new Type[parameters.Length];
        for (int k = 0; k < types.Length; k++) types[k] = parameters[k].ParameterType;
        Il.EmitCalli(OpCodes.Calli, System.Reflection.CallingConventions.Standard, m.ReturnType, types, null);
    }

    /// <summary>The size (0 byte, 1 word, 2 doubleword) of operand <paramref name="n"/>, a register or memory.</summary>
    public static int OperandSizeOf(ref Instruction i, int n) =>
        i.GetOpKind(n) == OpKind.Register ? Shapes.SizeOfRegister(i.GetOpRegister(n)) : SizeOfMemory(i.MemorySize);

    /// <summary>The size (0 byte, 1 word, 2 doubleword) of a memory operand.</summary>
    public static int SizeOfMemory(MemorySize m) => m.GetSize() switch { 1 => 0, 2 => 1, _ => 2 };

    /// <summary>Pushes operand <paramref name="n"/> (register, memory or immediate) at the given size.</summary>
    public void ReadOperand(ref Instruction i, int n, int size)
    {
        switch (i.GetOpKind(n))
        {
            case OpKind.Register:
                LoadReg(Cpu.RegNum(i.GetOpRegister(n)), size);
                break;
            case OpKind.Memory:
                if (FlatOperand(ref i))
                {
                    EffectiveAddress(ref i);
                    ReadFlat(size);
                    break;
                }
                SyncSlow();
                LoadCpu();
                Const(Cpu.MemSeg(ref i));
                EffectiveAddress(ref i);
                Const(size);
                Call(Members.ReadMem);
                break;
            default:
                Const(Cpu.Immediate(ref i, n));
                break;
        }
    }

    /// <summary>Writes the value on top of the stack to operand <paramref name="n"/> (register or memory).</summary>
    public void WriteOperand(ref Instruction i, int n, int size)
    {
        if (i.GetOpKind(n) == OpKind.Register)
        {
            StoreReg(Cpu.RegNum(i.GetOpRegister(n)), size);
            return;
        }
        Il.Emit(OpCodes.Stloc, scratchB);
        if (FlatOperand(ref i))
        {
            EffectiveAddress(ref i);
            Il.Emit(OpCodes.Stloc, linear);
            WriteFlat(size, scratchB);
            return;
        }
        SyncSlow();
        LoadCpu();
        Const(Cpu.MemSeg(ref i));
        EffectiveAddress(ref i);
        Const(size);
        Il.Emit(OpCodes.Ldloc, scratchB);
        Call(Members.WriteMem);
        WroteThroughCpu = true;
    }

    /// <summary>
    /// PUSH of local <paramref name="v"/> on the flat 32-bit stack: the store to ESP - 4 (which
    /// may fault, with nothing changed), then ESP moves. <paramref name="sp"/> is a scratch local.
    /// </summary>
    public void PushFlat32(LocalBuilder v, LocalBuilder sp)
    {
        Il.Emit(OpCodes.Ldloc, regs[Reg.ESP]);
        Const(4);
        Il.Emit(OpCodes.Sub);
        Il.Emit(OpCodes.Dup);
        Il.Emit(OpCodes.Stloc, sp);
        Il.Emit(OpCodes.Stloc, linear);
        WriteFlat(2, v);
        Il.Emit(OpCodes.Ldloc, sp);
        Il.Emit(OpCodes.Stloc, regs[Reg.ESP]);
        Dirty |= 1 << Reg.ESP;
    }

    /// <summary>Writes local <paramref name="v"/> to the flat linear address on the stack (see <see cref="WriteFlat"/>).</summary>
    public void WriteFlatAt(int size, LocalBuilder v)
    {
        Il.Emit(OpCodes.Stloc, linear);
        WriteFlat(size, v);
    }

    /// <summary>Pushes the step of a string instruction's index registers (<see cref="Strings.Step"/> of the EFLAGS local).</summary>
    public void StringDelta(int size)
    {
        Il.Emit(OpCodes.Ldloc, eflags);
        Const(size);
        Call(Members.Static(typeof(Strings), nameof(Strings.Step), typeof(uint), typeof(int)));
    }

    /// <summary>
    /// Reads <paramref name="size"/> at the linear address on the stack (nothing else may be
    /// under it: the slow path leaves the method) and pushes the value: the TLB looked up
    /// inline; a miss, or an access running into the next page, takes the instruction's slow
    /// path (<see cref="SlowPath"/>).
    /// </summary>
    public void ReadFlat(int size)
    {
        Il.Emit(OpCodes.Stloc, linear);
        TlbLookup(write: false, size, SlowPath());
        LoadIndirect(size);
    }

    /// <summary>Writes local <paramref name="v"/> (of the given size) to the linear address in <see cref="Linear"/>, like <see cref="ReadFlat"/>.</summary>
    public void WriteFlat(int size, LocalBuilder v)
    {
        TlbLookup(write: true, size, SlowPath());
        Il.Emit(OpCodes.Ldloc, v);
        StoreIndirect(size);
    }

    /// <summary>A slow path of the instruction being emitted and the state before it, emitted after the region's blocks.</summary>
    private readonly record struct PendingSlowPath(Label Label, int KnownOp, uint PendingMask, int BlockIndex, int Index);

    private readonly System.Collections.Generic.List<PendingSlowPath> slowPaths = new();

    /// <summary>
    /// A label for the slow path of an inline access of the (fast) instruction being emitted:
    /// there, with the IL stack empty and the locals still holding the state before the
    /// instruction, the region stores them and hands the whole instruction to the interpreter
    /// (<see cref="StateStore.StoreAndRun"/>), then leaves. Nothing joins the inline path after
    /// the access. The paths are emitted after the region's blocks (<see cref="EmitSlowPaths"/>).
    /// </summary>
    private Label SlowPath()
    {
        System.Diagnostics.Debug.Assert(!Generic && Flat);
        Label l = Il.DefineLabel();
        slowPaths.Add(new PendingSlowPath(l, KnownOp, PendingMask, BlockIndex, Index));
        return l;
    }

    /// <summary>
    /// Emits the slow paths the blocks asked for (see <see cref="SlowPath"/>). They share one
    /// store-back and call: each path only notes its instruction (block and index) in a local
    /// and branches to the shared tail, which stores the locals, runs the instruction and
    /// returns to the dispatcher. The tail reads the flags' operation from its local, which
    /// holds <see cref="KnownOp"/> wherever that is known (every writer of one sets the other).
    /// A store-back per access (17 arguments, about 90 bytes of machine code each) was a third
    /// of a region's code. A path with rotate flags pending keeps its own store-back, which
    /// merges them.
    /// </summary>
    internal void EmitSlowPaths(int dispatcherExit)
    {
        int knownOp = KnownOp;
        uint pendingMask = PendingMask;
        Label shared = Il.DefineLabel();
        bool anyShared = false;
        LocalBuilder? site = null;
        foreach (PendingSlowPath p in slowPaths)
        {
            Il.MarkLabel(p.Label);
            System.Diagnostics.Debug.Assert(p.BlockIndex < 1 << 16 && p.Index < 1 << 16);
            if (p.PendingMask == 0)
            {
                site ??= Il.DeclareLocal(typeof(int));
                Const(p.BlockIndex << 16 | p.Index);
                Il.Emit(OpCodes.Stloc, site);
                Il.Emit(OpCodes.Br, shared);
                anyShared = true;
                continue;
            }
            // The store-back as the instruction's own point saw it (pending rotate flags merged as there).
            KnownOp = p.KnownOp;
            PendingMask = p.PendingMask;
            PushStateForStore();
            Const(p.BlockIndex);
            Const(p.Index);
            Call(Members.StoreAndRun);
            Const(dispatcherExit);
            Il.Emit(OpCodes.Ret);
        }
        if (anyShared)
        {
            Il.MarkLabel(shared);
            KnownOp = -1;
            PendingMask = 0;
            PushStateForStore();
            Il.Emit(OpCodes.Ldloc, site!);
            Const(16);
            Il.Emit(OpCodes.Shr);
            Il.Emit(OpCodes.Ldloc, site!);
            Const(0xFFFF);
            Il.Emit(OpCodes.And);
            Call(Members.StoreAndRun);
            Const(dispatcherExit);
            Il.Emit(OpCodes.Ret);
        }
        KnownOp = knownOp;
        PendingMask = pendingMask;
        slowPaths.Clear();
    }

    /// <summary>
    /// Set when the instruction being emitted wrote memory through the CPU (a segment that is
    /// not flat), which can hit the running code: the region checks for leaving after it. Flat
    /// stores need no check: one into code always takes the slow path, which leaves anyway.
    /// </summary>
    internal bool WroteThroughCpu;

    /// <summary>Loads a value of <paramref name="size"/> (0 byte, 1 word, 2 doubleword) from the host address on the stack, zero-extended.</summary>
    private void LoadIndirect(int size) => Il.Emit(size switch { 0 => OpCodes.Ldind_U1, 1 => OpCodes.Ldind_U2, _ => OpCodes.Ldind_U4 });

    /// <summary>Stores a value of <paramref name="size"/> to the host address under it on the stack.</summary>
    private void StoreIndirect(int size) => Il.Emit(size switch { 0 => OpCodes.Stind_I1, 1 => OpCodes.Stind_I2, _ => OpCodes.Stind_I4 });

    /// <summary>
    /// Looks up <see cref="Linear"/> in a TLB: on a hit (the whole access inside the page)
    /// pushes the host address; else branches to <paramref name="miss"/> with nothing pushed.
    /// </summary>
    private const int TlbEntryShift = 4; // log2(Mmu.TlbEntrySize)

    private void TlbLookup(bool write, int size, Label miss)
    {
        System.Diagnostics.Debug.Assert(1 << TlbEntryShift == Mmu.TlbEntrySize);
        // The entry's offset in its TLB, ((linear >> 12) & (TlbEntries - 1)) * TlbEntrySize, as
        // one shift and one mask: (linear >> (12 - 4)) & ((TlbEntries - 1) << 4). The offset is
        // kept, not the entry's address: tlb + offset (+ a constant: the write TLB lies
        // Mmu.WriteTlbOffset further, the addend TlbAddendOffset into the entry) is then an x86
        // addressing mode of each load below, one add fewer on the way to the data.
        int side = write ? Mmu.WriteTlbOffset : 0;
        Il.Emit(OpCodes.Ldloc, linear);
        Const(PhysicalMemory.PageShift - TlbEntryShift);
        Il.Emit(OpCodes.Shr_Un);
        Const((Mmu.TlbEntries - 1) << TlbEntryShift);
        Il.Emit(OpCodes.And);
        Il.Emit(OpCodes.Conv_U);
        Il.Emit(OpCodes.Stloc, entry);
        // if (entry->Tag != ((linear + bytes - 1) & ~PageMask)) miss. One compare checks both
        // the page and that the access ends in it: the entry is the one of linear's page, so
        // its tag can equal the last byte's page only when that is linear's page too (the
        // next page's entry sits at the next index).
        Il.Emit(OpCodes.Ldloc, tlb);
        Il.Emit(OpCodes.Ldloc, entry);
        Il.Emit(OpCodes.Add);
        if (side != 0)
        {
            Const(side);
            Il.Emit(OpCodes.Add);
        }
        Il.Emit(OpCodes.Ldind_U4);
        Il.Emit(OpCodes.Ldloc, linear);
        if (size > 0)
        {
            Const(OperandSize.Bytes(size) - 1);
            Il.Emit(OpCodes.Add);
        }
        Const(~PhysicalMemory.PageMask);
        Il.Emit(OpCodes.And);
        Il.Emit(OpCodes.Bne_Un, miss);
        // host = entry->Addend + linear
        Il.Emit(OpCodes.Ldloc, tlb);
        Il.Emit(OpCodes.Ldloc, entry);
        Il.Emit(OpCodes.Add);
        Const(side + Mmu.TlbAddendOffset);
        Il.Emit(OpCodes.Add);
        Il.Emit(OpCodes.Ldind_I);
        Il.Emit(OpCodes.Ldloc, linear);
        Il.Emit(OpCodes.Conv_U);
        Il.Emit(OpCodes.Add);
    }

    /// <summary>
    /// Read-modify-write of a flat operand: computes its linear address into <see cref="Linear"/>,
    /// looks it up once in the write TLB, and pushes its value; a miss takes the instruction's
    /// slow path (<see cref="SlowPath"/>). <see cref="RmwWrite"/> stores the result.
    /// </summary>
    public void RmwRead(ref Instruction i, int size)
    {
        EffectiveAddress(ref i);
        Il.Emit(OpCodes.Stloc, linear);
        TlbLookup(write: true, size, SlowPath());
        Il.Emit(OpCodes.Dup);
        Il.Emit(OpCodes.Stloc, entry);
        LoadIndirect(size);
    }

    /// <summary>Stores the value on top of the stack into the operand <see cref="RmwRead"/> read (through the host address its lookup found).</summary>
    public void RmwWrite(int size)
    {
        Il.Emit(OpCodes.Stloc, value);
        Il.Emit(OpCodes.Ldloc, entry);
        Il.Emit(OpCodes.Ldloc, value);
        StoreIndirect(size);
    }

    /// <summary>Computes the write-checked linear address of a read-modify-write memory operand into <see cref="Linear"/> (generic emitters).</summary>
    public void LinearRmw(ref Instruction i, int size)
    {
        SyncSlow();
        LoadCpu();
        Const(Cpu.MemSeg(ref i));
        EffectiveAddress(ref i);
        Const(OperandSize.Bytes(size));
        Call(Members.LinearRmw);
        Il.Emit(OpCodes.Stloc, linear);
    }

    /// <summary>Pushes cpu.ReadLinear(Linear, size).</summary>
    public void ReadLinear(int size)
    {
        LoadCpu();
        Il.Emit(OpCodes.Ldloc, linear);
        Const(size);
        Call(Members.ReadLinear);
    }

    /// <summary>cpu.ReadLinearRmw(Linear, size): the read of a read-modify-write operand after <see cref="LinearRmw"/>.</summary>
    public void ReadLinearRmw(int size)
    {
        LoadCpu();
        Il.Emit(OpCodes.Ldloc, linear);
        Const(size);
        Call(Members.ReadLinearRmw);
    }

    /// <summary>cpu.WriteLinear(Linear, size, value on top of the stack).</summary>
    public void WriteLinear(int size)
    {
        Il.Emit(OpCodes.Stloc, scratchB);
        LoadCpu();
        Il.Emit(OpCodes.Ldloc, linear);
        Const(size);
        Il.Emit(OpCodes.Ldloc, scratchB);
        Call(Members.WriteLinear);
        WroteThroughCpu = true;
    }

    // ---- lazy flags in locals (fast emitters) ----

    /// <summary>
    /// Records a flag-setting operation: the lazy kind | size is a translation-time constant;
    /// its operands and result are in the given locals.
    /// </summary>
    public void SetLazy(int op, LocalBuilder src1, LocalBuilder src2, LocalBuilder res)
    {
        if (FlagsDead) return;
        Const(op);
        Il.Emit(OpCodes.Stloc, flagsOp);
        Il.Emit(OpCodes.Ldloc, src1);
        Il.Emit(OpCodes.Stloc, flagsSrc1);
        Il.Emit(OpCodes.Ldloc, src2);
        Il.Emit(OpCodes.Stloc, flagsSrc2);
        Il.Emit(OpCodes.Ldloc, res);
        Il.Emit(OpCodes.Stloc, flagsRes);
        KnownOp = op;
        PendingMask = 0;
        Dirty |= DirtyFlags;
    }

    /// <summary>A logic operation's flags (CF = OF = 0): the semantics record zero operands.</summary>
    public void SetLazyLogic(int size, LocalBuilder res)
    {
        if (FlagsDead) return;
        Const(LazyFlags.Logic | size);
        Il.Emit(OpCodes.Stloc, flagsOp);
        Const(0);
        Il.Emit(OpCodes.Stloc, flagsSrc1);
        Const(0);
        Il.Emit(OpCodes.Stloc, flagsSrc2);
        Il.Emit(OpCodes.Ldloc, res);
        Il.Emit(OpCodes.Stloc, flagsRes);
        KnownOp = LazyFlags.Logic | size;
        PendingMask = 0;
        Dirty |= DirtyFlags;
    }

    /// <summary>
    /// Stores arithmetic flags eagerly, as <see cref="Cpu.SetArithFlags(uint, uint)"/> does: the
    /// flags in <paramref name="mask"/> come from local <paramref name="bits"/>, the others keep
    /// their current values.
    /// </summary>
    public void SetEagerFlags(LocalBuilder bits, uint mask, bool mayDefer = false)
    {
        if (FlagsDead) return;
        if ((mask & Flags.Arith) != Flags.Arith && mayDefer && KnownOp >= 0 && PendingMask == 0)
        {
            // Rotates: keep the lazy state for the flags they leave, and theirs aside.
            Il.Emit(OpCodes.Ldloc, bits);
            Const(mask & Flags.Arith);
            Il.Emit(OpCodes.And);
            Il.Emit(OpCodes.Stloc, pendingBits);
            PendingMask = mask & Flags.Arith;
            Dirty |= DirtyFlags | DirtyEflags;
            return;
        }
        Materialize();
        if ((mask & Flags.Arith) == Flags.Arith) PendingMask = 0;
        // eflags = (eflags & ~Arith) | (current & Arith & ~mask) | (bits & mask)
        Il.Emit(OpCodes.Ldloc, eflags);
        Const(~Flags.Arith);
        Il.Emit(OpCodes.And);
        if ((mask & Flags.Arith) != Flags.Arith)
        {
            PushFlagState();
            Call(Members.ArithOf);
            Const(Flags.Arith & ~mask);
            Il.Emit(OpCodes.And);
            Il.Emit(OpCodes.Or);
        }
        Il.Emit(OpCodes.Ldloc, bits);
        Const(mask & Flags.Arith);
        Il.Emit(OpCodes.And);
        Il.Emit(OpCodes.Or);
        Il.Emit(OpCodes.Stloc, eflags);
        Const(LazyFlags.Eager);
        Il.Emit(OpCodes.Stloc, flagsOp);
        KnownOp = LazyFlags.Eager;
        Dirty |= DirtyFlags | DirtyEflags;
    }

    /// <summary>Forgets what the flag locals hold (after code where paths set them differently).</summary>
    public void FlagsUnknown()
    {
        if (FlagsDead) return;
        Materialize();
        ForgetFlags();
    }

    /// <summary>Pushes the lazy flag state: op, src1, src2, res, eflags (the arguments of <see cref="FlagMath"/>).</summary>
    private void PushFlagState()
    {
        if (KnownOp >= 0) Const(KnownOp); else Il.Emit(OpCodes.Ldloc, flagsOp);
        Il.Emit(OpCodes.Ldloc, flagsSrc1);
        Il.Emit(OpCodes.Ldloc, flagsSrc2);
        Il.Emit(OpCodes.Ldloc, flagsRes);
        Il.Emit(OpCodes.Ldloc, eflags);
    }

    /// <summary>Pushes condition code <paramref name="cc"/> (0-15) as a bool, evaluated on the flag locals.</summary>
    /// <remarks>
    /// When the operation that set the flags is known here, the common conditions become one
    /// IL compare of its operands or result (CMP then JB is a single unsigned compare). The
    /// others call <see cref="FlagMath"/>, which the CPU itself uses.
    /// </remarks>
    public void Condition(int cc)
    {
        Materialize();
        if (KnownOp >= 0 && InlineCondition(cc)) return;
        if (KnownOp < 0 && Guessed(op => CanInlineCondition(op, cc), () => InlineCondition(cc), () => ConditionCall(cc))) return;
        ConditionCall(cc);
    }

    private void ConditionCall(int cc)
    {
        Const(cc);
        PushFlagState();
        Call(Members.ConditionAny);
    }

    /// <summary>
    /// When the flag operation is unknown here but guessed (<see cref="GuessOp"/>) and
    /// <paramref name="inlinable"/> for it: flagsOp == guess ? the inline form : the general one.
    /// </summary>
    private bool Guessed(Func<int, bool> inlinable, Action inline, Action general)
    {
        int guess = GuessOp;
        if (guess < 0 || !inlinable(guess)) return false;
        Label slow = Il.DefineLabel(), done = Il.DefineLabel();
        Il.Emit(OpCodes.Ldloc, flagsOp);
        Const(guess);
        Il.Emit(OpCodes.Bne_Un, slow);
        KnownOp = guess;
        inline();
        KnownOp = -1;
        Il.Emit(OpCodes.Br, done);
        Il.MarkLabel(slow);
        general();
        Il.MarkLabel(done);
        return true;
    }

    /// <summary>Whether <see cref="InlineCondition"/> has a form for condition <paramref name="cc"/> after operation <paramref name="op"/>.</summary>
    private static bool CanInlineCondition(int op, int cc)
    {
        int kind = op & ~3;
        if (kind == LazyFlags.Eager) return false;
        return (kind, cc >> 1) switch
        {
            (LazyFlags.Sub, 1 or 3 or 6 or 7) => true,
            (LazyFlags.Logic, 0 or 1 or 3 or 6 or 7) => true,
            (_, 2 or 4) => true,
            (LazyFlags.Add, 1) => (op & 3) == LazyFlags.Size32,
            _ => false,
        };
    }

    private bool InlineCondition(int cc)
    {
        int kind = KnownOp & ~3, size = KnownOp & 3;
        bool negate = (cc & 1) != 0;
        if (kind == LazyFlags.Eager) return false;
        switch (kind, cc >> 1)
        {
            case (LazyFlags.Sub, 1): // B / AE: src1 < src2 unsigned
                Il.Emit(OpCodes.Ldloc, flagsSrc1);
                Il.Emit(OpCodes.Ldloc, flagsSrc2);
                Il.Emit(OpCodes.Clt_Un);
                break;
            case (LazyFlags.Sub, 3): // BE / A: A is src1 > src2 unsigned
                Il.Emit(OpCodes.Ldloc, flagsSrc1);
                Il.Emit(OpCodes.Ldloc, flagsSrc2);
                Il.Emit(OpCodes.Cgt_Un);
                negate = !negate;
                break;
            case (LazyFlags.Sub, 6): // L / GE: src1 < src2 signed
                Signed(flagsSrc1, size);
                Signed(flagsSrc2, size);
                Il.Emit(OpCodes.Clt);
                break;
            case (LazyFlags.Sub, 7): // LE / G: G is src1 > src2 signed
                Signed(flagsSrc1, size);
                Signed(flagsSrc2, size);
                Il.Emit(OpCodes.Cgt);
                negate = !negate;
                break;
            case (LazyFlags.Logic, 0): // O / NO, B / AE: OF = CF = 0
            case (LazyFlags.Logic, 1):
                Const(negate);
                return true;
            case (LazyFlags.Logic, 3): // BE / A: CF | ZF = ZF
            case (_, 2): // E / NE
                Il.Emit(OpCodes.Ldloc, flagsRes);
                Const(0);
                Il.Emit(OpCodes.Ceq);
                break;
            case (LazyFlags.Logic, 6): // L / GE: SF != OF = SF
            case (_, 4): // S / NS
                Il.Emit(OpCodes.Ldloc, flagsRes);
                Const((8 << size) - 1);
                Il.Emit(OpCodes.Shr_Un);
                Const(1);
                Il.Emit(OpCodes.And);
                break;
            case (LazyFlags.Logic, 7): // LE / G: G is result > 0 signed
                Signed(flagsRes, size);
                Const(0);
                Il.Emit(OpCodes.Cgt);
                negate = !negate;
                break;
            case (LazyFlags.Add, 1) when size == LazyFlags.Size32: // B / AE after a 32-bit ADD: the carry
                Il.Emit(OpCodes.Ldloc, flagsRes);
                Il.Emit(OpCodes.Ldloc, flagsSrc1);
                Il.Emit(OpCodes.Clt_Un);
                break;
            default:
                return false;
        }
        if (negate)
        {
            Const(0);
            Il.Emit(OpCodes.Ceq);
        }
        return true;
    }

    /// <summary>Pushes a flag local as a signed value of the operation's size.</summary>
    private void Signed(LocalBuilder l, int size)
    {
        Il.Emit(OpCodes.Ldloc, l);
        if (size == 0) Il.Emit(OpCodes.Conv_I1);
        else if (size == 1) Il.Emit(OpCodes.Conv_I2);
    }

    /// <summary>Pushes CF as 0 or 1, from the flag locals.</summary>
    public void CarryFlag()
    {
        Materialize();
        if (KnownOp < 0 && Guessed(CanInlineCarry, CarryFlag, CarryCall)) return;
        int kind = KnownOp & ~3, size = KnownOp & 3;
        if (KnownOp >= 0)
        {
            switch (kind)
            {
                case LazyFlags.Sub:
                    Il.Emit(OpCodes.Ldloc, flagsSrc1);
                    Il.Emit(OpCodes.Ldloc, flagsSrc2);
                    Il.Emit(OpCodes.Clt_Un);
                    return;
                case LazyFlags.Logic:
                    Const(0);
                    return;
                case LazyFlags.Add when size == LazyFlags.Size32:
                    Il.Emit(OpCodes.Ldloc, flagsRes);
                    Il.Emit(OpCodes.Ldloc, flagsSrc1);
                    Il.Emit(OpCodes.Clt_Un);
                    return;
                case LazyFlags.Inc:
                case LazyFlags.Dec:
                    Il.Emit(OpCodes.Ldloc, eflags);
                    Const(Flags.CF);
                    Il.Emit(OpCodes.And);
                    return;
            }
        }
        CarryCall();
    }

    private void CarryCall()
    {
        PushFlagState();
        Call(Members.CarryAny);
    }

    /// <summary>Whether <see cref="CarryFlag"/> has an inline form after operation <paramref name="op"/>.</summary>
    private static bool CanInlineCarry(int op) => (op & ~3) switch
    {
        LazyFlags.Sub or LazyFlags.Logic or LazyFlags.Inc or LazyFlags.Dec => true,
        LazyFlags.Add => (op & 3) == LazyFlags.Size32,
        _ => false,
    };

    /// <summary>EFLAGS.CF = CF of the current lazy state (INC and DEC keep CF there before going lazy).</summary>
    public void ParkCarry()
    {
        if (FlagsDead) return;
        Materialize();
        if ((KnownOp & ~3) is LazyFlags.Inc or LazyFlags.Dec) return; // CF is already parked in EFLAGS
        Il.Emit(OpCodes.Ldloc, eflags);
        Const(~Flags.CF);
        Il.Emit(OpCodes.And);
        CarryFlag();
        Il.Emit(OpCodes.Or);
        Il.Emit(OpCodes.Stloc, eflags);
        Dirty |= DirtyEflags;
    }
}

/// <summary>A memory operand decoded once at translation time.</summary>
public readonly record struct MemoryOperand(int Base, int Index, int Scale, uint Displacement, bool AddressSize16)
{
    public static MemoryOperand Of(ref Instruction i)
    {
        Register b = i.MemoryBase;
        Register x = i.MemoryIndex;
        return new MemoryOperand(b == Register.None ? -1 : Cpu.RegNum(b), x == Register.None ? -1 : Cpu.RegNum(x),
            i.MemoryIndexScale, i.MemoryDisplacement32, Cpu.AddressSize16(ref i));
    }
}

/// <summary>Reflection handles of the CPU members compiled code calls.</summary>
internal static class Members
{
    private const BindingFlags Pub = BindingFlags.Public | BindingFlags.Instance;
    private const BindingFlags PubStatic = BindingFlags.Public | BindingFlags.Static;

    public static readonly FieldInfo Eip = typeof(Cpu).GetField(nameof(Cpu.Eip))!;
    public static readonly FieldInfo BlockExit = typeof(Cpu).GetField(nameof(Cpu.BlockExit))!;
    public static readonly FieldInfo InstructionCount = typeof(Cpu).GetField(nameof(Cpu.InstructionCount))!;
    public static readonly FieldInfo ExitAt = typeof(Cpu).GetField(nameof(Cpu.ExitAt))!;
    public static readonly FieldInfo RegionBlock = typeof(Cpu).GetField(nameof(Cpu.RegionBlock))!;
    public static readonly FieldInfo FlagsOp = typeof(Cpu).GetField(nameof(Cpu.FlagsOp))!;
    public static readonly FieldInfo FlagsSrc1 = typeof(Cpu).GetField(nameof(Cpu.FlagsSrc1))!;
    public static readonly FieldInfo FlagsSrc2 = typeof(Cpu).GetField(nameof(Cpu.FlagsSrc2))!;
    public static readonly FieldInfo FlagsRes = typeof(Cpu).GetField(nameof(Cpu.FlagsRes))!;
    public static readonly FieldInfo Eflags = typeof(Cpu).GetField(nameof(Cpu.Eflags))!;
    public static readonly FieldInfo Gpr = typeof(Cpu).GetField(nameof(Cpu.Gpr))!;
    public static readonly FieldInfo MmuField = typeof(Cpu).GetField(nameof(Cpu.Mmu))!;
    public static readonly MethodInfo MayGoOnAfterSensitive = Method(nameof(Cpu.MayGoOnAfterSensitive));
    public static readonly MethodInfo GetReg = Method(nameof(Cpu.GetReg), typeof(int), typeof(int));
    public static readonly MethodInfo SetReg = Method(nameof(Cpu.SetReg), typeof(int), typeof(int), typeof(uint));
    public static readonly MethodInfo GetReg32 = Method(nameof(Cpu.GetReg32), typeof(int));
    public static readonly MethodInfo SetReg32 = Method(nameof(Cpu.SetReg32), typeof(int), typeof(uint));
    public static readonly MethodInfo Ea = Method(nameof(Cpu.Ea), typeof(int), typeof(int), typeof(int), typeof(uint), typeof(bool));
    public static readonly MethodInfo ReadMem = Method(nameof(Cpu.ReadMem), typeof(int), typeof(uint), typeof(int));
    public static readonly MethodInfo WriteMem = Method(nameof(Cpu.WriteMem), typeof(int), typeof(uint), typeof(int), typeof(uint));
    public static readonly MethodInfo LinearRmw = Method(nameof(Cpu.LinearRmw), typeof(int), typeof(uint), typeof(int));
    public static readonly MethodInfo ReadLinear = Method(nameof(Cpu.ReadLinear), typeof(uint), typeof(int));
    public static readonly MethodInfo ReadLinearRmw = Method(nameof(Cpu.ReadLinearRmw), typeof(uint), typeof(int));
    public static readonly MethodInfo WriteLinear = Method(nameof(Cpu.WriteLinear), typeof(uint), typeof(int), typeof(uint));
    public static readonly MethodInfo Condition = Method(nameof(Cpu.Condition), typeof(int));
    public static readonly MethodInfo Push32 = Method(nameof(Cpu.Push32), typeof(uint));
    public static readonly MethodInfo Pop32 = Method(nameof(Cpu.Pop32));
    public static readonly MethodInfo LeaveEarly = typeof(Interpreter).GetMethod(nameof(Interpreter.LeaveEarly), PubStatic)!;

    public static readonly MethodInfo ConditionKnown = Static(typeof(FlagMath), nameof(FlagMath.ConditionKnown));
    public static readonly MethodInfo ConditionAny = Static(typeof(FlagMath), nameof(FlagMath.ConditionAny));
    public static readonly MethodInfo CarryKnown = Static(typeof(FlagMath), nameof(FlagMath.CarryKnown));
    public static readonly MethodInfo CarryAny = Static(typeof(FlagMath), nameof(FlagMath.CarryAny));
    public static readonly MethodInfo ArithOf = Static(typeof(FlagMath), nameof(FlagMath.ArithOf));

    public static readonly MethodInfo ReadTlb = typeof(Mmu).GetProperty(nameof(Mmu.ReadTlb))!.GetMethod!;
    public static readonly MethodInfo StoreState = typeof(StateStore).GetMethod(nameof(StateStore.Store))!;
    public static readonly MethodInfo StoreAndRun = typeof(StateStore).GetMethod(nameof(StateStore.StoreAndRun))!;
    public static readonly MethodInfo ProbeWrite = typeof(Mmu).GetMethod(nameof(Mmu.ProbeWrite), Pub, new[] { typeof(uint), typeof(int) })!;
    private static readonly MethodInfo[] MmuReads =
    {
        typeof(Mmu).GetMethod(nameof(Mmu.Read8), Pub, new[] { typeof(uint) })!,
        typeof(Mmu).GetMethod(nameof(Mmu.Read16), Pub, new[] { typeof(uint) })!,
        typeof(Mmu).GetMethod(nameof(Mmu.Read32), Pub, new[] { typeof(uint) })!,
    };
    private static readonly MethodInfo[] MmuWrites =
    {
        typeof(Mmu).GetMethod(nameof(Mmu.Write8), Pub, new[] { typeof(uint), typeof(byte) })!,
        typeof(Mmu).GetMethod(nameof(Mmu.Write16), Pub, new[] { typeof(uint), typeof(ushort) })!,
        typeof(Mmu).GetMethod(nameof(Mmu.Write32), Pub, new[] { typeof(uint), typeof(uint) })!,
    };

    /// <summary>Mmu.Read8/16/32: a linear read through the TLB (zero-extended to uint on the IL stack).</summary>
    public static MethodInfo MmuRead(int size) => MmuReads[size];

    /// <summary>Mmu.Write8/16/32.</summary>
    public static MethodInfo MmuWrite(int size) => MmuWrites[size];

    public static MethodInfo Method(string name, params Type[] args) =>
        typeof(Cpu).GetMethod(name, Pub, args) ?? throw new MissingMethodException(nameof(Cpu), name);

    /// <summary>The public static method <paramref name="name"/> of <paramref name="t"/>; of overloads, the one over a <see cref="Cpu"/>.</summary>
    /// <summary>The public static method <paramref name="name"/> of <paramref name="t"/> over exactly these parameter types.</summary>
    public static MethodInfo Static(Type t, string name, params Type[] args) =>
        t.GetMethod(name, PubStatic, args) ?? throw new MissingMethodException(t.Name, name);

    public static MethodInfo Static(Type t, string name)
    {
        MethodInfo? found = null;
        foreach (MethodInfo m in t.GetMethods(PubStatic))
        {
            if (m.Name != name) continue;
            ParameterInfo[] p = m.GetParameters();
            if (found is null || p.Length > 0 && p[0].ParameterType == typeof(Cpu)) found = m;
        }
        return found ?? throw new MissingMethodException(t.Name, name);
    }
}
