using Emu.X86;
using Iced.Intel;

namespace Emu.Translator.Emit;

/// <summary>
/// Stack instructions (see <see cref="StackOps"/>): PUSH of a register, memory or immediate,
/// POP into a register, PUSHA/PUSHAD, POPA/POPAD, ENTER, LEAVE, in both operand sizes.
/// POP into memory (its address is computed with ESP already moved) calls its handler.
/// </summary>
public sealed class StackEmitter : IInstructionEmitter
{
    internal static void Register(IInstructionEmitter?[] t)
    {
        var e = new StackEmitter();
        foreach (Code c in new[]
                 {
                     Code.Push_r16, Code.Push_r32, Code.Push_rm16, Code.Push_rm32, Code.Push_imm16, Code.Pushd_imm32,
                     Code.Pushw_imm8, Code.Pushd_imm8, Code.Pop_r16, Code.Pop_r32, Code.Pop_rm16, Code.Pop_rm32,
                     Code.Pushaw, Code.Pushad, Code.Popaw, Code.Popad, Code.Enterw_imm16_imm8, Code.Enterd_imm16_imm8,
                     Code.Leavew, Code.Leaved,
                 })
            t[(int)c] = e;
    }

    public bool CanEmit(ref Instruction i) => i.Mnemonic != Mnemonic.Pop || i.Op0Kind == OpKind.Register;

    /// <summary>The operand size (1 word, 2 doubleword) of the stack instruction, from its code.</summary>
    private static int SizeOf(Code c) => c switch
    {
        Code.Push_r16 or Code.Push_rm16 or Code.Push_imm16 or Code.Pushw_imm8 or Code.Pop_r16 or Code.Pop_rm16 or Code.Pushaw
            or Code.Popaw or Code.Enterw_imm16_imm8 or Code.Leavew => 1,
        _ => 2,
    };

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        int size = SizeOf(i.Code);
        switch (i.Mnemonic)
        {
            case Mnemonic.Push when i.Code == Code.Push_r32:
                ctx.LoadCpu();
                ctx.LoadReg(Cpu.RegNum(i.Op0Register), 2);
                ctx.Call(Members.Push32);
                return;
            case Mnemonic.Push:
                ctx.LoadCpu();
                ctx.ReadOperand(ref i, 0, size);
                ctx.Const(size);
                ctx.CallSemantic(typeof(StackOps), nameof(StackOps.Push));
                return;
            case Mnemonic.Pop:
                ctx.LoadCpu();
                ctx.Const(Cpu.RegNum(i.Op0Register));
                ctx.Const(size);
                ctx.CallSemantic(typeof(StackOps), nameof(StackOps.PopRegister));
                return;
            case Mnemonic.Pusha:
            case Mnemonic.Pushad:
            case Mnemonic.Popa:
            case Mnemonic.Popad:
            case Mnemonic.Leave:
                ctx.LoadCpu();
                ctx.Const(size);
                ctx.CallSemantic(typeof(StackOps), i.Mnemonic switch
                {
                    Mnemonic.Pusha or Mnemonic.Pushad => nameof(StackOps.Pusha),
                    Mnemonic.Popa or Mnemonic.Popad => nameof(StackOps.Popa),
                    _ => nameof(StackOps.Leave),
                });
                return;
            default: // ENTER alloc, level
                ctx.LoadCpu();
                ctx.Const((uint)i.Immediate16);
                ctx.Const((uint)i.Immediate8_2nd);
                ctx.Const(size);
                ctx.CallSemantic(typeof(StackOps), nameof(StackOps.Enter));
                return;
        }
    }
}
