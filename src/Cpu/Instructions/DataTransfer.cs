using System.Runtime.CompilerServices;
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

    // MOV, one handler per operand form (see OperandForm).
    private static void MovRegReg<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        c.SetReg(o.Reg0, TSize.Size, c.GetReg(o.Reg1, TSize.Size));
    }

    private static void MovRegMem<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        c.SetReg(o.Reg0, TSize.Size, c.ReadMem(o.Segment, c.EffectiveAddress(ref o), TSize.Size));
    }

    private static void MovMemReg<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        c.WriteMem(o.Segment, c.EffectiveAddress(ref o), TSize.Size, c.GetReg(o.Reg1, TSize.Size));
    }

    private static void MovRegImm<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        c.SetReg(o.Reg0, TSize.Size, o.Immediate);
    }

    private static void MovMemImm<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        c.WriteMem(o.Segment, c.EffectiveAddress(ref o), TSize.Size, o.Immediate);
    }

    private static void AddMov<TSize>(Code code) where TSize : struct, IOperandSize
    {
        InstructionTable.Add(code, &Mov<TSize>);
        InstructionTable.AddForm(code, OperandForm.RegReg, &MovRegReg<TSize>);
        InstructionTable.AddForm(code, OperandForm.RegMem, &MovRegMem<TSize>);
        InstructionTable.AddForm(code, OperandForm.MemReg, &MovMemReg<TSize>);
        InstructionTable.AddForm(code, OperandForm.RegImm, &MovRegImm<TSize>);
        InstructionTable.AddForm(code, OperandForm.MemImm, &MovMemImm<TSize>);
    }

    /// <summary>MOV r32, imm32 / MOV r/m32, r32 register-to-register: the common fast case.</summary>
    private static void MovR32Imm(Cpu c, ref Instruction i) => c.Gpr[Cpu.RegNum(i.Op0Register)] = i.Immediate32;

    /// <summary>MOVZX/MOVSX: a narrower source widened into a register.</summary>
    private static void MoveExtend<TDst, TSrc>(Cpu c, ref Instruction i, bool signed)
        where TDst : struct, IOperandSize where TSrc : struct, IOperandSize
    {
        WriteExtended<TDst, TSrc>(c, Cpu.RegNum(i.Op0Register), c.ReadOperand(ref i, 1, TSrc.Size), signed);
    }

    /// <summary>MOVZX/MOVSX's write: <paramref name="v"/>, of the source size, widened into register <paramref name="r"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteExtended<TDst, TSrc>(Cpu c, int r, uint v, bool signed)
        where TDst : struct, IOperandSize where TSrc : struct, IOperandSize
    {
        if (signed) v = SignExtend(v, TSrc.Size);
        c.SetReg(r, TDst.Size, v & Mask(TDst.Size));
    }

    // MOVZX/MOVSX forms: source register or memory.
    private static void MoveExtendReg<TDst, TSrc>(Cpu c, ref Instruction i, bool signed)
        where TDst : struct, IOperandSize where TSrc : struct, IOperandSize
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        WriteExtended<TDst, TSrc>(c, o.Reg0, c.GetReg(o.Reg1, TSrc.Size), signed);
    }

    private static void MoveExtendMem<TDst, TSrc>(Cpu c, ref Instruction i, bool signed)
        where TDst : struct, IOperandSize where TSrc : struct, IOperandSize
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        WriteExtended<TDst, TSrc>(c, o.Reg0, c.ReadMem(o.Segment, c.EffectiveAddress(ref o), TSrc.Size), signed);
    }

    private static void MovzxDBReg(Cpu c, ref Instruction i) => MoveExtendReg<Dword32, Byte8>(c, ref i, false);
    private static void MovzxDBMem(Cpu c, ref Instruction i) => MoveExtendMem<Dword32, Byte8>(c, ref i, false);
    private static void MovzxDWReg(Cpu c, ref Instruction i) => MoveExtendReg<Dword32, Word16>(c, ref i, false);
    private static void MovzxDWMem(Cpu c, ref Instruction i) => MoveExtendMem<Dword32, Word16>(c, ref i, false);
    private static void MovsxDBReg(Cpu c, ref Instruction i) => MoveExtendReg<Dword32, Byte8>(c, ref i, true);
    private static void MovsxDBMem(Cpu c, ref Instruction i) => MoveExtendMem<Dword32, Byte8>(c, ref i, true);
    private static void MovsxDWReg(Cpu c, ref Instruction i) => MoveExtendReg<Dword32, Word16>(c, ref i, true);
    private static void MovsxDWMem(Cpu c, ref Instruction i) => MoveExtendMem<Dword32, Word16>(c, ref i, true);

    private static void MovzxWB(Cpu c, ref Instruction i) => MoveExtend<Word16, Byte8>(c, ref i, false);
    private static void MovzxDB(Cpu c, ref Instruction i) => MoveExtend<Dword32, Byte8>(c, ref i, false);
    private static void MovzxWW(Cpu c, ref Instruction i) => MoveExtend<Word16, Word16>(c, ref i, false);
    private static void MovzxDW(Cpu c, ref Instruction i) => MoveExtend<Dword32, Word16>(c, ref i, false);
    private static void MovsxWB(Cpu c, ref Instruction i) => MoveExtend<Word16, Byte8>(c, ref i, true);
    private static void MovsxDB(Cpu c, ref Instruction i) => MoveExtend<Dword32, Byte8>(c, ref i, true);
    private static void MovsxWW(Cpu c, ref Instruction i) => MoveExtend<Word16, Word16>(c, ref i, true);
    private static void MovsxDW(Cpu c, ref Instruction i) => MoveExtend<Dword32, Word16>(c, ref i, true);

    /// <summary>XCHG r, r: swaps two general registers.</summary>
    public static void XchgRegisters(Cpu c, int r0, int r1, int size)
    {
        uint v1 = c.GetReg(r1, size);
        uint v0 = c.GetReg(r0, size);
        c.SetReg(r0, size, v1);
        c.SetReg(r1, size, v0);
    }

    /// <summary>XCHG m, r: a locked read-modify-write, checked for writing before anything changes.</summary>
    public static void XchgMemory(Cpu c, int seg, uint ea, int r, int size)
    {
        uint v1 = c.GetReg(r, size);
        uint lin = c.LinearRmw(seg, ea, Bytes(size));
        uint v0 = c.ReadLinearRmw(lin, size);
        c.WriteLinear(lin, size, v1);
        c.SetReg(r, size, v0);
    }

    /// <summary>XCHG: swaps op0 and op1; with memory it is a locked read-modify-write.</summary>
    private static void Xchg<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        int r1 = Cpu.RegNum(i.Op1Register);
        if (i.Op0Kind == OpKind.Register) XchgRegisters(c, Cpu.RegNum(i.Op0Register), r1, TSize.Size);
        else XchgMemory(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), r1, TSize.Size);
    }

    /// <summary>LEA: the effective address itself, truncated to the operand size.</summary>
    private static void Lea<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        c.SetReg(Cpu.RegNum(i.Op0Register), TSize.Size, c.EffectiveAddress(ref i) & Mask(TSize.Size));

    private static void LeaForm32(Cpu c, ref Instruction i)
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        c.Gpr[o.Reg0 & 7] = c.EffectiveAddress(ref o);
    }

    /// <summary>XLAT: AL = [seg:(E)BX + AL], AL unsigned and unscaled; 16-bit addressing wraps at 64K.</summary>
    public static void Xlat(Cpu c, int seg, bool addressSize16)
    {
        uint ea = (addressSize16 ? c.Gpr[Reg.EBX] & 0xFFFF : c.Gpr[Reg.EBX]) + c.GetReg8(0);
        if (addressSize16) ea &= 0xFFFF;
        c.SetReg8(0, c.Read8(seg, ea));
    }

    /// <summary>Whether XLAT uses BX rather than EBX (Iced names AL as its index register).</summary>
    public static bool XlatAddressSize16(ref Instruction i) => i.MemoryBase == Iced.Intel.Register.BX;

    private static void XlatH(Cpu c, ref Instruction i) => Xlat(c, Cpu.MemSeg(ref i), XlatAddressSize16(ref i));

    public static void Cbw(Cpu c) => c.SetReg16(Reg.EAX, Cbw(c.Gpr[Reg.EAX]));
    public static void Cwde(Cpu c) => c.Gpr[Reg.EAX] = Cwde(c.Gpr[Reg.EAX]);
    public static void Cwd(Cpu c) => c.SetReg16(Reg.EDX, Cwd(c.Gpr[Reg.EAX]));
    public static void Cdq(Cpu c) => c.Gpr[Reg.EDX] = Cdq(c.Gpr[Reg.EAX]);

    // The values, from EAX: CBW's AX, CWDE's EAX, CWD's DX and CDQ's EDX (compiled code calls these on its locals).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Cbw(uint eax) => (ushort)(sbyte)eax;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Cwde(uint eax) => (uint)(short)eax;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Cwd(uint eax) => (ushort)((short)eax >> 15);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Cdq(uint eax) => (uint)((int)eax >> 31);

    private static void CbwH(Cpu c, ref Instruction i) => Cbw(c);
    private static void CwdeH(Cpu c, ref Instruction i) => Cwde(c);
    private static void CwdH(Cpu c, ref Instruction i) => Cwd(c);
    private static void CdqH(Cpu c, ref Instruction i) => Cdq(c);

    /// <summary>BSWAP r32.</summary>
    public static void Bswap32(Cpu c, int r) => c.Gpr[r] = BinaryPrimitives.ReverseEndianness(c.Gpr[r]);

    /// <summary>BSWAP r16: the SDM leaves the result undefined; it reads as zero here.</summary>
    public static void Bswap16(Cpu c, int r) => c.SetReg16(r, 0);

    private static void Bswap32H(Cpu c, ref Instruction i) => Bswap32(c, Cpu.RegNum(i.Op0Register));
    private static void Bswap16H(Cpu c, ref Instruction i) => Bswap16(c, Cpu.RegNum(i.Op0Register));

    /// <summary>CMOVcc with the source already read: the read happens (and may fault) whatever the condition.</summary>
    public static void Cmov(Cpu c, int cc, int r, int size, uint value)
    {
        if (c.Condition(cc)) c.SetReg(r, size, value);
    }

    private static void CmovH<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        Cmov(c, (int)i.ConditionCode - 1, Cpu.RegNum(i.Op0Register), TSize.Size, c.ReadOperand(ref i, 1, TSize.Size));

    private static void CmovRegReg<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        Cmov(c, o.Condition, o.Reg0, TSize.Size, c.GetReg(o.Reg1, TSize.Size));
    }

    private static void CmovRegMem<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        Cmov(c, o.Condition, o.Reg0, TSize.Size, c.ReadMem(o.Segment, c.EffectiveAddress(ref o), TSize.Size));
    }

    private static void AddCmov<TSize>(Code code) where TSize : struct, IOperandSize
    {
        InstructionTable.Add(code, &CmovH<TSize>);
        InstructionTable.AddForm(code, OperandForm.RegReg, &CmovRegReg<TSize>);
        InstructionTable.AddForm(code, OperandForm.RegMem, &CmovRegMem<TSize>);
    }

    /// <summary>
    /// CMPXCHG r/m, r: compares the accumulator with the destination; equal: ZF=1 and
    /// dest = src; else ZF=0 and accumulator = dest. Memory is always written (the old value
    /// back on a mismatch), as the locked cycle does. Flags as CMP accumulator, dest.
    /// </summary>
    public static void CmpxchgRegister(Cpu c, int rd, int rs, int size)
    {
        uint src = c.GetReg(rs, size);
        uint acc = c.GetReg(Reg.EAX, size);
        uint d = c.GetReg(rd, size);
        Arithmetic.Sub(c, acc, d, size);
        if (acc == d) c.SetReg(rd, size, src);
        else c.SetReg(Reg.EAX, size, d);
    }

    /// <summary>CMPXCHG m, r (see <see cref="CmpxchgRegister"/>).</summary>
    public static void CmpxchgMemory(Cpu c, int seg, uint ea, int rs, int size)
    {
        uint src = c.GetReg(rs, size);
        uint acc = c.GetReg(Reg.EAX, size);
        uint lin = c.LinearRmw(seg, ea, Bytes(size));
        uint d = c.ReadLinearRmw(lin, size);
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

    private static void Cmpxchg<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        int rs = Cpu.RegNum(i.Op1Register);
        if (i.Op0Kind == OpKind.Register) CmpxchgRegister(c, Cpu.RegNum(i.Op0Register), rs, TSize.Size);
        else CmpxchgMemory(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), rs, TSize.Size);
    }

    /// <summary>CMPXCHG8B m64: EDX:EAX against m64; equal: m64 = ECX:EBX, ZF=1; else EDX:EAX = m64, ZF=0.</summary>
    private static void Cmpxchg8b(Cpu c, ref Instruction i)
    {
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        uint lo = c.LinearRmw(seg, ea, 4);
        uint hi = c.LinearRmw(seg, ea + 4, 4);
        uint mlo = c.Mmu.ReadRmw(lo, 4), mhi = c.Mmu.ReadRmw(hi, 4);
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

    /// <summary>XADD r, r: temp = dest + src; src = dest; dest = temp. Flags as ADD.</summary>
    public static void XaddRegister(Cpu c, int rd, int rs, int size)
    {
        uint src = c.GetReg(rs, size);
        uint d = c.GetReg(rd, size);
        uint sum = Arithmetic.Add(c, d, src, size);
        c.SetReg(rs, size, d);
        c.SetReg(rd, size, sum);
    }

    /// <summary>XADD m, r: a read-modify-write of the memory operand; the register gets the old value.</summary>
    public static void XaddMemory(Cpu c, int seg, uint ea, int rs, int size)
    {
        uint src = c.GetReg(rs, size);
        uint lin = c.LinearRmw(seg, ea, Bytes(size));
        uint d = c.ReadLinearRmw(lin, size);
        uint sum = Arithmetic.Add(c, d, src, size);
        c.WriteLinear(lin, size, sum);
        c.SetReg(rs, size, d);
    }

    private static void Xadd<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        int rs = Cpu.RegNum(i.Op1Register);
        if (i.Op0Kind == OpKind.Register) XaddRegister(c, Cpu.RegNum(i.Op0Register), rs, TSize.Size);
        else XaddMemory(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), rs, TSize.Size);
    }

    internal static void Register()
    {
        foreach (Code code in new[] { Code.Mov_rm8_r8, Code.Mov_r8_rm8, Code.Mov_r8_imm8, Code.Mov_rm8_imm8, Code.Mov_AL_moffs8, Code.Mov_moffs8_AL })
            AddMov<Byte8>(code);
        foreach (Code code in new[] { Code.Mov_rm16_r16, Code.Mov_r16_rm16, Code.Mov_r16_imm16, Code.Mov_rm16_imm16, Code.Mov_AX_moffs16, Code.Mov_moffs16_AX })
            AddMov<Word16>(code);
        foreach (Code code in new[] { Code.Mov_rm32_r32, Code.Mov_r32_rm32, Code.Mov_rm32_imm32, Code.Mov_EAX_moffs32, Code.Mov_moffs32_EAX })
            AddMov<Dword32>(code);
        InstructionTable.Add(Code.Mov_r32_imm32, &MovR32Imm);

        InstructionTable.Add(Code.Movzx_r16_rm8, &MovzxWB);
        InstructionTable.Add(Code.Movzx_r32_rm8, &MovzxDB);
        InstructionTable.AddForm(Code.Movzx_r32_rm8, OperandForm.RegReg, &MovzxDBReg);
        InstructionTable.AddForm(Code.Movzx_r32_rm8, OperandForm.RegMem, &MovzxDBMem);
        InstructionTable.Add(Code.Movzx_r16_rm16, &MovzxWW);
        InstructionTable.Add(Code.Movzx_r32_rm16, &MovzxDW);
        InstructionTable.AddForm(Code.Movzx_r32_rm16, OperandForm.RegReg, &MovzxDWReg);
        InstructionTable.AddForm(Code.Movzx_r32_rm16, OperandForm.RegMem, &MovzxDWMem);
        InstructionTable.Add(Code.Movsx_r16_rm8, &MovsxWB);
        InstructionTable.Add(Code.Movsx_r32_rm8, &MovsxDB);
        InstructionTable.AddForm(Code.Movsx_r32_rm8, OperandForm.RegReg, &MovsxDBReg);
        InstructionTable.AddForm(Code.Movsx_r32_rm8, OperandForm.RegMem, &MovsxDBMem);
        InstructionTable.Add(Code.Movsx_r16_rm16, &MovsxWW);
        InstructionTable.Add(Code.Movsx_r32_rm16, &MovsxDW);
        InstructionTable.AddForm(Code.Movsx_r32_rm16, OperandForm.RegReg, &MovsxDWReg);
        InstructionTable.AddForm(Code.Movsx_r32_rm16, OperandForm.RegMem, &MovsxDWMem);

        InstructionTable.Add(Code.Xchg_rm8_r8, &Xchg<Byte8>);
        InstructionTable.Add(Code.Xchg_rm16_r16, &Xchg<Word16>);
        InstructionTable.Add(Code.Xchg_rm32_r32, &Xchg<Dword32>);
        InstructionTable.Add(Code.Xchg_r16_AX, &Xchg<Word16>);
        InstructionTable.Add(Code.Xchg_r32_EAX, &Xchg<Dword32>);

        InstructionTable.Add(Code.Lea_r16_m, &Lea<Word16>);
        InstructionTable.Add(Code.Lea_r32_m, &Lea<Dword32>);
        InstructionTable.AddForm(Code.Lea_r32_m, OperandForm.RegMem, &LeaForm32);
        InstructionTable.Add(Code.Xlat_m8, &XlatH);
        InstructionTable.Add(Code.Cbw, &CbwH);
        InstructionTable.Add(Code.Cwde, &CwdeH);
        InstructionTable.Add(Code.Cwd, &CwdH);
        InstructionTable.Add(Code.Cdq, &CdqH);
        InstructionTable.Add(Code.Bswap_r32, &Bswap32H);
        InstructionTable.Add(Code.Bswap_r16, &Bswap16H);

        for (Code cc = Code.Cmovo_r16_rm16; cc <= Code.Cmovg_r32_rm32; cc += 3)
        {
            AddCmov<Word16>(cc);
            AddCmov<Dword32>(cc + 1);
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
