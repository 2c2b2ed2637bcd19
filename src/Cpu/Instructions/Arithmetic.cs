using System.Runtime.CompilerServices;
using Emu.Memory;
using Iced.Intel;
using static Emu.X86.OperandSize;

namespace Emu.X86;

/// <summary>
/// Binary arithmetic: ADD, ADC, SUB, SBB, CMP, INC, DEC, NEG, MUL, IMUL, DIV, IDIV.
/// Sizes are 0 (byte), 1 (word), 2 (doubleword); operands arrive zero-extended.
/// </summary>
public static unsafe class Arithmetic
{
    // ---- semantics ----

    /// <summary>a + b + carry, at the operand size: the result of ADD, ADC and INC (compiled code calls it on its locals).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint AddResult(uint a, uint b, uint carry, int size) => (a + b + carry) & Mask(size);

    /// <summary>a - b - borrow, at the operand size: the result of SUB, SBB, CMP, DEC and NEG.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint SubResult(uint a, uint b, uint borrow, int size) => (a - b - borrow) & Mask(size);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Add(Cpu c, uint a, uint b, int size)
    {
        uint r = AddResult(a, b, 0, size);
        c.SetLazy(AddOp.Lazy | size, a, b, r);
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Adc(Cpu c, uint a, uint b, int size)
    {
        uint r = AddResult(a, b, c.GetCF(), size);
        c.SetLazy(AdcOp.Lazy | size, a, b, r);
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Sub(Cpu c, uint a, uint b, int size)
    {
        uint r = SubResult(a, b, 0, size);
        c.SetLazy(SubOp.Lazy | size, a, b, r);
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Sbb(Cpu c, uint a, uint b, int size)
    {
        uint r = SubResult(a, b, c.GetCF(), size);
        c.SetLazy(SbbOp.Lazy | size, a, b, r);
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Inc(Cpu c, uint a, int size)
    {
        // INC keeps CF (Intel SDM Vol. 2, INC): park it in EFLAGS before going lazy.
        c.Eflags = (c.Eflags & ~Flags.CF) | c.GetCF();
        uint r = AddResult(a, 1, 0, size);
        c.SetLazy(IncOp.Lazy | size, a, 1, r);
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Dec(Cpu c, uint a, int size)
    {
        c.Eflags = (c.Eflags & ~Flags.CF) | c.GetCF();
        uint r = SubResult(a, 1, 0, size);
        c.SetLazy(DecOp.Lazy | size, a, 1, r);
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Neg(Cpu c, uint a, int size) => Sub(c, 0, a, size);

    /// <summary>MUL: unsigned multiply of the accumulator; CF=OF=1 when the high half is non-zero.</summary>
    public static void Mul(Cpu c, uint src, int size)
    {
        switch (size)
        {
            case 0:
            {
                uint r = (c.Gpr[Reg.EAX] & 0xFF) * src;
                c.SetReg16(Reg.EAX, (ushort)r);
                MulFlags(c, (r >> 8) != 0, r & 0xFF, 0);
                break;
            }
            case 1:
            {
                uint r = (c.Gpr[Reg.EAX] & 0xFFFF) * src;
                c.SetReg16(Reg.EAX, (ushort)r);
                c.SetReg16(Reg.EDX, (ushort)(r >> 16));
                MulFlags(c, (r >> 16) != 0, r & 0xFFFF, 1);
                break;
            }
            default:
            {
                ulong r = (ulong)c.Gpr[Reg.EAX] * src;
                c.Gpr[Reg.EAX] = (uint)r;
                c.Gpr[Reg.EDX] = (uint)(r >> 32);
                MulFlags(c, (r >> 32) != 0, (uint)r, 2);
                break;
            }
        }
    }

    /// <summary>IMUL with one operand: signed multiply of the accumulator into the double-size result.</summary>
    public static void Imul1(Cpu c, uint src, int size)
    {
        switch (size)
        {
            case 0:
            {
                int r = (sbyte)c.Gpr[Reg.EAX] * (sbyte)src;
                c.SetReg16(Reg.EAX, (ushort)r);
                MulFlags(c, r != (sbyte)r, (uint)r & 0xFF, 0);
                break;
            }
            case 1:
            {
                int r = (short)c.Gpr[Reg.EAX] * (short)src;
                c.SetReg16(Reg.EAX, (ushort)r);
                c.SetReg16(Reg.EDX, (ushort)(r >> 16));
                MulFlags(c, r != (short)r, (uint)r & 0xFFFF, 1);
                break;
            }
            default:
            {
                long r = (long)(int)c.Gpr[Reg.EAX] * (int)src;
                c.Gpr[Reg.EAX] = (uint)r;
                c.Gpr[Reg.EDX] = (uint)(r >> 32);
                MulFlags(c, r != (int)r, (uint)r, 2);
                break;
            }
        }
    }

    /// <summary>IMUL with two or three operands: a truncated signed product; CF=OF=1 when it did not fit.</summary>
    public static uint Imul(Cpu c, uint a, uint b, int size)
    {
        uint r = Imul(a, b, size, out _);
        c.SetLazy(LazyFlags.Imul | size, a, b, r);
        return r;
    }

    /// <summary>IMUL r, r/m [, imm] (16 or 32 bits): the truncated product and the six arithmetic flags (see <see cref="MulFlags"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Imul(uint a, uint b, int size, out uint flags)
    {
        if (size == 1)
        {
            int r = (short)a * (short)b;
            flags = ((r != (short)r) ? Flags.CF | Flags.OF : 0) | Cpu.SzpFlags((uint)r & 0xFFFF, 1);
            return (uint)r & 0xFFFF;
        }
        long r64 = (long)(int)a * (int)b;
        flags = ((r64 != (int)r64) ? Flags.CF | Flags.OF : 0) | Cpu.SzpFlags((uint)r64, 2);
        return (uint)r64;
    }

    /// <summary>
    /// Flags of the multiplies: CF and OF as the SDM defines them; SF, ZF and PF (undefined)
    /// from the low half of the result, AF (undefined) clear. See <see cref="UndefinedFlags"/>.
    /// </summary>
    private static void MulFlags(Cpu c, bool overflow, uint low, int size) =>
        c.SetArithFlags((overflow ? Flags.CF | Flags.OF : 0) | Cpu.SzpFlags(low, size));

    /// <summary>DIV: unsigned divide of (E)DX:(E)AX or AX; #DE on a zero divisor or a quotient too large.</summary>
    public static void Div(Cpu c, uint src, int size)
    {
        if (src == 0) throw GuestFault.Create(ExceptionVectors.DE);
        switch (size)
        {
            case 0:
            {
                uint n = c.Gpr[Reg.EAX] & 0xFFFF;
                uint q = n / src;
                if (q > 0xFF) throw GuestFault.Create(ExceptionVectors.DE);
                c.SetReg16(Reg.EAX, (ushort)(((n % src) << 8) | q));
                break;
            }
            case 1:
            {
                uint n = ((c.Gpr[Reg.EDX] & 0xFFFF) << 16) | (c.Gpr[Reg.EAX] & 0xFFFF);
                uint q = n / src;
                if (q > 0xFFFF) throw GuestFault.Create(ExceptionVectors.DE);
                c.SetReg16(Reg.EAX, (ushort)q);
                c.SetReg16(Reg.EDX, (ushort)(n % src));
                break;
            }
            default:
            {
                ulong n = ((ulong)c.Gpr[Reg.EDX] << 32) | c.Gpr[Reg.EAX];
                ulong q = n / src;
                if (q > 0xFFFF_FFFF) throw GuestFault.Create(ExceptionVectors.DE);
                c.Gpr[Reg.EAX] = (uint)q;
                c.Gpr[Reg.EDX] = (uint)(n % src);
                break;
            }
        }
    }

    /// <summary>IDIV: signed divide, quotient truncated toward zero; #DE when it does not fit.</summary>
    public static void Idiv(Cpu c, uint src, int size)
    {
        if (src == 0) throw GuestFault.Create(ExceptionVectors.DE);
        switch (size)
        {
            case 0:
            {
                int n = (short)c.Gpr[Reg.EAX];
                int d = (sbyte)src;
                int q = n / d;
                if (q > sbyte.MaxValue || q < sbyte.MinValue) throw GuestFault.Create(ExceptionVectors.DE);
                c.SetReg16(Reg.EAX, (ushort)((((n % d) & 0xFF) << 8) | (q & 0xFF)));
                break;
            }
            case 1:
            {
                int n = (int)(((c.Gpr[Reg.EDX] & 0xFFFF) << 16) | (c.Gpr[Reg.EAX] & 0xFFFF));
                int d = (short)src;
                long q = (long)n / d; // long: -2^31 / -1 must not trap in the host
                if (q > short.MaxValue || q < short.MinValue) throw GuestFault.Create(ExceptionVectors.DE);
                c.SetReg16(Reg.EAX, (ushort)q);
                c.SetReg16(Reg.EDX, (ushort)(n % (long)d));
                break;
            }
            default:
            {
                long n = (long)(((ulong)c.Gpr[Reg.EDX] << 32) | c.Gpr[Reg.EAX]);
                long d = (int)src;
                if (n == long.MinValue && d == -1) throw GuestFault.Create(ExceptionVectors.DE);
                long q = n / d;
                if (q > int.MaxValue || q < int.MinValue) throw GuestFault.Create(ExceptionVectors.DE);
                c.Gpr[Reg.EAX] = (uint)q;
                c.Gpr[Reg.EDX] = (uint)(n % d);
                break;
            }
        }
    }

    // ---- operation shapes ----

    // Each operation with the lazy flag record it leaves (kind | size, with its operands and result).
    public struct AddOp : IBinaryOp { public const int Lazy = LazyFlags.Add; public static bool WritesResult => true; public static uint Apply(Cpu c, uint a, uint b, int s) => Add(c, a, b, s); }
    public struct AdcOp : IBinaryOp { public const int Lazy = LazyFlags.Adc; public static bool WritesResult => true; public static uint Apply(Cpu c, uint a, uint b, int s) => Adc(c, a, b, s); }
    public struct SubOp : IBinaryOp { public const int Lazy = LazyFlags.Sub; public static bool WritesResult => true; public static uint Apply(Cpu c, uint a, uint b, int s) => Sub(c, a, b, s); }
    public struct SbbOp : IBinaryOp { public const int Lazy = LazyFlags.Sbb; public static bool WritesResult => true; public static uint Apply(Cpu c, uint a, uint b, int s) => Sbb(c, a, b, s); }
    public struct CmpOp : IBinaryOp { public const int Lazy = LazyFlags.Sub; public static bool WritesResult => false; public static uint Apply(Cpu c, uint a, uint b, int s) => Sub(c, a, b, s); }
    public struct IncOp : IUnaryOp { public const int Lazy = LazyFlags.Inc; public static uint Apply(Cpu c, uint a, int s) => Inc(c, a, s); }
    public struct DecOp : IUnaryOp { public const int Lazy = LazyFlags.Dec; public static uint Apply(Cpu c, uint a, int s) => Dec(c, a, s); }
    public struct NegOp : IUnaryOp { public const int Lazy = LazyFlags.Sub; public static uint Apply(Cpu c, uint a, int s) => Neg(c, a, s); }

    // ---- interpreter handlers for the irregular forms ----

    private static void MulRm<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        Mul(c, c.ReadOperand(ref i, 0, TSize.Size), TSize.Size);

    private static void Imul1Rm<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        Imul1(c, c.ReadOperand(ref i, 0, TSize.Size), TSize.Size);

    private static void DivRm<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        Div(c, c.ReadOperand(ref i, 0, TSize.Size), TSize.Size);

    private static void IdivRm<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        Idiv(c, c.ReadOperand(ref i, 0, TSize.Size), TSize.Size);

    /// <summary>IMUL r, r/m and IMUL r, r/m, imm: the product of the last two operands into the first.</summary>
    private static void ImulReg<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        int size = TSize.Size;
        uint a, b;
        if (i.OpCount == 3)
        {
            a = c.ReadOperand(ref i, 1, size);
            b = Cpu.Immediate(ref i, 2);
        }
        else
        {
            a = c.GetReg(Cpu.RegNum(i.Op0Register), size);
            b = c.ReadOperand(ref i, 1, size);
        }
        c.SetReg(Cpu.RegNum(i.Op0Register), size, Imul(c, a, b, size));
    }

    private static void ImulRegReg<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        c.SetReg(o.Reg0, TSize.Size, Imul(c, c.GetReg(o.Reg0, TSize.Size), c.GetReg(o.Reg1, TSize.Size), TSize.Size));
    }

    private static void ImulRegMem<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        uint a = c.GetReg(o.Reg0, TSize.Size);
        c.SetReg(o.Reg0, TSize.Size, Imul(c, a, c.ReadMem(o.Segment, c.EffectiveAddress(ref o), TSize.Size), TSize.Size));
    }

    internal static void Register()
    {
        RegisterBinary<AddOp>("Add");
        RegisterBinary<AdcOp>("Adc");
        RegisterBinary<SubOp>("Sub");
        RegisterBinary<SbbOp>("Sbb");
        RegisterBinary<CmpOp>("Cmp");

        InstructionTable.AddUnary<IncOp, Word16>(Code.Inc_r16);
        InstructionTable.AddUnary<IncOp, Dword32>(Code.Inc_r32);
        InstructionTable.AddUnary<DecOp, Word16>(Code.Dec_r16);
        InstructionTable.AddUnary<DecOp, Dword32>(Code.Dec_r32);
        InstructionTable.AddUnary<IncOp, Byte8>(Code.Inc_rm8);
        InstructionTable.AddUnary<IncOp, Word16>(Code.Inc_rm16);
        InstructionTable.AddUnary<IncOp, Dword32>(Code.Inc_rm32);
        InstructionTable.AddUnary<DecOp, Byte8>(Code.Dec_rm8);
        InstructionTable.AddUnary<DecOp, Word16>(Code.Dec_rm16);
        InstructionTable.AddUnary<DecOp, Dword32>(Code.Dec_rm32);
        InstructionTable.AddUnary<NegOp, Byte8>(Code.Neg_rm8);
        InstructionTable.AddUnary<NegOp, Word16>(Code.Neg_rm16);
        InstructionTable.AddUnary<NegOp, Dword32>(Code.Neg_rm32);

        InstructionTable.Add(Code.Mul_rm8, &MulRm<Byte8>);
        InstructionTable.Add(Code.Mul_rm16, &MulRm<Word16>);
        InstructionTable.Add(Code.Mul_rm32, &MulRm<Dword32>);
        InstructionTable.Add(Code.Imul_rm8, &Imul1Rm<Byte8>);
        InstructionTable.Add(Code.Imul_rm16, &Imul1Rm<Word16>);
        InstructionTable.Add(Code.Imul_rm32, &Imul1Rm<Dword32>);
        InstructionTable.Add(Code.Div_rm8, &DivRm<Byte8>);
        InstructionTable.Add(Code.Div_rm16, &DivRm<Word16>);
        InstructionTable.Add(Code.Div_rm32, &DivRm<Dword32>);
        InstructionTable.Add(Code.Idiv_rm8, &IdivRm<Byte8>);
        InstructionTable.Add(Code.Idiv_rm16, &IdivRm<Word16>);
        InstructionTable.Add(Code.Idiv_rm32, &IdivRm<Dword32>);
        InstructionTable.Add(Code.Imul_r16_rm16, &ImulReg<Word16>);
        InstructionTable.Add(Code.Imul_r32_rm32, &ImulReg<Dword32>);
        InstructionTable.AddForm(Code.Imul_r32_rm32, OperandForm.RegReg, &ImulRegReg<Dword32>);
        InstructionTable.AddForm(Code.Imul_r32_rm32, OperandForm.RegMem, &ImulRegMem<Dword32>);
        InstructionTable.Add(Code.Imul_r16_rm16_imm16, &ImulReg<Word16>);
        InstructionTable.Add(Code.Imul_r32_rm32_imm32, &ImulReg<Dword32>);
        InstructionTable.Add(Code.Imul_r16_rm16_imm8, &ImulReg<Word16>);
        InstructionTable.Add(Code.Imul_r32_rm32_imm8, &ImulReg<Dword32>);
    }

    /// <summary>Registers the fifteen encodings an ALU mnemonic has (Intel SDM Vol. 2, opcodes 00-3F and 80-83).</summary>
    internal static void RegisterBinary<TOp>(string m) where TOp : struct, IBinaryOp
    {
        foreach (string f in new[] { "rm8_r8", "r8_rm8", "AL_imm8", "rm8_imm8", "rm8_imm8_82" })
            InstructionTable.AddBinary<TOp, Byte8>(Shapes.CodeOf(m, f));
        foreach (string f in new[] { "rm16_r16", "r16_rm16", "AX_imm16", "rm16_imm16", "rm16_imm8" })
            InstructionTable.AddBinary<TOp, Word16>(Shapes.CodeOf(m, f));
        foreach (string f in new[] { "rm32_r32", "r32_rm32", "EAX_imm32", "rm32_imm32", "rm32_imm8" })
            InstructionTable.AddBinary<TOp, Dword32>(Shapes.CodeOf(m, f));
    }
}
