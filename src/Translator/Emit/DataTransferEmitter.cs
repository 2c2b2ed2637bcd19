using System.Reflection;
using System.Reflection.Emit;
using Emu.X86;
using Iced.Intel;

namespace Emu.Translator.Emit;

/// <summary>MOV between general registers, memory and immediates; MOVZX, MOVSX; LEA (see <see cref="DataTransfer"/>).</summary>
public sealed class DataTransferEmitter : IInstructionEmitter
{
    private static readonly MethodInfo SignExtend = Members.Static(typeof(OperandSize), nameof(OperandSize.SignExtend));

    internal static void Register(IInstructionEmitter?[] t)
    {
        var e = new DataTransferEmitter();
        foreach (Code c in new[]
                 {
                     Code.Mov_rm8_r8, Code.Mov_r8_rm8, Code.Mov_r8_imm8, Code.Mov_rm8_imm8, Code.Mov_AL_moffs8, Code.Mov_moffs8_AL,
                     Code.Mov_rm16_r16, Code.Mov_r16_rm16, Code.Mov_r16_imm16, Code.Mov_rm16_imm16, Code.Mov_AX_moffs16, Code.Mov_moffs16_AX,
                     Code.Mov_rm32_r32, Code.Mov_r32_rm32, Code.Mov_r32_imm32, Code.Mov_rm32_imm32, Code.Mov_EAX_moffs32, Code.Mov_moffs32_EAX,
                     Code.Movzx_r16_rm8, Code.Movzx_r32_rm8, Code.Movzx_r16_rm16, Code.Movzx_r32_rm16,
                     Code.Movsx_r16_rm8, Code.Movsx_r32_rm8, Code.Movsx_r16_rm16, Code.Movsx_r32_rm16,
                     Code.Lea_r16_m, Code.Lea_r32_m,
                 })
            t[(int)c] = e;
    }

    public bool CanEmit(ref Instruction i) => true;

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        int dst = i.Op0Kind == OpKind.Register ? Shapes.SizeOfRegister(i.Op0Register) : SizeOfMemory(i.MemorySize);
        switch (i.Mnemonic)
        {
            case Mnemonic.Mov:
                ctx.ReadOperand(ref i, 1, dst);
                ctx.WriteOperand(ref i, 0, dst);
                break;
            case Mnemonic.Movzx:
            case Mnemonic.Movsx:
            {
                int src = i.Op1Kind == OpKind.Register ? Shapes.SizeOfRegister(i.Op1Register) : SizeOfMemory(i.MemorySize);
                ctx.ReadOperand(ref i, 1, src);
                if (i.Mnemonic == Mnemonic.Movsx)
                {
                    ctx.Const(src);
                    ctx.Call(SignExtend);
                }
                ctx.Const(OperandSize.Mask(dst));
                ctx.Il.Emit(OpCodes.And);
                ctx.StoreReg(Cpu.RegNum(i.Op0Register), dst);
                break;
            }
            default: // LEA
                ctx.EffectiveAddress(ref i);
                ctx.Const(OperandSize.Mask(dst));
                ctx.Il.Emit(OpCodes.And);
                ctx.StoreReg(Cpu.RegNum(i.Op0Register), dst);
                break;
        }
    }

    private static int SizeOfMemory(MemorySize m) => m switch
    {
        MemorySize.UInt8 or MemorySize.Int8 => 0,
        MemorySize.UInt16 or MemorySize.Int16 => 1,
        _ => 2,
    };
}
