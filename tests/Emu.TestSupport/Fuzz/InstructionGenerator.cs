using System;
using System.Collections.Generic;
using Emu.X86;
using Iced.Intel;

namespace Emu.TestSupport.Fuzz;

/// <summary>
/// Random valid instructions, encoded by Iced's <see cref="Encoder"/>: a <see cref="Code"/>
/// drawn from Iced's tables (legacy encoding, valid in the code size), with random operands
/// built from its operand kinds (<see cref="OpCodeInfo"/>): registers, memory operands with a
/// random base, index, scale and displacement (aimed mostly into RAM, sometimes with a segment
/// override or the other address size), immediates, near branches into the program and far
/// ones through the environment's selectors. Most codes are ones the emulated CPU implements
/// (<see cref="InstructionTable.Info"/>); a few are not, which tests both engines' #UD path.
/// A quarter of the picks come from the sensitive (system) instructions, so LGDT, MOV CRn,
/// INT n, IRET, far transfers, segment loads, I/O and the like are frequent.
/// </summary>
public sealed class InstructionGenerator
{
    private sealed class Table
    {
        public readonly List<Code> Plain = new(), Sensitive = new(), Unimplemented = new(), Strings = new(), X87 = new();
    }

    private static readonly Table Code16 = Build(16), Code32 = Build(32);

    private readonly Random random;
    private readonly byte[] buffer = new byte[32];
    private readonly BufferWriter writer;
    private readonly Encoder encoder16, encoder32;

    public InstructionGenerator(Random random)
    {
        this.random = random;
        writer = new BufferWriter(buffer);
        encoder16 = Encoder.Create(16, writer);
        encoder32 = Encoder.Create(32, writer);
    }

    /// <summary>Codes Iced encodes in legacy form in this code size, with operand kinds we can fill.</summary>
    private static Table Build(int bitness)
    {
        var t = new Table();
        foreach (Code code in Enum.GetValues<Code>())
        {
            if (code == Code.INVALID) continue;
            OpCodeInfo op = code.ToOpCode();
            if (!op.IsInstruction || op.Encoding != EncodingKind.Legacy) continue;
            if (bitness == 16 ? !op.Mode16 : !op.Mode32) continue;
            bool fillable = true, isString = false;
            for (int i = 0; i < op.OpCount; i++)
            {
                OpCodeOperandKind k = op.GetOpKind(i);
                if (!Fillable(k)) fillable = false;
                if (k is OpCodeOperandKind.seg_rSI or OpCodeOperandKind.es_rDI) isString = true;
            }
            if (!fillable) continue;
            InstrFlags f = InstructionTable.Info[(int)code];
            if ((f & InstrFlags.Implemented) == 0) t.Unimplemented.Add(code);
            else if (isString) t.Strings.Add(code);
            else if ((f & InstrFlags.Sensitive) != 0) t.Sensitive.Add(code);
            else if (code.Mnemonic().ToString().StartsWith('F')) t.X87.Add(code);
            else t.Plain.Add(code);
        }
        return t;
    }

    private static bool Fillable(OpCodeOperandKind k) => k switch
    {
        OpCodeOperandKind.farbr2_2 or OpCodeOperandKind.farbr4_2 or OpCodeOperandKind.mem_offs or OpCodeOperandKind.mem
            or OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r32_or_mem
            or OpCodeOperandKind.mm_or_mem or OpCodeOperandKind.xmm_or_mem
            or OpCodeOperandKind.r8_reg or OpCodeOperandKind.r8_opcode or OpCodeOperandKind.r16_reg or OpCodeOperandKind.r16_reg_mem
            or OpCodeOperandKind.r16_rm or OpCodeOperandKind.r16_opcode or OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_reg_mem
            or OpCodeOperandKind.r32_rm or OpCodeOperandKind.r32_opcode or OpCodeOperandKind.seg_reg
            or OpCodeOperandKind.mm_reg or OpCodeOperandKind.mm_rm or OpCodeOperandKind.xmm_reg or OpCodeOperandKind.xmm_rm
            or OpCodeOperandKind.cr_reg or OpCodeOperandKind.dr_reg or OpCodeOperandKind.tr_reg
            or OpCodeOperandKind.es or OpCodeOperandKind.cs or OpCodeOperandKind.ss or OpCodeOperandKind.ds
            or OpCodeOperandKind.fs or OpCodeOperandKind.gs or OpCodeOperandKind.al or OpCodeOperandKind.cl
            or OpCodeOperandKind.ax or OpCodeOperandKind.dx or OpCodeOperandKind.eax
            or OpCodeOperandKind.st0 or OpCodeOperandKind.sti_opcode
            or OpCodeOperandKind.imm8 or OpCodeOperandKind.imm8_const_1 or OpCodeOperandKind.imm8sex16
            or OpCodeOperandKind.imm8sex32 or OpCodeOperandKind.imm16 or OpCodeOperandKind.imm32
            or OpCodeOperandKind.seg_rSI or OpCodeOperandKind.es_rDI or OpCodeOperandKind.seg_rDI or OpCodeOperandKind.seg_rBX_al
            or OpCodeOperandKind.br16_1 or OpCodeOperandKind.br32_1 or OpCodeOperandKind.br16_2 or OpCodeOperandKind.br32_4 => true,
        _ => false,
    };

    /// <summary>The number of codes of each kind the generator draws from, for the test's report.</summary>
    public static string Describe(int bitness)
    {
        Table t = bitness == 16 ? Code16 : Code32;
        return $"{t.Plain.Count} plain, {t.Sensitive.Count} sensitive, {t.Strings.Count} string, {t.X87.Count} x87, {t.Unimplemented.Count} unimplemented";
    }

    /// <summary>
    /// Fills <paramref name="code"/> with random valid instructions for code of
    /// <paramref name="bitness"/> whose first byte is at offset <paramref name="ip"/> of its
    /// segment (near branches aim inside the run, far ones at the environment's code).
    /// </summary>
    public void Fill(Span<byte> code, int bitness, uint ip)
    {
        int at = 0;
        while (at < code.Length)
        {
            int n = Next(bitness, ip + (uint)at, code.Length - at);
            if (n == 0) break;
            buffer.AsSpan(0, n).CopyTo(code[at..]);
            at += n;
        }
        // What is left is too short for the next instruction: NOPs, so a run does not fall into a partial one.
        code[at..].Fill(0x90);
    }

    /// <summary>Encodes one random instruction at <paramref name="ip"/> into the buffer; its length (0: none fitted).</summary>
    private int Next(int bitness, uint ip, int room)
    {
        Table t = bitness == 16 ? Code16 : Code32;
        Encoder encoder = bitness == 16 ? encoder16 : encoder32;
        for (int attempt = 0; attempt < 20; attempt++)
        {
            int pick = random.Next(100);
            List<Code> from = pick < 50 ? t.Plain : pick < 78 ? t.Sensitive : pick < 88 ? t.Strings : pick < 96 ? t.X87 : t.Unimplemented;
            Code c = from[random.Next(from.Count)];
            if (!TryBuild(c, bitness, ip, out Instruction ins)) continue;
            writer.Reset();
            if (!encoder.TryEncode(ins, ip, out uint length, out _)) continue;
            if (length > room) continue;
            return (int)length;
        }
        return 0;
    }

    private bool TryBuild(Code code, int bitness, uint ip, out Instruction ins)
    {
        ins = default;
        ins.Code = code;
        OpCodeInfo op = code.ToOpCode();
        // The address size of this instruction's memory operand: mostly the code size.
        int addressSize = random.Next(10) == 0 ? 48 - bitness : bitness;
        bool immediateSeen = false;
        for (int i = 0; i < op.OpCount; i++)
        {
            OpCodeOperandKind k = op.GetOpKind(i);
            switch (k)
            {
                case OpCodeOperandKind.r8_reg or OpCodeOperandKind.r8_opcode:
                    Reg(ref ins, i, Register.AL + random.Next(8));
                    break;
                case OpCodeOperandKind.r16_reg or OpCodeOperandKind.r16_reg_mem or OpCodeOperandKind.r16_rm or OpCodeOperandKind.r16_opcode:
                    Reg(ref ins, i, Register.AX + random.Next(8));
                    break;
                case OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_reg_mem or OpCodeOperandKind.r32_rm or OpCodeOperandKind.r32_opcode:
                    Reg(ref ins, i, Register.EAX + random.Next(8));
                    break;
                case OpCodeOperandKind.mm_reg or OpCodeOperandKind.mm_rm:
                    Reg(ref ins, i, Register.MM0 + random.Next(8));
                    break;
                case OpCodeOperandKind.xmm_reg or OpCodeOperandKind.xmm_rm:
                    Reg(ref ins, i, Register.XMM0 + random.Next(8));
                    break;
                case OpCodeOperandKind.seg_reg:
                    Reg(ref ins, i, Register.ES + random.Next(6));
                    break;
                case OpCodeOperandKind.cr_reg:
                    // CR0, CR2, CR3, CR4 mostly; sometimes one that does not exist (#UD).
                    Reg(ref ins, i, Register.CR0 + (random.Next(8) == 0 ? random.Next(8) : new[] { 0, 2, 3, 4 }[random.Next(4)]));
                    break;
                case OpCodeOperandKind.dr_reg:
                    Reg(ref ins, i, Register.DR0 + random.Next(8));
                    break;
                case OpCodeOperandKind.tr_reg:
                    Reg(ref ins, i, Register.TR3 + random.Next(5));
                    break;
                case OpCodeOperandKind.st0:
                    Reg(ref ins, i, Register.ST0);
                    break;
                case OpCodeOperandKind.sti_opcode:
                    Reg(ref ins, i, Register.ST0 + random.Next(8));
                    break;
                case OpCodeOperandKind.es: Reg(ref ins, i, Register.ES); break;
                case OpCodeOperandKind.cs: Reg(ref ins, i, Register.CS); break;
                case OpCodeOperandKind.ss: Reg(ref ins, i, Register.SS); break;
                case OpCodeOperandKind.ds: Reg(ref ins, i, Register.DS); break;
                case OpCodeOperandKind.fs: Reg(ref ins, i, Register.FS); break;
                case OpCodeOperandKind.gs: Reg(ref ins, i, Register.GS); break;
                case OpCodeOperandKind.al: Reg(ref ins, i, Register.AL); break;
                case OpCodeOperandKind.cl: Reg(ref ins, i, Register.CL); break;
                case OpCodeOperandKind.ax: Reg(ref ins, i, Register.AX); break;
                case OpCodeOperandKind.dx: Reg(ref ins, i, Register.DX); break;
                case OpCodeOperandKind.eax: Reg(ref ins, i, Register.EAX); break;
                case OpCodeOperandKind.r8_or_mem: RegOrMemory(ref ins, i, Register.AL, addressSize); break;
                case OpCodeOperandKind.r16_or_mem: RegOrMemory(ref ins, i, Register.AX, addressSize); break;
                case OpCodeOperandKind.r32_or_mem: RegOrMemory(ref ins, i, Register.EAX, addressSize); break;
                case OpCodeOperandKind.mm_or_mem: RegOrMemory(ref ins, i, Register.MM0, addressSize); break;
                case OpCodeOperandKind.xmm_or_mem: RegOrMemory(ref ins, i, Register.XMM0, addressSize); break;
                case OpCodeOperandKind.mem:
                    Memory(ref ins, i, addressSize);
                    break;
                case OpCodeOperandKind.mem_offs:
                    ins.SetOpKind(i, OpKind.Memory);
                    ins.MemoryDisplSize = addressSize / 8;
                    ins.MemoryDisplacement32 = Displacement(addressSize, absolute: true);
                    if (random.Next(4) == 0) ins.SegmentPrefix = Register.ES + random.Next(6);
                    break;
                case OpCodeOperandKind.imm8 or OpCodeOperandKind.imm8_const_1:
                {
                    OpKind kind = immediateSeen ? OpKind.Immediate8_2nd : OpKind.Immediate8;
                    ins.SetOpKind(i, kind);
                    byte v = k == OpCodeOperandKind.imm8_const_1 ? (byte)1 : Imm8(code);
                    if (kind == OpKind.Immediate8_2nd) ins.Immediate8_2nd = v;
                    else ins.Immediate8 = v;
                    immediateSeen = true;
                    break;
                }
                case OpCodeOperandKind.imm8sex16:
                    ins.SetOpKind(i, OpKind.Immediate8to16);
                    ins.Immediate8to16 = (sbyte)random.Next(256);
                    immediateSeen = true;
                    break;
                case OpCodeOperandKind.imm8sex32:
                    ins.SetOpKind(i, OpKind.Immediate8to32);
                    ins.Immediate8to32 = (sbyte)random.Next(256);
                    immediateSeen = true;
                    break;
                case OpCodeOperandKind.imm16:
                    ins.SetOpKind(i, OpKind.Immediate16);
                    // ENTER's frame size and RET's pop count stay small, so stacks survive more often.
                    ins.Immediate16 = (ushort)(random.Next(3) == 0 ? random.Next(0x10000) : random.Next(64));
                    immediateSeen = true;
                    break;
                case OpCodeOperandKind.imm32:
                    ins.SetOpKind(i, OpKind.Immediate32);
                    ins.Immediate32 = Value();
                    immediateSeen = true;
                    break;
                case OpCodeOperandKind.seg_rSI:
                    ins.SetOpKind(i, addressSize == 32 ? OpKind.MemorySegESI : OpKind.MemorySegSI);
                    StringPrefixes(ref ins);
                    break;
                case OpCodeOperandKind.es_rDI:
                    ins.SetOpKind(i, addressSize == 32 ? OpKind.MemoryESEDI : OpKind.MemoryESDI);
                    StringPrefixes(ref ins);
                    break;
                case OpCodeOperandKind.seg_rDI:
                    ins.SetOpKind(i, addressSize == 32 ? OpKind.MemorySegEDI : OpKind.MemorySegDI);
                    break;
                case OpCodeOperandKind.seg_rBX_al:
                    ins.SetOpKind(i, OpKind.Memory);
                    ins.MemoryBase = addressSize == 32 ? Register.EBX : Register.BX;
                    ins.MemoryIndex = Register.AL;
                    if (random.Next(4) == 0) ins.SegmentPrefix = Register.ES + random.Next(6);
                    break;
                case OpCodeOperandKind.br16_1 or OpCodeOperandKind.br32_1:
                {
                    // Short branches: somewhere near, mostly forward, so loops are possible but not the rule.
                    uint target = (uint)(ip + random.Next(-24, 96));
                    SetNear(ref ins, i, k == OpCodeOperandKind.br16_1 || bitness == 16 && random.Next(8) != 0, target);
                    break;
                }
                case OpCodeOperandKind.br16_2 or OpCodeOperandKind.br32_4:
                {
                    uint target = random.Next(4) == 0 ? FuzzLayout.CodeOffset(bitness) + (uint)random.Next(0x400) : (uint)(ip + random.Next(-64, 256));
                    SetNear(ref ins, i, k == OpCodeOperandKind.br16_2, target);
                    break;
                }
                case OpCodeOperandKind.farbr2_2:
                    ins.SetOpKind(i, OpKind.FarBranch16);
                    ins.FarBranchSelector = FuzzLayout.RandomSelector(random);
                    ins.FarBranch16 = (ushort)FuzzLayout.RandomCodeOffset(random, 16);
                    break;
                case OpCodeOperandKind.farbr4_2:
                    ins.SetOpKind(i, OpKind.FarBranch32);
                    ins.FarBranchSelector = FuzzLayout.RandomSelector(random);
                    ins.FarBranch32 = FuzzLayout.RandomCodeOffset(random, 32);
                    break;
                default:
                    return false;
            }
        }
        // A LOCK prefix now and then: #UD unless the instruction allows it with a memory destination.
        if (random.Next(40) == 0) ins.HasLockPrefix = true;
        return true;
    }

    private static void Reg(ref Instruction ins, int i, Register r)
    {
        ins.SetOpKind(i, OpKind.Register);
        ins.SetOpRegister(i, r);
    }

    private void SetNear(ref Instruction ins, int i, bool size16, uint target)
    {
        if (size16)
        {
            ins.SetOpKind(i, OpKind.NearBranch16);
            ins.NearBranch16 = (ushort)target;
        }
        else
        {
            ins.SetOpKind(i, OpKind.NearBranch32);
            ins.NearBranch32 = target;
        }
    }

    private void StringPrefixes(ref Instruction ins)
    {
        int r = random.Next(4);
        if (r == 1) ins.HasRepPrefix = true;
        else if (r == 2) ins.HasRepnePrefix = true;
        if (random.Next(5) == 0) ins.SegmentPrefix = Register.ES + random.Next(6);
    }

    /// <summary>A register of the group starting at <paramref name="first"/> or a memory operand, one or the other at random.</summary>
    private void RegOrMemory(ref Instruction ins, int i, Register first, int addressSize)
    {
        if (random.Next(2) == 0) Reg(ref ins, i, first + random.Next(8));
        else Memory(ref ins, i, addressSize);
    }

    /// <summary>A memory operand: base, index, scale and displacement of the address size, sometimes a segment override.</summary>
    private void Memory(ref Instruction ins, int i, int addressSize)
    {
        ins.SetOpKind(i, OpKind.Memory);
        if (addressSize == 32)
        {
            Register b = random.Next(8) == 0 ? Register.None : Register.EAX + random.Next(8);
            Register x = random.Next(2) == 0 ? Register.None : Register.EAX + random.Next(8);
            if (x == Register.ESP) x = Register.None;
            ins.MemoryBase = b;
            ins.MemoryIndex = x;
            ins.MemoryIndexScale = x == Register.None ? 1 : 1 << random.Next(4);
            bool absolute = b == Register.None;
            uint d = absolute || random.Next(3) == 0 ? Displacement(32, absolute) : 0;
            ins.MemoryDisplacement32 = d;
            ins.MemoryDisplSize = absolute ? 4 : d == 0 ? 0 : random.Next(4) == 0 ? 4 : 1;
        }
        else
        {
            // The eight 16-bit forms (Intel SDM Vol. 2, Table 2-1) and a bare disp16.
            int form = random.Next(9);
            (Register b, Register x) = form switch
            {
                0 => (Register.BX, Register.SI),
                1 => (Register.BX, Register.DI),
                2 => (Register.BP, Register.SI),
                3 => (Register.BP, Register.DI),
                4 => (Register.SI, Register.None),
                5 => (Register.DI, Register.None),
                6 => (Register.BP, Register.None),
                7 => (Register.BX, Register.None),
                _ => (Register.None, Register.None),
            };
            ins.MemoryBase = b;
            ins.MemoryIndex = x;
            ins.MemoryIndexScale = 1;
            bool absolute = b == Register.None;
            uint d = absolute || random.Next(3) == 0 ? Displacement(16, absolute) & 0xFFFF : 0;
            ins.MemoryDisplacement32 = d;
            ins.MemoryDisplSize = absolute ? 2 : d == 0 ? 0 : random.Next(4) == 0 ? 2 : 1;
        }
        if (random.Next(5) == 0) ins.SegmentPrefix = Register.ES + random.Next(6);
    }

    /// <summary>A displacement: small (signed byte), or an address in RAM (or anywhere, now and then).</summary>
    private uint Displacement(int addressSize, bool absolute)
    {
        int r = random.Next(8);
        if (!absolute && r < 5) return (uint)(sbyte)random.Next(256);
        if (r == 7) return (uint)random.Next() * 2u + (uint)random.Next(2);
        return addressSize == 16 ? (uint)random.Next(0x10000) : (uint)random.Next((int)FuzzLayout.RamSize);
    }

    /// <summary>A 32-bit immediate: small, an address in RAM, a selector, or anything.</summary>
    private uint Value() => random.Next(4) switch
    {
        0 => (uint)random.Next(256),
        1 => (uint)random.Next((int)FuzzLayout.RamSize),
        2 => FuzzLayout.RandomSelector(random),
        _ => (uint)random.Next() * 2u + (uint)random.Next(2),
    };

    /// <summary>An 8-bit immediate; INT n's vector is mostly one the IDT holds gates for, I/O ports mostly low.</summary>
    private byte Imm8(Code code) => code == Code.Int_imm8 && random.Next(2) == 0 ? (byte)random.Next(48) : (byte)random.Next(256);

    /// <summary>The encoder's output: a fixed buffer, rewound before each instruction.</summary>
    private sealed class BufferWriter : CodeWriter
    {
        private readonly byte[] buffer;
        private int position;

        public BufferWriter(byte[] buffer) => this.buffer = buffer;

        public void Reset() => position = 0;

        public override void WriteByte(byte value)
        {
            if (position < buffer.Length) buffer[position] = value;
            position++;
        }
    }
}
