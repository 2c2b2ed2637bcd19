using Emu.Memory;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// Stack instructions: PUSH, POP, PUSHA/PUSHAD, POPA/POPAD, ENTER, LEAVE. Every store
/// happens before ESP/EBP change, so a fault leaves the registers as they were.
/// The stack pointer is ESP or SP as SS.B says; the operand size comes from the instruction.
/// </summary>
public static unsafe class StackOps
{
    public static void Push(Cpu c, uint value, int size)
    {
        if (size == 2) c.Push32(value);
        else c.Push16((ushort)value);
    }

    public static uint Pop(Cpu c, int size) => size == 2 ? c.Pop32() : c.Pop16();

    private static void PushOperand<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        Push(c, c.ReadOperand(ref i, 0, TSize.Size), TSize.Size);

    private static void PushReg32(Cpu c, ref Instruction i) => c.Push32(c.Gpr[Cpu.RegNum(i.Op0Register)]);

    private static void PushReg32Form(Cpu c, ref Instruction i) => c.Push32(c.Gpr[DecodedInstruction.OperandsOf(ref i).Reg0 & 7]);

    private static void PopReg32Form(Cpu c, ref Instruction i) => PopRegister(c, DecodedInstruction.OperandsOf(ref i).Reg0 & 7, 2);

    /// <summary>POP r: the stack pointer moves before the register is written, so POP (E)SP loads the popped value.</summary>
    public static void PopRegister(Cpu c, int r, int size)
    {
        uint v = c.ReadMem(SegReg.SS, c.StackPointer, size);
        c.StackPointer = c.StackOffset(OperandSize.Bytes(size));
        c.SetReg(r, size, v);
    }

    private static void PopReg32(Cpu c, ref Instruction i) => PopRegister(c, Cpu.RegNum(i.Op0Register), 2);

    /// <summary>
    /// POP r/m: when ESP is the base of the destination, the address is computed with ESP
    /// already incremented (Intel SDM Vol. 2, POP); ESP changes only after the store succeeds.
    /// </summary>
    private static void PopOperand<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        int size = TSize.Size;
        if (i.Op0Kind == OpKind.Register)
        {
            PopRegister(c, Cpu.RegNum(i.Op0Register), size);
            return;
        }
        uint v = c.ReadMem(SegReg.SS, c.StackPointer, size);
        uint newSp = c.StackOffset(OperandSize.Bytes(size));
        uint oldEsp = c.Gpr[Reg.ESP];
        c.StackPointer = newSp;
        uint ea = c.EffectiveAddress(ref i);
        c.Gpr[Reg.ESP] = oldEsp;
        c.WriteMem(Cpu.MemSeg(ref i), ea, size, v);
        c.StackPointer = newSp;
    }

    /// <summary>PUSHA/PUSHAD: EAX, ECX, EDX, EBX, the original ESP, EBP, ESI, EDI.</summary>
    public static void Pusha(Cpu c, int size)
    {
        int bytes = OperandSize.Bytes(size);
        for (int r = 0; r < 8; r++)
        {
            uint sp = c.StackOffset(-bytes * (r + 1));
            c.WriteMem(SegReg.SS, sp, size, c.GetReg(r, size));
        }
        c.StackPointer = c.StackOffset(-bytes * 8);
    }

    /// <summary>POPA/POPAD: EDI, ESI, EBP, (ESP skipped), EBX, EDX, ECX, EAX.</summary>
    public static void Popa(Cpu c, int size)
    {
        int bytes = OperandSize.Bytes(size);
        var values = new PopaValues();
        for (int r = 7; r >= 0; r--) values[r] = c.ReadMem(SegReg.SS, c.StackOffset(bytes * (7 - r)), size);
        for (int r = 0; r < 8; r++)
            if (r != Reg.ESP) c.SetReg(r, size, values[r]);
        c.StackPointer = c.StackOffset(bytes * 8);
    }

    [System.Runtime.CompilerServices.InlineArray(8)]
    private struct PopaValues { private uint element; }

    /// <summary>
    /// ENTER alloc, level: pushes EBP, copies level-1 frame pointers from the old frame,
    /// pushes the new frame pointer, then reserves alloc bytes (Intel SDM Vol. 2, ENTER).
    /// </summary>
    public static void Enter(Cpu c, uint alloc, uint level, int size)
    {
        level &= 0x1F;
        int bytes = OperandSize.Bytes(size);
        bool stack32 = c.Stack32;
        uint sp = c.StackPointer;
        uint Wrap(uint v) => stack32 ? v : v & 0xFFFF;

        sp = Wrap(sp - (uint)bytes);
        c.WriteMem(SegReg.SS, sp, size, c.GetReg(Reg.EBP, size));
        // FrameTemp is ESP (32-bit operands) or SP after the push.
        uint frameTemp = size == 2 && !stack32 ? (c.Gpr[Reg.ESP] & 0xFFFF_0000u) | sp : sp;
        if (level > 0)
        {
            uint bp = stack32 ? c.Gpr[Reg.EBP] : c.Gpr[Reg.EBP] & 0xFFFF;
            for (uint l = 1; l < level; l++)
            {
                bp = Wrap(bp - (uint)bytes);
                uint v = c.ReadMem(SegReg.SS, bp, size);
                sp = Wrap(sp - (uint)bytes);
                c.WriteMem(SegReg.SS, sp, size, v);
            }
            sp = Wrap(sp - (uint)bytes);
            c.WriteMem(SegReg.SS, sp, size, frameTemp);
        }
        sp = Wrap(sp - alloc);
        // #SS(0) when the new stack pointer is outside the stack segment's limit (Intel SDM
        // Vol. 2, ENTER); the frame has been stored by then, but no register has changed.
        ref SegmentCache ss = ref c.Seg[SegReg.SS];
        if (sp < ss.ValidLow || sp > ss.ValidHigh) throw GuestFault.Create(ExceptionVectors.SS, 0);
        c.SetReg(Reg.EBP, size, frameTemp);
        c.StackPointer = sp;
    }

    /// <summary>LEAVE: ESP = EBP (SP = BP), then EBP = POP.</summary>
    public static void Leave(Cpu c, int size)
    {
        uint sp = c.Stack32 ? c.Gpr[Reg.EBP] : c.Gpr[Reg.EBP] & 0xFFFF;
        uint v = c.ReadMem(SegReg.SS, sp, size);
        c.StackPointer = sp + (uint)OperandSize.Bytes(size);
        c.SetReg(Reg.EBP, size, v);
    }

    private static void PushaW(Cpu c, ref Instruction i) => Pusha(c, 1);
    private static void PushaD(Cpu c, ref Instruction i) => Pusha(c, 2);
    private static void PopaW(Cpu c, ref Instruction i) => Popa(c, 1);
    private static void PopaD(Cpu c, ref Instruction i) => Popa(c, 2);
    private static void EnterW(Cpu c, ref Instruction i) => Enter(c, i.Immediate16, i.Immediate8_2nd, 1);
    private static void EnterD(Cpu c, ref Instruction i) => Enter(c, i.Immediate16, i.Immediate8_2nd, 2);
    private static void LeaveW(Cpu c, ref Instruction i) => Leave(c, 1);
    private static void LeaveD(Cpu c, ref Instruction i) => Leave(c, 2);

    internal static void Register()
    {
        InstructionTable.Add(Code.Push_r16, &PushOperand<Word16>);
        InstructionTable.Add(Code.Push_r32, &PushReg32);
        InstructionTable.AddForm(Code.Push_r32, OperandForm.Reg, &PushReg32Form);
        InstructionTable.Add(Code.Push_rm16, &PushOperand<Word16>);
        InstructionTable.Add(Code.Push_rm32, &PushOperand<Dword32>);
        InstructionTable.Add(Code.Push_imm16, &PushOperand<Word16>);
        InstructionTable.Add(Code.Pushd_imm32, &PushOperand<Dword32>);
        InstructionTable.Add(Code.Pushw_imm8, &PushOperand<Word16>);
        InstructionTable.Add(Code.Pushd_imm8, &PushOperand<Dword32>);
        InstructionTable.Add(Code.Pop_r16, &PopOperand<Word16>);
        InstructionTable.Add(Code.Pop_r32, &PopReg32);
        InstructionTable.AddForm(Code.Pop_r32, OperandForm.Reg, &PopReg32Form);
        InstructionTable.Add(Code.Pop_rm16, &PopOperand<Word16>);
        InstructionTable.Add(Code.Pop_rm32, &PopOperand<Dword32>);
        InstructionTable.Add(Code.Pushaw, &PushaW);
        InstructionTable.Add(Code.Pushad, &PushaD);
        InstructionTable.Add(Code.Popaw, &PopaW);
        InstructionTable.Add(Code.Popad, &PopaD);
        InstructionTable.Add(Code.Enterw_imm16_imm8, &EnterW);
        InstructionTable.Add(Code.Enterd_imm16_imm8, &EnterD);
        InstructionTable.Add(Code.Leavew, &LeaveW);
        InstructionTable.Add(Code.Leaved, &LeaveD);
    }
}
