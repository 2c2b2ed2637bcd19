using System;
using System.Collections.Generic;
using System.Globalization;
using Emu.X86;
using Iced.Intel;

namespace Emu.Cpu.Tests.Support;

/// <summary>
/// A compact description of machine state for table-driven tests, e.g.
/// <c>"AX=7FFF BX=0001 F=C w[ds:0100]=1234 ES=3000"</c>:
/// registers (EAX..EDI, AX..DI, AL..BH) in hex; <c>F=</c> the set flags among
/// O S Z A P C D (or <c>-</c> for none); memory as <c>b|w|d[seg:offset]=value</c>; segment
/// registers by selector; in an expected state <c>IP=</c> is where the guest halted (the
/// HLT's own address) and <c>U=</c> names flags to ignore beyond those the SDM leaves
/// undefined for the instruction.
/// </summary>
public sealed class StateSpec
{
    public readonly List<(int Reg, int Size, uint Value)> Regs = new();
    public readonly List<(int Seg, uint Offset, int Size, uint Value)> Mem = new();
    public readonly List<(int Seg, ushort Selector)> Sregs = new();
    public uint? Flags;
    public uint ExtraUndefined;
    public uint? HaltIp;

    private static readonly string[] R32 = { "EAX", "ECX", "EDX", "EBX", "ESP", "EBP", "ESI", "EDI" };
    private static readonly string[] R16 = { "AX", "CX", "DX", "BX", "SP", "BP", "SI", "DI" };
    private static readonly string[] R8 = { "AL", "CL", "DL", "BL", "AH", "CH", "DH", "BH" };

    public static uint FlagBits(string letters)
    {
        uint f = 0;
        foreach (char ch in letters)
        {
            f |= ch switch
            {
                'O' => X86.Flags.OF,
                'S' => X86.Flags.SF,
                'Z' => X86.Flags.ZF,
                'A' => X86.Flags.AF,
                'P' => X86.Flags.PF,
                'C' => X86.Flags.CF,
                'D' => X86.Flags.DF,
                'I' => X86.Flags.IF,
                '-' => 0,
                _ => throw new FormatException($"unknown flag letter '{ch}'"),
            };
        }
        return f;
    }

    public static StateSpec Parse(string text)
    {
        var s = new StateSpec();
        foreach (string token in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = token.IndexOf('=');
            if (eq < 0) throw new FormatException($"bad token '{token}'");
            string name = token[..eq].ToUpperInvariant();
            string value = token[(eq + 1)..];
            int i;
            if (name == "F") s.Flags = FlagBits(value);
            else if (name == "U") s.ExtraUndefined = FlagBits(value);
            else if (name == "IP") s.HaltIp = Hex(value);
            else if ((i = Array.IndexOf(R32, name)) >= 0) s.Regs.Add((i, 2, Hex(value)));
            else if ((i = Array.IndexOf(R16, name)) >= 0) s.Regs.Add((i, 1, Hex(value)));
            else if ((i = Array.IndexOf(R8, name)) >= 0) s.Regs.Add((i, 0, Hex(value)));
            else if ((i = Array.IndexOf(SegReg.Names, name)) >= 0) s.Sregs.Add((i, (ushort)Hex(value)));
            else if (name.Length > 3 && name[1] == '[' && name[^1] == ']')
            {
                int size = name[0] switch { 'B' => 1, 'W' => 2, 'D' => 4, _ => throw new FormatException(token) };
                string[] parts = name[2..^1].Split(':');
                int seg = Array.IndexOf(SegReg.Names, parts[0]);
                if (seg < 0) throw new FormatException(token);
                s.Mem.Add((seg, Hex(parts[1]), size, Hex(value)));
            }
            else throw new FormatException($"bad token '{token}'");
        }
        return s;
    }

    private static uint Hex(string v) => uint.Parse(v, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}

/// <summary>One row of an instruction table: guest code, the state before, the state expected after.</summary>
public sealed record Case(string Name, Action<Assembler> Emit, string In, string Out)
{
    public override string ToString() => $"{Name} | {In}";
}

/// <summary>Runs <see cref="Case"/>s in real mode (16-bit code, 16-bit stack) and checks every register, flag and named memory location.</summary>
public static class CaseRunner
{
    /// <summary>The registers' upper halves start non-zero, so 16-bit operations that touch them show.</summary>
    public const uint UpperGarbage = 0xDEAD_0000;

    public static Dictionary<string, Case> Table(params Case[] cases)
    {
        var d = new Dictionary<string, Case>();
        foreach (Case c in cases) d.Add(c.ToString(), c);
        return d;
    }

    /// <summary>The table's row names, for <see cref="MemberDataOnEveryEngineAttribute"/>.</summary>
    public static TheoryData<string> Keys(Dictionary<string, Case> table)
    {
        var t = new TheoryData<string>();
        foreach (string k in table.Keys) t.Add(k);
        return t;
    }

    public static void Run(Case c, string engine)
    {
        using var rig = new RealModeRig(engine);
        Emu.X86.Cpu cpu = rig.Cpu;
        StateSpec input = StateSpec.Parse(c.In);
        StateSpec output = StateSpec.Parse(c.Out);

        for (int r = 0; r < 8; r++) cpu.Gpr[r] = UpperGarbage;
        cpu.Gpr[Reg.ESP] = UpperGarbage | RealModeRig.InitialSp;
        foreach (var (seg, sel) in input.Sregs) rig.LoadSeg(seg, sel);
        foreach (var (reg, size, value) in input.Regs) cpu.SetReg(reg, size, value);
        foreach (var (seg, off, size, value) in input.Mem) rig.T.Physical.Write(rig.Linear(seg, off), size, value);
        cpu.SetEflagsRaw(Flags.Reserved1 | (input.Flags ?? 0));

        var expectedGpr = new uint[8];
        for (int r = 0; r < 8; r++) expectedGpr[r] = cpu.Gpr[r];
        uint flagsBefore = cpu.GetEflags();

        byte[] code = rig.Load(RealModeRig.CodeIp, a => { c.Emit(a); a.hlt(); });
        StopReason stop = rig.Run();
        rig.AssertHalted(stop);

        // Registers: as before, but for those the row names.
        var scratch = new GprFile();
        for (int r = 0; r < 8; r++) scratch[r] = expectedGpr[r];
        foreach (var (reg, size, value) in output.Regs)
        {
            if (size == 2) scratch[reg] = value;
            else if (size == 1) scratch[reg] = (scratch[reg] & 0xFFFF_0000u) | (value & 0xFFFF);
            else if (reg < 4) scratch[reg] = (scratch[reg] & 0xFFFF_FF00u) | (value & 0xFF);
            else scratch[reg - 4] = (scratch[reg - 4] & 0xFFFF_00FFu) | ((value & 0xFF) << 8);
        }
        for (int r = 0; r < 8; r++)
            Assert.True(scratch[r] == cpu.Gpr[r], $"{Reg.Names32[r]} is {cpu.Gpr[r]:X8}, expected {scratch[r]:X8}");

        // Flags: the arithmetic flags, DF and IF as the row says (unchanged when it names none),
        // less what the SDM leaves undefined for the instruction.
        uint undefined = UndefinedFor(code, input) | output.ExtraUndefined;
        uint checkedBits = (Flags.Arith | Flags.DF | Flags.IF) & ~undefined;
        uint expectedFlags = output.Flags is { } f ? (flagsBefore & ~(Flags.Arith | Flags.DF | Flags.IF)) | f : flagsBefore;
        uint actual = cpu.GetEflags();
        Assert.True((expectedFlags & checkedBits) == (actual & checkedBits),
            $"flags are {Describe(actual & checkedBits)}, expected {Describe(expectedFlags & checkedBits)} (ignoring {Describe(undefined)})");

        foreach (var (seg, off, size, value) in output.Mem)
        {
            uint got = rig.T.Physical.Read(rig.Linear(seg, off), size);
            Assert.True(got == value, $"{SegReg.Names[seg]}:{off:X4} holds {got:X}, expected {value:X}");
        }
        foreach (var (seg, sel) in output.Sregs)
        {
            Assert.True(cpu.Seg[seg].Selector == sel, $"{SegReg.Names[seg]} is {cpu.Seg[seg].Selector:X4}, expected {sel:X4}");
            Assert.Equal((uint)sel << 4, cpu.Seg[seg].Base);
        }
        if (output.HaltIp is { } ip) Assert.Equal(ip + 1, cpu.Eip); // HLT leaves EIP after itself
    }

    /// <summary>The flags UndefinedFlags lists for the first instruction of the code, with its operand size and count.</summary>
    public static uint UndefinedFor(byte[] code, StateSpec input)
    {
        Instruction i = Asm.First(16, RealModeRig.CodeIp, code);
        int bits = i.Op0Kind == OpKind.Register ? i.Op0Register.GetSize() * 8 : i.MemorySize.GetSize() * 8;
        uint count = 0;
        int countOp = i.Mnemonic is Mnemonic.Shld or Mnemonic.Shrd ? 2 : 1;
        if (i.OpCount > countOp)
        {
            OpKind k = i.GetOpKind(countOp);
            if (k == OpKind.Register && i.GetOpRegister(countOp) == Register.CL)
            {
                count = 0;
                foreach (var (reg, size, value) in input.Regs)
                    if (reg == Reg.ECX) count = value & 0xFF;
            }
            else if (k is OpKind.Immediate8 or OpKind.Immediate8_2nd) count = (uint)i.GetImmediate(countOp);
        }
        return UndefinedFlags.Mask(i.Mnemonic, bits, count);
    }

    public static string Describe(uint f)
    {
        var s = new System.Text.StringBuilder();
        if ((f & Flags.OF) != 0) s.Append('O');
        if ((f & Flags.DF) != 0) s.Append('D');
        if ((f & Flags.IF) != 0) s.Append('I');
        if ((f & Flags.SF) != 0) s.Append('S');
        if ((f & Flags.ZF) != 0) s.Append('Z');
        if ((f & Flags.AF) != 0) s.Append('A');
        if ((f & Flags.PF) != 0) s.Append('P');
        if ((f & Flags.CF) != 0) s.Append('C');
        return s.Length == 0 ? "-" : s.ToString();
    }
}
