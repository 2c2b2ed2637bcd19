using System.Numerics;
using Iced.Intel;
using static Emu.X86.OperandSize;

namespace Emu.X86;

/// <summary>Bit and byte instructions: BT, BTS, BTR, BTC, BSF, BSR, SETcc.</summary>
public static unsafe class BitOps
{
    /// <summary>Which bit-test variant: 0 BT, 1 BTS, 2 BTR, 3 BTC.</summary>
    public const int Bt = 0, Bts = 1, Btr = 2, Btc = 3;

    /// <summary>Applies a bit test to a value: CF = the bit; returns the value with the bit set, cleared or complemented.</summary>
    public static uint BitTest(Cpu c, uint value, uint bit, int kind)
    {
        uint m = 1u << (int)bit;
        c.SetArithFlags((value & m) != 0 ? Flags.CF : 0, Flags.CF);
        return kind switch { Bts => value | m, Btr => value & ~m, Btc => value ^ m, _ => value };
    }

    /// <summary>BSF: index of the lowest set bit; ZF=1 and the destination unchanged when the source is zero.</summary>
    public static uint Bsf(Cpu c, uint dest, uint src)
    {
        if (src == 0)
        {
            c.SetArithFlags(Flags.ZF, Flags.ZF);
            return dest;
        }
        c.SetArithFlags(0, Flags.ZF);
        return (uint)BitOperations.TrailingZeroCount(src);
    }

    /// <summary>BSR: index of the highest set bit; ZF=1 and the destination unchanged when the source is zero.</summary>
    public static uint Bsr(Cpu c, uint dest, uint src)
    {
        if (src == 0)
        {
            c.SetArithFlags(Flags.ZF, Flags.ZF);
            return dest;
        }
        c.SetArithFlags(0, Flags.ZF);
        return (uint)(31 - BitOperations.LeadingZeroCount(src));
    }

    /// <summary>BT/BTS/BTR/BTC r, r|imm8: the offset is taken modulo the operand size.</summary>
    public static void BitTestRegister(Cpu c, int r, uint offset, int size, int kind)
    {
        uint v = BitTest(c, c.GetReg(r, size), offset & (uint)(Bits(size) - 1), kind);
        if (kind != Bt) c.SetReg(r, size, v);
    }

    /// <summary>
    /// BT/BTS/BTR/BTC m, r|imm8. With a register offset the offset is signed and selects any
    /// bit of a bit string starting at the operand (Intel SDM Vol. 2, BT); an immediate offset
    /// stays within the operand.
    /// </summary>
    public static void BitTestMemory(Cpu c, int seg, uint ea, uint offset, bool registerOffset, bool addressSize16, int size, int kind)
    {
        if (registerOffset)
        {
            int signedOffset = (int)SignExtend(offset, size);
            ea += (uint)((signedOffset >> (3 + size)) * (1 << size));
            if (addressSize16) ea &= 0xFFFF;
        }
        uint bit = offset & (uint)(Bits(size) - 1);
        if (kind == Bt)
        {
            BitTest(c, c.ReadMem(seg, ea, size), bit, kind);
            return;
        }
        uint lin = c.LinearRmw(seg, ea, Bytes(size));
        c.WriteLinear(lin, size, BitTest(c, c.ReadLinearRmw(lin, size), bit, kind));
    }

    private static void BitTestHandler<TSize>(Cpu c, ref Instruction i, int kind) where TSize : struct, IOperandSize
    {
        int size = TSize.Size;
        bool immediate = i.Op1Kind != OpKind.Register;
        uint offset = immediate ? i.Immediate8 : c.GetReg(Cpu.RegNum(i.Op1Register), size);
        if (i.Op0Kind == OpKind.Register)
            BitTestRegister(c, Cpu.RegNum(i.Op0Register), offset, size, kind);
        else
            BitTestMemory(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), offset, !immediate, Cpu.AddressSize16(ref i), size, kind);
    }

    /// <summary>Which bit test a BT-family instruction is (<see cref="Bt"/>, <see cref="Bts"/>, ...).</summary>
    public static int BitTestKind(Mnemonic m) => m switch { Mnemonic.Bts => Bts, Mnemonic.Btr => Btr, Mnemonic.Btc => Btc, _ => Bt };

    private static void BtW(Cpu c, ref Instruction i) => BitTestHandler<Word16>(c, ref i, Bt);
    private static void BtD(Cpu c, ref Instruction i) => BitTestHandler<Dword32>(c, ref i, Bt);
    private static void BtsW(Cpu c, ref Instruction i) => BitTestHandler<Word16>(c, ref i, Bts);
    private static void BtsD(Cpu c, ref Instruction i) => BitTestHandler<Dword32>(c, ref i, Bts);
    private static void BtrW(Cpu c, ref Instruction i) => BitTestHandler<Word16>(c, ref i, Btr);
    private static void BtrD(Cpu c, ref Instruction i) => BitTestHandler<Dword32>(c, ref i, Btr);
    private static void BtcW(Cpu c, ref Instruction i) => BitTestHandler<Word16>(c, ref i, Btc);
    private static void BtcD(Cpu c, ref Instruction i) => BitTestHandler<Dword32>(c, ref i, Btc);

    // BSF/BSR r, r/m have the Binary shape: dest = op(dest, src), written back.
    public struct BsfOp : IBinaryOp { public static bool WritesResult => true; public static uint Apply(Cpu c, uint d, uint s, int size) => Bsf(c, d, s); }
    public struct BsrOp : IBinaryOp { public static bool WritesResult => true; public static uint Apply(Cpu c, uint d, uint s, int size) => Bsr(c, d, s); }

    /// <summary>SETcc: 1 when condition <paramref name="cc"/> holds, else 0.</summary>
    public static uint Setcc(Cpu c, int cc) => c.Condition(cc) ? 1u : 0u;

    /// <summary>SETcc r/m8: the condition is the low nibble of the opcode's second byte.</summary>
    private static void SetccH(Cpu c, ref Instruction i) => c.WriteOperand(ref i, 0, 0, Setcc(c, (int)i.ConditionCode - 1));

    private static void SetccReg(Cpu c, ref Instruction i)
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        c.SetReg8(o.Reg0, (byte)Setcc(c, o.Condition));
    }

    private static void SetccMem(Cpu c, ref Instruction i)
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        c.Write8(o.Segment, c.EffectiveAddress(ref o), (byte)Setcc(c, o.Condition));
    }

    internal static void Register()
    {
        InstructionTable.Add(Code.Bt_rm16_r16, &BtW);
        InstructionTable.Add(Code.Bt_rm32_r32, &BtD);
        InstructionTable.Add(Code.Bt_rm16_imm8, &BtW);
        InstructionTable.Add(Code.Bt_rm32_imm8, &BtD);
        InstructionTable.Add(Code.Bts_rm16_r16, &BtsW);
        InstructionTable.Add(Code.Bts_rm32_r32, &BtsD);
        InstructionTable.Add(Code.Bts_rm16_imm8, &BtsW);
        InstructionTable.Add(Code.Bts_rm32_imm8, &BtsD);
        InstructionTable.Add(Code.Btr_rm16_r16, &BtrW);
        InstructionTable.Add(Code.Btr_rm32_r32, &BtrD);
        InstructionTable.Add(Code.Btr_rm16_imm8, &BtrW);
        InstructionTable.Add(Code.Btr_rm32_imm8, &BtrD);
        InstructionTable.Add(Code.Btc_rm16_r16, &BtcW);
        InstructionTable.Add(Code.Btc_rm32_r32, &BtcD);
        InstructionTable.Add(Code.Btc_rm16_imm8, &BtcW);
        InstructionTable.Add(Code.Btc_rm32_imm8, &BtcD);
        InstructionTable.AddBinary<BsfOp, Word16>(Code.Bsf_r16_rm16);
        InstructionTable.AddBinary<BsfOp, Dword32>(Code.Bsf_r32_rm32);
        InstructionTable.AddBinary<BsrOp, Word16>(Code.Bsr_r16_rm16);
        InstructionTable.AddBinary<BsrOp, Dword32>(Code.Bsr_r32_rm32);
        // F3 0F BC/BD are TZCNT/LZCNT only on CPUs with BMI1/LZCNT; a P6 ignores the REP prefix
        // and runs BSF/BSR (Intel SDM Vol. 2, TZCNT and LZCNT). Linux's __ffs is "rep; bsf" for this reason.
        InstructionTable.AddBinary<BsfOp, Word16>(Code.Tzcnt_r16_rm16);
        InstructionTable.AddBinary<BsfOp, Dword32>(Code.Tzcnt_r32_rm32);
        InstructionTable.AddBinary<BsrOp, Word16>(Code.Lzcnt_r16_rm16);
        InstructionTable.AddBinary<BsrOp, Dword32>(Code.Lzcnt_r32_rm32);
        for (Code cc = Code.Seto_rm8; cc <= Code.Setg_rm8; cc++)
        {
            InstructionTable.Add(cc, &SetccH);
            InstructionTable.AddForm(cc, OperandForm.Reg, &SetccReg);
            InstructionTable.AddForm(cc, OperandForm.Mem, &SetccMem);
        }
    }
}
