using Emu.X86;
using Iced.Intel;

namespace Emu.Translator.Emit;

/// <summary>
/// MOVS, STOS, LODS, CMPS, SCAS with or without REP (see <see cref="Strings"/>): one call with
/// the element size, source segment, address size and repeat prefix folded. INS and OUTS are
/// sensitive and call their monitor routines. A repeated instruction may yield part way
/// (<see cref="BlockExitKind.EipSet"/>), so the block checks for an exit after each.
/// </summary>
public sealed class StringsEmitter : IInstructionEmitter
{
    internal static void Register(IInstructionEmitter?[] t)
    {
        var e = new StringsEmitter();
        foreach (Code c in new[]
                 {
                     Code.Movsb_m8_m8, Code.Movsw_m16_m16, Code.Movsd_m32_m32, Code.Stosb_m8_AL, Code.Stosw_m16_AX, Code.Stosd_m32_EAX,
                     Code.Lodsb_AL_m8, Code.Lodsw_AX_m16, Code.Lodsd_EAX_m32, Code.Cmpsb_m8_m8, Code.Cmpsw_m16_m16, Code.Cmpsd_m32_m32,
                     Code.Scasb_AL_m8, Code.Scasw_AX_m16, Code.Scasd_EAX_m32,
                 })
            t[(int)c] = e;
    }

    public bool CanEmit(ref Instruction i) => true;

    public void Emit(EmitContext ctx, ref Instruction i)
    {
        bool hasSource = i.Mnemonic is Mnemonic.Movsb or Mnemonic.Movsw or Mnemonic.Movsd or Mnemonic.Lodsb or Mnemonic.Lodsw
            or Mnemonic.Lodsd or Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd;
        ctx.LoadCpu();
        ctx.Const(EmitContext.SizeOfMemory(i.MemorySize));
        if (hasSource) ctx.Const(Strings.SourceSeg(ref i));
        ctx.Const(Strings.A32(ref i));
        ctx.Const(Strings.RepOf(ref i));
        ctx.CallSemantic(typeof(Strings), i.Mnemonic switch
        {
            Mnemonic.Movsb or Mnemonic.Movsw or Mnemonic.Movsd => nameof(Strings.Movs),
            Mnemonic.Stosb or Mnemonic.Stosw or Mnemonic.Stosd => nameof(Strings.Stos),
            Mnemonic.Lodsb or Mnemonic.Lodsw or Mnemonic.Lodsd => nameof(Strings.Lods),
            Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd => nameof(Strings.Cmps),
            _ => nameof(Strings.Scas),
        });
    }
}
