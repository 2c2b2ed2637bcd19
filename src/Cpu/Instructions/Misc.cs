using Emu.Memory;
using Iced.Intel;

namespace Emu.X86;

/// <summary>NOP forms, BOUND, and the P6 instructions not implemented yet (which stop the run with a clear message).</summary>
public static unsafe class Misc
{
    /// <summary>Does nothing; a NOP with a memory operand does not access it.</summary>
    private static void Nop(Cpu c, ref Instruction i) { }

    /// <summary>BOUND r, m: #BR (a fault) when the signed index lies outside [lower, upper].</summary>
    private static void Bound<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize
    {
        int size = TSize.Size;
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        uint upperAt = ea + (uint)OperandSize.Bytes(size);
        if (Cpu.AddressSize16(ref i)) upperAt &= 0xFFFF;
        int lower = (int)OperandSize.SignExtend(c.ReadMem(seg, ea, size), size);
        int upper = (int)OperandSize.SignExtend(c.ReadMem(seg, upperAt, size), size);
        int index = (int)OperandSize.SignExtend(c.GetReg(Cpu.RegNum(i.Op0Register), size), size);
        if (index < lower || index > upper) throw GuestFault.Create(ExceptionVectors.BR);
    }

    private static void NotImplemented(Cpu c, ref Instruction i) =>
        throw new EmulatorLimitationException($"instruction {i.Mnemonic.ToString().ToUpperInvariant()} is not implemented yet");

    internal static void Register()
    {
        foreach (Code code in new[] { Code.Nopw, Code.Nopd, Code.Nop_rm16, Code.Nop_rm32, Code.Pause })
            InstructionTable.Add(code, &Nop, InstrFlags.NoOperation);
        // 0F 19-0F 1F: the reserved-NOP (hint) space, a NOP on P6 and later.
        foreach (Code code in System.Enum.GetValues<Code>())
        {
            string name = code.ToString();
            if (name.StartsWith("Reservednop_", System.StringComparison.Ordinal) && !name.Contains("rm64") && name[^4..] is not "0F0D")
                InstructionTable.Add(code, &Nop, InstrFlags.NoOperation);
        }
        // Iced names some encodings of that space after later instructions that took them over:
        // ENDBR32 (F3 0F 1E FB) and the other CET forms, 0F 18 /0-/3 PREFETCHh, /6-/7 PREFETCHITn,
        // 0F 1C /0 CLDEMOTE. The P6 we emulate has none of them and runs them as the hint NOPs they
        // are (which is why CET-built code, such as Debian's libgcc, runs on a P6).
        foreach (Code code in new[] { Code.Endbr32, Code.Endbr64, Code.Rdsspd_r32, Code.Prefetchnta_m8, Code.Prefetcht0_m8,
                     Code.Prefetcht1_m8, Code.Prefetcht2_m8, Code.Prefetchit0_m8, Code.Prefetchit1_m8, Code.Cldemote_m8 })
            InstructionTable.Add(code, &Nop, InstrFlags.NoOperation);
        // UD2, UD0 and UD1 exist to raise #UD.
        foreach (Code code in new[] { Code.Ud2, Code.Ud0, Code.Ud0_r16_rm16, Code.Ud0_r32_rm32, Code.Ud1_r16_rm16, Code.Ud1_r32_rm32 })
            InstructionTable.Add(code, &InstructionTable.Undefined);
        InstructionTable.Add(Code.Bound_r16_m1616, &Bound<Word16>);
        InstructionTable.Add(Code.Bound_r32_m3232, &Bound<Dword32>);

        // P6 instructions whose system semantics come with the system-architecture work.
        foreach (Code code in new[] { Code.Rdpmc })
            InstructionTable.AddSensitive(code, &NotImplemented, endsBlock: true);
    }
}
