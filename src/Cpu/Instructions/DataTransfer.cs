using System.Buffers.Binary;
using Iced.Intel;
using static Emu.X86.OperandSize;

namespace Emu.X86;

/// <summary>
/// Data movement: MOV, MOVZX, MOVSX, XCHG, LEA, XLAT, CBW/CWDE/CWD/CDQ, BSWAP, CMOVcc,
/// CMPXCHG, CMPXCHG8B, XADD.
/// </summary>
public static unsafe class DataTransfer
{
    /// <summary>MOV: op0 = op1 (general registers, memory, immediates, moffs).</summary>
    private static void Mov<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        c.WriteOperand(ref i, 0, TSize.Size, c.ReadOperand(ref i, 1, TSize.Size));

    /// <summary>MOV r32, imm32 / MOV r/m32, r32 register-to-register: the common fast case.</summary>
    private static void MovR32Imm(Cpu c, ref Instruction i) => c.Gpr[Cpu.RegNum(i.Op0Register)] = i.Immediate32;

    /// <summary>MOVZX/MOVSX: a narrower source widened into a register.</summary>
    private static void MoveExtend<TDst, TSrc>(Cpu c, ref Instruction i, bool signed)
        where TDst : struct, IOperandSize where TSrc : struct, IOperandSize
    {
        uint v = c.ReadOperand(ref i, 1, TSrc.Size);
        if (signed) v = SignExtend(v, TSrc.Size);
        c.SetReg(Cpu.RegNum(i.Op0Register), TDst.Size, v & Mask(TDst.Size));
    }

    private static void MovzxWB(Cpu c, ref Instruction i) => MoveExtend<Word16, Byte8>(c, ref i, false);
    private static void MovzxDB(Cpu c, ref Instruction i) => MoveExtend<Dword32, Byte8>(c, ref i, false);
    private static void MovzxWW(Cpu c, ref Instruction i) => MoveExtend<Word16, Word16>(c, ref i, false);
    private static void MovzxDW(Cpu c, ref Instruction i) => MoveExtend<Dword32, Word16>(c, ref i, false);
    private static void MovsxWB(Cpu c, ref Instruction i) => MoveExtend<Word16, Byte8>(c, ref i, true);
    private static void MovsxDB(Cpu c, ref Instruction i) => MoveExtend<Dword32, Byte8>(c, ref i, true);
    private static void MovsxWW(Cpu c, ref Instruction i) => MoveExtend<Word16, Word16>(c, ref i, true);
    private static void MovsxDW(Cpu c, ref Instruction i) => MoveExtend<Dword32, Word16>(c, ref i, true);

    /// <summary>XCHG: swaps op0 and op1; with memory it is a locked read-modify-write.</summary>
    private static void Xchg<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        int size = TSize.Size;
        int r1 = Cpu.RegNum(i.Op1Register);
        uint v1 = c.GetReg(r1, size);
        if (i.Op0Kind == OpKind.Register)
        {
            int r0 = Cpu.RegNum(i.Op0Register);
            uint v0 = c.GetReg(r0, size);
            c.SetReg(r0, size, v1);
            c.SetReg(r1, size, v0);
        }
        else
        {
            uint lin = c.LinearRmw(Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), Bytes(size));
            uint v0 = c.ReadLinear(lin, size);
            c.WriteLinear(lin, size, v1);
            c.SetReg(r1, size, v0);
        }
    }

    /// <summary>LEA: the effective address itself, truncated to the operand size.</summary>
    private static void Lea<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        c.SetReg(Cpu.RegNum(i.Op0Register), TSize.Size, c.EffectiveAddress(ref i) & Mask(TSize.Size));

    /// <summary>XLAT: AL = [seg:(E)BX + AL] (Iced names AL as the index; it is unsigned and unscaled).</summary>
    private static void Xlat(Cpu c, ref Instruction i)
    {
        bool a16 = i.MemoryBase == Iced.Intel.Register.BX;
        uint ea = (a16 ? c.Gpr[Reg.EBX] & 0xFFFF : c.Gpr[Reg.EBX]) + c.GetReg8(0);
        if (a16) ea &= 0xFFFF;
        c.SetReg8(0, c.Read8(Cpu.MemSeg(ref i), ea));
    }

    private static void Cbw(Cpu c, ref Instruction i) => c.SetReg16(Reg.EAX, (ushort)(sbyte)c.Gpr[Reg.EAX]);
    private static void Cwde(Cpu c, ref Instruction i) => c.Gpr[Reg.EAX] = (uint)(short)c.Gpr[Reg.EAX];
    private static void Cwd(Cpu c, ref Instruction i) => c.SetReg16(Reg.EDX, (ushort)((short)c.Gpr[Reg.EAX] >> 15));
    private static void Cdq(Cpu c, ref Instruction i) => c.Gpr[Reg.EDX] = (uint)((int)c.Gpr[Reg.EAX] >> 31);

    /// <summary>BSWAP r32; with a 16-bit register the SDM leaves the result undefined (it reads as zero here).</summary>
    private static void Bswap32(Cpu c, ref Instruction i)
    {
        int r = Cpu.RegNum(i.Op0Register);
        c.Gpr[r] = BinaryPrimitives.ReverseEndianness(c.Gpr[r]);
    }

    private static void Bswap16(Cpu c, ref Instruction i) => c.SetReg16(Cpu.RegNum(i.Op0Register), 0);

    /// <summary>CMOVcc: the source is read (and may fault) whatever the condition.</summary>
    private static void Cmov<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        uint v = c.ReadOperand(ref i, 1, TSize.Size);
        if (c.Condition((int)i.ConditionCode - 1)) c.SetReg(Cpu.RegNum(i.Op0Register), TSize.Size, v);
    }

    /// <summary>
    /// CMPXCHG r/m, r: compares the accumulator with the destination; equal: ZF=1 and
    /// dest = src; else ZF=0 and accumulator = dest. Memory is always written (the old value
    /// back on a mismatch), as the locked cycle does. Flags as CMP accumulator, dest.
    /// </summary>
    private static void Cmpxchg<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        int size = TSize.Size;
        uint src = c.GetReg(Cpu.RegNum(i.Op1Register), size);
        uint acc = c.GetReg(Reg.EAX, size);
        if (i.Op0Kind == OpKind.Register)
        {
            int r = Cpu.RegNum(i.Op0Register);
            uint d = c.GetReg(r, size);
            Arithmetic.Sub(c, acc, d, size);
            if (acc == d) c.SetReg(r, size, src);
            else c.SetReg(Reg.EAX, size, d);
        }
        else
        {
            uint lin = c.LinearRmw(Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), Bytes(size));
            uint d = c.ReadLinear(lin, size);
            Arithmetic.Sub(c, acc, d, size);
            if (acc == d)
            {
                c.WriteLinear(lin, size, src);
            }
            else
            {
                c.WriteLinear(lin, size, d);
                c.SetReg(Reg.EAX, size, d);
            }
        }
    }

    /// <summary>CMPXCHG8B m64: EDX:EAX against m64; equal: m64 = ECX:EBX, ZF=1; else EDX:EAX = m64, ZF=0.</summary>
    private static void Cmpxchg8b(Cpu c, ref Instruction i)
    {
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        uint lo = c.LinearRmw(seg, ea, 4);
        uint hi = c.LinearRmw(seg, ea + 4, 4);
        uint mlo = c.Mmu.Read32(lo), mhi = c.Mmu.Read32(hi);
        if (mlo == c.Gpr[Reg.EAX] && mhi == c.Gpr[Reg.EDX])
        {
            c.Mmu.Write32(lo, c.Gpr[Reg.EBX]);
            c.Mmu.Write32(hi, c.Gpr[Reg.ECX]);
            c.SetArithFlags(Flags.ZF, Flags.ZF);
        }
        else
        {
            c.Mmu.Write32(lo, mlo);
            c.Mmu.Write32(hi, mhi);
            c.Gpr[Reg.EAX] = mlo;
            c.Gpr[Reg.EDX] = mhi;
            c.SetArithFlags(0, Flags.ZF);
        }
    }

    /// <summary>XADD r/m, r: temp = dest + src; src = dest; dest = temp. Flags as ADD.</summary>
    private static void Xadd<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        int size = TSize.Size;
        int rs = Cpu.RegNum(i.Op1Register);
        uint src = c.GetReg(rs, size);
        if (i.Op0Kind == OpKind.Register)
        {
            int rd = Cpu.RegNum(i.Op0Register);
            uint d = c.GetReg(rd, size);
            uint sum = Arithmetic.Add(c, d, src, size);
            c.SetReg(rs, size, d);
            c.SetReg(rd, size, sum);
        }
        else
        {
            uint lin = c.LinearRmw(Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), Bytes(size));
            uint d = c.ReadLinear(lin, size);
            uint sum = Arithmetic.Add(c, d, src, size);
            c.WriteLinear(lin, size, sum);
            c.SetReg(rs, size, d);
        }
    }

    internal static void Register()
    {
        foreach (Code code in new[] { Code.Mov_rm8_r8, Code.Mov_r8_rm8, Code.Mov_r8_imm8, Code.Mov_rm8_imm8, Code.Mov_AL_moffs8, Code.Mov_moffs8_AL })
            InstructionTable.Add(code, &Mov<Byte8>);
        foreach (Code code in new[] { Code.Mov_rm16_r16, Code.Mov_r16_rm16, Code.Mov_r16_imm16, Code.Mov_rm16_imm16, Code.Mov_AX_moffs16, Code.Mov_moffs16_AX })
            InstructionTable.Add(code, &Mov<Word16>);
        foreach (Code code in new[] { Code.Mov_rm32_r32, Code.Mov_r32_rm32, Code.Mov_rm32_imm32, Code.Mov_EAX_moffs32, Code.Mov_moffs32_EAX })
            InstructionTable.Add(code, &Mov<Dword32>);
        InstructionTable.Add(Code.Mov_r32_imm32, &MovR32Imm);

        InstructionTable.Add(Code.Movzx_r16_rm8, &MovzxWB);
        InstructionTable.Add(Code.Movzx_r32_rm8, &MovzxDB);
        InstructionTable.Add(Code.Movzx_r16_rm16, &MovzxWW);
        InstructionTable.Add(Code.Movzx_r32_rm16, &MovzxDW);
        InstructionTable.Add(Code.Movsx_r16_rm8, &MovsxWB);
        InstructionTable.Add(Code.Movsx_r32_rm8, &MovsxDB);
        InstructionTable.Add(Code.Movsx_r16_rm16, &MovsxWW);
        InstructionTable.Add(Code.Movsx_r32_rm16, &MovsxDW);

        InstructionTable.Add(Code.Xchg_rm8_r8, &Xchg<Byte8>);
        InstructionTable.Add(Code.Xchg_rm16_r16, &Xchg<Word16>);
        InstructionTable.Add(Code.Xchg_rm32_r32, &Xchg<Dword32>);
        InstructionTable.Add(Code.Xchg_r16_AX, &Xchg<Word16>);
        InstructionTable.Add(Code.Xchg_r32_EAX, &Xchg<Dword32>);

        InstructionTable.Add(Code.Lea_r16_m, &Lea<Word16>);
        InstructionTable.Add(Code.Lea_r32_m, &Lea<Dword32>);
        InstructionTable.Add(Code.Xlat_m8, &Xlat);
        InstructionTable.Add(Code.Cbw, &Cbw);
        InstructionTable.Add(Code.Cwde, &Cwde);
        InstructionTable.Add(Code.Cwd, &Cwd);
        InstructionTable.Add(Code.Cdq, &Cdq);
        InstructionTable.Add(Code.Bswap_r32, &Bswap32);
        InstructionTable.Add(Code.Bswap_r16, &Bswap16);

        for (Code cc = Code.Cmovo_r16_rm16; cc <= Code.Cmovg_r32_rm32; cc += 3)
        {
            InstructionTable.Add(cc, &Cmov<Word16>);
            InstructionTable.Add(cc + 1, &Cmov<Dword32>);
        }

        InstructionTable.Add(Code.Cmpxchg_rm8_r8, &Cmpxchg<Byte8>);
        InstructionTable.Add(Code.Cmpxchg_rm16_r16, &Cmpxchg<Word16>);
        InstructionTable.Add(Code.Cmpxchg_rm32_r32, &Cmpxchg<Dword32>);
        InstructionTable.Add(Code.Cmpxchg8b_m64, &Cmpxchg8b);
        InstructionTable.Add(Code.Xadd_rm8_r8, &Xadd<Byte8>);
        InstructionTable.Add(Code.Xadd_rm16_r16, &Xadd<Word16>);
        InstructionTable.Add(Code.Xadd_rm32_r32, &Xadd<Dword32>);
    }
}
