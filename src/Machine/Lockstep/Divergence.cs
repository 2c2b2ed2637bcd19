using System.Collections.Generic;
using System.Text;

namespace Emu.Machine.Lockstep;

/// <summary>
/// The first place where the engine under test and the interpreter disagreed, as lockstep
/// found it: the step (a block) that produced the difference, what differs, and both values.
/// </summary>
/// <param name="Cs">CS selector at the start of the step.</param>
/// <param name="Eip">EIP at the start of the step: the block's address.</param>
/// <param name="Linear">The block's linear address (CS base + EIP).</param>
/// <param name="InstructionsBefore">Instructions retired before the step.</param>
/// <param name="Engine">The engine checked ("translator").</param>
/// <param name="What">What differs: a register ("EAX", "EFLAGS", "CS.base"), "memory at 0x...", a device access, how the step ended.</param>
/// <param name="Expected">The interpreter's value.</param>
/// <param name="Actual">The checked engine's value.</param>
/// <param name="Others">Further differences found after the same step (state, memory), at most a few.</param>
/// <param name="Code">The step's code, disassembled, one instruction per line.</param>
/// <param name="ExpectedRegisters">The interpreter's registers after the step.</param>
/// <param name="ActualRegisters">The checked engine's registers after the step.</param>
public sealed record Divergence(ushort Cs, uint Eip, uint Linear, long InstructionsBefore, string Engine,
    string What, string Expected, string Actual, IReadOnlyList<string> Others, IReadOnlyList<string> Code,
    string ExpectedRegisters, string ActualRegisters)
{
    /// <summary>One line: where, what, expected and actual.</summary>
    public string Summary =>
        $"lockstep: the {Engine} diverged from the interpreter in the block at {Cs:X4}:{Eip:X8} (linear 0x{Linear:X8}), " +
        $"{InstructionsBefore} instructions into the run: {What} is {Actual}, expected {Expected}";

    /// <summary>The lines after the summary: other differences, the block's code, both register sets.</summary>
    public string Details
    {
        get
        {
            var s = new StringBuilder();
            foreach (string o in Others) s.Append("also: ").Append(o).Append('\n');
            s.Append($"the block ({Code.Count} instructions run in this step):\n");
            foreach (string line in Code) s.Append("    ").Append(line).Append('\n');
            s.Append("interpreter (expected):\n");
            foreach (string line in ExpectedRegisters.Split('\n')) s.Append("    ").Append(line).Append('\n');
            s.Append($"{Engine} (actual):\n");
            foreach (string line in ActualRegisters.Split('\n')) s.Append("    ").Append(line).Append('\n');
            return s.ToString().TrimEnd('\n');
        }
    }
}
