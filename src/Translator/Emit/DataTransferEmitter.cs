using System.Reflection;
using System.Reflection.Emit;
using Emu.X86;
using Iced.Intel;

namespace Emu.Translator.Emit;

/// <summary>
/// Data movement (see <see cref="DataTransfer"/>): MOV between general registers, memory
/// and immediates; MOVZX, MOVSX; LEA; XCHG; XLAT; CBW/CWDE/CWD/CDQ; BSWAP; CMOVcc; XADD;
/// CMPXCHG. CMPXCHG8B and the segment-register forms call their handlers.
/// </summary>
public sealed class DataTransferEmitter : IInstructionEmitter
{
    private static readonly MethodInfo SignExtend = Members.Static(typeof(OperandSize), nameof(OperandSize.SignExtend));

    /// <summary>MOV between general registers, memory and immediates, MOVZX, MOVSX and LEA: the forms that only move operands (fast in flat regions too).</summary>
    internal static readonly Code[] Moves =
    {
        Code.Mov_rm8_r8, Code.Mov_r8_rm8, Code.Mov_r8_imm8, Code.Mov_rm8_imm8, Code.Mov_AL_moffs8, Code.Mov_moffs8_AL,
        Code.Mov_rm16_r16, Code.Mov_r16_rm16, Code.Mov_r16_imm16, Code.Mov_rm16_imm16, Code.Mov_AX_moffs16, Code.Mov_moffs16_AX,
        Code.Mov_rm32_r32, Code.Mov_r32_rm32, Code.Mov_r32_imm32, Code.Mov_rm32_imm32, Code.Mov_EAX_moffs32, Code.Mov_moffs32_EAX,
        Code.Movzx_r16_rm8, Code.Movzx_r32_rm8, Code.Movzx_r16_rm16, Code.Movzx_r32_rm16,
        Code.Movsx_r16_rm8, Code.Movsx_r32_rm8, Code.Movsx_r16_rm16, Code.Movsx_r32_rm16,
        Code.Lea_r16_m, Code.Lea_r32_m,
    };

    internal static void Register(IInstructionEmitter?[] t)
    {
        var e = new DataTransferEmitter();
        foreach (Code c in Moves) t[(int)c] = e;
        foreach (Code c in new[]
                 {
                     Code.Xchg_rm8_r8, Code.Xchg_rm16_r16, Code.Xchg_rm32_r32, Code.Xchg_r16_AX, Code.Xchg_r32_EAX,
                     Code.Xlat_m8, Code.Cbw, Code.Cwde, Code.Cwd, Code.Cdq, Code.Bswap_r16, Code.Bswap_r32,
                     Code.Cmpxchg_rm8_r8, Code.Cmpxchg_rm16_r16, Code.Cmpxchg_rm32_r32,
                     Code.Xadd_rm8_r8, Code.Xadd_rm16_r16, Code.Xadd_rm32_r32,
                 })
            t[(int)c] = e;
        for (Code cc = Code.Cmovo_r16_rm16; cc <= Code.Cmovg_r32_rm32; cc += 3)
        {
            t[(int)cc] = e;
            t[(int)cc + 1] = e;
        }
    }

    public bool CanEmit(ref Instruction i) => true;

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Mov:
            {
                int dst = EmitContext.OperandSizeOf(ref i, 0);
                ctx.ReadOperand(ref i, 1, dst);
                ctx.WriteOperand(ref i, 0, dst);
                return;
            }
            case Mnemonic.Movzx:
            case Mnemonic.Movsx:
            {
                int dst = EmitContext.OperandSizeOf(ref i, 0);
                int src = EmitContext.OperandSizeOf(ref i, 1);
                ctx.ReadOperand(ref i, 1, src);
                if (i.Mnemonic == Mnemonic.Movsx)
                {
                    ctx.Const(src);
                    ctx.Call(SignExtend);
                }
                ctx.Const(OperandSize.Mask(dst));
                ctx.Il.Emit(OpCodes.And);
                ctx.StoreReg(Cpu.RegNum(i.Op0Register), dst);
                return;
            }
            case Mnemonic.Lea:
            {
                int dst = EmitContext.OperandSizeOf(ref i, 0);
                ctx.EffectiveAddress(ref i);
                ctx.Const(OperandSize.Mask(dst));
                ctx.Il.Emit(OpCodes.And);
                ctx.StoreReg(Cpu.RegNum(i.Op0Register), dst);
                return;
            }
            case Mnemonic.Xchg:
            case Mnemonic.Xadd:
            case Mnemonic.Cmpxchg:
            {
                // op0 is r/m, op1 a register.
                (string onRegister, string onMemory) = i.Mnemonic switch
                {
                    Mnemonic.Xchg => (nameof(DataTransfer.XchgRegisters), nameof(DataTransfer.XchgMemory)),
                    Mnemonic.Xadd => (nameof(DataTransfer.XaddRegister), nameof(DataTransfer.XaddMemory)),
                    _ => (nameof(DataTransfer.CmpxchgRegister), nameof(DataTransfer.CmpxchgMemory)),
                };
                int size = Shapes.SizeOfRegister(i.Op1Register);
                ctx.LoadCpu();
                if (i.Op0Kind == OpKind.Register)
                {
                    ctx.Const(Cpu.RegNum(i.Op0Register));
                    ctx.Const(Cpu.RegNum(i.Op1Register));
                    ctx.Const(size);
                    ctx.CallSemantic(typeof(DataTransfer), onRegister);
                }
                else
                {
                    ctx.MemoryAddress(ref i);
                    ctx.Const(Cpu.RegNum(i.Op1Register));
                    ctx.Const(size);
                    ctx.CallSemantic(typeof(DataTransfer), onMemory);
                }
                return;
            }
            case Mnemonic.Xlatb:
                ctx.LoadCpu();
                ctx.Const(Cpu.MemSeg(ref i));
                ctx.Const(DataTransfer.XlatAddressSize16(ref i));
                ctx.CallSemantic(typeof(DataTransfer), nameof(DataTransfer.Xlat));
                return;
            case Mnemonic.Cbw:
            case Mnemonic.Cwde:
            case Mnemonic.Cwd:
            case Mnemonic.Cdq:
                ctx.LoadCpu();
                ctx.CallSemantic(typeof(DataTransfer), i.Mnemonic switch
                {
                    Mnemonic.Cbw => nameof(DataTransfer.Cbw),
                    Mnemonic.Cwde => nameof(DataTransfer.Cwde),
                    Mnemonic.Cwd => nameof(DataTransfer.Cwd),
                    _ => nameof(DataTransfer.Cdq),
                });
                return;
            case Mnemonic.Bswap:
                ctx.LoadCpu();
                ctx.Const(Cpu.RegNum(i.Op0Register));
                ctx.CallSemantic(typeof(DataTransfer), i.Code == Code.Bswap_r32 ? nameof(DataTransfer.Bswap32) : nameof(DataTransfer.Bswap16));
                return;
            default: // CMOVcc
            {
                int size = Shapes.SizeOfRegister(i.Op0Register);
                ctx.LoadCpu();
                ctx.Const((int)i.ConditionCode - 1);
                ctx.Const(Cpu.RegNum(i.Op0Register));
                ctx.Const(size);
                ctx.ReadOperand(ref i, 1, size);
                ctx.CallSemantic(typeof(DataTransfer), nameof(DataTransfer.Cmov));
                return;
            }
        }
    }
}
