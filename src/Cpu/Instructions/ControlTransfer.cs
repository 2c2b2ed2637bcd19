using System.Runtime.CompilerServices;
using Emu.Memory;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// Near control transfer: JMP, Jcc, CALL, RET, LOOP/LOOPE/LOOPNE, JCXZ/JECXZ. Every new EIP is
/// checked against the CS limit before anything changes (#GP(0) otherwise). Far transfers,
/// interrupts and IRET are in <see cref="SystemOps"/>.
/// </summary>
public static unsafe class ControlTransfer
{
    /// <summary>Sets EIP to a branch target after the CS limit check (Intel SDM Vol. 2, JMP: #GP(0)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Jump(Cpu c, uint target)
    {
        if (target > c.Seg[SegReg.CS].ValidHigh) throw GuestFault.Create(ExceptionVectors.GP, 0);
        c.Eip = target;
    }

    /// <summary>The address of the next instruction, wrapped to 16 bits in 16-bit code.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint NextEip(Cpu c, ref Instruction i) => c.Code32 ? (uint)i.NextIP : (uint)i.NextIP & 0xFFFF;

    /// <summary>
    /// Near CALL: the stack slot for the return address is checked first (#SS), then the
    /// target against the CS limit (#GP(0)): a real CPU reports the stack fault when both
    /// apply. Nothing is written unless both checks pass.
    /// </summary>
    public static void Call(Cpu c, uint target, uint returnAddress, int size)
    {
        int bytes = OperandSize.Bytes(size);
        uint sp = c.StackOffset(-bytes);
        uint lin = c.LinearWrite(SegReg.SS, sp, bytes);
        c.Mmu.ProbeWrite(lin, bytes);
        if (target > c.Seg[SegReg.CS].ValidHigh) throw GuestFault.Create(ExceptionVectors.GP, 0);
        c.WriteLinear(lin, size, returnAddress);
        c.StackPointer = sp;
        c.Eip = target;
    }

    /// <summary>RET [imm16]: pops EIP (checked against the CS limit before ESP moves), then releases imm16 bytes.</summary>
    public static void Ret(Cpu c, uint release, int size)
    {
        uint target = c.ReadMem(SegReg.SS, c.StackPointer, size);
        if (target > c.Seg[SegReg.CS].ValidHigh) throw GuestFault.Create(ExceptionVectors.GP, 0);
        c.StackPointer = c.StackOffset(OperandSize.Bytes(size) + (int)release);
        c.Eip = target;
    }

    private static void JmpRel(Cpu c, ref Instruction i) => Jump(c, (uint)i.NearBranchTarget);

    private static void Jcc(Cpu c, ref Instruction i)
    {
        if (c.Condition((int)i.ConditionCode - 1)) Jump(c, (uint)i.NearBranchTarget);
        else c.Eip = NextEip(c, ref i);
    }

    // Forms (see OperandForm): a near target decoded into Operands.Immediate.
    private static void JmpNear(Cpu c, ref Instruction i) => Jump(c, DecodedInstruction.OperandsOf(ref i).Immediate);

    private static void JccNear(Cpu c, ref Instruction i)
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        if (c.Condition(o.Condition)) Jump(c, o.Immediate);
        else c.Eip = NextEip(c, ref i);
    }

    private static void CallNear32(Cpu c, ref Instruction i) => Call(c, DecodedInstruction.OperandsOf(ref i).Immediate, NextEip(c, ref i), 2);

    private static void JmpReg32(Cpu c, ref Instruction i) => Jump(c, c.Gpr[DecodedInstruction.OperandsOf(ref i).Reg0 & 7]);

    private static void JmpMem32(Cpu c, ref Instruction i)
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        Jump(c, c.Read32(o.Segment, c.EffectiveAddress(ref o)));
    }

    private static void CallReg32(Cpu c, ref Instruction i) => Call(c, c.Gpr[DecodedInstruction.OperandsOf(ref i).Reg0 & 7], NextEip(c, ref i), 2);

    private static void CallMem32(Cpu c, ref Instruction i)
    {
        ref Operands o = ref DecodedInstruction.OperandsOf(ref i);
        Call(c, c.Read32(o.Segment, c.EffectiveAddress(ref o)), NextEip(c, ref i), 2);
    }

    private static void AddJcc(Code code)
    {
        InstructionTable.Add(code, &Jcc);
        InstructionTable.AddForm(code, OperandForm.Near, &JccNear);
    }

    private static void JmpRm<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        Jump(c, c.ReadOperand(ref i, 0, TSize.Size));

    private static void CallRel16(Cpu c, ref Instruction i) => Call(c, (uint)i.NearBranchTarget, NextEip(c, ref i), 1);
    private static void CallRel32(Cpu c, ref Instruction i) => Call(c, (uint)i.NearBranchTarget, NextEip(c, ref i), 2);

    private static void CallRm<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        Call(c, c.ReadOperand(ref i, 0, TSize.Size), NextEip(c, ref i), TSize.Size);

    private static void RetW(Cpu c, ref Instruction i) => Ret(c, 0, 1);
    private static void RetD(Cpu c, ref Instruction i) => Ret(c, 0, 2);
    private static void RetWImm(Cpu c, ref Instruction i) => Ret(c, i.Immediate16, 1);
    private static void RetDImm(Cpu c, ref Instruction i) => Ret(c, i.Immediate16, 2);

    /// <summary>LOOP/LOOPE/LOOPNE: decrements (E)CX without touching flags; kind 0 LOOP, 1 LOOPE, 2 LOOPNE.</summary>
    public static void Loop(Cpu c, uint target, uint next, bool a32, int kind)
    {
        uint count = (c.Gpr[Reg.ECX] - 1) & (a32 ? 0xFFFF_FFFFu : 0xFFFFu);
        bool taken = count != 0 && kind switch { 1 => c.GetZF() != 0, 2 => c.GetZF() == 0, _ => true };
        if (taken && target > c.Seg[SegReg.CS].ValidHigh) throw GuestFault.Create(ExceptionVectors.GP, 0);
        if (a32) c.Gpr[Reg.ECX] = count;
        else c.SetReg16(Reg.ECX, (ushort)count);
        c.Eip = taken ? target : next;
    }

    /// <summary>Whether LOOP/LOOPE/LOOPNE counts ECX (address size 32) rather than CX.</summary>
    public static bool LoopUsesEcx(Code code) => code is Code.Loop_rel8_16_ECX or Code.Loop_rel8_32_ECX
        or Code.Loope_rel8_16_ECX or Code.Loope_rel8_32_ECX or Code.Loopne_rel8_16_ECX or Code.Loopne_rel8_32_ECX;

    private static void LoopH(Cpu c, ref Instruction i) =>
        Loop(c, (uint)i.NearBranchTarget, NextEip(c, ref i), LoopUsesEcx(i.Code), 0);

    private static void LoopeH(Cpu c, ref Instruction i) =>
        Loop(c, (uint)i.NearBranchTarget, NextEip(c, ref i), LoopUsesEcx(i.Code), 1);

    private static void LoopneH(Cpu c, ref Instruction i) =>
        Loop(c, (uint)i.NearBranchTarget, NextEip(c, ref i), LoopUsesEcx(i.Code), 2);

    /// <summary>JCXZ/JECXZ: jumps when CX (or ECX) is zero.</summary>
    public static void JumpIfCountZero(Cpu c, uint target, uint next, bool ecx)
    {
        if ((ecx ? c.Gpr[Reg.ECX] : c.Gpr[Reg.ECX] & 0xFFFF) == 0) Jump(c, target);
        else c.Eip = next;
    }

    private static void Jcxz(Cpu c, ref Instruction i) => JumpIfCountZero(c, (uint)i.NearBranchTarget, NextEip(c, ref i), false);

    private static void Jecxz(Cpu c, ref Instruction i) => JumpIfCountZero(c, (uint)i.NearBranchTarget, NextEip(c, ref i), true);

    internal static void Register()
    {
        foreach (Code code in new[] { Code.Jmp_rel8_16, Code.Jmp_rel8_32, Code.Jmp_rel16, Code.Jmp_rel32_32 })
        {
            InstructionTable.Add(code, &JmpRel);
            InstructionTable.AddForm(code, OperandForm.Near, &JmpNear);
        }
        for (Code cc = Code.Jo_rel8_16; cc <= Code.Jg_rel8_64; cc += 3)
        {
            AddJcc(cc);
            AddJcc(cc + 1);
        }
        for (Code cc = Code.Jo_rel16; cc <= Code.Jg_rel32_64; cc += 3)
        {
            AddJcc(cc);
            AddJcc(cc + 1);
        }
        InstructionTable.Add(Code.Jmp_rm16, &JmpRm<Word16>);
        InstructionTable.Add(Code.Jmp_rm32, &JmpRm<Dword32>);
        InstructionTable.AddForm(Code.Jmp_rm32, OperandForm.Reg, &JmpReg32);
        InstructionTable.AddForm(Code.Jmp_rm32, OperandForm.Mem, &JmpMem32);
        InstructionTable.Add(Code.Call_rel16, &CallRel16);
        InstructionTable.Add(Code.Call_rel32_32, &CallRel32);
        InstructionTable.AddForm(Code.Call_rel32_32, OperandForm.Near, &CallNear32);
        InstructionTable.Add(Code.Call_rm16, &CallRm<Word16>);
        InstructionTable.Add(Code.Call_rm32, &CallRm<Dword32>);
        InstructionTable.AddForm(Code.Call_rm32, OperandForm.Reg, &CallReg32);
        InstructionTable.AddForm(Code.Call_rm32, OperandForm.Mem, &CallMem32);
        InstructionTable.Add(Code.Retnw, &RetW);
        InstructionTable.Add(Code.Retnd, &RetD);
        InstructionTable.Add(Code.Retnw_imm16, &RetWImm);
        InstructionTable.Add(Code.Retnd_imm16, &RetDImm);
        foreach (Code code in new[] { Code.Loop_rel8_16_CX, Code.Loop_rel8_32_CX, Code.Loop_rel8_16_ECX, Code.Loop_rel8_32_ECX })
            InstructionTable.Add(code, &LoopH);
        foreach (Code code in new[] { Code.Loope_rel8_16_CX, Code.Loope_rel8_32_CX, Code.Loope_rel8_16_ECX, Code.Loope_rel8_32_ECX })
            InstructionTable.Add(code, &LoopeH);
        foreach (Code code in new[] { Code.Loopne_rel8_16_CX, Code.Loopne_rel8_32_CX, Code.Loopne_rel8_16_ECX, Code.Loopne_rel8_32_ECX })
            InstructionTable.Add(code, &LoopneH);
        InstructionTable.Add(Code.Jcxz_rel8_16, &Jcxz);
        InstructionTable.Add(Code.Jcxz_rel8_32, &Jcxz);
        InstructionTable.Add(Code.Jecxz_rel8_16, &Jecxz);
        InstructionTable.Add(Code.Jecxz_rel8_32, &Jecxz);
    }
}
