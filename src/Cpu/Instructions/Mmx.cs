using System.Runtime.CompilerServices;
using Emu.Memory;
using Iced.Intel;

namespace Emu.X86;

/// <summary>A packed MMX operation: dest = Apply(dest, src) on 64-bit registers.</summary>
public interface IMmxOp
{
    static abstract ulong Apply(ulong a, ulong b);
}

/// <summary>
/// The MMX instructions of a P6 (Intel SDM Vol. 1, chapter 9): packed add, subtract,
/// multiply, compare, pack, unpack, logic and shifts, MOVD, MOVQ and EMMS. MMX registers
/// alias the significands of the x87 physical registers R0-R7 (9.5): a write stores the
/// value there and sets the exponent and sign to all ones; every MMX instruction but EMMS
/// sets TOP to 0 and tags every register valid; EMMS tags them all empty.
/// </summary>
public static unsafe class Mmx
{
    /// <summary>CR0.EM: #UD (MMX is not emulated by the #NM handler); CR0.TS: #NM; then a pending x87 exception (Intel SDM Vol. 1, 9.5.3; Table 12-1 of Vol. 3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Begin(Cpu c)
    {
        uint cr0 = c.Cr0;
        if ((cr0 & (Cr0Bits.EM | Cr0Bits.TS)) != 0)
        {
            if ((cr0 & Cr0Bits.EM) != 0) throw GuestFault.Create(ExceptionVectors.UD);
            throw GuestFault.Create(ExceptionVectors.NM);
        }
        if (c.Fpu.ErrorSummary) return X87.PendingError(c);
        return true;
    }

    /// <summary>The x87 state after an MMX instruction: TOP = 0, every tag valid.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transition(FpuState f)
    {
        f.Top = 0;
        f.Valid = 0xFF;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Get(FpuState f, int mm) => f.R[mm].Significand;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Set(FpuState f, int mm, ulong v) => f.R[mm] = new Float80(0xFFFF, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int MmNum(Iced.Intel.Register r) => r - Iced.Intel.Register.MM0;

    /// <summary>The 64-bit source operand (register or m64).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Source64(Cpu c, ref Instruction i)
    {
        if (i.Op1Kind == OpKind.Register) return Get(c.Fpu, MmNum(i.Op1Register));
        return X87.Read64(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i));
    }

    /// <summary>The source of the PUNPCKL forms: mm, or m32 zero-extended (only 32 bits are read).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Source32(Cpu c, ref Instruction i)
    {
        if (i.Op1Kind == OpKind.Register) return Get(c.Fpu, MmNum(i.Op1Register));
        return c.Read32(Cpu.MemSeg(ref i), c.EffectiveAddress(ref i));
    }

    private static void Binary<TOp>(Cpu c, ref Instruction i) where TOp : struct, IMmxOp
    {
        if (!Begin(c)) return;
        ulong src = Source64(c, ref i);
        FpuState f = c.Fpu;
        int d = MmNum(i.Op0Register);
        Set(f, d, TOp.Apply(Get(f, d), src));
        Transition(f);
    }

    private static void BinaryLow<TOp>(Cpu c, ref Instruction i) where TOp : struct, IMmxOp
    {
        if (!Begin(c)) return;
        ulong src = Source32(c, ref i);
        FpuState f = c.Fpu;
        int d = MmNum(i.Op0Register);
        Set(f, d, TOp.Apply(Get(f, d), src));
        Transition(f);
    }

    /// <summary>PSxxW/D/Q mm, imm8.</summary>
    private static void ShiftImmediate<TOp>(Cpu c, ref Instruction i) where TOp : struct, IMmxOp
    {
        if (!Begin(c)) return;
        FpuState f = c.Fpu;
        int d = MmNum(i.Op0Register);
        Set(f, d, TOp.Apply(Get(f, d), i.Immediate8));
        Transition(f);
    }

    private static void MovdMmRm32(Cpu c, ref Instruction i)
    {
        if (!Begin(c)) return;
        uint v = i.Op1Kind == OpKind.Register ? c.Gpr[Cpu.RegNum(i.Op1Register)] : c.Read32(Cpu.MemSeg(ref i), c.EffectiveAddress(ref i));
        FpuState f = c.Fpu;
        Set(f, MmNum(i.Op0Register), v);
        Transition(f);
    }

    private static void MovdRm32Mm(Cpu c, ref Instruction i)
    {
        if (!Begin(c)) return;
        FpuState f = c.Fpu;
        uint v = (uint)Get(f, MmNum(i.Op1Register));
        if (i.Op0Kind == OpKind.Register) c.Gpr[Cpu.RegNum(i.Op0Register)] = v;
        else c.Write32(Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), v);
        Transition(f);
    }

    private static void MovqMmMmm64(Cpu c, ref Instruction i)
    {
        if (!Begin(c)) return;
        ulong v = Source64(c, ref i);
        FpuState f = c.Fpu;
        Set(f, MmNum(i.Op0Register), v);
        Transition(f);
    }

    private static void MovqMmm64Mm(Cpu c, ref Instruction i)
    {
        if (!Begin(c)) return;
        FpuState f = c.Fpu;
        ulong v = Get(f, MmNum(i.Op1Register));
        if (i.Op0Kind == OpKind.Register) Set(f, MmNum(i.Op0Register), v);
        else
        {
            uint lin = X87.StoreAddress(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), 8);
            X87.Write64(c, lin, v);
        }
        Transition(f);
    }

    private static void Emms(Cpu c, ref Instruction i)
    {
        if (!Begin(c)) return;
        // All tags empty; TOP is 0 after EMMS as after any MMX instruction (what the host does).
        c.Fpu.Valid = 0;
        c.Fpu.Top = 0;
    }

    internal static void Register()
    {
        InstructionTable.Add(Code.Paddb_mm_mmm64, &Binary<PaddB>);
        InstructionTable.Add(Code.Paddw_mm_mmm64, &Binary<PaddW>);
        InstructionTable.Add(Code.Paddd_mm_mmm64, &Binary<PaddD>);
        InstructionTable.Add(Code.Paddsb_mm_mmm64, &Binary<PaddsB>);
        InstructionTable.Add(Code.Paddsw_mm_mmm64, &Binary<PaddsW>);
        InstructionTable.Add(Code.Paddusb_mm_mmm64, &Binary<PaddusB>);
        InstructionTable.Add(Code.Paddusw_mm_mmm64, &Binary<PaddusW>);
        InstructionTable.Add(Code.Psubb_mm_mmm64, &Binary<PsubB>);
        InstructionTable.Add(Code.Psubw_mm_mmm64, &Binary<PsubW>);
        InstructionTable.Add(Code.Psubd_mm_mmm64, &Binary<PsubD>);
        InstructionTable.Add(Code.Psubsb_mm_mmm64, &Binary<PsubsB>);
        InstructionTable.Add(Code.Psubsw_mm_mmm64, &Binary<PsubsW>);
        InstructionTable.Add(Code.Psubusb_mm_mmm64, &Binary<PsubusB>);
        InstructionTable.Add(Code.Psubusw_mm_mmm64, &Binary<PsubusW>);
        InstructionTable.Add(Code.Pmulhw_mm_mmm64, &Binary<PmulhW>);
        InstructionTable.Add(Code.Pmullw_mm_mmm64, &Binary<PmullW>);
        InstructionTable.Add(Code.Pmaddwd_mm_mmm64, &Binary<PmaddWD>);
        InstructionTable.Add(Code.Pcmpeqb_mm_mmm64, &Binary<PcmpeqB>);
        InstructionTable.Add(Code.Pcmpeqw_mm_mmm64, &Binary<PcmpeqW>);
        InstructionTable.Add(Code.Pcmpeqd_mm_mmm64, &Binary<PcmpeqD>);
        InstructionTable.Add(Code.Pcmpgtb_mm_mmm64, &Binary<PcmpgtB>);
        InstructionTable.Add(Code.Pcmpgtw_mm_mmm64, &Binary<PcmpgtW>);
        InstructionTable.Add(Code.Pcmpgtd_mm_mmm64, &Binary<PcmpgtD>);
        InstructionTable.Add(Code.Packsswb_mm_mmm64, &Binary<PacksswB>);
        InstructionTable.Add(Code.Packssdw_mm_mmm64, &Binary<PackssdW>);
        InstructionTable.Add(Code.Packuswb_mm_mmm64, &Binary<PackuswB>);
        InstructionTable.Add(Code.Punpckhbw_mm_mmm64, &Binary<PunpckhBW>);
        InstructionTable.Add(Code.Punpckhwd_mm_mmm64, &Binary<PunpckhWD>);
        InstructionTable.Add(Code.Punpckhdq_mm_mmm64, &Binary<PunpckhDQ>);
        InstructionTable.Add(Code.Punpcklbw_mm_mmm32, &BinaryLow<PunpcklBW>);
        InstructionTable.Add(Code.Punpcklwd_mm_mmm32, &BinaryLow<PunpcklWD>);
        InstructionTable.Add(Code.Punpckldq_mm_mmm32, &BinaryLow<PunpcklDQ>);
        InstructionTable.Add(Code.Pand_mm_mmm64, &Binary<Pand>);
        InstructionTable.Add(Code.Pandn_mm_mmm64, &Binary<Pandn>);
        InstructionTable.Add(Code.Por_mm_mmm64, &Binary<Por>);
        InstructionTable.Add(Code.Pxor_mm_mmm64, &Binary<Pxor>);
        InstructionTable.Add(Code.Psllw_mm_mmm64, &Binary<PsllW>);
        InstructionTable.Add(Code.Pslld_mm_mmm64, &Binary<PsllD>);
        InstructionTable.Add(Code.Psllq_mm_mmm64, &Binary<PsllQ>);
        InstructionTable.Add(Code.Psrlw_mm_mmm64, &Binary<PsrlW>);
        InstructionTable.Add(Code.Psrld_mm_mmm64, &Binary<PsrlD>);
        InstructionTable.Add(Code.Psrlq_mm_mmm64, &Binary<PsrlQ>);
        InstructionTable.Add(Code.Psraw_mm_mmm64, &Binary<PsraW>);
        InstructionTable.Add(Code.Psrad_mm_mmm64, &Binary<PsraD>);
        InstructionTable.Add(Code.Psllw_mm_imm8, &ShiftImmediate<PsllW>);
        InstructionTable.Add(Code.Pslld_mm_imm8, &ShiftImmediate<PsllD>);
        InstructionTable.Add(Code.Psllq_mm_imm8, &ShiftImmediate<PsllQ>);
        InstructionTable.Add(Code.Psrlw_mm_imm8, &ShiftImmediate<PsrlW>);
        InstructionTable.Add(Code.Psrld_mm_imm8, &ShiftImmediate<PsrlD>);
        InstructionTable.Add(Code.Psrlq_mm_imm8, &ShiftImmediate<PsrlQ>);
        InstructionTable.Add(Code.Psraw_mm_imm8, &ShiftImmediate<PsraW>);
        InstructionTable.Add(Code.Psrad_mm_imm8, &ShiftImmediate<PsraD>);
        InstructionTable.Add(Code.Movd_mm_rm32, &MovdMmRm32);
        InstructionTable.Add(Code.Movd_rm32_mm, &MovdRm32Mm);
        InstructionTable.Add(Code.Movq_mm_mmm64, &MovqMmMmm64);
        InstructionTable.Add(Code.Movq_mmm64_mm, &MovqMmm64Mm);
        InstructionTable.Add(Code.Emms, &Emms);
    }

    // ---- lanes ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Lane(ulong v, int bits, int n) => (v >> (bits * n)) & (bits == 64 ? ulong.MaxValue : (1UL << bits) - 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static long SignedLane(ulong v, int bits, int n) => (long)(v << (64 - bits * (n + 1))) >> (64 - bits);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Put(ulong acc, ulong lane, int bits, int n) => acc | ((lane & ((1UL << bits) - 1)) << (bits * n));

    private static ulong Add(ulong a, ulong b, int bits)
    {
        ulong r = 0;
        for (int n = 0; n < 64 / bits; n++) r = Put(r, Lane(a, bits, n) + Lane(b, bits, n), bits, n);
        return r;
    }

    private static ulong Subtract(ulong a, ulong b, int bits)
    {
        ulong r = 0;
        for (int n = 0; n < 64 / bits; n++) r = Put(r, Lane(a, bits, n) - Lane(b, bits, n), bits, n);
        return r;
    }

    private static ulong SaturateSigned(long v, int bits)
    {
        long max = (1L << (bits - 1)) - 1, min = -(1L << (bits - 1));
        return (ulong)(v > max ? max : v < min ? min : v);
    }

    private static ulong SaturateUnsigned(long v, int bits)
    {
        long max = (1L << bits) - 1;
        return (ulong)(v > max ? max : v < 0 ? 0 : v);
    }

    private static ulong AddSigned(ulong a, ulong b, int bits)
    {
        ulong r = 0;
        for (int n = 0; n < 64 / bits; n++) r = Put(r, SaturateSigned(SignedLane(a, bits, n) + SignedLane(b, bits, n), bits), bits, n);
        return r;
    }

    private static ulong SubtractSigned(ulong a, ulong b, int bits)
    {
        ulong r = 0;
        for (int n = 0; n < 64 / bits; n++) r = Put(r, SaturateSigned(SignedLane(a, bits, n) - SignedLane(b, bits, n), bits), bits, n);
        return r;
    }

    private static ulong AddUnsigned(ulong a, ulong b, int bits)
    {
        ulong r = 0;
        for (int n = 0; n < 64 / bits; n++) r = Put(r, SaturateUnsigned((long)(Lane(a, bits, n) + Lane(b, bits, n)), bits), bits, n);
        return r;
    }

    private static ulong SubtractUnsigned(ulong a, ulong b, int bits)
    {
        ulong r = 0;
        for (int n = 0; n < 64 / bits; n++) r = Put(r, SaturateUnsigned((long)Lane(a, bits, n) - (long)Lane(b, bits, n), bits), bits, n);
        return r;
    }

    private static ulong Equal(ulong a, ulong b, int bits)
    {
        ulong r = 0;
        for (int n = 0; n < 64 / bits; n++) r = Put(r, Lane(a, bits, n) == Lane(b, bits, n) ? ulong.MaxValue : 0, bits, n);
        return r;
    }

    private static ulong Greater(ulong a, ulong b, int bits)
    {
        ulong r = 0;
        for (int n = 0; n < 64 / bits; n++) r = Put(r, SignedLane(a, bits, n) > SignedLane(b, bits, n) ? ulong.MaxValue : 0, bits, n);
        return r;
    }

    /// <summary>Logical shifts: a count above the lane width clears the lane (Intel SDM Vol. 2, PSLLW).</summary>
    private static ulong ShiftLeft(ulong a, ulong count, int bits)
    {
        if (count >= (ulong)bits) return 0;
        ulong r = 0;
        for (int n = 0; n < 64 / bits; n++) r = Put(r, Lane(a, bits, n) << (int)count, bits, n);
        return r;
    }

    private static ulong ShiftRight(ulong a, ulong count, int bits)
    {
        if (count >= (ulong)bits) return 0;
        ulong r = 0;
        for (int n = 0; n < 64 / bits; n++) r = Put(r, Lane(a, bits, n) >> (int)count, bits, n);
        return r;
    }

    /// <summary>Arithmetic shifts: a count above the lane width fills the lane with its sign.</summary>
    private static ulong ShiftRightArithmetic(ulong a, ulong count, int bits)
    {
        int k = count >= (ulong)bits ? bits - 1 : (int)count;
        ulong r = 0;
        for (int n = 0; n < 64 / bits; n++) r = Put(r, (ulong)(SignedLane(a, bits, n) >> k), bits, n);
        return r;
    }

    private static ulong Interleave(ulong a, ulong b, int bits, bool high)
    {
        int lanes = 32 / bits, first = high ? lanes : 0;
        ulong r = 0;
        for (int n = 0; n < lanes; n++)
        {
            r = Put(r, Lane(a, bits, first + n), bits, 2 * n);
            r = Put(r, Lane(b, bits, first + n), bits, 2 * n + 1);
        }
        return r;
    }

    private readonly struct PaddB : IMmxOp { public static ulong Apply(ulong a, ulong b) => Add(a, b, 8); }
    private readonly struct PaddW : IMmxOp { public static ulong Apply(ulong a, ulong b) => Add(a, b, 16); }
    private readonly struct PaddD : IMmxOp { public static ulong Apply(ulong a, ulong b) => Add(a, b, 32); }
    private readonly struct PaddsB : IMmxOp { public static ulong Apply(ulong a, ulong b) => AddSigned(a, b, 8); }
    private readonly struct PaddsW : IMmxOp { public static ulong Apply(ulong a, ulong b) => AddSigned(a, b, 16); }
    private readonly struct PaddusB : IMmxOp { public static ulong Apply(ulong a, ulong b) => AddUnsigned(a, b, 8); }
    private readonly struct PaddusW : IMmxOp { public static ulong Apply(ulong a, ulong b) => AddUnsigned(a, b, 16); }
    private readonly struct PsubB : IMmxOp { public static ulong Apply(ulong a, ulong b) => Subtract(a, b, 8); }
    private readonly struct PsubW : IMmxOp { public static ulong Apply(ulong a, ulong b) => Subtract(a, b, 16); }
    private readonly struct PsubD : IMmxOp { public static ulong Apply(ulong a, ulong b) => Subtract(a, b, 32); }
    private readonly struct PsubsB : IMmxOp { public static ulong Apply(ulong a, ulong b) => SubtractSigned(a, b, 8); }
    private readonly struct PsubsW : IMmxOp { public static ulong Apply(ulong a, ulong b) => SubtractSigned(a, b, 16); }
    private readonly struct PsubusB : IMmxOp { public static ulong Apply(ulong a, ulong b) => SubtractUnsigned(a, b, 8); }
    private readonly struct PsubusW : IMmxOp { public static ulong Apply(ulong a, ulong b) => SubtractUnsigned(a, b, 16); }
    private readonly struct PcmpeqB : IMmxOp { public static ulong Apply(ulong a, ulong b) => Equal(a, b, 8); }
    private readonly struct PcmpeqW : IMmxOp { public static ulong Apply(ulong a, ulong b) => Equal(a, b, 16); }
    private readonly struct PcmpeqD : IMmxOp { public static ulong Apply(ulong a, ulong b) => Equal(a, b, 32); }
    private readonly struct PcmpgtB : IMmxOp { public static ulong Apply(ulong a, ulong b) => Greater(a, b, 8); }
    private readonly struct PcmpgtW : IMmxOp { public static ulong Apply(ulong a, ulong b) => Greater(a, b, 16); }
    private readonly struct PcmpgtD : IMmxOp { public static ulong Apply(ulong a, ulong b) => Greater(a, b, 32); }
    private readonly struct Pand : IMmxOp { public static ulong Apply(ulong a, ulong b) => a & b; }
    private readonly struct Pandn : IMmxOp { public static ulong Apply(ulong a, ulong b) => ~a & b; }
    private readonly struct Por : IMmxOp { public static ulong Apply(ulong a, ulong b) => a | b; }
    private readonly struct Pxor : IMmxOp { public static ulong Apply(ulong a, ulong b) => a ^ b; }
    private readonly struct PsllW : IMmxOp { public static ulong Apply(ulong a, ulong b) => ShiftLeft(a, b, 16); }
    private readonly struct PsllD : IMmxOp { public static ulong Apply(ulong a, ulong b) => ShiftLeft(a, b, 32); }
    private readonly struct PsllQ : IMmxOp { public static ulong Apply(ulong a, ulong b) => b >= 64 ? 0 : a << (int)b; }
    private readonly struct PsrlW : IMmxOp { public static ulong Apply(ulong a, ulong b) => ShiftRight(a, b, 16); }
    private readonly struct PsrlD : IMmxOp { public static ulong Apply(ulong a, ulong b) => ShiftRight(a, b, 32); }
    private readonly struct PsrlQ : IMmxOp { public static ulong Apply(ulong a, ulong b) => b >= 64 ? 0 : a >> (int)b; }
    private readonly struct PsraW : IMmxOp { public static ulong Apply(ulong a, ulong b) => ShiftRightArithmetic(a, b, 16); }
    private readonly struct PsraD : IMmxOp { public static ulong Apply(ulong a, ulong b) => ShiftRightArithmetic(a, b, 32); }
    private readonly struct PunpcklBW : IMmxOp { public static ulong Apply(ulong a, ulong b) => Interleave(a, b, 8, false); }
    private readonly struct PunpcklWD : IMmxOp { public static ulong Apply(ulong a, ulong b) => Interleave(a, b, 16, false); }
    private readonly struct PunpcklDQ : IMmxOp { public static ulong Apply(ulong a, ulong b) => Interleave(a, b, 32, false); }
    private readonly struct PunpckhBW : IMmxOp { public static ulong Apply(ulong a, ulong b) => Interleave(a, b, 8, true); }
    private readonly struct PunpckhWD : IMmxOp { public static ulong Apply(ulong a, ulong b) => Interleave(a, b, 16, true); }
    private readonly struct PunpckhDQ : IMmxOp { public static ulong Apply(ulong a, ulong b) => Interleave(a, b, 32, true); }

    private readonly struct PmullW : IMmxOp
    {
        public static ulong Apply(ulong a, ulong b)
        {
            ulong r = 0;
            for (int n = 0; n < 4; n++) r = Put(r, (ulong)(SignedLane(a, 16, n) * SignedLane(b, 16, n)), 16, n);
            return r;
        }
    }

    private readonly struct PmulhW : IMmxOp
    {
        public static ulong Apply(ulong a, ulong b)
        {
            ulong r = 0;
            for (int n = 0; n < 4; n++) r = Put(r, (ulong)((SignedLane(a, 16, n) * SignedLane(b, 16, n)) >> 16), 16, n);
            return r;
        }
    }

    private readonly struct PmaddWD : IMmxOp
    {
        public static ulong Apply(ulong a, ulong b)
        {
            ulong r = 0;
            for (int n = 0; n < 2; n++)
            {
                long s = SignedLane(a, 16, 2 * n) * SignedLane(b, 16, 2 * n) + SignedLane(a, 16, 2 * n + 1) * SignedLane(b, 16, 2 * n + 1);
                r = Put(r, (ulong)s, 32, n); // wraps only for 0x8000 * 0x8000 twice, as the hardware does
            }
            return r;
        }
    }

    private readonly struct PacksswB : IMmxOp
    {
        public static ulong Apply(ulong a, ulong b)
        {
            ulong r = 0;
            for (int n = 0; n < 4; n++) r = Put(r, SaturateSigned(SignedLane(a, 16, n), 8), 8, n);
            for (int n = 0; n < 4; n++) r = Put(r, SaturateSigned(SignedLane(b, 16, n), 8), 8, n + 4);
            return r;
        }
    }

    private readonly struct PackssdW : IMmxOp
    {
        public static ulong Apply(ulong a, ulong b)
        {
            ulong r = 0;
            for (int n = 0; n < 2; n++) r = Put(r, SaturateSigned(SignedLane(a, 32, n), 16), 16, n);
            for (int n = 0; n < 2; n++) r = Put(r, SaturateSigned(SignedLane(b, 32, n), 16), 16, n + 2);
            return r;
        }
    }

    private readonly struct PackuswB : IMmxOp
    {
        public static ulong Apply(ulong a, ulong b)
        {
            ulong r = 0;
            for (int n = 0; n < 4; n++) r = Put(r, SaturateUnsigned(SignedLane(a, 16, n), 8), 8, n);
            for (int n = 0; n < 4; n++) r = Put(r, SaturateUnsigned(SignedLane(b, 16, n), 8), 8, n + 4);
            return r;
        }
    }
}
