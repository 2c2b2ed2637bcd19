using System.Reflection;
using System.Reflection.Emit;
using Emu.X86;
using Iced.Intel;
using Label = System.Reflection.Emit.Label;

namespace Emu.Translator.Emit;

/// <summary>Jcc, JMP rel, CALL rel and RET, through the semantics of <see cref="ControlTransfer"/>.</summary>
public sealed class ControlTransferEmitter : IInstructionEmitter
{
    private static readonly MethodInfo Jump = Members.Static(typeof(ControlTransfer), nameof(ControlTransfer.Jump));
    private static readonly MethodInfo Call = Members.Static(typeof(ControlTransfer), nameof(ControlTransfer.Call));
    private static readonly MethodInfo Ret = Members.Static(typeof(ControlTransfer), nameof(ControlTransfer.Ret));

    internal static void Register(IInstructionEmitter?[] t)
    {
        var e = new ControlTransferEmitter();
        for (Code cc = Code.Jo_rel8_16; cc <= Code.Jg_rel8_64; cc += 3)
        {
            t[(int)cc] = e;
            t[(int)cc + 1] = e;
        }
        for (Code cc = Code.Jo_rel16; cc <= Code.Jg_rel32_64; cc += 3)
        {
            t[(int)cc] = e;
            t[(int)cc + 1] = e;
        }
        foreach (Code c in new[] { Code.Jmp_rel8_16, Code.Jmp_rel8_32, Code.Jmp_rel16, Code.Jmp_rel32_32, Code.Call_rel16,
                     Code.Call_rel32_32, Code.Retnw, Code.Retnd, Code.Retnw_imm16, Code.Retnd_imm16 })
            t[(int)c] = e;
    }

    public bool CanEmit(ref Instruction i) => true;

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        ILGenerator il = ctx.Il;
        uint next = ctx.Block.Code32 ? (uint)i.NextIP : (uint)i.NextIP & 0xFFFF;
        switch (i.Mnemonic)
        {
            case Mnemonic.Jmp:
                ctx.LoadCpu();
                ctx.Const((uint)i.NearBranchTarget);
                ctx.Call(Jump);
                return;
            case Mnemonic.Call:
                ctx.LoadCpu();
                ctx.Const((uint)i.NearBranchTarget);
                ctx.Const(next);
                ctx.Const(i.Code == Code.Call_rel16 ? 1 : 2);
                ctx.Call(Call);
                return;
            case Mnemonic.Ret:
                ctx.LoadCpu();
                ctx.Const(i.Code is Code.Retnw_imm16 or Code.Retnd_imm16 ? (uint)i.Immediate16 : 0u);
                ctx.Const(i.Code is Code.Retnw or Code.Retnw_imm16 ? 1 : 2);
                ctx.Call(Ret);
                return;
        }
        // Jcc
        Label notTaken = il.DefineLabel();
        Label done = il.DefineLabel();
        ctx.LoadCpu();
        ctx.Const((int)i.ConditionCode - 1);
        ctx.Call(Members.Condition);
        il.Emit(OpCodes.Brfalse, notTaken);
        ctx.LoadCpu();
        ctx.Const((uint)i.NearBranchTarget);
        ctx.Call(Jump);
        il.Emit(OpCodes.Br, done);
        il.MarkLabel(notTaken);
        ctx.SetEip(next);
        il.MarkLabel(done);
    }
}
