using System.Runtime.CompilerServices;
using Emu.Memory;
using Iced.Intel;

namespace Emu.X86;

// The x87's pins toward the board (MS-DOS compatibility mode), next to the FPU state.
public sealed partial class Cpu
{
    /// <summary>FERR# and IGNNE# (see <see cref="IFpuErrorPins"/>); null when the board does not wire them.</summary>
    public IFpuErrorPins? FpuErrorPins;
}

/// <summary>
/// What every x87 instruction shares: the CR0.EM/TS checks (#NM), the pending-exception
/// check of waiting instructions (#MF, or FERR# and a freeze in MS-DOS compatibility mode),
/// stack overflow and underflow, the exception flags and their masks, and the last
/// instruction, opcode and operand pointers.
/// </summary>
public static unsafe class X87
{
    /// <summary>For each Iced code: the FOP bits it fixes (opcode low 3 bits, reg field, or the whole second byte).</summary>
    private static readonly ushort[] FopBase = new ushort[InstructionTable.CodeCount];

    /// <summary>Registers an x87 instruction (plain: CR0 and the FPU state decide its behaviour at run time).</summary>
    internal static void Add(Code code, delegate*<Cpu, ref Instruction, void> handler)
    {
        InstructionTable.Add(code, handler);
        OpCodeInfo oc = code.ToOpCode();
        uint op = oc.OpCode;
        FopBase[(int)code] = oc.OpCodeLength == 2
            ? (ushort)((((op >> 8) & 7) << 8) | (op & 0xFF))
            : (ushort)(((op & 7) << 8) | (uint)(oc.GroupIndex < 0 ? 0 : oc.GroupIndex << 3));
    }

    // ---- entry checks ----

    /// <summary>
    /// The start of a waiting x87 instruction: #NM when CR0.EM or CR0.TS is set (Intel SDM
    /// Vol. 3, 2.5 and Table 2-2), then any pending unmasked exception. Returns false when
    /// the processor froze instead of running the instruction (MS-DOS compatibility mode).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Begin(Cpu c)
    {
        if ((c.Cr0 & (Cr0Bits.EM | Cr0Bits.TS)) != 0) throw GuestFault.Create(ExceptionVectors.NM);
        if (c.Fpu.ErrorSummary) return PendingError(c);
        return true;
    }

    /// <summary>The start of a non-waiting x87 instruction (FNINIT, FNCLEX, FNSTSW, FNSTCW, FNSTENV, FNSAVE): only #NM.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void BeginNoWait(Cpu c)
    {
        if ((c.Cr0 & (Cr0Bits.EM | Cr0Bits.TS)) != 0) throw GuestFault.Create(ExceptionVectors.NM);
    }

    /// <summary>
    /// A waiting instruction found an unmasked exception pending. Native mode (CR0.NE=1):
    /// #MF before the instruction. MS-DOS compatibility mode: with IGNNE# asserted the
    /// instruction runs; otherwise FERR# is asserted and the processor freezes on the
    /// instruction until an interrupt (the IRQ 13 that FERR# raises on a PC) is serviced,
    /// then runs it again (Intel SDM Vol. 1, D.2.1.1 and 8.7.2).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static bool PendingError(Cpu c)
    {
        if ((c.Cr0 & Cr0Bits.NE) != 0) throw GuestFault.Create(ExceptionVectors.MF);
        IFpuErrorPins? pins = c.FpuErrorPins;
        if (pins is not null && pins.IgnneAsserted) return true;
        SetFerr(c, true);
        // Frozen: EIP stays on this instruction; an interrupt wakes the CPU like HLT, and
        // after the handler returns the instruction starts again.
        c.Halted = true;
        c.BlockExit = BlockExitKind.EipSet;
        c.RequestStop(StopReason.Halted);
        return false;
    }

    /// <summary>Drives FERR# (only in MS-DOS compatibility mode; native mode reports through #MF).</summary>
    public static void SetFerr(Cpu c, bool asserted)
    {
        FpuState f = c.Fpu;
        if (f.FerrAsserted == asserted) return;
        if (asserted && (c.Cr0 & Cr0Bits.NE) != 0) return;
        f.FerrAsserted = asserted;
        c.FpuErrorPins?.SetFerr(asserted);
    }

    /// <summary>After a load or clear of the status word: FERR# follows ES.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FollowErrorSummary(Cpu c)
    {
        bool es = c.Fpu.ErrorSummary;
        if (es != c.Fpu.FerrAsserted) SetFerr(c, es);
    }

    // ---- exceptions ----

    /// <summary>Unmasked exceptions that suppress the result: invalid operation, denormal operand, zero divide.</summary>
    public const uint PreComputation = FpuStatus.IE | FpuStatus.DE | FpuStatus.ZE;

    /// <summary>
    /// Records what an operation raised: the exception flags (and SF) stick in the status
    /// word, C1 takes the operation's C1 (round-up or stack-overflow bit), and an unmasked
    /// exception sets ES and B (derived: see FpuState.ErrorSummary) and FERR#. Returns false when an unmasked invalid-operation,
    /// denormal-operand or zero-divide exception means the destination is left unchanged
    /// (Intel SDM Vol. 1, 8.5 and 8.7).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Commit(Cpu c, uint flags)
    {
        FpuState f = c.Fpu;
        if ((flags & ~(uint)f.ControlWord & FpuStatus.Exceptions) == 0)
        {
            f.StatusWord = (ushort)((f.StatusWord & ~(uint)FpuStatus.C1) | (flags & (FpuStatus.Exceptions | FpuStatus.SF | FpuStatus.C1)));
            return true;
        }
        return CommitUnmasked(c, flags);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool CommitUnmasked(Cpu c, uint flags)
    {
        FpuState f = c.Fpu;
        uint unmasked = flags & ~(uint)f.ControlWord & FpuStatus.Exceptions;
        // An unmasked invalid-operation, denormal or zero-divide exception stops the
        // instruction before it computes: nothing of the rounding (OE, UE, PE, C1) happens.
        // (A stack fault's C1 says overflow or underflow and stays.)
        if ((unmasked & PreComputation) != 0 && (flags & FpuStatus.SF) == 0)
            flags &= ~(uint)(FpuStatus.OE | FpuStatus.UE | FpuStatus.PE | FpuStatus.C1);
        uint sw = (f.StatusWord & ~(uint)FpuStatus.C1) | (flags & (FpuStatus.Exceptions | FpuStatus.SF | FpuStatus.C1));
        f.StatusWord = (ushort)sw;
        if (unmasked == 0) return true;
        Unmasked(c);
        return (unmasked & PreComputation) == 0;
    }

    /// <summary>Whether any exception in <paramref name="flags"/> is unmasked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AnyUnmasked(Cpu c, uint flags) => (flags & ~(uint)c.Fpu.ControlWord & FpuStatus.Exceptions) != 0;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Unmasked(Cpu c) => SetFerr(c, true);

    /// <summary>Flags of a stack underflow: #IS (IE with SF), C1 = 0 (Intel SDM Vol. 1, 8.5.1.1).</summary>
    public const uint StackUnderflow = FpuStatus.IE | FpuStatus.SF;

    /// <summary>Flags of a stack overflow: #IS (IE with SF), C1 = 1.</summary>
    public const uint StackOverflow = FpuStatus.IE | FpuStatus.SF | FpuStatus.C1;

    /// <summary>Whether the invalid-operation exception is masked (the masked response to #IS stores the indefinite).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool InvalidMasked(Cpu c) => (c.Fpu.ControlWord & FpuStatus.IE) != 0;

    /// <summary>
    /// Pushes the result of a load (FLD, FILD, FBLD, the constants) with the stack-overflow
    /// check: when ST(7) is in use, #IS with C1 = 1, and the masked response pushes the
    /// indefinite instead. <paramref name="flags"/> holds what the conversion raised.
    /// </summary>
    public static void PushResult(Cpu c, Float80 v, uint flags)
    {
        FpuState f = c.Fpu;
        if (!f.IsEmpty(7))
        {
            if (Commit(c, StackOverflow)) f.Push(Float80.Indefinite);
            return;
        }
        if (Commit(c, flags)) f.Push(v);
    }

    /// <summary>As <see cref="PushResult"/> for a value that raised nothing (the common loads).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PushOrdinary(Cpu c, Float80 v)
    {
        FpuState f = c.Fpu;
        int top = (f.Top - 1) & 7;
        if ((f.Valid & (1 << top)) != 0)
        {
            PushResult(c, v, 0);
            return;
        }
        f.StatusWord &= unchecked((ushort)~FpuStatus.C1);
        f.Top = top;
        f.R[top] = v;
        f.Valid |= (byte)(1 << top);
    }

    /// <summary><see cref="Commit"/> of an operation that raised nothing: C1 cleared.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CommitNoFlags(Cpu c) => c.Fpu.StatusWord &= unchecked((ushort)~FpuStatus.C1);

    /// <summary>
    /// FLD m32fp/m64fp: as <see cref="PushResult"/>, except that an unmasked denormal-operand
    /// exception does not stop the load (what the host does: the value is pushed, DE and ES set).
    /// </summary>
    public static void PushLoaded(Cpu c, Float80 v, uint flags)
    {
        FpuState f = c.Fpu;
        if (!f.IsEmpty(7))
        {
            if (Commit(c, StackOverflow)) f.Push(Float80.Indefinite);
            return;
        }
        bool ok = Commit(c, flags);
        if (ok || (flags & ~(uint)f.ControlWord & (FpuStatus.IE | FpuStatus.ZE)) == 0) f.Push(v);
    }

    // ---- pointers (Intel SDM Vol. 1, 8.1.8 and 8.1.9) ----

    /// <summary>The FOP bits an instruction's code fixes (without the ST(i) number or the ModR/M memory bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FopOf(Code code) => FopBase[(int)code];

    /// <summary>
    /// The whole FOP of a decoded x87 instruction (what the semantic methods take as
    /// <c>fop</c>): the code's bits, then the ModR/M mod and r/m of a memory operand, or
    /// the number of its ST(i) operand.
    /// </summary>
    public static ushort Fop(ref Instruction i)
    {
        int bits = 0;
        for (int n = 0; n < i.OpCount; n++)
        {
            OpKind k = i.GetOpKind(n);
            if (k == OpKind.Memory) bits = ModRmMemoryBits(ref i);
            else if (k == OpKind.Register)
            {
                Register r = i.GetOpRegister(n);
                if (r >= Register.ST0 && r <= Register.ST7) bits |= r - Register.ST0;
            }
        }
        return (ushort)(FopBase[(int)i.Code] | bits);
    }

    /// <summary>Records the last instruction pointer and opcode for a register-operand instruction.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Pointers(Cpu c, ref Instruction i, int sti) => Pointers(c, (ushort)(FopBase[(int)i.Code] | sti));

    /// <summary>Records the last instruction, opcode and operand pointers for a memory-operand instruction.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Pointers(Cpu c, ref Instruction i, int seg, uint ea) => Pointers(c, seg, ea, MemoryFop(ref i));

    /// <summary>The FOP of a memory-operand instruction.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort MemoryFop(ref Instruction i) => (ushort)(FopBase[(int)i.Code] | ModRmMemoryBits(ref i));

    /// <summary>Records the last instruction pointer (the current EIP and CS) and opcode.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Pointers(Cpu c, ushort fop)
    {
        FpuState f = c.Fpu;
        f.Fip = c.Eip;
        f.Fcs = c.Seg[SegReg.CS].Selector;
        f.Fop = fop;
    }

    /// <summary>Records the last instruction pointer and opcode, and the operand pointer <paramref name="seg"/>:<paramref name="ea"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Pointers(Cpu c, int seg, uint ea, ushort fop)
    {
        FpuState f = c.Fpu;
        f.Fip = c.Eip;
        f.Fcs = c.Seg[SegReg.CS].Selector;
        f.Fop = fop;
        f.Fdp = ea;
        f.Fds = c.Seg[seg].Selector;
    }

    /// <summary>
    /// The mod and r/m fields of a memory operand's ModR/M byte, rebuilt from the decoded
    /// addressing form (the decoder keeps no raw bytes). An encoding with a redundant SIB
    /// byte (no index, a base other than ESP) is rebuilt as the form without it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ModRmMemoryBits(ref Instruction i)
    {
        Register b = i.MemoryBase;
        if ((uint)(b - Register.EAX) < 8)
        {
            // The common form: 32-bit addressing with a base register.
            int rm = i.MemoryIndex != Register.None || b == Register.ESP ? 4 : Cpu.RegNum(b);
            int d = i.MemoryDisplSize;
            return (d == 0 ? 0 : d == 1 ? 0x40 : 0x80) | rm;
        }
        return ModRmMemoryBitsOther(ref i);
    }

    private static int ModRmMemoryBitsOther(ref Instruction i)
    {
        Register b = i.MemoryBase, x = i.MemoryIndex;
        int dsz = i.MemoryDisplSize;
        if (Cpu.AddressSize16(ref i))
        {
            if (b == Register.None && x == Register.None) return 6;
            int rm = (b, x) switch
            {
                (Register.BX, Register.SI) => 0,
                (Register.BX, Register.DI) => 1,
                (Register.BP, Register.SI) => 2,
                (Register.BP, Register.DI) => 3,
                (Register.SI, _) => 4,
                (Register.DI, _) => 5,
                (Register.BP, _) => 6,
                _ => 7,
            };
            return (dsz == 0 ? 0 : dsz == 1 ? 0x40 : 0x80) | rm;
        }
        if (b == Register.None && x == Register.None) return 5;
        int rm32 = x != Register.None || b == Register.ESP || b == Register.None ? 4 : Cpu.RegNum(b);
        int mod = b == Register.None || dsz == 0 ? 0 : dsz == 1 ? 0x40 : 0x80;
        return mod | rm32;
    }

    // ---- memory operands ----

    /// <summary>
    /// The linear addresses of the two pieces of a 10-byte memory operand (m80fp, m80bcd):
    /// 8 bytes at the effective address and 2 at 8 past it, each checked against the
    /// segment, and for writes probed before anything changes. With 16-bit addressing the
    /// second piece's offset wraps at 64 KiB, as the host accesses it.
    /// </summary>
    public static void TenByteAddress(Cpu c, ref Instruction i, int seg, uint ea, bool write, out uint low, out uint high) =>
        TenByteAddress(c, Cpu.AddressSize16(ref i), seg, ea, write, out low, out high);

    /// <summary>As above, <paramref name="a16"/> saying whether the instruction uses 16-bit addressing.</summary>
    public static void TenByteAddress(Cpu c, bool a16, int seg, uint ea, bool write, out uint low, out uint high)
    {
        uint ea2 = ea + 8;
        if (a16) ea2 &= 0xFFFF;
        if (write)
        {
            low = StoreAddress(c, seg, ea, 8);
            high = StoreAddress(c, seg, ea2, 2);
        }
        else
        {
            low = c.LinearRead(seg, ea, 8);
            high = c.LinearRead(seg, ea2, 2);
        }
    }

    /// <summary>An m80fp operand.</summary>
    public static Float80 ReadExtended(Cpu c, bool a16, int seg, uint ea)
    {
        TenByteAddress(c, a16, seg, ea, false, out uint low, out uint high);
        ulong sig = c.Mmu.Read64(low);
        return new Float80(c.Mmu.Read16(high), sig);
    }

    /// <summary>An extended value at a linear address already checked against the segment.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float80 ReadExtendedAt(Cpu c, uint lin)
    {
        ulong sig = c.Mmu.Read64(lin);
        return new Float80(c.Mmu.Read16(lin + 8), sig);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Read64(Cpu c, int seg, uint ea) => c.Mmu.Read64(c.LinearRead(seg, ea, 8));

    /// <summary>The linear address of a store of <paramref name="size"/> bytes, checked (segment and page) before any state changes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint StoreAddress(Cpu c, int seg, uint ea, int size)
    {
        uint lin = c.LinearWrite(seg, ea, size);
        c.Mmu.ProbeWrite(lin, size);
        return lin;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write64(Cpu c, uint lin, ulong v) => c.Mmu.Write64(lin, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteExtended(Cpu c, uint lin, Float80 v)
    {
        Write64(c, lin, v.Significand);
        c.Mmu.Write16(lin + 8, v.SignExponent);
    }

    /// <summary>The number of an ST(i) operand.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int StIndex(Register r) => r - Register.ST0;
}
