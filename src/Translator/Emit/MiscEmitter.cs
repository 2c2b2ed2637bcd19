using Emu.X86;
using Iced.Intel;

namespace Emu.Translator.Emit;

/// <summary>The NOP forms (see <see cref="Misc"/>, <see cref="InstrFlags.NoOperation"/>): they emit nothing.</summary>
public sealed class MiscEmitter : IInstructionEmitter
{
    internal static void Register(IInstructionEmitter?[] t)
    {
        var e = new MiscEmitter();
        for (int c = 0; c < t.Length; c++)
            if (InstructionTable.IsNop((Code)c)) t[c] = e;
    }

    public bool CanEmit(ref Instruction i) => true;

    public void Emit(EmitContext ctx, ref Instruction i) { }
}
