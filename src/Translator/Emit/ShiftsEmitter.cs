using Emu.X86;
using Iced.Intel;

namespace Emu.Translator.Emit;

/// <summary>SHLD and SHRD (see <see cref="Shifts"/>); the one-operand shifts and rotates have the Binary shape.</summary>
public sealed class ShiftsEmitter : IInstructionEmitter
{
    internal static void Register(IInstructionEmitter?[] t)
    {
        var e = new ShiftsEmitter();
        foreach (Code c in new[]
                 {
                     Code.Shld_rm16_r16_imm8, Code.Shld_rm16_r16_CL, Code.Shld_rm32_r32_imm8, Code.Shld_rm32_r32_CL,
                     Code.Shrd_rm16_r16_imm8, Code.Shrd_rm16_r16_CL, Code.Shrd_rm32_r32_imm8, Code.Shrd_rm32_r32_CL,
                 })
            t[(int)c] = e;
    }

    public bool CanEmit(ref Instruction i) => true;

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        int size = Shapes.SizeOfRegister(i.Op1Register);
        bool left = i.Mnemonic == Mnemonic.Shld;
        ctx.LoadCpu();
        if (i.Op0Kind == OpKind.Register) ctx.Const(Cpu.RegNum(i.Op0Register));
        else ctx.MemoryAddress(ref i);
        ctx.LoadReg(Cpu.RegNum(i.Op1Register), size);
        if (i.Op2Kind == OpKind.Register) ctx.LoadReg(Reg.ECX, 0); // CL
        else ctx.Const((uint)i.Immediate8);
        ctx.Const(size);
        ctx.Const(left);
        ctx.CallSemantic(typeof(Shifts), i.Op0Kind == OpKind.Register ? nameof(Shifts.DoubleShiftRegister) : nameof(Shifts.DoubleShiftMemory));
    }
}
