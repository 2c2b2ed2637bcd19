using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Emu.X86;
using Iced.Intel;

namespace Emu.Conformance.Tests;

/// <summary>
/// Generates random cases for one form: registers, flags, memory and operands chosen so
/// the instruction runs inside the data segment, biased toward the interesting cases
/// (counts at the operand size, #DE, equal compares, early REPE/REPNE stops, zero scans).
/// </summary>
public sealed class CaseGenerator
{
    private const int Eax = 0, Ecx = 1, Edx = 2, Ebx = 3, Esp = 4, Ebp = 5, Esi = 6, Edi = 7;

    private static readonly Register[] Regs8 = { Register.AL, Register.CL, Register.DL, Register.BL, Register.AH, Register.CH, Register.DH, Register.BH };
    private static readonly Register[] Regs16 = { Register.AX, Register.CX, Register.DX, Register.BX, Register.SP, Register.BP, Register.SI, Register.DI };
    private static readonly Register[] Regs32 = { Register.EAX, Register.ECX, Register.EDX, Register.EBX, Register.ESP, Register.EBP, Register.ESI, Register.EDI };
    private static readonly Register[] SegRegs = { Register.ES, Register.CS, Register.SS, Register.DS, Register.FS, Register.GS };
    /// <summary>Overrides whose base is the same on both sides (GS is glibc's TLS; CS is flat on the host).</summary>
    private static readonly Register[] DataOverrides = { Register.ES, Register.SS, Register.DS, Register.FS };

    private static readonly uint[] Special =
    {
        0, 1, 2, 0x7F, 0x80, 0x81, 0xFF, 0x100, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x10000,
        0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0xFFFF_FFFF, 0xFFFF_FFFE, 0xFFFF_FF80, 0xFFFF_8000,
    };

    private readonly Form form;
    private readonly OpCodeInfo oc;
    private readonly Mnemonic mn;
    private readonly byte[] image;
    private readonly bool code16;

    // Per case.
    private Rng rng = new(0);
    private TestCase tc = null!;
    private uint pinned;
    private readonly SortedDictionary<int, byte> overlay = new();
    private int memTarget = -1;
    private uint branchTarget;

    public CaseGenerator(Form form, byte[] image)
    {
        this.form = form;
        this.image = image;
        oc = form.Code.ToOpCode();
        mn = form.Code.Mnemonic();
        code16 = form.Bitness == 16;
    }

    public TestCase Generate(int index, ulong seed)
    {
        rng = new Rng(seed);
        tc = new TestCase { Form = form, Index = index, Seed = seed };
        pinned = 0;
        overlay.Clear();
        memTarget = -1;

        tc.Mode = (byte)((code16 ? Layout.ModeCode16 : 0) | (rng.Chance(50) ? Layout.ModeStack16 : 0));
        for (int r = 0; r < 8; r++) tc.Gpr[r] = Value(32);
        tc.Gpr[Esp] = StackPointer();
        tc.Eflags = rng.Next32() & 0xCD5;

        Prepare();
        Instruction ins = Build();
        Finish(ref ins);
        Prefixes(ref ins);
        Producer();
        Encode(ins);
        Undefined(ins);
        foreach (var run in Runs()) tc.Patches.Add(run);
        return tc;
    }

    // ---- values ----

    private uint Value(int bits)
    {
        uint v = rng.Below(8) switch
        {
            0 or 1 => rng.Next32(),
            2 => (uint)rng.Below(17),
            3 => rng.Pick(Special),
            4 => (uint)-rng.Range(1, 16),
            5 => rng.Next32() >> rng.Below(32),
            6 => rng.Pick(Special) + (uint)rng.Range(-2, 2),
            _ => rng.Next32() & 0xFF,
        };
        if (bits < 32 && rng.Chance(70)) v = (v & Mask(bits)) | (rng.Next32() & ~Mask(bits));
        return v;
    }

    private static uint Mask(int bits) => bits >= 32 ? 0xFFFF_FFFFu : (1u << bits) - 1;

    private uint StackPointer()
    {
        bool s16 = tc.Stack16;
        uint sp = (uint)rng.Range(0x9000, 0xF000);
        if (rng.Chance(80)) sp &= ~3u;
        if (s16)
        {
            if (rng.Chance(4)) sp = (uint)rng.Range(0, 3) * 2; // SP wraps below zero
            sp |= rng.Next32() & 0xFFFF_0000u;
        }
        else if (rng.Chance(2))
        {
            sp = (uint)rng.Range(0, 7); // ESP below the pushes: #SS
        }
        else if (rng.Chance(2))
        {
            sp = (uint)(0x10000 - rng.Range(0, 6)); // pops cross the limit: #SS
        }
        return sp;
    }

    private void SetReg(int r, uint v, bool pin = true)
    {
        tc.Gpr[r] = v;
        if (pin) pinned |= 1u << r;
    }

    private bool Pinned(int r) => (pinned & (1u << r)) != 0;

    /// <summary>Sets the low bits of register r (the given size) when it is free; false when pinned.</summary>
    private bool SetPart(Register reg, uint v)
    {
        int size = reg.GetSize();
        int r = Num(reg);
        if (Pinned(r)) return false;
        if (size == 1 && reg >= Register.AH && reg <= Register.BH)
            tc.Gpr[r] = (tc.Gpr[r] & 0xFFFF_00FFu) | ((v & 0xFF) << 8);
        else
            tc.Gpr[r] = (tc.Gpr[r] & ~Mask(size * 8)) | (v & Mask(size * 8));
        pinned |= 1u << r;
        return true;
    }

    private uint GetPart(Register reg)
    {
        int size = reg.GetSize();
        uint g = tc.Gpr[Num(reg)];
        if (size == 1 && reg >= Register.AH && reg <= Register.BH) return (g >> 8) & 0xFF;
        return g & Mask(size * 8);
    }

    private static int Num(Register reg)
    {
        if (reg >= Register.AL && reg <= Register.BL) return reg - Register.AL;
        if (reg >= Register.AH && reg <= Register.BH) return reg - Register.AH;
        if (reg >= Register.AX && reg <= Register.DI) return reg - Register.AX;
        if (reg >= Register.EAX && reg <= Register.EDI) return reg - Register.EAX;
        throw new ArgumentException($"{reg} is not a general register");
    }

    // ---- memory (an overlay on the initial image, turned into patches) ----

    private byte Peek(int off) => overlay.TryGetValue(off & 0xFFFF, out byte b) ? b : image[off & 0xFFFF];

    private void Poke(long off, byte b)
    {
        if (off < 0 || off >= Layout.DataSize) return; // outside the segment: nothing to write
        overlay[(int)off] = b;
    }

    private void PokeValue(long off, uint v, int bytes)
    {
        for (int i = 0; i < bytes; i++) Poke(off + i, (byte)(v >> (8 * i)));
    }

    private uint PeekValue(int off, int bytes)
    {
        uint v = 0;
        for (int i = 0; i < bytes; i++) v |= (uint)Peek(off + i) << (8 * i);
        return v;
    }

    private void Scramble(long from, int length)
    {
        for (int i = 0; i < length; i++) Poke(from + i, (byte)rng.Next32());
    }

    /// <summary>Scrambles bytes at 16-bit-wrapping offsets (for 16-bit stacks and string addressing).</summary>
    private void ScrambleWrapped(uint from, int length, bool wrap16)
    {
        for (int i = 0; i < length; i++)
        {
            uint o = from + (uint)i;
            Poke(wrap16 ? o & 0xFFFF : o, (byte)rng.Next32());
        }
    }

    private IEnumerable<Patch> Runs()
    {
        int start = -1, prev = -2;
        var bytes = new List<byte>();
        foreach (var (off, b) in overlay)
        {
            if (off != prev + 1 || bytes.Count == 0xFFFF)
            {
                if (bytes.Count > 0) yield return new Patch((ushort)start, bytes.ToArray());
                bytes.Clear();
                start = off;
            }
            bytes.Add(b);
            prev = off;
        }
        if (bytes.Count > 0) yield return new Patch((ushort)start, bytes.ToArray());
    }

    // ---- what each mnemonic needs before its operands are chosen ----

    private bool UsesStack => mn is Mnemonic.Push or Mnemonic.Pop or Mnemonic.Pusha or Mnemonic.Pushad or Mnemonic.Popa or Mnemonic.Popad
        or Mnemonic.Enter or Mnemonic.Leave or Mnemonic.Call or Mnemonic.Ret or Mnemonic.Pushf or Mnemonic.Pushfd
        or Mnemonic.Popf or Mnemonic.Popfd;

    private bool IsString => Enumerable.Range(0, oc.OpCount).Any(i => FormCatalog.IsString(oc.GetOpKind(i)));

    private void Prepare()
    {
        if (UsesStack)
        {
            SetReg(Esp, tc.Gpr[Esp]);
            uint sp = tc.Stack16 ? tc.Gpr[Esp] & 0xFFFF : tc.Gpr[Esp];
            ScrambleWrapped(sp - 0x90, 0xD0, tc.Stack16);
        }
        switch (mn)
        {
            case Mnemonic.Leave:
            case Mnemonic.Enter:
            {
                uint bp = (uint)rng.Range(0x9000, 0xF000);
                if (rng.Chance(80)) bp &= ~3u;
                if (tc.Stack16) bp |= rng.Next32() & 0xFFFF_0000u;
                SetReg(Ebp, bp);
                ScrambleWrapped((tc.Stack16 ? bp & 0xFFFF : bp) - 0x84, 0x90, tc.Stack16);
                break;
            }
            case Mnemonic.Loop:
            case Mnemonic.Loope:
            case Mnemonic.Loopne:
            case Mnemonic.Jcxz:
            case Mnemonic.Jecxz:
            {
                uint ecx = rng.Below(5) switch
                {
                    0 => 0,
                    1 => 1,
                    2 => 0x10000 | (uint)rng.Below(2), // CX and ECX disagree
                    3 => rng.Next32() & 0xFFFF_0001u,
                    _ => Value(32),
                };
                SetReg(Ecx, ecx);
                break;
            }
        }
    }

    // ---- operands ----

    private Instruction Build()
    {
        if (IsString) return BuildString();
        if (form.Code == Code.Xlat_m8) return BuildXlat();
        bool branch = Enumerable.Range(0, oc.OpCount).Any(i => oc.GetOpKind(i) is OpCodeOperandKind.br16_1 or OpCodeOperandKind.br32_1
            or OpCodeOperandKind.br16_2 or OpCodeOperandKind.br32_4);
        if (branch) return Instruction.CreateBranch(form.Code, Layout.Entry(code16)); // the real target is set when encoding

        var ops = new List<object>();
        for (int i = 0; i < oc.OpCount; i++) ops.Add(Operand(oc.GetOpKind(i)));
        return Create(ops);
    }

    private Instruction Create(List<object> ops)
    {
        Code c = form.Code;
        return ops.Count switch
        {
            0 => Instruction.Create(c),
            1 => ops[0] switch
            {
                Register r => Instruction.Create(c, r),
                MemoryOperand m => Instruction.Create(c, m),
                int i => Instruction.Create(c, i),
                _ => throw new InvalidOperationException(),
            },
            2 => (ops[0], ops[1]) switch
            {
                (Register a, Register b) => Instruction.Create(c, a, b),
                (Register a, MemoryOperand b) => Instruction.Create(c, a, b),
                (MemoryOperand a, Register b) => Instruction.Create(c, a, b),
                (Register a, int b) => Instruction.Create(c, a, b),
                (MemoryOperand a, int b) => Instruction.Create(c, a, b),
                (int a, Register b) => Instruction.Create(c, a, b),
                (int a, int b) => Instruction.Create(c, a, b),
                _ => throw new InvalidOperationException($"{c}: operands {ops[0].GetType().Name}, {ops[1].GetType().Name}"),
            },
            3 => (ops[0], ops[1], ops[2]) switch
            {
                (Register a, Register b, int i) => Instruction.Create(c, a, b, i),
                (Register a, MemoryOperand b, int i) => Instruction.Create(c, a, b, i),
                (MemoryOperand a, Register b, int i) => Instruction.Create(c, a, b, i),
                (Register a, Register b, Register d) => Instruction.Create(c, a, b, d),
                (MemoryOperand a, Register b, Register d) => Instruction.Create(c, a, b, d),
                _ => throw new InvalidOperationException($"{c}: three operands"),
            },
            _ => throw new InvalidOperationException($"{c}: {ops.Count} operands"),
        };
    }

    private object Operand(OpCodeOperandKind k)
    {
        switch (k)
        {
            case OpCodeOperandKind.r8_or_mem:
                return form.Operand == OperandForm.Register ? RegisterOperand(Regs8) : Memory();
            case OpCodeOperandKind.r16_or_mem:
                return form.Operand == OperandForm.Register ? RegisterOperand(Regs16) : Memory();
            case OpCodeOperandKind.r32_or_mem:
                return form.Operand == OperandForm.Register ? RegisterOperand(Regs32) : Memory();
            case OpCodeOperandKind.mem:
            case OpCodeOperandKind.mem_offs:
                return Memory();
            case OpCodeOperandKind.r8_reg:
            case OpCodeOperandKind.r8_opcode:
                return RegisterOperand(Regs8);
            case OpCodeOperandKind.r16_reg:
            case OpCodeOperandKind.r16_opcode:
            case OpCodeOperandKind.r16_rm:
                return RegisterOperand(Regs16);
            case OpCodeOperandKind.r32_reg:
            case OpCodeOperandKind.r32_opcode:
            case OpCodeOperandKind.r32_rm:
                return RegisterOperand(Regs32);
            case OpCodeOperandKind.seg_reg:
                return rng.Pick(SegRegs);
            case OpCodeOperandKind.es: return Register.ES;
            case OpCodeOperandKind.cs: return Register.CS;
            case OpCodeOperandKind.ss: return Register.SS;
            case OpCodeOperandKind.ds: return Register.DS;
            case OpCodeOperandKind.fs: return Register.FS;
            case OpCodeOperandKind.gs: return Register.GS;
            case OpCodeOperandKind.al: return Register.AL;
            case OpCodeOperandKind.cl: return Register.CL;
            case OpCodeOperandKind.ax: return Register.AX;
            case OpCodeOperandKind.dx: return Register.DX;
            case OpCodeOperandKind.eax: return Register.EAX;
            case OpCodeOperandKind.imm8_const_1: return 1;
            case OpCodeOperandKind.imm8: return Imm8();
            case OpCodeOperandKind.imm8sex16:
            case OpCodeOperandKind.imm8sex32:
                return (int)(sbyte)Value(8);
            case OpCodeOperandKind.imm16:
                return mn == Mnemonic.Enter ? EnterAlloc() : (int)(Value(16) & 0xFFFF);
            case OpCodeOperandKind.imm32:
                return (int)Value(32);
            default:
                throw new NotSupportedException($"{form.Code}: operand kind {k}");
        }
    }

    private int Imm8()
    {
        switch (mn)
        {
            case Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr or Mnemonic.Sar or Mnemonic.Rol or Mnemonic.Ror or Mnemonic.Rcl or Mnemonic.Rcr
                or Mnemonic.Shld or Mnemonic.Shrd:
                return (int)ShiftCount(OperandBits());
            case Mnemonic.Aam:
            case Mnemonic.Aad:
                return rng.Below(4) switch { 0 => 0, 1 => 10, _ => rng.Below(256) };
            case Mnemonic.Enter:
                return rng.Chance(90) ? rng.Below(32) : rng.Below(256); // the level (masked to 5 bits)
            case Mnemonic.Bt or Mnemonic.Bts or Mnemonic.Btr or Mnemonic.Btc:
                return rng.Chance(50) ? rng.Below(OperandBits()) : rng.Below(256);
            default:
                return (int)(Value(8) & 0xFF);
        }
    }

    private int EnterAlloc() => rng.Below(3) switch { 0 => rng.Below(64), 1 => rng.Below(0x400), _ => rng.Below(0x10000) };

    private uint ShiftCount(int bits)
    {
        uint[] interesting = { 0, 1, 2, (uint)bits - 1, (uint)bits, (uint)bits + 1, 15, 16, 17, 31, 32, 33, 63, 255 };
        return rng.Below(3) switch
        {
            0 => rng.Pick(interesting),
            1 => (uint)rng.Below(32),
            _ => (uint)rng.Below(256),
        };
    }

    /// <summary>The size in bits of the instruction's first operand (its operation size).</summary>
    private int OperandBits()
    {
        for (int i = 0; i < oc.OpCount; i++)
        {
            switch (oc.GetOpKind(i))
            {
                case OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r8_reg or OpCodeOperandKind.r8_opcode or OpCodeOperandKind.al:
                    return 8;
                case OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r16_reg or OpCodeOperandKind.r16_opcode or OpCodeOperandKind.ax:
                    return 16;
                case OpCodeOperandKind.r32_or_mem or OpCodeOperandKind.r32_reg or OpCodeOperandKind.r32_opcode or OpCodeOperandKind.eax:
                    return 32;
            }
        }
        return 32;
    }

    private Register RegisterOperand(Register[] file)
    {
        while (true)
        {
            Register r = rng.Pick(file);
            // An indirect branch's register must hold the target: it cannot be one pinned for something else.
            if (mn is Mnemonic.Jmp or Mnemonic.Call)
            {
                if (Pinned(Num(r))) continue;
                pinned |= 1u << Num(r);
            }
            return r;
        }
    }

    /// <summary>Instructions whose memory operand is only an address (no access is made).</summary>
    private bool AddressOnly => mn is Mnemonic.Lea or Mnemonic.Nop or Mnemonic.Reservednop
        or Mnemonic.Prefetchnta or Mnemonic.Prefetcht0 or Mnemonic.Prefetcht1 or Mnemonic.Prefetcht2 or Mnemonic.Prefetchit0 or Mnemonic.Prefetchit1 or Mnemonic.Cldemote;

    /// <summary>
    /// A memory operand of the form's address size whose effective address lands on a random
    /// target in the data segment (or anywhere, for LEA and the NOPs): the free base/index
    /// registers are solved for, pinned ones kept and the displacement makes up the rest.
    /// </summary>
    private MemoryOperand Memory()
    {
        bool a16 = form.AddressSize == 16;
        bool free = AddressOnly && rng.Chance(50);
        uint t = (uint)rng.Range(0x100, 0x7E00);
        // Sometimes at the segment's end: a multi-byte access crosses the limit (#GP, or #SS
        // through SS), and with 32-bit addressing the offset may lie beyond it.
        if (rng.Chance(5)) t = (uint)(0x10000 - rng.Range(1, 8)) + (a16 ? 0 : (uint)rng.Below(2) * 8);
        Register seg = rng.Chance(30) ? rng.Pick(DataOverrides) : Register.None;
        if (oc.GetOpKind(0) == OpCodeOperandKind.mem_offs || oc.OpCount > 1 && oc.GetOpKind(1) == OpCodeOperandKind.mem_offs)
        {
            memTarget = (int)t;
            Scramble(t - 8, 32);
            return new MemoryOperand(Register.None, (long)t, a16 ? 2 : 4, false, seg);
        }
        Register b, x;
        int scale = 1;
        int displSize;
        long disp;
        if (a16)
        {
            (Register, Register)[] combos =
            {
                (Register.BX, Register.SI), (Register.BX, Register.DI), (Register.BP, Register.SI), (Register.BP, Register.DI),
                (Register.SI, Register.None), (Register.DI, Register.None), (Register.BP, Register.None), (Register.BX, Register.None),
                (Register.None, Register.None),
            };
            (b, x) = rng.Pick(combos);
            displSize = b == Register.None && x == Register.None ? 2 : rng.Pick(new[] { 0, 1, 2 });
            uint d = displSize switch { 1 => (uint)(sbyte)rng.Next32(), 2 => rng.Next32() & 0xFFFF, _ => 0 };
            foreach (Register r in new[] { b, x })
                if (r != Register.None && !Pinned(Num(r))) tc.Gpr[Num(r)] = Value(32);
            uint sum = (b == Register.None ? 0 : tc.Gpr[Num(b)]) + (x == Register.None ? 0 : tc.Gpr[Num(x)]) + d;
            if (!free)
            {
                Register solve = new[] { b, x }.FirstOrDefault(r => r != Register.None && !Pinned(Num(r)));
                if (solve != Register.None)
                {
                    int rn = Num(solve);
                    uint others = sum - tc.Gpr[rn];
                    tc.Gpr[rn] = (tc.Gpr[rn] & 0xFFFF_0000u) | ((t - others) & 0xFFFF);
                }
                else
                {
                    d = (t - (sum - d)) & 0xFFFF;
                    displSize = 2;
                }
            }
            disp = displSize == 2 ? d & 0xFFFF : displSize == 1 ? (sbyte)d : 0;
        }
        else
        {
            b = rng.Chance(15) ? Register.None : rng.Pick(Regs32);
            x = rng.Chance(40) ? Register.None : rng.Pick(Regs32.Where(r => r != Register.ESP).ToArray());
            if (x != Register.None) scale = rng.Pick(new[] { 1, 2, 4, 8 });
            displSize = b == Register.None ? 4 : rng.Pick(new[] { 0, 1, 4 });
            uint d = displSize switch { 1 => (uint)(sbyte)rng.Next32(), 4 => rng.Chance(50) ? rng.Next32() : (uint)rng.Range(-0x2000, 0x2000), _ => 0 };
            foreach (Register r in new[] { b, x })
                if (r != Register.None && !Pinned(Num(r))) tc.Gpr[Num(r)] = Value(32);
            if (!free)
            {
                uint bv() => b == Register.None ? 0 : tc.Gpr[Num(b)];
                uint xv() => x == Register.None ? 0 : tc.Gpr[Num(x)] * (uint)scale;
                bool bFree = b != Register.None && !Pinned(Num(b)) && b != x;
                bool xFree = x != Register.None && !Pinned(Num(x)) && b != x;
                if (bFree)
                {
                    tc.Gpr[Num(b)] = t - xv() - d;
                }
                else if (xFree && scale == 1)
                {
                    tc.Gpr[Num(x)] = t - bv() - d;
                }
                else
                {
                    d = t - bv() - xv();
                    displSize = 4;
                }
            }
            disp = (int)d;
        }
        foreach (Register r in new[] { b, x })
            if (r != Register.None) pinned |= 1u << Num(r);
        memTarget = (int)t;
        if (!free) Scramble(t - 8, 32);
        return new MemoryOperand(b, x, scale, disp, displSize, false, seg);
    }

    // ---- string instructions and XLAT ----

    private int ElementSize => mn switch
    {
        Mnemonic.Movsb or Mnemonic.Cmpsb or Mnemonic.Stosb or Mnemonic.Lodsb or Mnemonic.Scasb or Mnemonic.Insb or Mnemonic.Outsb => 1,
        Mnemonic.Movsw or Mnemonic.Cmpsw or Mnemonic.Stosw or Mnemonic.Lodsw or Mnemonic.Scasw or Mnemonic.Insw or Mnemonic.Outsw => 2,
        _ => 4,
    };

    private Instruction BuildString()
    {
        int a = form.AddressSize;
        bool a16 = a == 16;
        RepPrefixKind rep = form.Rep;
        Register seg = rng.Chance(40) ? rng.Pick(DataOverrides) : Register.None;
        int size = ElementSize;
        bool down = (tc.Eflags & Flags.DF) != 0;

        int count = rep == RepPrefixKind.None ? rng.Below(40) : rng.Below(10) switch { 0 => 0, 1 or 2 => rng.Range(1, 3), _ => rng.Range(4, 24) };
        uint ecx = a16 ? (rng.Next32() & 0xFFFF_0000u) | (uint)count : (uint)count;
        SetReg(Ecx, ecx);
        int n = Math.Max(count, 1);
        uint Place()
        {
            uint p = rng.Below(20) switch
            {
                0 => (uint)(0x10000 - rng.Range(1, 16)), // runs off the end (16-bit: wraps; 32-bit: #GP)
                1 => (uint)rng.Below(16),                // runs off the start
                _ => (uint)rng.Range(0x1000, 0x7000),
            };
            return a16 ? (rng.Next32() & 0xFFFF_0000u) | p : p;
        }
        SetReg(Esi, Place());
        SetReg(Edi, Place());
        if (rng.Chance(10)) // overlapping source and destination
            SetReg(Edi, (tc.Gpr[Edi] & (a16 ? 0xFFFF_0000u : 0)) + ((tc.Gpr[Esi] + (uint)rng.Range(-8, 8)) & (a16 ? 0xFFFFu : 0xFFFF_FFFFu)));
        uint si = a16 ? tc.Gpr[Esi] & 0xFFFF : tc.Gpr[Esi];
        uint di = a16 ? tc.Gpr[Edi] & 0xFFFF : tc.Gpr[Edi];
        int span = n * size + 8;
        ScrambleWrapped(down ? si - (uint)span : si - 8, span + 8, a16);
        ScrambleWrapped(down ? di - (uint)span : di - 8, span + 8, a16);
        uint Elem(uint start, int j) { uint o = down ? start - (uint)(j * size) : start + (uint)(j * size); return a16 ? o & 0xFFFF : o; }

        bool cmps = mn is Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd;
        bool scas = mn is Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd;
        if (cmps || scas)
        {
            // REPE: equal for a while, then (maybe) different; REPNE: different, then (maybe) equal.
            int k = rng.Range(0, n);
            uint acc = tc.Gpr[Eax] & Mask(size * 8);
            for (int j = 0; j < n; j++)
            {
                bool equal = rep == RepPrefixKind.Repne ? j == k : j < k;
                if (!equal || Elem(di, j) > 0xFFFF) continue;
                uint v = cmps ? (Elem(si, j) <= 0xFFFF ? PeekValue((int)Elem(si, j), size) : 0) : acc;
                if (rng.Chance(10)) v ^= 1u << rng.Below(size * 8);
                PokeValue(Elem(di, j), v, size);
            }
        }

        return (mn, size) switch
        {
            (Mnemonic.Movsb, _) => Instruction.CreateMovsb(a, seg, rep),
            (Mnemonic.Movsw, _) => Instruction.CreateMovsw(a, seg, rep),
            (Mnemonic.Movsd, _) => Instruction.CreateMovsd(a, seg, rep),
            (Mnemonic.Cmpsb, _) => Instruction.CreateCmpsb(a, seg, rep),
            (Mnemonic.Cmpsw, _) => Instruction.CreateCmpsw(a, seg, rep),
            (Mnemonic.Cmpsd, _) => Instruction.CreateCmpsd(a, seg, rep),
            (Mnemonic.Lodsb, _) => Instruction.CreateLodsb(a, seg, rep),
            (Mnemonic.Lodsw, _) => Instruction.CreateLodsw(a, seg, rep),
            (Mnemonic.Lodsd, _) => Instruction.CreateLodsd(a, seg, rep),
            (Mnemonic.Outsb, _) => Instruction.CreateOutsb(a, seg, rep),
            (Mnemonic.Outsw, _) => Instruction.CreateOutsw(a, seg, rep),
            (Mnemonic.Outsd, _) => Instruction.CreateOutsd(a, seg, rep),
            (Mnemonic.Stosb, _) => Instruction.CreateStosb(a, rep),
            (Mnemonic.Stosw, _) => Instruction.CreateStosw(a, rep),
            (Mnemonic.Stosd, _) => Instruction.CreateStosd(a, rep),
            (Mnemonic.Scasb, _) => Instruction.CreateScasb(a, rep),
            (Mnemonic.Scasw, _) => Instruction.CreateScasw(a, rep),
            (Mnemonic.Scasd, _) => Instruction.CreateScasd(a, rep),
            (Mnemonic.Insb, _) => Instruction.CreateInsb(a, rep),
            (Mnemonic.Insw, _) => Instruction.CreateInsw(a, rep),
            (Mnemonic.Insd, _) => Instruction.CreateInsd(a, rep),
            _ => throw new NotSupportedException($"string instruction {form.Code}"),
        };
    }

    private Instruction BuildXlat()
    {
        bool a16 = form.AddressSize == 16;
        Register seg = rng.Chance(30) ? rng.Pick(DataOverrides) : Register.None;
        uint t = (uint)rng.Range(0x100, 0x7E00);
        uint al = tc.Gpr[Eax] & 0xFF;
        uint ebx = a16 ? (rng.Next32() & 0xFFFF_0000u) | ((t - al) & 0xFFFF) : t - al;
        SetReg(Ebx, ebx);
        Scramble(t - 8, 32);
        var m = new MemoryOperand(a16 ? Register.BX : Register.EBX, Register.AL, 1, 0, 0, false, seg);
        return Instruction.Create(Code.Xlat_m8, m);
    }

    // ---- values that depend on the operands chosen ----

    private void Finish(ref Instruction ins)
    {
        int bits = OperandBits();
        switch (mn)
        {
            case Mnemonic.Div:
            case Mnemonic.Idiv:
                Divide(ref ins, bits, mn == Mnemonic.Idiv);
                break;
            case Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr or Mnemonic.Sar or Mnemonic.Rol or Mnemonic.Ror or Mnemonic.Rcl or Mnemonic.Rcr
                or Mnemonic.Shld or Mnemonic.Shrd:
                if (ins.GetOpKind(ins.OpCount - 1) == OpKind.Register && ins.GetOpRegister(ins.OpCount - 1) == Register.CL)
                    SetPart(Register.CL, ShiftCount(bits));
                break;
            case Mnemonic.Bt or Mnemonic.Bts or Mnemonic.Btr or Mnemonic.Btc:
                if (ins.Op1Kind == OpKind.Register && ins.Op0Kind == OpKind.Memory)
                {
                    // A register bit offset reaches outside the operand: keep it near (±64 bytes).
                    SetPart(ins.Op1Register, (uint)rng.Range(-512, 511));
                    Scramble(memTarget - 72, 144);
                }
                break;
            case Mnemonic.Bsf or Mnemonic.Bsr:
                if (rng.Chance(20)) WriteOperand(ref ins, 1, bits, 0);
                // Whether the result is defined depends on the source: no producer may change it.
                if (ins.Op1Kind == OpKind.Register) pinned |= 1u << Num(ins.Op1Register);
                break;
            case Mnemonic.Cmpxchg:
                if (rng.Chance(50))
                {
                    Register acc = bits == 8 ? Register.AL : bits == 16 ? Register.AX : Register.EAX;
                    uint dest = ReadOperand(ref ins, 0, bits);
                    if (!SetPart(acc, dest)) WriteOperand(ref ins, 0, bits, GetPart(acc));
                }
                break;
            case Mnemonic.Cmpxchg8b:
                if (rng.Chance(50))
                {
                    PokeValue(memTarget, tc.Gpr[Eax], 4);
                    PokeValue(memTarget + 4, tc.Gpr[Edx], 4);
                }
                break;
            case Mnemonic.Bound:
            {
                int bytes = bits / 8;
                int index = (int)OperandSize.SignExtend(GetPart(ins.Op0Register), bits == 16 ? 1 : 2);
                int lo = index - rng.Range(-4, 64), hi = index + rng.Range(-4, 64);
                if (rng.Chance(20)) (lo, hi) = (rng.Range(-100, 100), rng.Range(-100, 100));
                PokeValue(memTarget, (uint)lo, bytes);
                PokeValue(memTarget + bytes, (uint)hi, bytes);
                break;
            }
            case Mnemonic.Popf:
            case Mnemonic.Popfd:
            {
                // TF would trap after the next instruction and NT is not for user code: keep both clear.
                uint image = rng.Next32() & ~(Flags.TF | Flags.NT);
                PokeValue(StackTop(), image, 4);
                break;
            }
        }
    }

    private long StackTop() => tc.Stack16 ? tc.Gpr[Esp] & 0xFFFF : tc.Gpr[Esp];

    /// <summary>A near branch target: the taken exit's trampoline, sometimes past the CS limit (#GP).</summary>
    private uint BranchValue(bool bits16)
    {
        uint v = branchTarget;
        if (bits16) return (v & 0xFFFF) | (rng.Next32() & 0xFFFF_0000u);
        if (code16 && rng.Chance(5)) v |= 0x10000;
        return v;
    }

    /// <summary>The initial value of operand 1 (a register or the memory at the target).</summary>
    private uint SourceValue(Instruction ins, int bits) => ReadOperand(ref ins, 1, bits);

    private uint ReadOperand(ref Instruction ins, int n, int bits)
    {
        if (ins.GetOpKind(n) == OpKind.Register) return GetPart(ins.GetOpRegister(n));
        return PeekValue(memTarget, bits / 8);
    }

    private void WriteOperand(ref Instruction ins, int n, int bits, uint v)
    {
        if (ins.GetOpKind(n) == OpKind.Register) SetPart(ins.GetOpRegister(n), v);
        else PokeValue(memTarget, v, bits / 8);
    }

    /// <summary>DIV/IDIV: mostly a dividend whose quotient fits, sometimes zero or an overflowing one (#DE).</summary>
    private void Divide(ref Instruction ins, int bits, bool signed)
    {
        uint d = rng.Chance(8) ? 0 : Value(bits) & Mask(bits);
        if (d == 0 && rng.Chance(50)) d = 1;
        WriteOperand(ref ins, 0, bits, d);
        d = ReadOperand(ref ins, 0, bits);
        if (rng.Chance(15) || d == 0) return;
        if (ins.Op0Kind == OpKind.Register && Num(ins.Op0Register) is Eax or Edx) return;
        if (Pinned(Eax) || Pinned(Edx)) return;
        long n;
        if (!signed)
        {
            ulong q = Value(bits) & Mask(bits);
            ulong r = (ulong)(rng.Next64() % d);
            n = (long)(q * d + r);
        }
        else
        {
            long sd = (int)OperandSize.SignExtend(d, bits / 16);
            long qmax = (1L << (bits - 1)) - 1, qmin = -(1L << (bits - 1));
            long q = (int)OperandSize.SignExtend(Value(bits) & Mask(bits), bits / 16);
            q = Math.Clamp(q, qmin, qmax);
            long r = (long)(rng.Next64() % (ulong)Math.Abs(sd));
            long prod = q * sd;
            if (prod < 0 || prod == 0 && rng.Chance(50)) r = -r;
            n = prod + r;
        }
        switch (bits)
        {
            case 8:
                SetPart(Register.AX, (uint)n);
                break;
            case 16:
                SetPart(Register.AX, (uint)n);
                SetPart(Register.DX, (uint)(n >> 16));
                break;
            default:
                SetReg(Eax, (uint)n);
                SetReg(Edx, (uint)(n >> 32));
                break;
        }
    }

    // ---- prefixes beyond the form's own ----

    /// <summary>The instructions LOCK may prefix when their destination is memory (Intel SDM Vol. 2, LOCK).</summary>
    private bool Lockable => mn is Mnemonic.Add or Mnemonic.Adc or Mnemonic.And or Mnemonic.Btc or Mnemonic.Btr or Mnemonic.Bts
        or Mnemonic.Cmpxchg or Mnemonic.Cmpxchg8b or Mnemonic.Dec or Mnemonic.Inc or Mnemonic.Neg or Mnemonic.Not or Mnemonic.Or
        or Mnemonic.Sbb or Mnemonic.Sub or Mnemonic.Xor or Mnemonic.Xadd or Mnemonic.Xchg;

    /// <summary>Segment prefixes the instruction ignores (it has no memory operand, or only ES:(E)DI).</summary>
    private int extraPrefix;

    private void Prefixes(ref Instruction ins)
    {
        // LOCK: often on a memory destination that allows it; rarely anywhere else, where it is #UD.
        bool memoryDest = ins.OpCount > 0 && ins.Op0Kind == OpKind.Memory;
        if (Lockable && memoryDest ? rng.Chance(40) : rng.Chance(3)) ins.HasLockPrefix = true;
        extraPrefix = 0;
        bool usesSegment = false;
        for (int n = 0; n < ins.OpCount; n++)
            usesSegment |= ins.GetOpKind(n) is OpKind.Memory or OpKind.MemorySegSI or OpKind.MemorySegESI or OpKind.MemorySegDI or OpKind.MemorySegEDI;
        if (!usesSegment && rng.Chance(10)) extraPrefix = rng.Pick(new[] { 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65 });
    }

    // ---- a flag-producing instruction before the one under test ----

    private static readonly Mnemonic[] Producers =
        { Mnemonic.Add, Mnemonic.Adc, Mnemonic.Sub, Mnemonic.Sbb, Mnemonic.Cmp, Mnemonic.Neg, Mnemonic.Inc, Mnemonic.Dec };

    private byte[] producer = Array.Empty<byte>();

    /// <summary>
    /// Half the cases start with an ADD, ADC, SUB, SBB, CMP, NEG, INC or DEC on free
    /// registers, so the instruction under test reads flags an earlier instruction left
    /// (lazily, in the emulator) rather than flags loaded whole. Only producers whose flags
    /// the SDM defines completely, so nothing undefined flows into the result.
    /// </summary>
    private void Producer()
    {
        producer = Array.Empty<byte>();
        if (!rng.Chance(50)) return;
        int bits = rng.Pick(new[] { 8, 16, 32 });
        Register[] file = bits == 8 ? Regs8 : bits == 16 ? Regs16 : Regs32;
        Register[] free = file.Where(r => !Pinned(Num(r))).ToArray();
        Mnemonic op = free.Length == 0 ? Mnemonic.Cmp : rng.Pick(Producers);
        Register dst = op == Mnemonic.Cmp ? rng.Pick(file) : rng.Pick(free);
        string sz = bits.ToString();
        Instruction p;
        if (op is Mnemonic.Neg or Mnemonic.Inc or Mnemonic.Dec)
            p = Instruction.Create(Enum.Parse<Code>($"{op}_rm{sz}"), dst);
        else if (rng.Chance(50))
            p = Instruction.Create(Enum.Parse<Code>($"{op}_rm{sz}_r{sz}"), dst, rng.Chance(20) ? dst : rng.Pick(file));
        else
        {
            // Sometimes the register's own value: equal operands (ZF, and the boundary of every unsigned condition).
            uint imm = rng.Chance(20) ? GetPart(dst) + (uint)rng.Range(-1, 1) : Value(bits);
            p = Instruction.Create(Enum.Parse<Code>($"{op}_rm{sz}_imm{sz}"), dst, (int)(bits == 32 ? imm : imm & Mask(bits)));
        }
        producer = EncodeAt(p, Layout.Entry(code16), withExtraPrefix: false);
    }

    // ---- encoding ----

    private bool IsDirectBranch(Instruction ins) => ins.Op0Kind is OpKind.NearBranch16 or OpKind.NearBranch32;

    private void Encode(Instruction ins)
    {
        uint entry = Layout.Entry(code16) + (uint)producer.Length;
        int jmpLen = code16 ? 3 : 5;
        byte[] bytes = EncodeAt(ins, entry);
        if (bytes.Length >= 15)
        {
            extraPrefix = 0;
            bytes = EncodeAt(ins, entry);
        }
        // The taken exit's trampoline sits after the fall-through one.
        branchTarget = entry + (uint)bytes.Length + (uint)jmpLen;
        if (IsDirectBranch(ins))
        {
            if (ins.Op0Kind == OpKind.NearBranch16) ins.NearBranch16 = (ushort)branchTarget;
            else ins.NearBranch32 = branchTarget;
            bytes = EncodeAt(ins, entry);
        }
        else if (mn is Mnemonic.Jmp or Mnemonic.Call)
        {
            bool w = form.Code is Code.Jmp_rm16 or Code.Call_rm16;
            uint v = BranchValue(w);
            if (ins.Op0Kind == OpKind.Register) SetReg(Num(ins.Op0Register), w ? (tc.Gpr[Num(ins.Op0Register)] & 0xFFFF_0000u) | (v & 0xFFFF) : v);
            else PokeValue(memTarget, v, w ? 2 : 4);
        }
        else if (mn == Mnemonic.Ret)
        {
            bool w = form.Code is Code.Retnw or Code.Retnw_imm16;
            PokeValue(StackTop(), BranchValue(w), w ? 2 : 4);
        }
        int at = producer.Length;
        if (at + bytes.Length + 2 * jmpLen > Layout.CodeWindow) throw new InvalidOperationException($"{form.Key}: instruction too long");
        Array.Fill(tc.Code, (byte)0xF4);
        producer.CopyTo(tc.Code, 0);
        bytes.CopyTo(tc.Code, at);
        tc.InstructionOffset = at;
        tc.InstructionLength = bytes.Length;
        WriteJump(at + bytes.Length, Layout.ExitFall(code16));
        WriteJump(at + bytes.Length + jmpLen, Layout.ExitTaken(code16));
    }

    private void WriteJump(int at, uint target)
    {
        uint from = Layout.Entry(code16) + (uint)at;
        tc.Code[at] = 0xE9;
        if (code16)
        {
            BitConverter.TryWriteBytes(tc.Code.AsSpan(at + 1), (ushort)(target - (from + 3)));
        }
        else
        {
            BitConverter.TryWriteBytes(tc.Code.AsSpan(at + 1), target - (from + 5));
        }
    }

    private byte[] EncodeAt(Instruction ins, uint ip, bool withExtraPrefix = true)
    {
        var w = new CodeWriterImpl();
        if (extraPrefix != 0 && withExtraPrefix)
        {
            w.WriteByte((byte)extraPrefix);
            ip++;
        }
        var e = Encoder.Create(form.Bitness, w);
        if (!e.TryEncode(ins, ip, out _, out string? err))
            throw new InvalidOperationException($"{form.Key}: cannot encode {ins}: {err}");
        return w.ToArray();
    }

    private sealed class CodeWriterImpl : CodeWriter
    {
        private readonly List<byte> bytes = new();
        public override void WriteByte(byte value) => bytes.Add(value);
        public byte[] ToArray() => bytes.ToArray();
    }

    // ---- what the comparison ignores ----

    private void Undefined(Instruction ins)
    {
        int bits = OperandBits();
        uint count = 0;
        if (mn is Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr or Mnemonic.Sar or Mnemonic.Rol or Mnemonic.Ror or Mnemonic.Rcl or Mnemonic.Rcr
            or Mnemonic.Shld or Mnemonic.Shrd)
        {
            int last = ins.OpCount - 1;
            count = ins.GetOpKind(last) == OpKind.Register ? tc.Gpr[Ecx] & 0xFF : (uint)ins.GetImmediate(last);
        }
        tc.UndefinedFlags = UndefinedFlags.Mask(mn, bits, count);
        if (mn is Mnemonic.Popa or Mnemonic.Popad) tc.FaultIgnoredRegisters = 0xFF & ~(1u << Esp);
        if (mn == Mnemonic.Push && ins.Op0Kind == OpKind.Register && ins.Op0Register.IsSegmentRegister())
        {
            int slot = form.Code.ToString().StartsWith("Pushd_", StringComparison.Ordinal) ? 32 : 16;
            int undefinedBytes = UndefinedFlags.SegmentPushUndefinedBytes(slot);
            if (undefinedBytes > 0)
            {
                uint sp = tc.Stack16 ? (tc.Gpr[Esp] - 4) & 0xFFFF : tc.Gpr[Esp] - 4;
                tc.IgnoreMemoryOffset = (int)(sp + (uint)(4 - undefinedBytes));
                tc.IgnoreMemoryLength = undefinedBytes;
            }
        }
        bool undefinedResult = UndefinedFlags.ResultUndefined(mn, bits, count)
            || mn is Mnemonic.Bsf or Mnemonic.Bsr && UndefinedFlags.BitScanResultUndefined(SourceValue(ins, bits));
        if (undefinedResult)
        {
            if (ins.Op0Kind == OpKind.Register)
            {
                tc.IgnoreRegister = Num(ins.Op0Register);
                tc.IgnoreRegisterMask = Mask(bits);
            }
            else
            {
                tc.IgnoreMemoryOffset = memTarget;
                tc.IgnoreMemoryLength = bits / 8;
            }
        }
    }
}
