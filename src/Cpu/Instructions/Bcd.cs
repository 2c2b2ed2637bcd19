using Emu.Memory;
using Iced.Intel;

namespace Emu.X86;

/// <summary>Decimal arithmetic: DAA, DAS, AAA, AAS, AAM, AAD (Intel SDM Vol. 2, each instruction's pseudo-code).</summary>
public static unsafe class Bcd
{
    public static void Daa(Cpu c)
    {
        uint al = c.GetReg8(0);
        uint oldAl = al;
        bool oldCf = c.GetCF() != 0;
        bool cf = false, af = false;
        if ((al & 0xF) > 9 || c.GetAF() != 0)
        {
            cf = oldCf || al + 6 > 0xFF;
            al = (al + 6) & 0xFF;
            af = true;
        }
        if (oldAl > 0x99 || oldCf)
        {
            al = (al + 0x60) & 0xFF;
            cf = true;
        }
        else
        {
            cf = false;
        }
        c.SetReg8(0, (byte)al);
        c.SetArithFlags((cf ? Flags.CF : 0) | (af ? Flags.AF : 0) | Cpu.SzpFlags(al, 0));
    }

    public static void Das(Cpu c)
    {
        uint al = c.GetReg8(0);
        uint oldAl = al;
        bool oldCf = c.GetCF() != 0;
        bool cf = false, af = false;
        if ((al & 0xF) > 9 || c.GetAF() != 0)
        {
            cf = oldCf || al < 6;
            al = (al - 6) & 0xFF;
            af = true;
        }
        if (oldAl > 0x99 || oldCf)
        {
            al = (al - 0x60) & 0xFF;
            cf = true;
        }
        c.SetReg8(0, (byte)al);
        c.SetArithFlags((cf ? Flags.CF : 0) | (af ? Flags.AF : 0) | Cpu.SzpFlags(al, 0));
    }

    public static void Aaa(Cpu c)
    {
        uint ax = c.GetReg16(Reg.EAX);
        bool adjust = (ax & 0xF) > 9 || c.GetAF() != 0;
        if (adjust) ax = (ax + 0x106) & 0xFFFF;
        ax &= 0xFF0F;
        c.SetReg16(Reg.EAX, (ushort)ax);
        c.SetArithFlags((adjust ? Flags.CF | Flags.AF : 0) | Cpu.SzpFlags(ax & 0xFF, 0));
    }

    public static void Aas(Cpu c)
    {
        uint ax = c.GetReg16(Reg.EAX);
        bool adjust = (ax & 0xF) > 9 || c.GetAF() != 0;
        if (adjust) ax = (ax - 6 - 0x100) & 0xFFFF;
        ax &= 0xFF0F;
        c.SetReg16(Reg.EAX, (ushort)ax);
        c.SetArithFlags((adjust ? Flags.CF | Flags.AF : 0) | Cpu.SzpFlags(ax & 0xFF, 0));
    }

    /// <summary>AAM imm8: AH = AL / imm8, AL = AL mod imm8; #DE when imm8 is 0.</summary>
    public static void Aam(Cpu c, uint divisor)
    {
        if (divisor == 0) throw GuestFault.Create(ExceptionVectors.DE);
        uint al = c.GetReg8(0);
        uint q = al / divisor, r = al % divisor;
        c.SetReg16(Reg.EAX, (ushort)((q << 8) | r));
        c.SetArithFlags(Cpu.SzpFlags(r, 0));
    }

    /// <summary>AAD imm8: AL = AL + AH * imm8, AH = 0.</summary>
    public static void Aad(Cpu c, uint multiplier)
    {
        uint al = (c.GetReg8(0) + c.GetReg8(4) * multiplier) & 0xFF;
        c.SetReg16(Reg.EAX, (ushort)al);
        c.SetArithFlags(Cpu.SzpFlags(al, 0));
    }

    private static void DaaHandler(Cpu c, ref Instruction i) => Daa(c);
    private static void DasHandler(Cpu c, ref Instruction i) => Das(c);
    private static void AaaHandler(Cpu c, ref Instruction i) => Aaa(c);
    private static void AasHandler(Cpu c, ref Instruction i) => Aas(c);
    private static void AamHandler(Cpu c, ref Instruction i) => Aam(c, i.Immediate8);
    private static void AadHandler(Cpu c, ref Instruction i) => Aad(c, i.Immediate8);

    internal static void Register()
    {
        InstructionTable.Add(Code.Daa, &DaaHandler);
        InstructionTable.Add(Code.Das, &DasHandler);
        InstructionTable.Add(Code.Aaa, &AaaHandler);
        InstructionTable.Add(Code.Aas, &AasHandler);
        InstructionTable.Add(Code.Aam_imm8, &AamHandler);
        InstructionTable.Add(Code.Aad_imm8, &AadHandler);
    }
}
