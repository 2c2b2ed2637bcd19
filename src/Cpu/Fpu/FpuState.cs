using System.Runtime.CompilerServices;

namespace Emu.X86;

/// <summary>x87 status-word bits (Intel SDM Vol. 1, 8.1.3, Figure 8-4).</summary>
public static class FpuStatus
{
    public const ushort IE = 1 << 0, DE = 1 << 1, ZE = 1 << 2, OE = 1 << 3, UE = 1 << 4, PE = 1 << 5,
        SF = 1 << 6, ES = 1 << 7, C0 = 1 << 8, C1 = 1 << 9, C2 = 1 << 10, TopMask = 7 << 11, C3 = 1 << 14, B = 1 << 15;

    /// <summary>The six exception flags.</summary>
    public const ushort Exceptions = IE | DE | ZE | OE | UE | PE;

    public const ushort ConditionCodes = C0 | C1 | C2 | C3;
}

/// <summary>x87 control-word fields (Intel SDM Vol. 1, 8.1.5, Figure 8-6).</summary>
public static class FpuControl
{
    /// <summary>The exception masks IM, DM, ZM, OM, UM, PM (bits 0-5, same positions as the status flags).</summary>
    public const ushort Masks = 0x3F;
    public const int PrecisionShift = 8, RoundingShift = 10;
    public const ushort PrecisionMask = 3 << PrecisionShift, RoundingMask = 3 << RoundingShift;
    /// <summary>The infinity-control bit (bit 12): kept for 287 compatibility, no effect.</summary>
    public const ushort X = 1 << 12;

    /// <summary>Precision control: 00 single (24 bits), 10 double (53), 11 double extended (64); 01 is reserved.</summary>
    public const int Single = 0, Reserved = 1, Double = 2, Extended = 3;

    /// <summary>Rounding control: to nearest (even), down (toward -inf), up (toward +inf), toward zero.</summary>
    public const int Nearest = 0, Down = 1, Up = 2, TowardZero = 3;

    /// <summary>The control word after FNINIT (and RESET): all exceptions masked, 64-bit precision, round to nearest.</summary>
    public const ushort Initial = 0x037F;
}

/// <summary>
/// The x87 FPU and MMX state (Intel SDM Vol. 1, 8.1): eight physical data registers R0-R7
/// (MMX registers alias their significands), the control and status words, the tags,
/// and the last instruction and operand pointers. Both engines reach it through
/// <see cref="Cpu.Fpu"/>; the instruction semantics are in the X87* and Mmx groups.
/// </summary>
public sealed class FpuState
{
    /// <summary>Physical registers R0-R7 (ST(i) is R[(TOP + i) mod 8]).</summary>
    public FpuRegisterFile R;

    public ushort ControlWord;

    /// <summary>
    /// The status word without TOP (in <see cref="Top"/>) and without ES and B (derived, see
    /// <see cref="ErrorSummary"/>): the exception flags, SF and the condition codes.
    /// </summary>
    public ushort StatusWord;

    /// <summary>Top of stack, 0-7.</summary>
    public int Top;

    /// <summary>
    /// The abridged tag (as FXSAVE stores it): bit i set when physical register Ri is not
    /// empty. The two-bit tags that FSTENV and FSAVE report are derived from the register
    /// contents (Intel SDM Vol. 1, 8.1.7).
    /// </summary>
    public byte Valid;

    /// <summary>Last x87 instruction pointer: offset and CS selector of the last non-control instruction.</summary>
    public uint Fip;
    public ushort Fcs;

    /// <summary>Last operand pointer: offset and segment selector of the last memory operand.</summary>
    public uint Fdp;
    public ushort Fds;

    /// <summary>The last opcode (11 bits: the low 3 bits of the first opcode byte, then the ModR/M byte).</summary>
    public ushort Fop;

    /// <summary>Whether the FERR# output is asserted now (MS-DOS compatibility mode, CR0.NE=0).</summary>
    public bool FerrAsserted;

    /// <summary>
    /// The power-up and RESET state (Intel SDM Vol. 3, Table 9-1): control word 0040h (all
    /// exceptions unmasked, single precision), status 0, every register +0.0 and tagged
    /// "zero" (tag word 5555h), pointers and opcode 0. Firmware runs FNINIT before using it.
    /// </summary>
    public void Reset()
    {
        Init();
        ControlWord = 0x0040;
        for (int i = 0; i < 8; i++) R[i] = default;
        Valid = 0xFF;
        FerrAsserted = false;
    }

    /// <summary>FNINIT: control 037Fh, status 0, all registers empty, pointers and opcode zero; register contents kept.</summary>
    public void Init()
    {
        ControlWord = FpuControl.Initial;
        StatusWord = 0;
        Top = 0;
        Valid = 0;
        Fip = Fdp = 0;
        Fcs = Fds = Fop = 0;
    }

    public int PrecisionControl => (ControlWord >> FpuControl.PrecisionShift) & 3;
    public int RoundingControl => (ControlWord >> FpuControl.RoundingShift) & 3;

    /// <summary>The status word as FNSTSW stores it: with TOP, and ES and B derived.</summary>
    public ushort Sw => (ushort)(StatusWord | (Top << 11) | (ErrorSummary ? FpuStatus.ES | FpuStatus.B : 0));

    /// <summary>Loads a whole status word (FLDENV, FRSTOR, FXRSTOR).</summary>
    public void SetSw(ushort value)
    {
        Top = (value >> 11) & 7;
        StatusWord = (ushort)(value & ~(FpuStatus.TopMask | FpuStatus.ES | FpuStatus.B));
    }

    /// <summary>The physical register number of ST(i).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Phys(int i) => (Top + i) & 7;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ref Float80 St(int i) => ref R[(Top + i) & 7];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsEmpty(int i) => (Valid & (1 << ((Top + i) & 7))) == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetValid(int i) => Valid |= (byte)(1 << ((Top + i) & 7));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetEmpty(int i) => Valid &= (byte)~(1 << ((Top + i) & 7));

    /// <summary>Pops: marks ST(0) empty and increments TOP.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Pop()
    {
        Valid &= (byte)~(1 << Top);
        Top = (Top + 1) & 7;
    }

    /// <summary>Pushes: decrements TOP and stores <paramref name="v"/> in the new, now valid, ST(0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Push(Float80 v)
    {
        Top = (Top - 1) & 7;
        R[Top] = v;
        Valid |= (byte)(1 << Top);
    }

    /// <summary>Stores into ST(i) and marks it valid.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Store(int i, Float80 v)
    {
        int p = (Top + i) & 7;
        R[p] = v;
        Valid |= (byte)(1 << p);
    }

    /// <summary>The two-bit tag of physical register <paramref name="phys"/>: 0 valid, 1 zero, 2 special, 3 empty.</summary>
    public int TagOf(int phys) => (Valid & (1 << phys)) == 0 ? 3 : R[phys].Tag;

    /// <summary>The full tag word (FSTENV, FSAVE), derived from the register contents.</summary>
    public ushort TagWord
    {
        get
        {
            int t = 0;
            for (int p = 0; p < 8; p++) t |= TagOf(p) << (2 * p);
            return (ushort)t;
        }
    }

    /// <summary>Loads a full tag word (FLDENV, FRSTOR): only "empty" (11b) or not matters; the rest is derived again.</summary>
    public void SetTagWord(ushort tags)
    {
        int v = 0;
        for (int p = 0; p < 8; p++)
            if (((tags >> (2 * p)) & 3) != 3) v |= 1 << p;
        Valid = (byte)v;
    }

    /// <summary>
    /// The error-summary status ES (and B, which mirrors it on the 387 and later): set
    /// exactly when an exception flag is set whose mask is clear. It is derived, never
    /// stored: a control word that unmasks a set flag makes an exception pending at once,
    /// and a loaded status word's own ES bit counts for nothing (what the host shows for
    /// FLDCW, FLDENV, FRSTOR and FNSTENV; Intel SDM Vol. 2, FLDCW).
    /// </summary>
    public bool ErrorSummary
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => (StatusWord & ~ControlWord & FpuStatus.Exceptions) != 0;
    }

    /// <summary>Makes this state a copy of <paramref name="other"/> (lockstep starts its shadow CPU so).</summary>
    public void CopyFrom(FpuState other)
    {
        R = other.R;
        ControlWord = other.ControlWord;
        StatusWord = other.StatusWord;
        Top = other.Top;
        Valid = other.Valid;
        Fip = other.Fip;
        Fcs = other.Fcs;
        Fdp = other.Fdp;
        Fds = other.Fds;
        Fop = other.Fop;
        FerrAsserted = other.FerrAsserted;
    }

    /// <summary>The first difference from <paramref name="actual"/> (this is the expected state), or null.</summary>
    public StateDifference? FirstDifference(FpuState actual)
    {
        for (int i = 0; i < 8; i++)
        {
            Float80 e = R[i], a = actual.R[i];
            if (e.Significand != a.Significand || e.SignExponent != a.SignExponent)
                return new StateDifference($"FPU R{i}", $"{e.SignExponent:X4}:{e.Significand:X16}", $"{a.SignExponent:X4}:{a.Significand:X16}");
        }
        if (ControlWord != actual.ControlWord) return Cpu.Hex("FPU control word", ControlWord, actual.ControlWord);
        if (StatusWord != actual.StatusWord) return Cpu.Hex("FPU status word", StatusWord, actual.StatusWord);
        if (Top != actual.Top) return Cpu.Dec("FPU TOP", Top, actual.Top);
        if (Valid != actual.Valid) return Cpu.Hex("FPU abridged tag", Valid, actual.Valid);
        if (Fip != actual.Fip) return Cpu.Hex("FPU instruction pointer (FIP)", Fip, actual.Fip);
        if (Fcs != actual.Fcs) return Cpu.Hex("FPU instruction selector (FCS)", Fcs, actual.Fcs);
        if (Fdp != actual.Fdp) return Cpu.Hex("FPU operand pointer (FDP)", Fdp, actual.Fdp);
        if (Fds != actual.Fds) return Cpu.Hex("FPU operand selector (FDS)", Fds, actual.Fds);
        if (Fop != actual.Fop) return Cpu.Hex("FPU opcode (FOP)", Fop, actual.Fop);
        if (FerrAsserted != actual.FerrAsserted) return new StateDifference("FPU FERR#", FerrAsserted.ToString(), actual.FerrAsserted.ToString());
        return null;
    }
}
