using System.Reflection;
using System.Reflection.Emit;
using Emu.X86;
using Iced.Intel;

namespace Emu.Translator.Emit;

/// <summary>
/// Arithmetic, logic, shifts and rotates: every instruction the table registers with a
/// Binary or Unary shape. The IL mirrors <see cref="Shapes.Binary{TOp, TSize}"/> and
/// <see cref="Shapes.Unary{TOp, TSize}"/> operand by operand and calls the same
/// <c>TOp.Apply</c>, with the register numbers, sizes and addresses folded.
/// </summary>
public sealed class ShapeEmitter : IInstructionEmitter
{
    public bool CanEmit(ref Instruction i) => true;

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        SemanticShape shape = InstructionTable.ShapeOf[(int)i.Code];
        MethodInfo apply = Members.Static(shape.Operation!, "Apply");
        int size = shape.Size;
        ILGenerator il = ctx.Il;
        if (shape.Kind == ShapeKind.Binary)
        {
            bool writes = (bool)shape.Operation!.GetProperty("WritesResult", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
            ctx.ReadOperand(ref i, 1, size);
            il.Emit(OpCodes.Stloc, ctx.Src);
            if (i.Op0Kind == OpKind.Register)
            {
                int r = Cpu.RegNum(i.Op0Register);
                ctx.LoadCpu();
                ctx.LoadReg(r, size);
                il.Emit(OpCodes.Ldloc, ctx.Src);
                ctx.Const(size);
                ctx.Call(apply);
                if (writes) ctx.StoreReg(r, size);
                else il.Emit(OpCodes.Pop);
            }
            else if (writes)
            {
                ctx.LinearRmw(ref i, size);
                ctx.LoadCpu();
                ctx.ReadLinearRmw(size);
                il.Emit(OpCodes.Ldloc, ctx.Src);
                ctx.Const(size);
                ctx.Call(apply);
                ctx.WriteLinear(size);
            }
            else
            {
                ctx.LoadCpu();
                ctx.ReadOperand(ref i, 0, size);
                il.Emit(OpCodes.Ldloc, ctx.Src);
                ctx.Const(size);
                ctx.Call(apply);
                il.Emit(OpCodes.Pop);
            }
            return;
        }

        // Unary: op0 = Apply(op0)
        if (i.Op0Kind == OpKind.Register)
        {
            int r = Cpu.RegNum(i.Op0Register);
            ctx.LoadCpu();
            ctx.LoadReg(r, size);
            ctx.Const(size);
            ctx.Call(apply);
            ctx.StoreReg(r, size);
        }
        else
        {
            ctx.LinearRmw(ref i, size);
            ctx.LoadCpu();
            ctx.ReadLinearRmw(size);
            ctx.Const(size);
            ctx.Call(apply);
            ctx.WriteLinear(size);
        }
    }
}
