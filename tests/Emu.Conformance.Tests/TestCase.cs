using System;
using System.Collections.Generic;
using Iced.Intel;

namespace Emu.Conformance.Tests;

/// <summary>A block of bytes written over the data segment's initial image for one case.</summary>
public readonly record struct Patch(ushort Offset, byte[] Bytes);

/// <summary>
/// One generated test: initial registers, flags, mode, code window and memory patches, plus
/// what the comparison must ignore (flags and results the SDM leaves undefined).
/// </summary>
public sealed class TestCase
{
    public required Form Form { get; init; }
    public int Index { get; init; }
    public ulong Seed { get; init; }

    public uint[] Gpr { get; } = new uint[8];
    /// <summary>Initial EFLAGS: only CF, PF, AF, ZF, SF, OF and DF are taken from here (IF is set).</summary>
    public uint Eflags { get; set; }
    public byte Mode { get; set; }
    public byte[] Code { get; } = new byte[Layout.CodeWindow];
    /// <summary>Where the instruction under test starts in <see cref="Code"/> (after a flag-producing one, if any).</summary>
    public int InstructionOffset { get; set; }
    public int InstructionLength { get; set; }
    public List<Patch> Patches { get; } = new();

    public bool Code16 => (Mode & Layout.ModeCode16) != 0;
    public bool Stack16 => (Mode & Layout.ModeStack16) != 0;

    /// <summary>Arithmetic flags the SDM leaves undefined after this instruction (ignored when it completes).</summary>
    public uint UndefinedFlags { get; set; }
    /// <summary>A register whose bits in <see cref="IgnoreRegisterMask"/> hold an undefined result (or -1).</summary>
    public int IgnoreRegister { get; set; } = -1;
    public uint IgnoreRegisterMask { get; set; }
    /// <summary>
    /// Registers not compared when the instruction faults (a bit per register number): for
    /// POPA, whose registers this host loads one by one before a later read faults, although
    /// a fault leaves the state as it was before the instruction (Intel SDM Vol. 3, 6.5).
    /// </summary>
    public uint FaultIgnoredRegisters { get; set; }
    /// <summary>Data-segment bytes holding an undefined result (length 0: none).</summary>
    public int IgnoreMemoryOffset { get; set; }
    public int IgnoreMemoryLength { get; set; }

    /// <summary>The code as Iced decodes it (for reports): the flag producer, if any, then the instruction under test.</summary>
    public string Disassemble()
    {
        int bitness = Code16 ? 16 : 32;
        int end = InstructionOffset + InstructionLength;
        var d = Decoder.Create(bitness, new ByteArrayCodeReader(Code, 0, end), Layout.Entry(Code16));
        var f = new NasmFormatter();
        f.Options.ShowBranchSize = true;
        var o = new StringOutput();
        var parts = new List<string>();
        while ((int)(d.IP - Layout.Entry(Code16)) < end)
        {
            d.Decode(out Instruction ins);
            f.Format(ins, o);
            parts.Add(o.ToStringAndReset());
        }
        return string.Join("; ", parts);
    }

    public string CodeHex => (InstructionOffset > 0 ? Convert.ToHexString(Code, 0, InstructionOffset) + " " : "")
        + Convert.ToHexString(Code, InstructionOffset, InstructionLength);
}

/// <summary>What a case did, on the host or on the emulator.</summary>
public sealed class CaseResult
{
    public const int Exited = 0, Faulted = 1, Other = 2;

    public int Status { get; set; }
    /// <summary>1: fell through; 2: took the branch (Status = Exited).</summary>
    public int ExitId { get; set; }
    public uint[] Gpr { get; } = new uint[8];
    public uint Eflags { get; set; }
    /// <summary>For exceptions: the EIP reported, the vector, the error code and CS.</summary>
    public uint Eip { get; set; }
    public int Vector { get; set; }
    public uint ErrorCode { get; set; }
    public uint Cs { get; set; }
    /// <summary>Bytes of the data segment that differ from the initial image, in offset order.</summary>
    public List<(ushort Offset, byte Value)> Changes { get; } = new();
    /// <summary>Why the emulator stopped otherwise (Status = Other).</summary>
    public string? Note { get; set; }
}
