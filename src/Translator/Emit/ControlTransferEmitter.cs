using System.Reflection;
using System.Reflection.Emit;
using Emu.X86;
using Iced.Intel;
using Label = System.Reflection.Emit.Label;

namespace Emu.Translator.Emit;

/// <summary>
/// Near control transfers through the semantics of <see cref="ControlTransfer"/>: Jcc, JMP
/// and CALL (relative and r/m), RET, LOOP/LOOPE/LOOPNE, JCXZ/JECXZ.
/// </summary>
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
                     Code.Call_rel32_32, Code.Retnw, Code.Retnd, Code.Retnw_imm16, Code.Retnd_imm16,
                     Code.Jmp_rm16, Code.Jmp_rm32, Code.Call_rm16, Code.Call_rm32,
                     Code.Loop_rel8_16_CX, Code.Loop_rel8_32_CX, Code.Loop_rel8_16_ECX, Code.Loop_rel8_32_ECX,
                     Code.Loope_rel8_16_CX, Code.Loope_rel8_32_CX, Code.Loope_rel8_16_ECX, Code.Loope_rel8_32_ECX,
                     Code.Loopne_rel8_16_CX, Code.Loopne_rel8_32_CX, Code.Loopne_rel8_16_ECX, Code.Loopne_rel8_32_ECX,
                     Code.Jcxz_rel8_16, Code.Jcxz_rel8_32, Code.Jecxz_rel8_16, Code.Jecxz_rel8_32 })
            t[(int)c] = e;
    }

    public bool CanEmit(ref Instruction i) => true;

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        ILGenerator il = ctx.Il;
        uint next = ctx.Block.Code32 ? (uint)i.NextIP : (uint)i.NextIP & 0xFFFF;
        switch (i.Mnemonic)
        {
            case Mnemonic.Jmp when i.Code is Code.Jmp_rm16 or Code.Jmp_rm32:
                ctx.LoadCpu();
                ctx.ReadOperand(ref i, 0, i.Code == Code.Jmp_rm16 ? 1 : 2);
                ctx.Call(Jump);
                return;
            case Mnemonic.Call when i.Code is Code.Call_rm16 or Code.Call_rm32:
            {
                int size = i.Code == Code.Call_rm16 ? 1 : 2;
                ctx.LoadCpu();
                ctx.ReadOperand(ref i, 0, size);
                ctx.Const(next);
                ctx.Const(size);
                ctx.Call(Call);
                return;
            }
            case Mnemonic.Loop:
            case Mnemonic.Loope:
            case Mnemonic.Loopne:
                ctx.LoadCpu();
                ctx.Const((uint)i.NearBranchTarget);
                ctx.Const(next);
                ctx.Const(ControlTransfer.LoopUsesEcx(i.Code));
                ctx.Const(i.Mnemonic == Mnemonic.Loop ? 0 : i.Mnemonic == Mnemonic.Loope ? 1 : 2);
                ctx.CallSemantic(typeof(ControlTransfer), nameof(ControlTransfer.Loop));
                return;
            case Mnemonic.Jcxz:
            case Mnemonic.Jecxz:
                ctx.LoadCpu();
                ctx.Const((uint)i.NearBranchTarget);
                ctx.Const(next);
                ctx.Const(i.Mnemonic == Mnemonic.Jecxz);
                ctx.CallSemantic(typeof(ControlTransfer), nameof(ControlTransfer.JumpIfCountZero));
                return;
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
