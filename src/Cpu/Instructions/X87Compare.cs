using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// x87 comparisons and classification (Intel SDM Vol. 1, 8.3.8 and 8.3.9): FCOM, FCOMP,
/// FCOMPP, FUCOM, FUCOMP, FUCOMPP, FICOM, FICOMP, FCOMI, FCOMIP, FUCOMI, FUCOMIP, FTST, FXAM.
/// </summary>
public static unsafe class X87Compare
{
    /// <summary>C3, C2, C0 for greater, less, equal, unordered (C1 cleared).</summary>
    private static readonly ushort[] ConditionCodes =
        { 0, FpuStatus.C0, FpuStatus.C3, FpuStatus.C3 | FpuStatus.C2 | FpuStatus.C0 };

    /// <summary>ZF, PF, CF for greater, less, equal, unordered (FCOMI: OF, SF and AF cleared).</summary>
    private static readonly uint[] EflagsOf = { 0, Flags.CF, Flags.ZF, Flags.ZF | Flags.PF | Flags.CF };

    private static void SetConditionCodes(FpuState f, int result) =>
        f.StatusWord = (ushort)((f.StatusWord & ~(uint)FpuStatus.ConditionCodes) | ConditionCodes[result]);

    /// <summary>Compares ST(0) with an operand and sets C3, C2, C0; pops <paramref name="pops"/> times.</summary>
    private static void CompareSt0(Cpu c, bool operandEmpty, in Unpacked b, bool quiet, int pops)
    {
        FpuState f = c.Fpu;
        int result;
        uint flags = 0;
        if (f.IsEmpty(0) || operandEmpty)
        {
            flags = X87.StackUnderflow;
            result = X87Math.Unordered;
        }
        else
        {
            result = X87Math.Compare(Unpacked.From(f.St(0)), b, quiet, ref flags);
        }
        // The condition codes take the result even when the exception is unmasked; only the
        // pops wait for a masked one (what the host does; the SDM does not say).
        bool ok = X87.Commit(c, flags);
        SetConditionCodes(f, result);
        if (!ok) return;
        for (int n = 0; n < pops; n++) f.Pop();
    }

    private static Unpacked Operand(Cpu c, ref Instruction i, int kind)
    {
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        Unpacked u = kind switch
        {
            0 => Unpacked.FromSingle(c.Read32(seg, ea)),
            1 => Unpacked.FromDouble(X87.Read64(c, seg, ea)),
            2 => Unpacked.FromInt64((short)c.Read16(seg, ea)),
            _ => Unpacked.FromInt64((int)c.Read32(seg, ea)),
        };
        X87.Pointers(c, ref i, seg, ea);
        return u;
    }

    private static void Memory(Cpu c, ref Instruction i, int kind, int pops)
    {
        if (!X87.Begin(c)) return;
        Unpacked b = Operand(c, ref i, kind);
        CompareSt0(c, false, b, false, pops);
    }

    private static void FcomM32(Cpu c, ref Instruction i) => Memory(c, ref i, 0, 0);
    private static void FcomM64(Cpu c, ref Instruction i) => Memory(c, ref i, 1, 0);
    private static void FcompM32(Cpu c, ref Instruction i) => Memory(c, ref i, 0, 1);
    private static void FcompM64(Cpu c, ref Instruction i) => Memory(c, ref i, 1, 1);
    private static void FicomM16(Cpu c, ref Instruction i) => Memory(c, ref i, 2, 0);
    private static void FicomM32(Cpu c, ref Instruction i) => Memory(c, ref i, 3, 0);
    private static void FicompM16(Cpu c, ref Instruction i) => Memory(c, ref i, 2, 1);
    private static void FicompM32(Cpu c, ref Instruction i) => Memory(c, ref i, 3, 1);

    private static void Register(Cpu c, ref Instruction i, int s, bool quiet, int pops)
    {
        X87.Pointers(c, ref i, s);
        FpuState f = c.Fpu;
        bool empty = f.IsEmpty(s);
        CompareSt0(c, empty, empty ? default : Unpacked.From(f.St(s)), quiet, pops);
    }

    private static void FcomSti(Cpu c, ref Instruction i)
    {
        if (X87.Begin(c)) Register(c, ref i, X87.StIndex(i.Op1Register), false, 0);
    }

    private static void FcompSti(Cpu c, ref Instruction i)
    {
        if (X87.Begin(c)) Register(c, ref i, X87.StIndex(i.Op1Register), false, 1);
    }

    private static void FucomSti(Cpu c, ref Instruction i)
    {
        if (X87.Begin(c)) Register(c, ref i, X87.StIndex(i.Op1Register), true, 0);
    }

    private static void FucompSti(Cpu c, ref Instruction i)
    {
        if (X87.Begin(c)) Register(c, ref i, X87.StIndex(i.Op1Register), true, 1);
    }

    private static void Fcompp(Cpu c, ref Instruction i)
    {
        if (X87.Begin(c)) Register(c, ref i, 1, false, 2);
    }

    private static void Fucompp(Cpu c, ref Instruction i)
    {
        if (X87.Begin(c)) Register(c, ref i, 1, true, 2);
    }

    /// <summary>FTST: compares ST(0) with +0.0.</summary>
    private static void Ftst(Cpu c, ref Instruction i)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, ref i, 0);
        CompareSt0(c, false, default, false, 0); // default(Unpacked) is +0
    }

    /// <summary>FCOMI, FCOMIP, FUCOMI, FUCOMIP: the result in ZF, PF, CF (Intel SDM Vol. 2, FCOMI).</summary>
    private static void CompareToEflags(Cpu c, ref Instruction i, bool quiet, bool pop)
    {
        if (!X87.Begin(c)) return;
        int s = X87.StIndex(i.Op1Register);
        X87.Pointers(c, ref i, s);
        FpuState f = c.Fpu;
        int result;
        uint flags = 0;
        if (f.IsEmpty(0) || f.IsEmpty(s))
        {
            flags = X87.StackUnderflow;
            result = X87Math.Unordered;
        }
        else
        {
            result = X87Math.Compare(Unpacked.From(f.St(0)), Unpacked.From(f.St(s)), quiet, ref flags);
        }
        // C1 is not touched without a stack fault; C0, C2, C3 never are (what the host does).
        ushort c1 = (ushort)(f.StatusWord & FpuStatus.C1);
        bool ok = X87.Commit(c, flags);
        if ((flags & FpuStatus.SF) == 0) f.StatusWord = (ushort)((f.StatusWord & ~FpuStatus.C1) | c1);
        c.SetArithFlags(EflagsOf[result]);
        if (ok && pop) f.Pop();
    }

    private static void Fcomi(Cpu c, ref Instruction i) => CompareToEflags(c, ref i, false, false);
    private static void Fcomip(Cpu c, ref Instruction i) => CompareToEflags(c, ref i, false, true);
    private static void Fucomi(Cpu c, ref Instruction i) => CompareToEflags(c, ref i, true, false);
    private static void Fucomip(Cpu c, ref Instruction i) => CompareToEflags(c, ref i, true, true);

    /// <summary>FXAM: the class of ST(0) in C3, C2, C0 and its sign in C1 (Intel SDM Vol. 2, FXAM, Table 3-41).</summary>
    private static void Fxam(Cpu c, ref Instruction i)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, ref i, 0);
        FpuState f = c.Fpu;
        Float80 v = f.St(0);
        uint cc;
        if (f.IsEmpty(0)) cc = FpuStatus.C3 | FpuStatus.C0;
        else
        {
            cc = v.Class switch
            {
                FpClass.Unsupported => 0,
                FpClass.QNaN or FpClass.SNaN => FpuStatus.C0,
                FpClass.Normal => FpuStatus.C2,
                FpClass.Infinity => FpuStatus.C2 | FpuStatus.C0,
                FpClass.Zero => FpuStatus.C3,
                _ => FpuStatus.C3 | FpuStatus.C2, // denormal and pseudo-denormal
            };
        }
        if (v.Sign) cc |= FpuStatus.C1;
        f.StatusWord = (ushort)((f.StatusWord & ~(uint)FpuStatus.ConditionCodes) | cc);
    }

    internal static void Register()
    {
        X87.Add(Code.Fcom_m32fp, &FcomM32);
        X87.Add(Code.Fcom_m64fp, &FcomM64);
        X87.Add(Code.Fcomp_m32fp, &FcompM32);
        X87.Add(Code.Fcomp_m64fp, &FcompM64);
        X87.Add(Code.Ficom_m16int, &FicomM16);
        X87.Add(Code.Ficom_m32int, &FicomM32);
        X87.Add(Code.Ficomp_m16int, &FicompM16);
        X87.Add(Code.Ficomp_m32int, &FicompM32);
        X87.Add(Code.Fcom_st0_sti, &FcomSti);
        X87.Add(Code.Fcom_st0_sti_DCD0, &FcomSti);    // DC D0+i: undocumented alias of FCOM
        X87.Add(Code.Fcomp_st0_sti, &FcompSti);
        X87.Add(Code.Fcomp_st0_sti_DCD8, &FcompSti);  // DC D8+i and DE D0+i: aliases of FCOMP
        X87.Add(Code.Fcomp_st0_sti_DED0, &FcompSti);
        X87.Add(Code.Fucom_st0_sti, &FucomSti);
        X87.Add(Code.Fucomp_st0_sti, &FucompSti);
        X87.Add(Code.Fcompp, &Fcompp);
        X87.Add(Code.Fucompp, &Fucompp);
        X87.Add(Code.Ftst, &Ftst);
        X87.Add(Code.Fcomi_st0_sti, &Fcomi);
        X87.Add(Code.Fcomip_st0_sti, &Fcomip);
        X87.Add(Code.Fucomi_st0_sti, &Fucomi);
        X87.Add(Code.Fucomip_st0_sti, &Fucomip);
        X87.Add(Code.Fxam, &Fxam);
    }
}
