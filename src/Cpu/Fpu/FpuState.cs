using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Emu.X86;

/// <summary>An 80-bit extended-precision register: 64-bit significand and sign+15-bit exponent.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct Float80
{
    public ulong Significand;
    public ushort SignExponent;
}

[InlineArray(8)]
public struct FpuRegisterFile
{
    private Float80 element;
}

/// <summary>
/// The x87 FPU and MMX state (Intel SDM Vol. 1, 8.1): eight physical data registers
/// R0-R7 (MMX registers alias their significands), the control, status and tag words,
/// and the last instruction and operand pointers. The arithmetic lives with the x87
/// instructions; this is the state both engines reach.
/// </summary>
public sealed class FpuState
{
    /// <summary>Physical registers R0-R7 (ST(i) is R[(TOP + i) mod 8]).</summary>
    public FpuRegisterFile R;
    public ushort ControlWord;
    /// <summary>Status word without TOP; TOP lives in <see cref="Top"/>.</summary>
    public ushort StatusWord;
    public int Top;
    /// <summary>Full tag word, two bits per physical register: 0 valid, 1 zero, 2 special, 3 empty.</summary>
    public ushort TagWord;
    public uint InstructionPointer, OperandPointer;
    public ushort InstructionSelector, OperandSelector, Opcode;

    public void Reset()
    {
        // FNINIT state (Intel SDM Vol. 1, 8.1.x; Table 9-1 gives the power-up values).
        ControlWord = 0x037F;
        StatusWord = 0;
        Top = 0;
        TagWord = 0xFFFF;
        InstructionPointer = OperandPointer = 0;
        InstructionSelector = OperandSelector = Opcode = 0;
        for (int i = 0; i < 8; i++) R[i] = default;
    }

    /// <summary>Makes this state a copy of <paramref name="other"/> (lockstep starts its shadow CPU so).</summary>
    public void CopyFrom(FpuState other)
    {
        R = other.R;
        ControlWord = other.ControlWord;
        StatusWord = other.StatusWord;
        Top = other.Top;
        TagWord = other.TagWord;
        InstructionPointer = other.InstructionPointer;
        OperandPointer = other.OperandPointer;
        InstructionSelector = other.InstructionSelector;
        OperandSelector = other.OperandSelector;
        Opcode = other.Opcode;
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
        if (TagWord != actual.TagWord) return Cpu.Hex("FPU tag word", TagWord, actual.TagWord);
        if (InstructionPointer != actual.InstructionPointer) return Cpu.Hex("FPU instruction pointer", InstructionPointer, actual.InstructionPointer);
        if (OperandPointer != actual.OperandPointer) return Cpu.Hex("FPU operand pointer", OperandPointer, actual.OperandPointer);
        if (InstructionSelector != actual.InstructionSelector) return Cpu.Hex("FPU instruction selector", InstructionSelector, actual.InstructionSelector);
        if (OperandSelector != actual.OperandSelector) return Cpu.Hex("FPU operand selector", OperandSelector, actual.OperandSelector);
        if (Opcode != actual.Opcode) return Cpu.Hex("FPU opcode", Opcode, actual.Opcode);
        return null;
    }
}
