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

    /// <summary>
    /// BT/BTS/BTR/BTC r/m, r|imm8. With a register offset and a memory operand the offset is
    /// signed and selects any bit of a bit string starting at the operand (Intel SDM Vol. 2, BT).
    /// </summary>
    private static void BitTestHandler<TSize>(Cpu c, ref Instruction i, int kind) where TSize : struct, IOperandSize
    {
        int size = TSize.Size;
        int bits = Bits(size);
        bool immediate = i.Op1Kind != OpKind.Register;
        uint offset = immediate ? i.Immediate8 : c.GetReg(Cpu.RegNum(i.Op1Register), size);
        if (i.Op0Kind == OpKind.Register)
        {
            int r = Cpu.RegNum(i.Op0Register);
            uint v = BitTest(c, c.GetReg(r, size), offset & (uint)(bits - 1), kind);
            if (kind != Bt) c.SetReg(r, size, v);
            return;
        }
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        if (!immediate)
        {
            int signedOffset = (int)SignExtend(offset, size);
            ea += (uint)((signedOffset >> (3 + size)) * (1 << size));
            if (Cpu.AddressSize16(ref i)) ea &= 0xFFFF;
        }
        uint bit = offset & (uint)(bits - 1);
        if (kind == Bt)
        {
            BitTest(c, c.ReadMem(seg, ea, size), bit, kind);
            return;
        }
        uint lin = c.LinearRmw(seg, ea, Bytes(size));
        c.WriteLinear(lin, size, BitTest(c, c.ReadLinear(lin, size), bit, kind));
    }

    private static void BtW(Cpu c, ref Instruction i) => BitTestHandler<Word16>(c, ref i, Bt);
    private static void BtD(Cpu c, ref Instruction i) => BitTestHandler<Dword32>(c, ref i, Bt);
    private static void BtsW(Cpu c, ref Instruction i) => BitTestHandler<Word16>(c, ref i, Bts);
    private static void BtsD(Cpu c, ref Instruction i) => BitTestHandler<Dword32>(c, ref i, Bts);
    private static void BtrW(Cpu c, ref Instruction i) => BitTestHandler<Word16>(c, ref i, Btr);
    private static void BtrD(Cpu c, ref Instruction i) => BitTestHandler<Dword32>(c, ref i, Btr);
    private static void BtcW(Cpu c, ref Instruction i) => BitTestHandler<Word16>(c, ref i, Btc);
    private static void BtcD(Cpu c, ref Instruction i) => BitTestHandler<Dword32>(c, ref i, Btc);

    private static void BitScan<TSize>(Cpu c, ref Instruction i, bool reverse) where TSize : struct, IOperandSize
    {
        int size = TSize.Size;
        uint src = c.ReadOperand(ref i, 1, size);
        int r = Cpu.RegNum(i.Op0Register);
        uint d = c.GetReg(r, size);
        c.SetReg(r, size, reverse ? Bsr(c, d, src) : Bsf(c, d, src));
    }

    private static void BsfW(Cpu c, ref Instruction i) => BitScan<Word16>(c, ref i, false);
    private static void BsfD(Cpu c, ref Instruction i) => BitScan<Dword32>(c, ref i, false);
    private static void BsrW(Cpu c, ref Instruction i) => BitScan<Word16>(c, ref i, true);
    private static void BsrD(Cpu c, ref Instruction i) => BitScan<Dword32>(c, ref i, true);

    /// <summary>SETcc r/m8: the condition is the low nibble of the opcode's second byte.</summary>
    private static void Setcc(Cpu c, ref Instruction i)
    {
        int cc = (int)i.ConditionCode - 1;
        c.WriteOperand(ref i, 0, 0, c.Condition(cc) ? 1u : 0u);
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
        InstructionTable.Add(Code.Bsf_r16_rm16, &BsfW);
        InstructionTable.Add(Code.Bsf_r32_rm32, &BsfD);
        InstructionTable.Add(Code.Bsr_r16_rm16, &BsrW);
        InstructionTable.Add(Code.Bsr_r32_rm32, &BsrD);
        for (Code cc = Code.Seto_rm8; cc <= Code.Setg_rm8; cc++) InstructionTable.Add(cc, &Setcc);
    }
}
