using Emu.X86;
using Iced.Intel;

namespace Emu.Translator.Emit;

/// <summary>
/// The irregular forms of <see cref="Arithmetic"/>: MUL, IMUL (one, two and three operands),
/// DIV, IDIV. ADD, SUB, INC... have the Binary/Unary shapes (see <see cref="ShapeEmitter"/>).
/// </summary>
public sealed class ArithmeticEmitter : IInstructionEmitter
{
    internal static void Register(IInstructionEmitter?[] t)
    {
        var e = new ArithmeticEmitter();
        foreach (Code c in new[]
                 {
                     Code.Mul_rm8, Code.Mul_rm16, Code.Mul_rm32, Code.Imul_rm8, Code.Imul_rm16, Code.Imul_rm32,
                     Code.Div_rm8, Code.Div_rm16, Code.Div_rm32, Code.Idiv_rm8, Code.Idiv_rm16, Code.Idiv_rm32,
                     Code.Imul_r16_rm16, Code.Imul_r32_rm32, Code.Imul_r16_rm16_imm16, Code.Imul_r32_rm32_imm32,
                     Code.Imul_r16_rm16_imm8, Code.Imul_r32_rm32_imm8,
                 })
            t[(int)c] = e;
    }

    public bool CanEmit(ref Instruction i) => true;

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        if (i.OpCount == 1)
        {
            // The accumulator forms: Mul/Imul1/Div/Idiv(c, src, size).
            int size = EmitContext.OperandSizeOf(ref i, 0);
            ctx.LoadCpu();
            ctx.ReadOperand(ref i, 0, size);
            ctx.Const(size);
            ctx.CallSemantic(typeof(Arithmetic), i.Mnemonic switch
            {
                Mnemonic.Mul => nameof(Arithmetic.Mul),
                Mnemonic.Imul => nameof(Arithmetic.Imul1),
                Mnemonic.Div => nameof(Arithmetic.Div),
                _ => nameof(Arithmetic.Idiv),
            });
            return;
        }

        // IMUL r, r/m [, imm]: r = Imul(c, a, b, size), the product of the last two operands.
        int r = Cpu.RegNum(i.Op0Register);
        int s = Shapes.SizeOfRegister(i.Op0Register);
        ctx.LoadCpu();
        if (i.OpCount == 3)
        {
            ctx.ReadOperand(ref i, 1, s);
            ctx.Const(Cpu.Immediate(ref i, 2));
        }
        else
        {
            ctx.LoadReg(r, s);
            ctx.ReadOperand(ref i, 1, s);
        }
        ctx.Const(s);
        ctx.CallSemantic(typeof(Arithmetic), nameof(Arithmetic.Imul));
        ctx.StoreReg(r, s);
    }
}
