using System;
using System.Linq;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// The facts of <see cref="InstructionTable"/> that Iced already knows, derived from its
/// metadata once per <see cref="Code"/> at start-up, and the few questions that also need a
/// decoded form's operands (a memory operand or not, which registers). Translation-time
/// mostly; the interpreter only reads <see cref="InstrFlags"/> by array index.
/// </summary>
/// <remarks>
/// Iced describes instances, not codes: for each implemented code we build its general form
/// from <see cref="OpCodeInfo"/> (the operand kinds the encoding allows), once with its r/m
/// operands as registers and once as memory, and ask <see cref="InstructionInfoFactory"/>
/// what they read and write. A shift's immediate count is 2 and two register operands
/// differ, so the flags are those of the general case: Iced narrows them for a masked count
/// of 0 or 1 and for XOR/SUB of a register with itself, and both narrowings only drop flags
/// (SDM Vol. 2B, SAL/SAR/SHL/SHR: "If the count is 0, the flags are not affected").
/// </remarks>
public static class InstructionFacts
{
    private const InstrFlags Derived = InstrFlags.Branch | InstrFlags.AccessesMemory | InstrFlags.WritesMemory
        | InstrFlags.AccessesOperandMemory | InstrFlags.WritesOperandMemory | InstrFlags.FaultFreeWithoutMemory
        | InstrFlags.StringOperation;

    /// <summary>Derives the Iced facts of every code; called once by <see cref="InstructionTable"/>'s constructor.</summary>
    internal static void Derive()
    {
        var factory = new InstructionInfoFactory();
        for (int c = 0; c < InstructionTable.CodeCount; c++)
        {
            Code code = (Code)c;
            InstrFlags f = InstructionTable.Info[c] & ~Derived;
            if (code.FlowControl() != FlowControl.Next) f |= InstrFlags.Branch;
            if ((f & InstrFlags.Implemented) == 0 || code.Encoding() != EncodingKind.Legacy)
            {
                Instruction bare = default;
                bare.Code = code;
                bare.Op0Register = Register.EAX; // two different registers: not XOR of a register with itself
                bare.Op1Register = Register.ECX;
                bare.Immediate8 = 2;
                InstructionTable.FlagsRead[c] = bare.RflagsRead;
                InstructionTable.FlagsModified[c] = bare.RflagsModified;
                InstructionTable.Info[c] = f;
                continue;
            }

            Instruction registers = GeneralForm(code, memory: false, alternate: false);
            Instruction memory = GeneralForm(code, memory: true, alternate: false);
            Instruction other = GeneralForm(code, memory: false, alternate: true);
            InstructionTable.FlagsRead[c] = registers.RflagsRead;
            InstructionTable.FlagsModified[c] = registers.RflagsModified;

            InstructionInfo r = factory.GetInfo(registers);
            foreach (UsedMemory m in r.GetUsedMemory())
            {
                if (m.Access == OpAccess.NoMemAccess) continue;
                f |= InstrFlags.AccessesMemory;
                if (IsWrite(m.Access)) f |= InstrFlags.WritesMemory;
            }
            int written = 0;
            OpCodeInfo op = code.ToOpCode();
            for (int n = 0; n < registers.OpCount; n++)
            {
                if (IsWrite(r.GetOpAccess(n))) written |= 1 << n;
                if (op.GetOpKind(n) is OpCodeOperandKind.seg_rSI or OpCodeOperandKind.es_rDI or OpCodeOperandKind.seg_rDI)
                    f |= InstrFlags.StringOperation;
            }
            InstructionTable.OperandsWritten[c] = (byte)written;

            InstructionInfo m2 = factory.GetInfo(memory);
            for (int n = 0; n < memory.OpCount; n++)
            {
                if (memory.GetOpKind(n) != OpKind.Memory) continue;
                OpAccess a = m2.GetOpAccess(n);
                if (a is not (OpAccess.None or OpAccess.NoMemAccess)) f |= InstrFlags.AccessesOperandMemory;
                if (IsWrite(a)) f |= InstrFlags.WritesOperandMemory;
            }

            // A register the instruction writes but no written operand names is written implicitly
            // (MUL's EDX:EAX, a push's ESP). Two forms with different operand registers, so an implicit
            // register that one form's operand happens to name is still seen in the other.
            InstructionTable.ImplicitRegistersWritten[c] = (byte)(ImplicitWrites(factory, ref registers, written)
                | ImplicitWrites(factory, ref other, written));

            if (IsFaultFreeWithoutMemory(code, f)) f |= InstrFlags.FaultFreeWithoutMemory;
            InstructionTable.Info[c] = f;
        }
    }

    /// <summary>
    /// Whether an implemented, plain, straight-line instruction that does not access memory
    /// implicitly cannot fault anyway: no #DE of its own, not an x87 or MMX instruction (#NM when CR0.EM or CR0.TS is set, #MF on a pending x87 exception: SDM
    /// Vol. 3A 2.5 and 8.1.3).
    /// </summary>
    private static bool IsFaultFreeWithoutMemory(Code code, InstrFlags f)
    {
        if ((f & (InstrFlags.Sensitive | InstrFlags.EndsBlock | InstrFlags.Branch | InstrFlags.AccessesMemory)) != 0) return false;
        foreach (CpuidFeature feature in code.CpuidFeatures())
            if (feature is CpuidFeature.FPU or CpuidFeature.FPU287 or CpuidFeature.FPU287XL_ONLY or CpuidFeature.FPU387
                or CpuidFeature.MMX)
                return false;
        // The exceptions an instruction raises on register operands alone (SDM Vol. 2, each
        // instruction's "Protected Mode Exceptions"); INT, INTO, UD0-UD2 and BOUND are already out
        // (Iced's flow control; BOUND's operand is always memory).
        return code.Mnemonic() switch
        {
            Mnemonic.Div or Mnemonic.Idiv or Mnemonic.Aam => false, // #DE: divide by zero, quotient too large
            Mnemonic.Wait => false,                                 // #NM (CR0.MP and TS), #MF: an x87 wait
            _ => true,
        };
    }

    private static int ImplicitWrites(InstructionInfoFactory factory, ref Instruction form, int operandsWritten)
    {
        InstructionInfo info = factory.GetInfo(form);
        int named = 0;
        for (int n = 0; n < form.OpCount; n++)
            if ((operandsWritten & (1 << n)) != 0 && form.GetOpKind(n) == OpKind.Register) named |= GeneralRegisterBit(form.GetOpRegister(n));
        int mask = 0;
        foreach (UsedRegister u in info.GetUsedRegisters())
            if (IsWrite(u.Access)) mask |= GeneralRegisterBit(u.Register);
        return mask & ~named;
    }

    /// <summary>
    /// The general form of a code as the decoder would produce it: Iced's operand kinds for
    /// its encoding, r/m operands as registers or as memory, operand registers numbered from
    /// EAX (or, <paramref name="alternate"/>, from the other end), immediates of 2.
    /// </summary>
    private static Instruction GeneralForm(Code code, bool memory, bool alternate)
    {
        Instruction i = default;
        i.Code = code;
        i.CodeSize = CodeSize.Code32;
        OpCodeInfo op = code.ToOpCode();
        bool immediate = false;
        for (int n = 0; n < op.OpCount; n++)
        {
            OpCodeOperandKind k = op.GetOpKind(n);
            int number = alternate ? (k is OpCodeOperandKind.r8_reg or OpCodeOperandKind.r8_opcode or OpCodeOperandKind.r8_or_mem ? 3 - n : 7 - n) : n;
            switch (k)
            {
                case OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r32_or_mem
                    or OpCodeOperandKind.r32_or_mem_mpx or OpCodeOperandKind.mm_or_mem or OpCodeOperandKind.xmm_or_mem
                    or OpCodeOperandKind.bnd_or_mem_mpx when !memory:
                    SetRegister(ref i, n, RegisterOfClass(k, number));
                    break;
                case OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r32_or_mem
                    or OpCodeOperandKind.r32_or_mem_mpx or OpCodeOperandKind.mm_or_mem or OpCodeOperandKind.xmm_or_mem
                    or OpCodeOperandKind.bnd_or_mem_mpx or OpCodeOperandKind.mem or OpCodeOperandKind.mem_offs
                    or OpCodeOperandKind.mem_mpx or OpCodeOperandKind.mem_mib:
                    i.SetOpKind(n, OpKind.Memory);
                    i.MemoryBase = Register.EBX;
                    break;
                case OpCodeOperandKind.seg_rBX_al: // XLAT: [EBX + AL]
                    i.SetOpKind(n, OpKind.Memory);
                    i.MemoryBase = Register.EBX;
                    i.MemoryIndex = Register.AL;
                    break;
                case OpCodeOperandKind.seg_rSI:
                    i.SetOpKind(n, OpKind.MemorySegESI);
                    break;
                case OpCodeOperandKind.es_rDI:
                    i.SetOpKind(n, OpKind.MemoryESEDI);
                    break;
                case OpCodeOperandKind.seg_rDI:
                    i.SetOpKind(n, OpKind.MemorySegEDI);
                    break;
                case OpCodeOperandKind.imm8 when immediate: // ENTER's second immediate
                    i.SetOpKind(n, OpKind.Immediate8_2nd);
                    i.Immediate8_2nd = 2;
                    break;
                case OpCodeOperandKind.imm8 or OpCodeOperandKind.imm8_const_1:
                    i.SetOpKind(n, OpKind.Immediate8);
                    i.Immediate8 = (byte)(k == OpCodeOperandKind.imm8_const_1 ? 1 : 2);
                    immediate = true;
                    break;
                case OpCodeOperandKind.imm8sex16:
                    i.SetOpKind(n, OpKind.Immediate8to16);
                    i.Immediate8 = 2;
                    immediate = true;
                    break;
                case OpCodeOperandKind.imm8sex32:
                    i.SetOpKind(n, OpKind.Immediate8to32);
                    i.Immediate8 = 2;
                    immediate = true;
                    break;
                case OpCodeOperandKind.imm16:
                    i.SetOpKind(n, OpKind.Immediate16);
                    i.Immediate16 = 2;
                    immediate = true;
                    break;
                case OpCodeOperandKind.imm32:
                    i.SetOpKind(n, OpKind.Immediate32);
                    i.Immediate32 = 2;
                    immediate = true;
                    break;
                case OpCodeOperandKind.br16_1 or OpCodeOperandKind.br16_2 or OpCodeOperandKind.xbegin_2 or OpCodeOperandKind.brdisp_2:
                    i.SetOpKind(n, OpKind.NearBranch16);
                    break;
                case OpCodeOperandKind.br32_1 or OpCodeOperandKind.br32_4 or OpCodeOperandKind.xbegin_4 or OpCodeOperandKind.brdisp_4:
                    i.SetOpKind(n, OpKind.NearBranch32);
                    break;
                case OpCodeOperandKind.farbr2_2:
                    i.SetOpKind(n, OpKind.FarBranch16);
                    break;
                case OpCodeOperandKind.farbr4_2:
                    i.SetOpKind(n, OpKind.FarBranch32);
                    break;
                default:
                    // A fixed register (AL, CL, AX, DX, EAX, a segment register, ST0) is named by
                    // its kind; any other register kind takes a register of its class.
                    Register fixedRegister = FixedRegister[(int)k];
                    SetRegister(ref i, n, fixedRegister != Register.None ? fixedRegister : RegisterOfClass(k, number));
                    break;
            }
        }
        return i;
    }

    /// <summary>The register an operand kind names (al, cl, ax, dx, eax, es..gs, st0), else None.</summary>
    private static readonly Register[] FixedRegister = Enum.GetValues<OpCodeOperandKind>()
        .Select(k => Enum.TryParse(k.ToString(), ignoreCase: true, out Register r) ? r : Register.None).ToArray();

    private static void SetRegister(ref Instruction i, int n, Register r)
    {
        i.SetOpKind(n, OpKind.Register);
        i.SetOpRegister(n, r);
    }

    /// <summary>Register <paramref name="number"/> of the class an operand kind names (r8, r16, r32, mm, xmm, Sreg, CRn, DRn, TRn, ST(i)).</summary>
    private static Register RegisterOfClass(OpCodeOperandKind k, int number)
    {
        string name = k.ToString();
        int at(Register first, int count) => (int)first + number % count;
        return (Register)(name.StartsWith("r8_") ? at(Register.AL, 8)
            : name.StartsWith("r16_") ? at(Register.AX, 8)
            : name.StartsWith("r32_") ? at(Register.EAX, 8)
            : name.StartsWith("mm_") ? at(Register.MM0, 8)
            : name.StartsWith("xmm_") ? at(Register.XMM0, 8)
            : name.StartsWith("seg_") ? at(Register.ES, 6)
            : name.StartsWith("cr_") ? (int)Register.CR0
            : name.StartsWith("dr_") ? (int)Register.DR0
            : name.StartsWith("tr_") ? (int)Register.TR3
            : name.StartsWith("sti_") ? at(Register.ST0, 8)
            : name.StartsWith("bnd_") ? at(Register.BND0, 4)
            : throw new InvalidOperationException($"no register for operand kind {k}"));
    }

    private static bool IsWrite(OpAccess a) => a is OpAccess.Write or OpAccess.ReadWrite or OpAccess.CondWrite or OpAccess.ReadCondWrite;

    /// <summary>The bit of the 32-bit general register that holds <paramref name="r"/> (AL, AH, AX, EAX: bit 0), or 0.</summary>
    public static int GeneralRegisterBit(Register r) =>
        r is >= Register.AL and <= Register.BH || r is >= Register.AX and <= Register.DI || r is >= Register.EAX and <= Register.EDI
            ? 1 << (r.GetFullRegister32() - Register.EAX)
            : 0;

    // What one decoded form does: the code's facts with its operands.

    /// <summary>Whether any operand is an explicit memory operand (r/m, moffs, XLAT's table, LEA's address).</summary>
    public static bool HasMemoryOperand(ref Instruction i)
    {
        for (int n = 0; n < i.OpCount; n++)
            if (i.GetOpKind(n) == OpKind.Memory) return true;
        return false;
    }

    /// <summary>Whether it may read or write memory (the stack included).</summary>
    public static bool MayAccessMemory(ref Instruction i)
    {
        InstrFlags f = InstructionTable.Info[(int)i.Code];
        return (f & InstrFlags.AccessesMemory) != 0 || (f & InstrFlags.AccessesOperandMemory) != 0 && HasMemoryOperand(ref i);
    }

    /// <summary>Whether it may write memory (a memory operand, the stack, a string destination).</summary>
    public static bool MayWriteMemory(ref Instruction i)
    {
        InstrFlags f = InstructionTable.Info[(int)i.Code];
        return (f & InstrFlags.WritesMemory) != 0 || (f & InstrFlags.WritesOperandMemory) != 0 && HasMemoryOperand(ref i);
    }

    /// <summary>Whether this form cannot raise an exception: a NOP (its memory operand is never accessed), or fault-free code that accesses no memory.</summary>
    public static bool IsFaultFree(ref Instruction i)
    {
        InstrFlags f = InstructionTable.Info[(int)i.Code];
        if ((f & InstrFlags.NoOperation) != 0) return true;
        return (f & InstrFlags.FaultFreeWithoutMemory) != 0 && !MayAccessMemory(ref i);
    }

    /// <summary>Whether a REP/REPE/REPNE prefix repeats it (a string instruction), counting down ECX.</summary>
    public static bool IsRepeated(ref Instruction i) =>
        (i.HasRepPrefix || i.HasRepePrefix || i.HasRepnePrefix) && InstructionTable.Has(i.Code, InstrFlags.StringOperation);

    /// <summary>The general registers it may write (bit n: the 32-bit register numbered n, EAX = 0).</summary>
    public static int RegistersWritten(ref Instruction i)
    {
        int c = (int)i.Code;
        int mask = InstructionTable.ImplicitRegistersWritten[c];
        int operands = InstructionTable.OperandsWritten[c];
        for (int n = 0; operands != 0; n++, operands >>= 1)
            if ((operands & 1) != 0 && i.GetOpKind(n) == OpKind.Register) mask |= GeneralRegisterBit(i.GetOpRegister(n));
        if (IsRepeated(ref i)) mask |= 1 << 1; // ECX (or CX) counts the repetitions
        return mask;
    }
}
