using Emu.X86;
using Iced.Intel;

namespace Emu.Translator.Emit;

/// <summary>CLC, STC, CMC, CLD, STD, LAHF, SAHF, SALC (see <see cref="FlagControl"/>): a call with the CPU alone.</summary>
public sealed class FlagControlEmitter : IInstructionEmitter
{
    internal static void Register(IInstructionEmitter?[] t)
    {
        var e = new FlagControlEmitter();
        foreach (Code c in new[] { Code.Clc, Code.Stc, Code.Cmc, Code.Cld, Code.Std, Code.Lahf, Code.Sahf, Code.Salc })
            t[(int)c] = e;
    }

    public bool CanEmit(ref Instruction i) => true;

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        ctx.LoadCpu();
        ctx.CallSemantic(typeof(FlagControl), i.Code switch
        {
            Code.Clc => nameof(FlagControl.Clc),
            Code.Stc => nameof(FlagControl.Stc),
            Code.Cmc => nameof(FlagControl.Cmc),
            Code.Cld => nameof(FlagControl.Cld),
            Code.Std => nameof(FlagControl.Std),
            Code.Lahf => nameof(FlagControl.Lahf),
            Code.Sahf => nameof(FlagControl.Sahf),
            _ => nameof(FlagControl.Salc),
        });
    }
}
