using Emu.X86;
using Iced.Intel;

namespace Emu.Translator.Emit;

/// <summary>
/// Bit instructions (see <see cref="BitOps"/>): SETcc, BT, BTS, BTR, BTC. BSF and BSR have
/// the Binary shape (see <see cref="ShapeEmitter"/>).
/// </summary>
public sealed class BitOpsEmitter : IInstructionEmitter
{
    internal static void Register(IInstructionEmitter?[] t)
    {
        var e = new BitOpsEmitter();
        for (Code cc = Code.Seto_rm8; cc <= Code.Setg_rm8; cc++) t[(int)cc] = e;
        foreach (Code c in new[]
                 {
                     Code.Bt_rm16_r16, Code.Bt_rm32_r32, Code.Bt_rm16_imm8, Code.Bt_rm32_imm8,
                     Code.Bts_rm16_r16, Code.Bts_rm32_r32, Code.Bts_rm16_imm8, Code.Bts_rm32_imm8,
                     Code.Btr_rm16_r16, Code.Btr_rm32_r32, Code.Btr_rm16_imm8, Code.Btr_rm32_imm8,
                     Code.Btc_rm16_r16, Code.Btc_rm32_r32, Code.Btc_rm16_imm8, Code.Btc_rm32_imm8,
                 })
            t[(int)c] = e;
    }

    public bool CanEmit(ref Instruction i) => true;

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        if (i.Code is >= Code.Seto_rm8 and <= Code.Setg_rm8)
        {
            ctx.LoadCpu();
            ctx.Const((int)i.ConditionCode - 1);
            ctx.CallSemantic(typeof(BitOps), nameof(BitOps.Setcc));
            ctx.WriteOperand(ref i, 0, 0);
            return;
        }

        int size = EmitContext.OperandSizeOf(ref i, 0);
        bool registerOffset = i.Op1Kind == OpKind.Register;
        int kind = BitOps.BitTestKind(i.Mnemonic);
        ctx.LoadCpu();
        if (i.Op0Kind == OpKind.Register)
        {
            ctx.Const(Cpu.RegNum(i.Op0Register));
            LoadOffset(ctx, ref i, registerOffset, size);
            ctx.Const(size);
            ctx.Const(kind);
            ctx.CallSemantic(typeof(BitOps), nameof(BitOps.BitTestRegister));
            return;
        }
        ctx.MemoryAddress(ref i);
        LoadOffset(ctx, ref i, registerOffset, size);
        ctx.Const(registerOffset);
        ctx.Const(Cpu.AddressSize16(ref i));
        ctx.Const(size);
        ctx.Const(kind);
        ctx.CallSemantic(typeof(BitOps), nameof(BitOps.BitTestMemory));
    }

    private static void LoadOffset(EmitContext ctx, ref Instruction i, bool registerOffset, int size)
    {
        if (registerOffset) ctx.LoadReg(Cpu.RegNum(i.Op1Register), size);
        else ctx.Const((uint)i.Immediate8);
    }
}
