using System;
using System.Reflection.Emit;
using Emu.Translator.Emit;
using Emu.X86;
using Iced.Intel;
using Label = System.Reflection.Emit.Label;

namespace Emu.Translator;

/// <summary>What compiled code keeps alive: its block (for early exits) and the decoded instructions (for handler calls).</summary>
public sealed class BlockConstants
{
    public readonly Block Block;
    public readonly Instruction[] Code;

    public BlockConstants(Block block)
    {
        Block = block;
        Code = block.Code;
    }
}

/// <summary>
/// Compiles a decoded block into one DynamicMethod. Each instruction becomes IL that calls
/// the semantic methods the interpreter calls, with operands folded to constants; an
/// instruction without a group emitter calls its interpreter handler. Before any
/// instruction that can fault, EIP is stored, so a fault leaves the same state the
/// interpreter would; after any that can write memory or leave early, the block checks
/// <see cref="Cpu.BlockExit"/> exactly where the interpreter does.
/// </summary>
public static class BlockCompiler
{
    private static readonly Type[] Parameters = { typeof(BlockConstants), typeof(Cpu) };

    /// <summary>Compiles <paramref name="block"/>; the delegate runs the whole block.</summary>
    public static Action<Cpu> Compile(Block block)
    {
        var dm = new DynamicMethod($"block_{block.CsBase + block.Eip:X8}", typeof(void), Parameters, typeof(BlockConstants).Module, skipVisibility: true);
        ILGenerator il = dm.GetILGenerator(64 + block.Count * 48);
        var ctx = new EmitContext(il, block);

        // Called with a null CPU, the method returns at once: the compile thread uses that to
        // make RyuJIT compile it there rather than on the emulation thread.
        Label body = il.DefineLabel();
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Brtrue, body);
        il.Emit(OpCodes.Ret);
        il.MarkLabel(body);

        Instruction[] code = block.Code;
        for (int n = 0; n < block.Count; n++)
        {
            ref Instruction ins = ref code[n];
            ctx.Index = n;
            IInstructionEmitter? emitter = EmitterTable.For(ins.Code);
            bool folded = emitter is not null && emitter.CanEmit(ref ins);
            if (!folded || !FaultFree.Is(ref ins)) ctx.SetEip((uint)ins.IP);
            if (folded) emitter!.Emit(ctx, ref ins);
            else CallHandler(ctx, ref ins, n);
            if (!folded || MayWriteOrLeave.Is(ref ins)) EmitExitCheck(ctx, n);
        }

        // Retire the block and, when it falls through, continue after it.
        ctx.LoadCpu();
        ctx.LoadCpu();
        il.Emit(OpCodes.Ldfld, Members.InstructionCount);
        il.Emit(OpCodes.Ldc_I8, (long)block.Count);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Stfld, Members.InstructionCount);
        if (!block.EndsInBranch) ctx.SetEip(block.NextEip);
        il.Emit(OpCodes.Ret);

        return (Action<Cpu>)dm.CreateDelegate(typeof(Action<Cpu>), new BlockConstants(block));
    }

    /// <summary>Calls the instruction's interpreter handler with a reference to its decoded form.</summary>
    private static unsafe void CallHandler(EmitContext ctx, ref Instruction ins, int n)
    {
        ILGenerator il = ctx.Il;
        ctx.LoadCpu();
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Ldfld, typeof(BlockConstants).GetField(nameof(BlockConstants.Code))!);
        ctx.Const(n);
        il.Emit(OpCodes.Ldelema, typeof(Instruction));
        il.Emit(OpCodes.Ldc_I8, (long)(nint)InstructionTable.Handlers[(int)ins.Code]);
        il.Emit(OpCodes.Conv_I);
        il.EmitCalli(OpCodes.Calli, System.Reflection.CallingConventions.Standard, typeof(void),
            new[] { typeof(Cpu), typeof(Instruction).MakeByRefType() }, null);
    }

    /// <summary>if (cpu.BlockExit != 0) { Interpreter.LeaveEarly(cpu, block, n); return; }</summary>
    private static void EmitExitCheck(EmitContext ctx, int n)
    {
        ILGenerator il = ctx.Il;
        Label go = il.DefineLabel();
        ctx.LoadCpu();
        il.Emit(OpCodes.Ldfld, Members.BlockExit);
        il.Emit(OpCodes.Brfalse, go);
        ctx.LoadCpu();
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Ldfld, typeof(BlockConstants).GetField(nameof(BlockConstants.Block))!);
        ctx.Const(n);
        ctx.Call(Members.LeaveEarly);
        il.Emit(OpCodes.Ret);
        il.MarkLabel(go);
    }
}
