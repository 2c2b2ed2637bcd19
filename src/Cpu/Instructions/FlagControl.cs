using Iced.Intel;

namespace Emu.X86;

/// <summary>Flag instructions that user code may always run: CLC, STC, CMC, CLD, STD, LAHF, SAHF, SALC.</summary>
public static unsafe class FlagControl
{
    public static void Clc(Cpu c) => c.SetCF(false);
    public static void Stc(Cpu c) => c.SetCF(true);
    public static void Cmc(Cpu c) => c.SetCF(c.GetCF() == 0);
    public static void Cld(Cpu c) => c.Eflags &= ~Flags.DF;
    public static void Std(Cpu c) => c.Eflags |= Flags.DF;

    /// <summary>LAHF: AH = SF ZF 0 AF 0 PF 1 CF.</summary>
    public static void Lahf(Cpu c) => c.SetReg8(4, (byte)((c.ArithFlags() & 0xD5) | 0x02));

    /// <summary>SAHF: SF, ZF, AF, PF and CF from AH; OF is kept.</summary>
    public static void Sahf(Cpu c) => c.SetArithFlags(c.GetReg8(4), Flags.SF | Flags.ZF | Flags.AF | Flags.PF | Flags.CF);

    /// <summary>SALC (undocumented D6, present on P6): AL = CF ? FFh : 00h, flags unchanged.</summary>
    public static void Salc(Cpu c) => c.SetReg8(0, c.GetCF() != 0 ? (byte)0xFF : (byte)0);

    private static void ClcH(Cpu c, ref Instruction i) => Clc(c);
    private static void StcH(Cpu c, ref Instruction i) => Stc(c);
    private static void CmcH(Cpu c, ref Instruction i) => Cmc(c);
    private static void CldH(Cpu c, ref Instruction i) => Cld(c);
    private static void StdH(Cpu c, ref Instruction i) => Std(c);
    private static void LahfH(Cpu c, ref Instruction i) => Lahf(c);
    private static void SahfH(Cpu c, ref Instruction i) => Sahf(c);
    private static void SalcH(Cpu c, ref Instruction i) => Salc(c);

    internal static void Register()
    {
        InstructionTable.Add(Code.Clc, &ClcH);
        InstructionTable.Add(Code.Stc, &StcH);
        InstructionTable.Add(Code.Cmc, &CmcH);
        InstructionTable.Add(Code.Cld, &CldH);
        InstructionTable.Add(Code.Std, &StdH);
        InstructionTable.Add(Code.Lahf, &LahfH);
        InstructionTable.Add(Code.Sahf, &SahfH);
        InstructionTable.Add(Code.Salc, &SalcH);
    }
}
