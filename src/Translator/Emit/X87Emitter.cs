using System;
using System.Reflection;
using System.Reflection.Emit;
using Emu.X86;
using Iced.Intel;

namespace Emu.Translator.Emit;

/// <summary>
/// The common x87 instructions (arithmetic, loads and stores of ST(0) with 32- and 64-bit
/// memory and the register stack, FXCH, FSQRT, FABS, FCHS, FLDZ, FLD1): compiled code calls
/// their semantic methods in src/Cpu directly, with the operation, the stack registers, the
/// segment, the FOP and, in a flat region, the effective address from the locals folded in,
/// rather than the interpreter's handler decoding the instruction again at every run. The
/// results are the handlers' bit for bit: they call the same methods.
/// </summary>
public sealed class X87Emitter : IInstructionEmitter
{
    private enum Form : byte
    {
        None,
        ArithmeticMemory,   // FADD m32fp/m64fp ... and FIADD m16int/m32int ...: ST(0) op m
        ArithmeticSt0Sti,   // FADD ST(0), ST(i)
        ArithmeticStiSt0,   // FADD ST(i), ST(0), and the popping FADDP ST(i), ST(0)
        LoadMemory,         // FLD m32fp/m64fp
        LoadSti,            // FLD ST(i)
        StoreMemory,        // FST/FSTP m32fp/m64fp
        StoreSti,           // FST/FSTP ST(i)
        Exchange,           // FXCH ST(i)
        OneOperand,         // FSQRT, FABS, FCHS
        Constant,           // FLDZ, FLD1
    }

    private static readonly Form[] FormOf = new Form[InstructionTable.CodeCount];

    internal static void Register(IInstructionEmitter?[] t)
    {
        var e = new X87Emitter();
        for (int c = 0; c < t.Length; c++)
        {
            Code code = (Code)c;
            if (!InstructionTable.IsImplemented(code)) continue;
            Form f = Classify(code);
            if (f == Form.None) continue;
            FormOf[c] = f;
            t[c] = e;
        }
    }

    /// <summary>The form of a code, from its mnemonic and the operand kinds its encoding allows.</summary>
    private static Form Classify(Code code)
    {
        OpCodeInfo op = code.ToOpCode();
        Mnemonic m = code.Mnemonic();
        bool memory = op.OpCount > 0 && op.GetOpKind(0) == OpCodeOperandKind.mem;
        if (ArithmeticOp(m) is not null)
        {
            if (memory) return MemoryBytes(code) is 2 or 4 or 8 ? Form.ArithmeticMemory : Form.None;
            if (op.OpCount != 2) return Form.None;
            return op.GetOpKind(0) == OpCodeOperandKind.st0 ? Form.ArithmeticSt0Sti : Form.ArithmeticStiSt0;
        }
        return m switch
        {
            Mnemonic.Fld when memory => MemoryBytes(code) is 4 or 8 ? Form.LoadMemory : Form.None,
            Mnemonic.Fld => Form.LoadSti,
            Mnemonic.Fst or Mnemonic.Fstp when memory => MemoryBytes(code) is 4 or 8 ? Form.StoreMemory : Form.None,
            Mnemonic.Fst or Mnemonic.Fstp => Form.StoreSti,
            Mnemonic.Fxch => Form.Exchange,
            Mnemonic.Fsqrt or Mnemonic.Fabs or Mnemonic.Fchs => Form.OneOperand,
            Mnemonic.Fldz or Mnemonic.Fld1 => Form.Constant,
            _ => Form.None,
        };
    }

    /// <summary>X87Arithmetic's operation for an arithmetic mnemonic (its popping form included), or null.</summary>
    private static int? ArithmeticOp(Mnemonic m) => m switch
    {
        Mnemonic.Fadd or Mnemonic.Faddp or Mnemonic.Fiadd => X87Arithmetic.OpAdd,
        Mnemonic.Fmul or Mnemonic.Fmulp or Mnemonic.Fimul => X87Arithmetic.OpMul,
        Mnemonic.Fsub or Mnemonic.Fsubp or Mnemonic.Fisub => X87Arithmetic.OpSub,
        Mnemonic.Fsubr or Mnemonic.Fsubrp or Mnemonic.Fisubr => X87Arithmetic.OpSubr,
        Mnemonic.Fdiv or Mnemonic.Fdivp or Mnemonic.Fidiv => X87Arithmetic.OpDiv,
        Mnemonic.Fdivr or Mnemonic.Fdivrp or Mnemonic.Fidivr => X87Arithmetic.OpDivr,
        _ => null,
    };

    private static int MemoryBytes(Code code)
    {
        var i = new Instruction { Code = code };
        return i.MemorySize.GetSize();
    }

    private static bool IsInteger(Code code) => code.Mnemonic() is Mnemonic.Fiadd or Mnemonic.Fimul or Mnemonic.Fisub or Mnemonic.Fisubr
        or Mnemonic.Fidiv or Mnemonic.Fidivr;

    public bool CanEmit(ref Instruction i) => FormOf[(int)i.Code] != Form.None;

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        Code code = i.Code;
        ushort fop = X87.FopOf(code);
        ctx.LoadCpu();
        switch (FormOf[(int)code])
        {
            case Form.ArithmeticMemory:
            {
                ctx.Const(ArithmeticOp(i.Mnemonic)!.Value);
                Address(ctx, ref i);
                ctx.Const(X87.MemoryFop(ref i));
                int bytes = i.MemorySize.GetSize();
                string name = IsInteger(code)
                    ? (bytes == 2 ? nameof(X87Arithmetic.ArithmeticI16) : nameof(X87Arithmetic.ArithmeticI32))
                    : (bytes == 4 ? nameof(X87Arithmetic.ArithmeticM32) : nameof(X87Arithmetic.ArithmeticM64));
                ctx.CallSemanticNotInlined(typeof(X87Arithmetic), name);
                break;
            }
            case Form.ArithmeticSt0Sti:
            {
                int s = X87.StIndex(i.Op1Register);
                ctx.Const(ArithmeticOp(i.Mnemonic)!.Value);
                ctx.Const(0);
                ctx.Const(s);
                ctx.Const(false);
                ctx.Const(fop | s);
                ctx.CallSemanticNotInlined(typeof(X87Arithmetic), nameof(X87Arithmetic.ArithmeticSt));
                break;
            }
            case Form.ArithmeticStiSt0:
            {
                int d = X87.StIndex(i.Op0Register);
                ctx.Const(ArithmeticOp(i.Mnemonic)!.Value);
                ctx.Const(d);
                ctx.Const(0);
                ctx.Const(i.Mnemonic is Mnemonic.Faddp or Mnemonic.Fmulp or Mnemonic.Fsubp or Mnemonic.Fsubrp or Mnemonic.Fdivp or Mnemonic.Fdivrp);
                ctx.Const(fop | d);
                ctx.CallSemanticNotInlined(typeof(X87Arithmetic), nameof(X87Arithmetic.ArithmeticSt));
                break;
            }
            case Form.LoadMemory:
                Address(ctx, ref i);
                ctx.Const(X87.MemoryFop(ref i));
                ctx.CallSemanticNotInlined(typeof(X87LoadStore), i.MemorySize.GetSize() == 4 ? nameof(X87LoadStore.FldM32) : nameof(X87LoadStore.FldM64));
                break;
            case Form.LoadSti:
                StackOperand(ctx, X87.StIndex(i.Op0Register), null, fop);
                ctx.CallSemanticNotInlined(typeof(X87LoadStore), nameof(X87LoadStore.FldSt));
                break;
            case Form.StoreMemory:
                Address(ctx, ref i);
                ctx.Const(i.Mnemonic == Mnemonic.Fstp);
                ctx.Const(X87.MemoryFop(ref i));
                ctx.CallSemanticNotInlined(typeof(X87LoadStore), i.MemorySize.GetSize() == 4 ? nameof(X87LoadStore.FstM32) : nameof(X87LoadStore.FstM64));
                break;
            case Form.StoreSti:
                StackOperand(ctx, X87.StIndex(i.Op0Register), i.Mnemonic == Mnemonic.Fstp, fop);
                ctx.CallSemanticNotInlined(typeof(X87LoadStore), nameof(X87LoadStore.FstSt));
                break;
            case Form.Exchange:
                StackOperand(ctx, X87.StIndex(i.Op1Register), null, fop);
                ctx.CallSemanticNotInlined(typeof(X87LoadStore), nameof(X87LoadStore.Fxch));
                break;
            case Form.OneOperand:
                ctx.Const(fop);
                ctx.CallSemanticNotInlined(typeof(X87Arithmetic), i.Mnemonic switch
                {
                    Mnemonic.Fsqrt => nameof(X87Arithmetic.Fsqrt),
                    Mnemonic.Fabs => nameof(X87Arithmetic.Fabs),
                    _ => nameof(X87Arithmetic.Fchs),
                });
                break;
            case Form.Constant:
                ctx.Const(i.Mnemonic == Mnemonic.Fldz ? X87LoadStore.ConstZero : X87LoadStore.ConstOne);
                ctx.Const(fop);
                ctx.CallSemanticNotInlined(typeof(X87LoadStore), nameof(X87LoadStore.LoadConstant));
                break;
            default:
                throw new InvalidOperationException($"{code}: no x87 form");
        }
    }

    /// <summary>Pushes ST(<paramref name="st"/>)'s number, the pop flag when there is one, and the FOP with the register in its low bits.</summary>
    private static void StackOperand(EmitContext ctx, int st, bool? pop, ushort fop)
    {
        ctx.Const(st);
        if (pop is bool p) ctx.Const(p);
        ctx.Const(fop | st);
    }

    /// <summary>
    /// Pushes the memory operand's segment and effective address. In a flat region the locals
    /// equal the CPU's registers here (the region stored them before this generic instruction),
    /// so the address comes from them rather than from a call.
    /// </summary>
    private static void Address(EmitContext ctx, ref Instruction i)
    {
        bool generic = ctx.Generic;
        if (ctx.Flat) ctx.Generic = false;
        ctx.MemoryAddress(ref i);
        ctx.Generic = generic;
    }
}
