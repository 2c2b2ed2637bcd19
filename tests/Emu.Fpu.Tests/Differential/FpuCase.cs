using System;
using System.Collections.Generic;
using Emu.Conformance.Tests;
using Emu.X86;
using Iced.Intel;

namespace Emu.Fpu.Tests.Differential;

public enum FpuOperandForm { None, Register, Memory }

/// <summary>One x87/MMX instruction form: an Iced code in 16- or 32-bit code, with a register or memory operand and its address size.</summary>
public sealed record FpuForm(Code Code, int Bitness, FpuOperandForm Operand, int AddressSize)
{
    public string Key
    {
        get
        {
            string s = $"{Code}/code{Bitness}";
            if (Operand == FpuOperandForm.Register) s += "/reg";
            else if (Operand == FpuOperandForm.Memory) s += $"/a{AddressSize}";
            return s;
        }
    }

    public Mnemonic Mnemonic => Code.Mnemonic();

    public override string ToString() => Key;
}

/// <summary>A block of bytes written over the data segment's initial image for one case.</summary>
public readonly record struct MemPatch(ushort Offset, byte[] Bytes);

/// <summary>One generated case: registers, flags, the x87 state to load (an FRSTOR image), code and memory.</summary>
public sealed class FpuCase
{
    public required FpuForm Form { get; init; }
    public int Index { get; init; }
    public ulong Seed { get; init; }

    public uint[] Gpr { get; } = new uint[8];
    public uint Eflags { get; set; }
    public byte Mode { get; set; }
    /// <summary>The x87 state before the case: a 108-byte 32-bit protected-mode FSAVE image.</summary>
    public byte[] FpuImage { get; } = new byte[108];
    public byte[] Code { get; } = new byte[Layout.CodeWindow];
    public int InstructionLength { get; set; }
    /// <summary>Whether an FWAIT follows the instruction (so an unmasked exception it raised is delivered as #MF).</summary>
    public bool TrailingWait { get; set; }
    public List<MemPatch> Patches { get; } = new();
    /// <summary>Data-segment bytes whose final value the comparison ignores (FXSAVE's SSE area, which this CPU does not have).</summary>
    public List<(int Offset, int Length)> IgnoredMemory { get; } = new();

    public bool Code16 => (Mode & Layout.ModeCode16) != 0;
    public bool Stack16 => (Mode & Layout.ModeStack16) != 0;

    public string Disassemble()
    {
        int bitness = Code16 ? 16 : 32;
        int end = InstructionLength + (TrailingWait ? 1 : 0);
        var d = Decoder.Create(bitness, new ByteArrayCodeReader(Code, 0, end), Layout.Entry(Code16));
        var f = new NasmFormatter();
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

    public string CodeHex => Convert.ToHexString(Code, 0, InstructionLength + (TrailingWait ? 1 : 0));
}

/// <summary>What a case did, on the host or on the emulator.</summary>
public sealed class FpuResult
{
    public const int Exited = 0, Faulted = 1, Other = 2;

    public int Status { get; set; }
    public int ExitId { get; set; }
    public uint[] Gpr { get; } = new uint[8];
    public uint Eflags { get; set; }
    public uint Eip { get; set; }
    public int Vector { get; set; }
    public uint ErrorCode { get; set; }
    public uint Cs { get; set; }
    public FpuSnapshot Fpu { get; set; } = new();
    public List<(ushort Offset, byte Value)> Changes { get; } = new();
    public string? Note { get; set; }
}

/// <summary>The x87 state as compared: what FNSAVE and FXSAVE show of it.</summary>
public sealed class FpuSnapshot
{
    public ushort Cw, Sw, TagWord, Fcs, Fds, Fop;
    public byte AbridgedTags;
    public uint Fip, Fdp;
    /// <summary>ST(0)..ST(7), in stack order.</summary>
    public Float80[] St = new Float80[8];

    /// <summary>From the host's FNSAVE image (32-bit protected-mode format) and FXSAVE image.</summary>
    public static FpuSnapshot FromImages(byte[] fsave, byte[] fxsave)
    {
        var s = new FpuSnapshot
        {
            Cw = BitConverter.ToUInt16(fsave, 0),
            Sw = BitConverter.ToUInt16(fsave, 4),
            TagWord = BitConverter.ToUInt16(fsave, 8),
            Fip = BitConverter.ToUInt32(fsave, 12),
            Fcs = BitConverter.ToUInt16(fsave, 16),
            Fop = (ushort)(BitConverter.ToUInt16(fsave, 18) & 0x7FF),
            Fdp = BitConverter.ToUInt32(fsave, 20),
            Fds = BitConverter.ToUInt16(fsave, 24),
            AbridgedTags = fxsave[4],
        };
        for (int i = 0; i < 8; i++)
            s.St[i] = new Float80(BitConverter.ToUInt16(fsave, 28 + 10 * i + 8), BitConverter.ToUInt64(fsave, 28 + 10 * i));
        return s;
    }

    public FpuSnapshot Clone()
    {
        var s = (FpuSnapshot)MemberwiseClone();
        s.St = (Float80[])St.Clone();
        return s;
    }

    public static FpuSnapshot FromState(FpuState f)
    {
        var s = new FpuSnapshot
        {
            Cw = f.ControlWord,
            Sw = f.Sw,
            TagWord = f.TagWord,
            Fip = f.Fip,
            Fcs = f.Fcs,
            Fop = f.Fop,
            Fdp = f.Fdp,
            Fds = f.Fds,
            AbridgedTags = f.Valid,
        };
        for (int i = 0; i < 8; i++) s.St[i] = f.St(i);
        return s;
    }
}
