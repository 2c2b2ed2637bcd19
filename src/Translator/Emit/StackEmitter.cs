using System.Reflection.Emit;
using Emu.X86;
using Iced.Intel;

namespace Emu.Translator.Emit;

/// <summary>32-bit PUSH of a register or immediate and POP into a register (see <see cref="StackOps"/>).</summary>
public sealed class StackEmitter : IInstructionEmitter
{
    internal static void Register(IInstructionEmitter?[] t)
    {
        var e = new StackEmitter();
        t[(int)Code.Push_r32] = e;
        t[(int)Code.Pushd_imm32] = e;
        t[(int)Code.Pushd_imm8] = e;
        t[(int)Code.Pop_r32] = e;
    }

    public bool CanEmit(ref Instruction i) => true;

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        if (i.Code == Code.Pop_r32)
        {
            ctx.LoadCpu();
            ctx.Call(Members.Pop32);
            ctx.StoreReg(Cpu.RegNum(i.Op0Register), 2);
            return;
        }
        ctx.LoadCpu();
        ctx.ReadOperand(ref i, 0, 2);
        ctx.Call(Members.Push32);
    }
}
