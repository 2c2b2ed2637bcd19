using Iced.Intel;

namespace Emu.X86;

/// <summary>Flag instructions that user code may always run: CLC, STC, CMC, CLD, STD, LAHF, SAHF, SALC.</summary>
public static unsafe class FlagControl
{
    private static void Clc(Cpu c, ref Instruction i) => c.SetCF(false);
    private static void Stc(Cpu c, ref Instruction i) => c.SetCF(true);
    private static void Cmc(Cpu c, ref Instruction i) => c.SetCF(c.GetCF() == 0);
    private static void Cld(Cpu c, ref Instruction i) => c.Eflags &= ~Flags.DF;
    private static void Std(Cpu c, ref Instruction i) => c.Eflags |= Flags.DF;

    /// <summary>LAHF: AH = SF ZF 0 AF 0 PF 1 CF.</summary>
    private static void Lahf(Cpu c, ref Instruction i) => c.SetReg8(4, (byte)((c.ArithFlags() & 0xD5) | 0x02));

    /// <summary>SAHF: SF, ZF, AF, PF and CF from AH; OF is kept.</summary>
    private static void Sahf(Cpu c, ref Instruction i) =>
        c.SetArithFlags(c.GetReg8(4), Flags.SF | Flags.ZF | Flags.AF | Flags.PF | Flags.CF);

    /// <summary>SALC (undocumented D6, present on P6): AL = CF ? FFh : 00h, flags unchanged.</summary>
    private static void Salc(Cpu c, ref Instruction i) => c.SetReg8(0, c.GetCF() != 0 ? (byte)0xFF : (byte)0);

    internal static void Register()
    {
        InstructionTable.Add(Code.Clc, &Clc);
        InstructionTable.Add(Code.Stc, &Stc);
        InstructionTable.Add(Code.Cmc, &Cmc);
        InstructionTable.Add(Code.Cld, &Cld);
        InstructionTable.Add(Code.Std, &Std);
        InstructionTable.Add(Code.Lahf, &Lahf);
        InstructionTable.Add(Code.Sahf, &Sahf);
        InstructionTable.Add(Code.Salc, &Salc);
    }
}
