using System;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// x87 data transfer (Intel SDM Vol. 1, 8.3.3): FLD, FST, FSTP of real operands and
/// registers, FILD, FIST, FISTP, FBLD, FBSTP, FXCH, FCMOVcc and the constant loads.
/// </summary>
public static unsafe class X87LoadStore
{
    // ---- loads ----

    private static void FldM32(Cpu c, ref Instruction i)
    {
        if (!X87.Begin(c)) return;
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        uint bits = c.Read32(seg, ea);
        X87.Pointers(c, ref i, seg, ea);
        uint flags = 0;
        Float80 v = Conversions.Load(Unpacked.FromSingle(bits), ref flags);
        X87.PushLoaded(c, v, flags);
    }

    private static void FldM64(Cpu c, ref Instruction i)
    {
        if (!X87.Begin(c)) return;
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        ulong bits = X87.Read64(c, seg, ea);
        X87.Pointers(c, ref i, seg, ea);
        uint flags = 0;
        Float80 v = Conversions.Load(Unpacked.FromDouble(bits), ref flags);
        X87.PushLoaded(c, v, flags);
    }

    /// <summary>FLD m80fp: any encoding loads as it is, without exceptions.</summary>
    private static void FldM80(Cpu c, ref Instruction i)
    {
        if (!X87.Begin(c)) return;
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        Float80 v = X87.ReadExtended(c, ref i, seg, ea);
        X87.Pointers(c, ref i, seg, ea);
        X87.PushResult(c, v, 0);
    }

    private static void FldSti(Cpu c, ref Instruction i)
    {
        if (!X87.Begin(c)) return;
        int s = X87.StIndex(i.Op0Register);
        X87.Pointers(c, ref i, s);
        FpuState f = c.Fpu;
        if (f.IsEmpty(s))
        {
            // An empty source is reported before a full stack (C1 = 0; what the host does).
            if (X87.Commit(c, X87.StackUnderflow)) f.Push(Float80.Indefinite);
            return;
        }
        X87.PushResult(c, f.St(s), 0);
    }

    private static void FildM16(Cpu c, ref Instruction i) => Fild(c, ref i, 2);
    private static void FildM32(Cpu c, ref Instruction i) => Fild(c, ref i, 4);
    private static void FildM64(Cpu c, ref Instruction i) => Fild(c, ref i, 8);

    private static void Fild(Cpu c, ref Instruction i, int bytes)
    {
        if (!X87.Begin(c)) return;
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        long v = bytes switch
        {
            2 => (short)c.Read16(seg, ea),
            4 => (int)c.Read32(seg, ea),
            _ => (long)X87.Read64(c, seg, ea),
        };
        X87.Pointers(c, ref i, seg, ea);
        X87.PushResult(c, Unpacked.FromInt64(v).ToFloat80Exact(), 0);
    }

    private static void Fbld(Cpu c, ref Instruction i)
    {
        if (!X87.Begin(c)) return;
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        X87.TenByteAddress(c, ref i, seg, ea, false, out uint lo, out uint hi);
        ulong low = c.Mmu.Read64(lo);
        ushort high = c.Mmu.Read16(hi);
        X87.Pointers(c, ref i, seg, ea);
        X87.PushResult(c, Conversions.FromBcd(low, high), 0);
    }

    // ---- the constants (Intel SDM Vol. 1, 8.3.5; rounded by rounding control, no #P) ----

    private static void Fld1(Cpu c, ref Instruction i) => LoadConstant(c, ref i, Float80.One);
    private static void Fldz(Cpu c, ref Instruction i) => LoadConstant(c, ref i, Float80.Zero(false));
    private static void Fldpi(Cpu c, ref Instruction i) => LoadConstant(c, ref i, X87Constants.Pi);
    private static void Fldl2t(Cpu c, ref Instruction i) => LoadConstant(c, ref i, X87Constants.Log2Ten);
    private static void Fldl2e(Cpu c, ref Instruction i) => LoadConstant(c, ref i, X87Constants.Log2E);
    private static void Fldlg2(Cpu c, ref Instruction i) => LoadConstant(c, ref i, X87Constants.Log10Two);
    private static void Fldln2(Cpu c, ref Instruction i) => LoadConstant(c, ref i, X87Constants.Ln2);

    private static void LoadConstant(Cpu c, ref Instruction i, WideFloat k)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, ref i, 0);
        uint ignored = 0;
        Float80 v = k.Round(c.Fpu.RoundingControl, c.Fpu.ControlWord, ref ignored);
        X87.PushResult(c, v, 0);
    }

    private static void LoadConstant(Cpu c, ref Instruction i, Float80 v)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, ref i, 0);
        X87.PushResult(c, v, 0);
    }

    // ---- stores ----

    /// <summary>
    /// The common shape of a store to memory: ST(0) empty is a stack underflow (the masked
    /// response stores the indefinite); an unmasked exception stores nothing and does not
    /// pop (Intel SDM Vol. 1, 8.5.1.1, 8.5.4, 8.5.5).
    /// </summary>
    private static bool StoreAllowed(Cpu c, uint flags) =>
        X87.Commit(c, flags) && !X87.AnyUnmasked(c, flags & (FpuStatus.OE | FpuStatus.UE | FpuStatus.IE));

    /// <summary>
    /// The start of every store of ST(0) to memory: the #NM and pending-exception checks, the
    /// destination's segment checks (before anything changes), then FIP/FDP/FOP.
    /// </summary>
    private static bool BeginStore(Cpu c, ref Instruction i, int bytes, out uint linear)
    {
        linear = 0;
        if (!X87.Begin(c)) return false;
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        linear = X87.StoreAddress(c, seg, ea, bytes);
        X87.Pointers(c, ref i, seg, ea);
        return true;
    }

    private static void FstM32(Cpu c, ref Instruction i) => StoreReal(c, ref i, false, false);
    private static void FstpM32(Cpu c, ref Instruction i) => StoreReal(c, ref i, false, true);
    private static void FstM64(Cpu c, ref Instruction i) => StoreReal(c, ref i, true, false);
    private static void FstpM64(Cpu c, ref Instruction i) => StoreReal(c, ref i, true, true);

    /// <summary>FST/FSTP m32fp and m64fp: ST(0) rounded to single or double precision.</summary>
    private static void StoreReal(Cpu c, ref Instruction i, bool isDouble, bool pop)
    {
        if (!BeginStore(c, ref i, isDouble ? 8 : 4, out uint lin)) return;
        FpuState f = c.Fpu;
        uint flags = 0;
        ulong bits;
        if (f.IsEmpty(0))
        {
            flags = X87.StackUnderflow;
            bits = isDouble ? Conversions.DoubleIndefinite : Conversions.SingleIndefinite;
        }
        else
        {
            bits = isDouble
                ? Conversions.ToDouble(f.St(0), f.RoundingControl, f.ControlWord, ref flags)
                : Conversions.ToSingle(f.St(0), f.RoundingControl, f.ControlWord, ref flags);
        }
        if (!StoreAllowed(c, flags)) return;
        if (isDouble) X87.Write64(c, lin, bits);
        else c.Mmu.Write32(lin, (uint)bits);
        if (pop) f.Pop();
    }

    private static void FstpM80(Cpu c, ref Instruction i)
    {
        if (!X87.Begin(c)) return;
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        X87.TenByteAddress(c, ref i, seg, ea, true, out uint lo, out uint hi);
        X87.Pointers(c, ref i, seg, ea);
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

    /// <summary>
    /// D9 D8+i, the undocumented alias of FSTP ST(i) that Iced calls FSTPNCE: with ST(0)
    /// empty it only pops, without the stack-underflow exception (what the host does).
    /// </summary>
    private static void Fstpnce(Cpu c, ref Instruction i)
    {
        if (!X87.Begin(c)) return;
        if (c.Fpu.IsEmpty(0))
        {
            X87.Pointers(c, ref i, X87.StIndex(i.Op0Register));
            c.Fpu.Pop();
            c.Fpu.StatusWord &= unchecked((ushort)~FpuStatus.C1);
            return;
        }
        StoreRegister(c, ref i, true, false);
    }

    private static void FstSti(Cpu c, ref Instruction i) => StoreRegister(c, ref i, false);
    private static void FstpSti(Cpu c, ref Instruction i) => StoreRegister(c, ref i, true);

    private static void StoreRegister(Cpu c, ref Instruction i, bool pop) => StoreRegister(c, ref i, pop, true);

    private static void StoreRegister(Cpu c, ref Instruction i, bool pop, bool begin)
    {
        if (begin && !X87.Begin(c)) return;
        int d = X87.StIndex(i.Op0Register);
        X87.Pointers(c, ref i, d);
        FpuState f = c.Fpu;
        if (f.IsEmpty(0))
        {
            if (!X87.Commit(c, X87.StackUnderflow)) return;
            f.Store(d, Float80.Indefinite);
        }
        else
        {
            X87.Commit(c, 0);
            f.Store(d, f.St(0));
        }
        if (pop) f.Pop();
    }

    private static void FistM16(Cpu c, ref Instruction i) => StoreInteger(c, ref i, 16, false);
    private static void FistM32(Cpu c, ref Instruction i) => StoreInteger(c, ref i, 32, false);
    private static void FistpM16(Cpu c, ref Instruction i) => StoreInteger(c, ref i, 16, true);
    private static void FistpM32(Cpu c, ref Instruction i) => StoreInteger(c, ref i, 32, true);
    private static void FistpM64(Cpu c, ref Instruction i) => StoreInteger(c, ref i, 64, true);

    private static void StoreInteger(Cpu c, ref Instruction i, int bits, bool pop)
    {
        if (!BeginStore(c, ref i, bits / 8, out uint lin)) return;
        FpuState f = c.Fpu;
        uint flags = 0;
        long v;
        if (f.IsEmpty(0))
        {
            flags = X87.StackUnderflow;
            v = bits == 64 ? long.MinValue : -(1L << (bits - 1));
        }
        else
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

    private static void Fbstp(Cpu c, ref Instruction i)
    {
        if (!X87.Begin(c)) return;
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        X87.TenByteAddress(c, ref i, seg, ea, true, out uint lo, out uint hi);
        X87.Pointers(c, ref i, seg, ea);
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

    // ---- exchange and conditional moves ----

    private static void Fxch(Cpu c, ref Instruction i)
    {
        if (!X87.Begin(c)) return;
        int s = X87.StIndex(i.Op1Register);
        X87.Pointers(c, ref i, s);
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
            X87.Commit(c, 0);
        }
        Float80 t = f.St(0);
        f.St(0) = f.St(s);
        f.St(s) = t;
    }

    private static void Fcmovb(Cpu c, ref Instruction i) => Fcmov(c, ref i, c.Condition(2));
    private static void Fcmove(Cpu c, ref Instruction i) => Fcmov(c, ref i, c.Condition(4));
    private static void Fcmovbe(Cpu c, ref Instruction i) => Fcmov(c, ref i, c.Condition(6));
    private static void Fcmovu(Cpu c, ref Instruction i) => Fcmov(c, ref i, c.Condition(10));
    private static void Fcmovnb(Cpu c, ref Instruction i) => Fcmov(c, ref i, c.Condition(3));
    private static void Fcmovne(Cpu c, ref Instruction i) => Fcmov(c, ref i, c.Condition(5));
    private static void Fcmovnbe(Cpu c, ref Instruction i) => Fcmov(c, ref i, c.Condition(7));
    private static void Fcmovnu(Cpu c, ref Instruction i) => Fcmov(c, ref i, c.Condition(11));

    private static void Fcmov(Cpu c, ref Instruction i, bool condition)
    {
        if (!X87.Begin(c)) return;
        int s = X87.StIndex(i.Op1Register);
        X87.Pointers(c, ref i, s);
        FpuState f = c.Fpu;
        if (f.IsEmpty(0) || f.IsEmpty(s))
        {
            if (X87.Commit(c, X87.StackUnderflow)) f.Store(0, Float80.Indefinite);
            return;
        }
        // Without a stack fault C1 is left as it was (the SDM leaves it undefined; the host keeps it).
        if (condition) f.St(0) = f.St(s);
    }

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
