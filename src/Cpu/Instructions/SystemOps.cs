using Emu.Memory;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// Monitor routines for the sensitive instructions that touch flags, I/O, time, identity
/// and interrupts: CLI, STI, PUSHF, POPF, IN, OUT, HLT, INT n, INT3, INTO, INT1, CPUID,
/// RDTSC. Each does its own privilege checks (Intel SDM Vol. 2 and Vol. 3, chapter 6).
/// </summary>
public static unsafe class SystemOps
{
    public static int Iopl(Cpu c) => (int)(c.Eflags >> Flags.IoplShift) & 3;

    private static GuestFault GP0 => GuestFault.Create(ExceptionVectors.GP, 0);

    /// <summary>
    /// I/O permission for IN/OUT/INS/OUTS: allowed in real mode and when CPL &lt;= IOPL;
    /// otherwise (and always in virtual-8086 mode) the TSS I/O permission bitmap decides.
    /// </summary>
    public static void CheckIoPermission(Cpu c, ushort port, int bytes)
    {
        if (!c.ProtectedMode) return;
        if (!c.V86Mode && c.Cpl <= Iopl(c)) return;
        if (!IoBitmapAllows(c, port, bytes)) throw GP0;
    }

    /// <summary>The I/O permission bitmap check (Intel SDM Vol. 1, 19.5.2): every bit of the access must be clear.</summary>
    private static bool IoBitmapAllows(Cpu c, ushort port, int bytes)
    {
        ref SegmentCache tr = ref c.Tr;
        uint type = tr.Rights & 0xF;
        if ((type & 0x9) != 0x9 || tr.Limit < 0x67) return false; // no 32-bit TSS, no bitmap
        uint mapBase = c.Mmu.Read16(tr.Base + 0x66);
        uint offset = mapBase + (uint)(port >> 3);
        if (offset + 1 > tr.Limit) return false;
        uint bits = c.Mmu.Read16(tr.Base + offset);
        uint mask = ((1u << bytes) - 1) << (port & 7);
        return (bits & mask) == 0;
    }

    private static void InH(Cpu c, ref Instruction i)
    {
        int size = Shapes.SizeOfRegister(i.Op0Register);
        ushort port = i.Op1Kind == OpKind.Register ? (ushort)c.Gpr[Reg.EDX] : i.Immediate8;
        CheckIoPermission(c, port, OperandSize.Bytes(size));
        c.SetReg(Reg.EAX, size, c.Io.In(port, OperandSize.Bytes(size)));
    }

    private static void OutH(Cpu c, ref Instruction i)
    {
        int size = Shapes.SizeOfRegister(i.Op1Register);
        ushort port = i.Op0Kind == OpKind.Register ? (ushort)c.Gpr[Reg.EDX] : i.Immediate8;
        CheckIoPermission(c, port, OperandSize.Bytes(size));
        c.Io.Out(port, OperandSize.Bytes(size), c.GetReg(Reg.EAX, size));
    }

    /// <summary>CLI/STI: in protected mode CPL must not exceed IOPL, in virtual-8086 mode IOPL must be 3.</summary>
    private static void CheckIfChange(Cpu c)
    {
        if (!c.ProtectedMode) return;
        if (c.V86Mode ? Iopl(c) != 3 : c.Cpl > Iopl(c)) throw GP0;
    }

    private static void Cli(Cpu c, ref Instruction i)
    {
        CheckIfChange(c);
        c.Eflags &= ~Flags.IF;
    }

    private static void Sti(Cpu c, ref Instruction i)
    {
        CheckIfChange(c);
        if ((c.Eflags & Flags.IF) == 0) c.InterruptShadow = true;
        c.Eflags |= Flags.IF;
    }

    /// <summary>PUSHF/PUSHFD: VM and RF read as 0 in the image; #GP(0) in virtual-8086 mode with IOPL &lt; 3.</summary>
    public static void Pushf(Cpu c, int size)
    {
        if (c.V86Mode && Iopl(c) != 3) throw GP0;
        uint f = c.GetEflags() & ~(Flags.VM | Flags.RF);
        StackOps.Push(c, f, size);
    }

    /// <summary>POPF/POPFD with the privilege rules of Intel SDM Vol. 2, POPF.</summary>
    public static void Popf(Cpu c, int size)
    {
        if (c.V86Mode && Iopl(c) != 3) throw GP0;
        uint v = c.ReadMem(SegReg.SS, c.StackPointer, size);
        uint changeable = Flags.Arith | Flags.TF | Flags.DF | Flags.NT | Flags.AC | Flags.ID | Flags.IF | Flags.IOPL;
        if (c.V86Mode || c.Cpl > 0) changeable &= ~Flags.IOPL;
        if (c.ProtectedMode && !c.V86Mode && c.Cpl > Iopl(c)) changeable &= ~Flags.IF;
        if (size == 1) changeable &= 0xFFFF;
        c.StackPointer = c.StackOffset(OperandSize.Bytes(size));
        uint old = c.GetEflags();
        uint nf = (old & ~changeable) | (v & changeable);
        if (size == 2) nf &= ~Flags.RF;
        c.SetEflags(nf);
    }

    private static void PushfW(Cpu c, ref Instruction i) => Pushf(c, 1);
    private static void PushfD(Cpu c, ref Instruction i) => Pushf(c, 2);
    private static void PopfW(Cpu c, ref Instruction i) => Popf(c, 1);
    private static void PopfD(Cpu c, ref Instruction i) => Popf(c, 2);

    /// <summary>HLT: CPL 0 only. The CPU stops until an interrupt; EIP is the next instruction.</summary>
    private static void Hlt(Cpu c, ref Instruction i)
    {
        if (c.ProtectedMode && c.Cpl != 0) throw GP0;
        c.Halted = true;
        c.Eip = ControlTransfer.NextEip(c, ref i);
        c.BlockExit = BlockExitKind.EipSet;
        c.RequestStop(StopReason.Halted);
    }

    /// <summary>INT n: a software interrupt; in virtual-8086 mode IOPL must be 3 (without VME).</summary>
    private static void IntN(Cpu c, ref Instruction i)
    {
        if (c.V86Mode && Iopl(c) != 3) throw GP0;
        uint at = c.Eip;
        c.Eip = ControlTransfer.NextEip(c, ref i);
        throw GuestFault.SoftwareInterrupt(i.Immediate8, at);
    }

    /// <summary>INT3: #BP as a trap; not IOPL-sensitive.</summary>
    private static void Int3(Cpu c, ref Instruction i)
    {
        uint at = c.Eip;
        c.Eip = ControlTransfer.NextEip(c, ref i);
        throw GuestFault.SoftwareInterrupt(ExceptionVectors.BP, at);
    }

    /// <summary>INTO: #OF as a trap when OF=1, else nothing.</summary>
    private static void Into(Cpu c, ref Instruction i)
    {
        uint at = c.Eip;
        c.Eip = ControlTransfer.NextEip(c, ref i);
        if (c.GetOF() != 0) throw GuestFault.SoftwareInterrupt(ExceptionVectors.OF, at);
    }

    /// <summary>INT1 (ICEBP, F1): #DB delivered as a trap, without the gate DPL check.</summary>
    private static void Int1(Cpu c, ref Instruction i)
    {
        c.Eip = ControlTransfer.NextEip(c, ref i);
        throw GuestFault.Create(ExceptionVectors.DB);
    }

    private static void Cpuid(Cpu c, ref Instruction i)
    {
        var (a, b, cx, d) = CpuidInfo.Leaf(c.Gpr[Reg.EAX]);
        c.Gpr[Reg.EAX] = a;
        c.Gpr[Reg.EBX] = b;
        c.Gpr[Reg.ECX] = cx;
        c.Gpr[Reg.EDX] = d;
    }

    /// <summary>RDTSC: #GP(0) when CR4.TSD=1 and CPL &gt; 0.</summary>
    private static void Rdtsc(Cpu c, ref Instruction i)
    {
        if ((c.Cr4 & Cr4Bits.TSD) != 0 && c.Cpl != 0 && c.ProtectedMode) throw GP0;
        ulong t = c.ReadTsc();
        c.Gpr[Reg.EAX] = (uint)t;
        c.Gpr[Reg.EDX] = (uint)(t >> 32);
    }

    internal static void Register()
    {
        foreach (Code code in new[] { Code.In_AL_imm8, Code.In_AX_imm8, Code.In_EAX_imm8, Code.In_AL_DX, Code.In_AX_DX, Code.In_EAX_DX })
            InstructionTable.AddSensitive(code, &InH);
        foreach (Code code in new[] { Code.Out_imm8_AL, Code.Out_imm8_AX, Code.Out_imm8_EAX, Code.Out_DX_AL, Code.Out_DX_AX, Code.Out_DX_EAX })
            InstructionTable.AddSensitive(code, &OutH);
        InstructionTable.AddSensitive(Code.Cli, &Cli);
        InstructionTable.AddSensitive(Code.Sti, &Sti, endsBlock: true, flatGoesOn: true);
        InstructionTable.AddSensitive(Code.Pushfw, &PushfW);
        InstructionTable.AddSensitive(Code.Pushfd, &PushfD);
        InstructionTable.AddSensitive(Code.Popfw, &PopfW, endsBlock: true, flatGoesOn: true);
        InstructionTable.AddSensitive(Code.Popfd, &PopfD, endsBlock: true, flatGoesOn: true);
        InstructionTable.AddSensitive(Code.Hlt, &Hlt, endsBlock: true);
        InstructionTable.AddSensitive(Code.Int_imm8, &IntN);
        InstructionTable.AddSensitive(Code.Int3, &Int3);
        InstructionTable.AddSensitive(Code.Into, &Into);
        InstructionTable.AddSensitive(Code.Int1, &Int1);
        InstructionTable.AddSensitive(Code.Cpuid, &Cpuid);
        InstructionTable.AddSensitive(Code.Rdtsc, &Rdtsc);
        Segments.Register();
        ControlRegisters.Register();
        ModelSpecific.Register();
    }
}
