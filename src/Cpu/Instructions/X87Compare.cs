using System.Runtime.CompilerServices;
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
        Finish(c, flags, result, pops);
    }

    /// <summary>
    /// The condition codes take the result even when the exception is unmasked; only the
    /// pops wait for a masked one (what the host does; the SDM does not say).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(Cpu c, uint flags, int result, int pops)
    {
        FpuState f = c.Fpu;
        bool ok = X87.Commit(c, flags);
        SetConditionCodes(f, result);
        if (!ok) return;
        for (int n = 0; n < pops; n++) f.Pop();
    }

    /// <summary>Compares ST(0) with an ordinary (normal or zero) operand, which raises nothing unless ST(0) is unusual.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CompareSt0(Cpu c, in Float80 b, bool quiet, int pops)
    {
        FpuState f = c.Fpu;
        if (!f.IsEmpty(0) && X87Fast.TryCompare(f.St(0), b, out int result))
        {
            Finish(c, 0, result, pops);
            return;
        }
        CompareSt0(c, false, Unpacked.From(b), quiet, pops);
    }

    /// <summary>FCOM m32fp, FCOMP m32fp (<paramref name="pops"/> 0 or 1).</summary>
    public static void FcomM32(Cpu c, int seg, uint ea, int pops, ushort fop)
    {
        if (!X87.Begin(c)) return;
        uint bits = c.Read32(seg, ea);
        X87.Pointers(c, seg, ea, fop);
        if (X87Fast.TryFromSingle(bits, out Float80 v)) CompareSt0(c, v, false, pops);
        else CompareSt0(c, false, Unpacked.FromSingle(bits), false, pops);
    }

    /// <summary>FCOM m64fp, FCOMP m64fp.</summary>
    public static void FcomM64(Cpu c, int seg, uint ea, int pops, ushort fop)
    {
        if (!X87.Begin(c)) return;
        ulong bits = X87.Read64(c, seg, ea);
        X87.Pointers(c, seg, ea, fop);
        if (X87Fast.TryFromDouble(bits, out Float80 v)) CompareSt0(c, v, false, pops);
        else CompareSt0(c, false, Unpacked.FromDouble(bits), false, pops);
    }

    /// <summary>FICOM m16int, FICOMP m16int.</summary>
    public static void FicomM16(Cpu c, int seg, uint ea, int pops, ushort fop)
    {
        if (!X87.Begin(c)) return;
        long v = (short)c.Read16(seg, ea);
        X87.Pointers(c, seg, ea, fop);
        CompareSt0(c, X87Fast.FromInt64(v), false, pops);
    }

    /// <summary>FICOM m32int, FICOMP m32int.</summary>
    public static void FicomM32(Cpu c, int seg, uint ea, int pops, ushort fop)
    {
        if (!X87.Begin(c)) return;
        long v = (int)c.Read32(seg, ea);
        X87.Pointers(c, seg, ea, fop);
        CompareSt0(c, X87Fast.FromInt64(v), false, pops);
    }

    private static void FcomM32(Cpu c, ref Instruction i) => FcomM32(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), 0, X87.MemoryFop(ref i));
    private static void FcomM64(Cpu c, ref Instruction i) => FcomM64(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), 0, X87.MemoryFop(ref i));
    private static void FcompM32(Cpu c, ref Instruction i) => FcomM32(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), 1, X87.MemoryFop(ref i));
    private static void FcompM64(Cpu c, ref Instruction i) => FcomM64(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), 1, X87.MemoryFop(ref i));
    private static void FicomM16(Cpu c, ref Instruction i) => FicomM16(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), 0, X87.MemoryFop(ref i));
    private static void FicomM32(Cpu c, ref Instruction i) => FicomM32(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), 0, X87.MemoryFop(ref i));
    private static void FicompM16(Cpu c, ref Instruction i) => FicomM16(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), 1, X87.MemoryFop(ref i));
    private static void FicompM32(Cpu c, ref Instruction i) => FicomM32(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), 1, X87.MemoryFop(ref i));

    /// <summary>
    /// FCOM, FCOMP, FUCOM, FUCOMP ST(i) and their aliases (<paramref name="quiet"/> for the
    /// FUCOM forms), FCOMPP and FUCOMPP (s = 1, two pops): ST(0) with ST(s).
    /// </summary>
    public static void FcomSt(Cpu c, int s, bool quiet, int pops, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        FpuState f = c.Fpu;
        if (f.IsEmpty(s))
        {
            CompareSt0(c, true, default, quiet, pops);
            return;
        }
        if (!f.IsEmpty(0) && X87Fast.TryCompare(f.St(0), f.St(s), out int result))
        {
            Finish(c, 0, result, pops);
            return;
        }
        CompareSt0(c, false, Unpacked.From(f.St(s)), quiet, pops);
    }

    private static void Register(Cpu c, ref Instruction i, int s, bool quiet, int pops) =>
        FcomSt(c, s, quiet, pops, (ushort)(X87.FopOf(i.Code) | s));

    private static void FcomSti(Cpu c, ref Instruction i) => Register(c, ref i, X87.StIndex(i.Op1Register), false, 0);
    private static void FcompSti(Cpu c, ref Instruction i) => Register(c, ref i, X87.StIndex(i.Op1Register), false, 1);
    private static void FucomSti(Cpu c, ref Instruction i) => Register(c, ref i, X87.StIndex(i.Op1Register), true, 0);
    private static void FucompSti(Cpu c, ref Instruction i) => Register(c, ref i, X87.StIndex(i.Op1Register), true, 1);
    private static void Fcompp(Cpu c, ref Instruction i) => Register(c, ref i, 1, false, 2);
    private static void Fucompp(Cpu c, ref Instruction i) => Register(c, ref i, 1, true, 2);

    /// <summary>FTST: compares ST(0) with +0.0.</summary>
    public static void Ftst(Cpu c, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        CompareSt0(c, false, default, false, 0); // default(Unpacked) is +0
    }

    private static void Ftst(Cpu c, ref Instruction i) => Ftst(c, X87.FopOf(i.Code));

    /// <summary>
    /// FCOMI, FCOMIP, FUCOMI, FUCOMIP ST(0), ST(s) (<paramref name="quiet"/>: the FUCOMI
    /// forms): the result in ZF, PF, CF (Intel SDM Vol. 2, FCOMI).
    /// </summary>
    public static void Fcomi(Cpu c, int s, bool quiet, bool pop, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        FpuState f = c.Fpu;
        int result;
        uint flags = 0;
        if (f.IsEmpty(0) || f.IsEmpty(s))
        {
            flags = X87.StackUnderflow;
            result = X87Math.Unordered;
        }
        else if (X87Fast.TryCompare(f.St(0), f.St(s), out result))
        {
            // Nothing raised: C1 and the rest of the status word stay as they are.
            c.SetArithFlags(EflagsOf[result]);
            if (pop) f.Pop();
            return;
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

    private static void CompareToEflags(Cpu c, ref Instruction i, bool quiet, bool pop)
    {
        int s = X87.StIndex(i.Op1Register);
        Fcomi(c, s, quiet, pop, (ushort)(X87.FopOf(i.Code) | s));
    }

    private static void Fcomi(Cpu c, ref Instruction i) => CompareToEflags(c, ref i, false, false);
    private static void Fcomip(Cpu c, ref Instruction i) => CompareToEflags(c, ref i, false, true);
    private static void Fucomi(Cpu c, ref Instruction i) => CompareToEflags(c, ref i, true, false);
    private static void Fucomip(Cpu c, ref Instruction i) => CompareToEflags(c, ref i, true, true);

    /// <summary>FXAM: the class of ST(0) in C3, C2, C0 and its sign in C1 (Intel SDM Vol. 2, FXAM, Table 3-41).</summary>
    private static void Fxam(Cpu c, ref Instruction i) => Fxam(c, X87.FopOf(i.Code));

    public static void Fxam(Cpu c, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
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
