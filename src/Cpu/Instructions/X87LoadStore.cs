using System;
using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// x87 data transfer (Intel SDM Vol. 1, 8.3.3): FLD, FST, FSTP of real operands and
/// registers, FILD, FIST, FISTP, FBLD, FBSTP, FXCH, FCMOVcc and the constant loads.
/// </summary>
public static unsafe class X87LoadStore
{
    // ---- loads ----

    /// <summary>FLD m32fp: pushes the single at [seg:ea].</summary>
    public static void FldM32(Cpu c, int seg, uint ea, ushort fop)
    {
        if (!X87.Begin(c)) return;
        uint bits = c.Read32(seg, ea);
        X87.Pointers(c, seg, ea, fop);
        if (X87Fast.TryFromSingle(bits, out Float80 v))
        {
            X87.PushOrdinary(c, v);
            return;
        }
        uint flags = 0;
        v = Conversions.Load(Unpacked.FromSingle(bits), ref flags);
        X87.PushLoaded(c, v, flags);
    }

    /// <summary>FLD m64fp.</summary>
    public static void FldM64(Cpu c, int seg, uint ea, ushort fop)
    {
        if (!X87.Begin(c)) return;
        ulong bits = X87.Read64(c, seg, ea);
        X87.Pointers(c, seg, ea, fop);
        if (X87Fast.TryFromDouble(bits, out Float80 v))
        {
            X87.PushOrdinary(c, v);
            return;
        }
        uint flags = 0;
        v = Conversions.Load(Unpacked.FromDouble(bits), ref flags);
        X87.PushLoaded(c, v, flags);
    }

    /// <summary>FLD m80fp: any encoding loads as it is, without exceptions. <paramref name="a16"/>: 16-bit addressing.</summary>
    public static void FldM80(Cpu c, int seg, uint ea, bool a16, ushort fop)
    {
        if (!X87.Begin(c)) return;
        Float80 v = X87.ReadExtended(c, a16, seg, ea);
        X87.Pointers(c, seg, ea, fop);
        X87.PushResult(c, v, 0);
    }

    /// <summary>FLD ST(i).</summary>
    public static void FldSt(Cpu c, int s, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        FpuState f = c.Fpu;
        if (f.IsEmpty(s))
        {
            // An empty source is reported before a full stack (C1 = 0; what the host does).
            if (X87.Commit(c, X87.StackUnderflow)) f.Push(Float80.Indefinite);
            return;
        }
        X87.PushOrdinary(c, f.St(s));
    }

    /// <summary>FILD m16int, m32int, m64int (<paramref name="bytes"/> 2, 4 or 8).</summary>
    public static void Fild(Cpu c, int bytes, int seg, uint ea, ushort fop)
    {
        if (!X87.Begin(c)) return;
        long v = bytes switch
        {
            2 => (short)c.Read16(seg, ea),
            4 => (int)c.Read32(seg, ea),
            _ => (long)X87.Read64(c, seg, ea),
        };
        X87.Pointers(c, seg, ea, fop);
        X87.PushOrdinary(c, X87Fast.FromInt64(v));
    }

    /// <summary>FBLD m80bcd.</summary>
    public static void Fbld(Cpu c, int seg, uint ea, bool a16, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.TenByteAddress(c, a16, seg, ea, false, out uint lo, out uint hi);
        ulong low = c.Mmu.Read64(lo);
        ushort high = c.Mmu.Read16(hi);
        X87.Pointers(c, seg, ea, fop);
        X87.PushResult(c, Conversions.FromBcd(low, high), 0);
    }

    private static void FldM32(Cpu c, ref Instruction i) => FldM32(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), X87.MemoryFop(ref i));
    private static void FldM64(Cpu c, ref Instruction i) => FldM64(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), X87.MemoryFop(ref i));
    private static void FldM80(Cpu c, ref Instruction i) => FldM80(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), Cpu.AddressSize16(ref i), X87.MemoryFop(ref i));

    private static void FldSti(Cpu c, ref Instruction i)
    {
        int s = X87.StIndex(i.Op0Register);
        FldSt(c, s, (ushort)(X87.FopOf(i.Code) | s));
    }

    private static void FildM16(Cpu c, ref Instruction i) => Fild(c, 2, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), X87.MemoryFop(ref i));
    private static void FildM32(Cpu c, ref Instruction i) => Fild(c, 4, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), X87.MemoryFop(ref i));
    private static void FildM64(Cpu c, ref Instruction i) => Fild(c, 8, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), X87.MemoryFop(ref i));
    private static void Fbld(Cpu c, ref Instruction i) => Fbld(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), Cpu.AddressSize16(ref i), X87.MemoryFop(ref i));

    // ---- the constants (Intel SDM Vol. 1, 8.3.5; rounded by rounding control, no #P) ----

    /// <summary>The constants of <see cref="LoadConstant"/>, in the order of their opcodes D9 E8-EE.</summary>
    public const int ConstOne = 0, ConstLog2Ten = 1, ConstLog2E = 2, ConstPi = 3, ConstLog10Two = 4, ConstLn2 = 5, ConstZero = 6;

    /// <summary>FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ (<paramref name="k"/>: Const*).</summary>
    public static void LoadConstant(Cpu c, int k, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        Float80 v;
        switch (k)
        {
            case ConstOne: v = Float80.One; break;
            case ConstZero: v = Float80.Zero(false); break;
            default:
                WideFloat w = k switch
                {
                    ConstLog2Ten => X87Constants.Log2Ten,
                    ConstLog2E => X87Constants.Log2E,
                    ConstPi => X87Constants.Pi,
                    ConstLog10Two => X87Constants.Log10Two,
                    _ => X87Constants.Ln2,
                };
                uint ignored = 0;
                v = w.Round(c.Fpu.RoundingControl, c.Fpu.ControlWord, ref ignored);
                break;
        }
        X87.PushResult(c, v, 0);
    }

    private static void Fld1(Cpu c, ref Instruction i) => LoadConstant(c, ConstOne, X87.FopOf(i.Code));
    private static void Fldz(Cpu c, ref Instruction i) => LoadConstant(c, ConstZero, X87.FopOf(i.Code));
    private static void Fldpi(Cpu c, ref Instruction i) => LoadConstant(c, ConstPi, X87.FopOf(i.Code));
    private static void Fldl2t(Cpu c, ref Instruction i) => LoadConstant(c, ConstLog2Ten, X87.FopOf(i.Code));
    private static void Fldl2e(Cpu c, ref Instruction i) => LoadConstant(c, ConstLog2E, X87.FopOf(i.Code));
    private static void Fldlg2(Cpu c, ref Instruction i) => LoadConstant(c, ConstLog10Two, X87.FopOf(i.Code));
    private static void Fldln2(Cpu c, ref Instruction i) => LoadConstant(c, ConstLn2, X87.FopOf(i.Code));

    // ---- stores ----

    /// <summary>
    /// The common shape of a store to memory: ST(0) empty is a stack underflow (the masked
    /// response stores the indefinite); an unmasked exception stores nothing and does not
    /// pop (Intel SDM Vol. 1, 8.5.1.1, 8.5.4, 8.5.5).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool StoreAllowed(Cpu c, uint flags) =>
        X87.Commit(c, flags) && !X87.AnyUnmasked(c, flags & (FpuStatus.OE | FpuStatus.UE | FpuStatus.IE));

    /// <summary>
    /// The start of every store of ST(0) to memory: the #NM and pending-exception checks, the
    /// destination's segment checks (before anything changes), then FIP/FDP/FOP.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool BeginStore(Cpu c, int seg, uint ea, int bytes, ushort fop, out uint linear)
    {
        linear = 0;
        if (!X87.Begin(c)) return false;
        linear = X87.StoreAddress(c, seg, ea, bytes);
        X87.Pointers(c, seg, ea, fop);
        return true;
    }

    /// <summary>FST m32fp, FSTP m32fp (<paramref name="pop"/>): ST(0) rounded to single precision.</summary>
    public static void FstM32(Cpu c, int seg, uint ea, bool pop, ushort fop)
    {
        if (!BeginStore(c, seg, ea, 4, fop, out uint lin)) return;
        FpuState f = c.Fpu;
        uint flags = 0;
        uint bits;
        if (f.IsEmpty(0))
        {
            flags = X87.StackUnderflow;
            bits = Conversions.SingleIndefinite;
        }
        else if (!X87Fast.TryToSingle(f.St(0), f.RoundingControl, ref flags, out bits))
        {
            bits = Conversions.ToSingle(f.St(0), f.RoundingControl, f.ControlWord, ref flags);
        }
        if (!StoreAllowed(c, flags)) return;
        c.Mmu.Write32(lin, bits);
        if (pop) f.Pop();
    }

    /// <summary>FST m64fp, FSTP m64fp.</summary>
    public static void FstM64(Cpu c, int seg, uint ea, bool pop, ushort fop)
    {
        if (!BeginStore(c, seg, ea, 8, fop, out uint lin)) return;
        FpuState f = c.Fpu;
        uint flags = 0;
        ulong bits;
        if (f.IsEmpty(0))
        {
            flags = X87.StackUnderflow;
            bits = Conversions.DoubleIndefinite;
        }
        else if (!X87Fast.TryToDouble(f.St(0), f.RoundingControl, ref flags, out bits))
        {
            bits = Conversions.ToDouble(f.St(0), f.RoundingControl, f.ControlWord, ref flags);
        }
        if (!StoreAllowed(c, flags)) return;
        X87.Write64(c, lin, bits);
        if (pop) f.Pop();
    }

    private static void FstM32(Cpu c, ref Instruction i) => FstM32(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), false, X87.MemoryFop(ref i));
    private static void FstpM32(Cpu c, ref Instruction i) => FstM32(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), true, X87.MemoryFop(ref i));
    private static void FstM64(Cpu c, ref Instruction i) => FstM64(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), false, X87.MemoryFop(ref i));
    private static void FstpM64(Cpu c, ref Instruction i) => FstM64(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), true, X87.MemoryFop(ref i));

    /// <summary>FSTP m80fp.</summary>
    public static void FstpM80(Cpu c, int seg, uint ea, bool a16, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.TenByteAddress(c, a16, seg, ea, true, out uint lo, out uint hi);
        X87.Pointers(c, seg, ea, fop);
        FpuState f = c.Fpu;
        uint flags = 0;
        Float80 v;
        if (f.IsEmpty(0))
        {
            flags = X87.StackUnderflow;
            v = Float80.Indefinite;
        }
        else
        {
            v = f.St(0);
        }
        if (!StoreAllowed(c, flags)) return;
        X87.Write64(c, lo, v.Significand);
        c.Mmu.Write16(hi, v.SignExponent);
        f.Pop();
    }

    private static void FstpM80(Cpu c, ref Instruction i) => FstpM80(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), Cpu.AddressSize16(ref i), X87.MemoryFop(ref i));

    /// <summary>
    /// D9 D8+i, the undocumented alias of FSTP ST(i) that Iced calls FSTPNCE: with ST(0)
    /// empty it only pops, without the stack-underflow exception (what the host does).
    /// </summary>
    public static void Fstpnce(Cpu c, int d, ushort fop)
    {
        if (!X87.Begin(c)) return;
        if (c.Fpu.IsEmpty(0))
        {
            X87.Pointers(c, fop);
            c.Fpu.Pop();
            c.Fpu.StatusWord &= unchecked((ushort)~FpuStatus.C1);
            return;
        }
        StoreRegister(c, d, true, fop);
    }

    /// <summary>FST ST(i), FSTP ST(i) (<paramref name="pop"/>), and the FSTP aliases DF D0+i, DF D8+i.</summary>
    public static void FstSt(Cpu c, int d, bool pop, ushort fop)
    {
        if (!X87.Begin(c)) return;
        StoreRegister(c, d, pop, fop);
    }

    private static void StoreRegister(Cpu c, int d, bool pop, ushort fop)
    {
        X87.Pointers(c, fop);
        FpuState f = c.Fpu;
        if (f.IsEmpty(0))
        {
            if (!X87.Commit(c, X87.StackUnderflow)) return;
            f.Store(d, Float80.Indefinite);
        }
        else
        {
            X87.CommitNoFlags(c);
            f.Store(d, f.St(0));
        }
        if (pop) f.Pop();
    }

    private static void Fstpnce(Cpu c, ref Instruction i)
    {
        int d = X87.StIndex(i.Op0Register);
        Fstpnce(c, d, (ushort)(X87.FopOf(i.Code) | d));
    }

    private static void FstSti(Cpu c, ref Instruction i)
    {
        int d = X87.StIndex(i.Op0Register);
        FstSt(c, d, false, (ushort)(X87.FopOf(i.Code) | d));
    }

    private static void FstpSti(Cpu c, ref Instruction i)
    {
        int d = X87.StIndex(i.Op0Register);
        FstSt(c, d, true, (ushort)(X87.FopOf(i.Code) | d));
    }

    /// <summary>FIST m16int/m32int, FISTP m16int/m32int/m64int: <paramref name="bits"/> 16, 32 or 64.</summary>
    public static void Fist(Cpu c, int bits, int seg, uint ea, bool pop, ushort fop)
    {
        if (!BeginStore(c, seg, ea, bits / 8, fop, out uint lin)) return;
        FpuState f = c.Fpu;
        uint flags = 0;
        long v;
        if (f.IsEmpty(0))
        {
            flags = X87.StackUnderflow;
            v = bits == 64 ? long.MinValue : -(1L << (bits - 1));
        }
        else if (!X87Fast.TryToInteger(f.St(0), bits, f.RoundingControl, ref flags, out v))
        {
            v = Conversions.ToInteger(f.St(0), bits, f.RoundingControl, ref flags);
        }
        if (!StoreAllowed(c, flags)) return;
        switch (bits)
        {
            case 16: c.Mmu.Write16(lin, (ushort)v); break;
            case 32: c.Mmu.Write32(lin, (uint)v); break;
            default: X87.Write64(c, lin, (ulong)v); break;
        }
        if (pop) f.Pop();
    }

    private static void FistM16(Cpu c, ref Instruction i) => Fist(c, 16, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), false, X87.MemoryFop(ref i));
    private static void FistM32(Cpu c, ref Instruction i) => Fist(c, 32, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), false, X87.MemoryFop(ref i));
    private static void FistpM16(Cpu c, ref Instruction i) => Fist(c, 16, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), true, X87.MemoryFop(ref i));
    private static void FistpM32(Cpu c, ref Instruction i) => Fist(c, 32, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), true, X87.MemoryFop(ref i));
    private static void FistpM64(Cpu c, ref Instruction i) => Fist(c, 64, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), true, X87.MemoryFop(ref i));

    /// <summary>FBSTP m80bcd.</summary>
    public static void Fbstp(Cpu c, int seg, uint ea, bool a16, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.TenByteAddress(c, a16, seg, ea, true, out uint lo, out uint hi);
        X87.Pointers(c, seg, ea, fop);
        FpuState f = c.Fpu;
        uint flags = 0;
        ulong low;
        ushort high;
        if (f.IsEmpty(0))
        {
            flags = X87.StackUnderflow;
            low = Conversions.BcdIndefiniteLow;
            high = Conversions.BcdIndefiniteHigh;
        }
        else
        {
            Conversions.ToBcd(f.St(0), f.RoundingControl, ref flags, out low, out high);
        }
        if (!StoreAllowed(c, flags)) return;
        X87.Write64(c, lo, low);
        c.Mmu.Write16(hi, high);
        f.Pop();
    }

    private static void Fbstp(Cpu c, ref Instruction i) => Fbstp(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), Cpu.AddressSize16(ref i), X87.MemoryFop(ref i));

    // ---- exchange and conditional moves ----

    /// <summary>FXCH ST(i) (and its aliases DD C8+i, DF C8+i).</summary>
    public static void Fxch(Cpu c, int s, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        FpuState f = c.Fpu;
        if (f.IsEmpty(0) || f.IsEmpty(s))
        {
            // Masked response to #IS: an empty operand becomes the indefinite, then the exchange.
            if (!X87.Commit(c, X87.StackUnderflow)) return;
            if (f.IsEmpty(0)) f.Store(0, Float80.Indefinite);
            if (f.IsEmpty(s)) f.Store(s, Float80.Indefinite);
        }
        else
        {
            X87.CommitNoFlags(c);
        }
        ref Float80 a = ref f.St(0);
        ref Float80 b = ref f.St(s);
        (a, b) = (b, a);
    }

    private static void Fxch(Cpu c, ref Instruction i)
    {
        int s = X87.StIndex(i.Op1Register);
        Fxch(c, s, (ushort)(X87.FopOf(i.Code) | s));
    }

    /// <summary>
    /// FCMOVcc ST(0), ST(i): <paramref name="condition"/> is the condition's number as
    /// <see cref="Cpu.Condition"/> takes it (B 2, E 4, BE 6, U 10, NB 3, NE 5, NBE 7, NU 11).
    /// </summary>
    public static void Fcmov(Cpu c, int condition, int s, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        FpuState f = c.Fpu;
        if (f.IsEmpty(0) || f.IsEmpty(s))
        {
            if (X87.Commit(c, X87.StackUnderflow)) f.Store(0, Float80.Indefinite);
            return;
        }
        // Without a stack fault C1 is left as it was (the SDM leaves it undefined; the host keeps it).
        if (c.Condition(condition)) f.St(0) = f.St(s);
    }

    private static void Fcmov(Cpu c, ref Instruction i, int condition)
    {
        int s = X87.StIndex(i.Op1Register);
        Fcmov(c, condition, s, (ushort)(X87.FopOf(i.Code) | s));
    }

    private static void Fcmovb(Cpu c, ref Instruction i) => Fcmov(c, ref i, 2);
    private static void Fcmove(Cpu c, ref Instruction i) => Fcmov(c, ref i, 4);
    private static void Fcmovbe(Cpu c, ref Instruction i) => Fcmov(c, ref i, 6);
    private static void Fcmovu(Cpu c, ref Instruction i) => Fcmov(c, ref i, 10);
    private static void Fcmovnb(Cpu c, ref Instruction i) => Fcmov(c, ref i, 3);
    private static void Fcmovne(Cpu c, ref Instruction i) => Fcmov(c, ref i, 5);
    private static void Fcmovnbe(Cpu c, ref Instruction i) => Fcmov(c, ref i, 7);
    private static void Fcmovnu(Cpu c, ref Instruction i) => Fcmov(c, ref i, 11);

    internal static void Register()
    {
        X87.Add(Code.Fld_m32fp, &FldM32);
        X87.Add(Code.Fld_m64fp, &FldM64);
        X87.Add(Code.Fld_m80fp, &FldM80);
        X87.Add(Code.Fld_sti, &FldSti);
        X87.Add(Code.Fild_m16int, &FildM16);
        X87.Add(Code.Fild_m32int, &FildM32);
        X87.Add(Code.Fild_m64int, &FildM64);
        X87.Add(Code.Fbld_m80bcd, &Fbld);
        X87.Add(Code.Fld1, &Fld1);
        X87.Add(Code.Fldz, &Fldz);
        X87.Add(Code.Fldpi, &Fldpi);
        X87.Add(Code.Fldl2t, &Fldl2t);
        X87.Add(Code.Fldl2e, &Fldl2e);
        X87.Add(Code.Fldlg2, &Fldlg2);
        X87.Add(Code.Fldln2, &Fldln2);
        X87.Add(Code.Fst_m32fp, &FstM32);
        X87.Add(Code.Fstp_m32fp, &FstpM32);
        X87.Add(Code.Fst_m64fp, &FstM64);
        X87.Add(Code.Fstp_m64fp, &FstpM64);
        X87.Add(Code.Fstp_m80fp, &FstpM80);
        X87.Add(Code.Fst_sti, &FstSti);
        X87.Add(Code.Fstp_sti, &FstpSti);
        // Undocumented aliases of FSTP ST(i) that the P6 decodes: D9 D8+i, DF D0+i, DF D8+i.
        X87.Add(Code.Fstpnce_sti, &Fstpnce);
        X87.Add(Code.Fstp_sti_DFD0, &FstpSti);
        X87.Add(Code.Fstp_sti_DFD8, &FstpSti);
        X87.Add(Code.Fist_m16int, &FistM16);
        X87.Add(Code.Fist_m32int, &FistM32);
        X87.Add(Code.Fistp_m16int, &FistpM16);
        X87.Add(Code.Fistp_m32int, &FistpM32);
        X87.Add(Code.Fistp_m64int, &FistpM64);
        X87.Add(Code.Fbstp_m80bcd, &Fbstp);
        X87.Add(Code.Fxch_st0_sti, &Fxch);
        X87.Add(Code.Fxch_st0_sti_DDC8, &Fxch); // DD C8+i and DF C8+i: undocumented aliases of FXCH
        X87.Add(Code.Fxch_st0_sti_DFC8, &Fxch);
        X87.Add(Code.Fcmovb_st0_sti, &Fcmovb);
        X87.Add(Code.Fcmove_st0_sti, &Fcmove);
        X87.Add(Code.Fcmovbe_st0_sti, &Fcmovbe);
        X87.Add(Code.Fcmovu_st0_sti, &Fcmovu);
        X87.Add(Code.Fcmovnb_st0_sti, &Fcmovnb);
        X87.Add(Code.Fcmovne_st0_sti, &Fcmovne);
        X87.Add(Code.Fcmovnbe_st0_sti, &Fcmovnbe);
        X87.Add(Code.Fcmovnu_st0_sti, &Fcmovnu);
    }
}
