using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Emu.Conformance.Tests;
using Emu.X86;
using Iced.Intel;

namespace Emu.Fpu.Tests.Differential;

/// <summary>
/// Generates random cases for one x87 or MMX form: the x87 state (control word with every
/// precision and rounding mode, sometimes unmasked exceptions, status flags, TOP, tags,
/// register contents from <see cref="Values"/>), registers, flags, the memory operand and
/// its contents, and sometimes an FWAIT after the instruction so an unmasked exception it
/// raises is delivered as #MF on the host and on the emulator alike.
/// </summary>
public sealed class FpuCaseGenerator
{
    private static readonly Register[] Regs32 = { Register.EAX, Register.ECX, Register.EDX, Register.EBX, Register.ESP, Register.EBP, Register.ESI, Register.EDI };
    private static readonly Register[] DataOverrides = { Register.ES, Register.SS, Register.DS, Register.FS };

    private readonly FpuForm form;
    private readonly OpCodeInfo oc;
    private readonly Mnemonic mn;
    private readonly byte[] image;
    private readonly bool code16;

    private Rng rng = new(0);
    private Values values = null!;
    private FpuCase tc = null!;
    private uint pinned;
    private readonly SortedDictionary<int, byte> overlay = new();
    private int memTarget;

    // The x87 state being built: values in stack order, empty flags per stack slot.
    private readonly Float80[] st = new Float80[8];
    private readonly bool[] empty = new bool[8];
    private int top;
    private ushort cw, sw;
    private int stiOperand;

    public FpuCaseGenerator(FpuForm form, byte[] image)
    {
        this.form = form;
        this.image = image;
        oc = form.Code.ToOpCode();
        mn = form.Code.Mnemonic();
        code16 = form.Bitness == 16;
    }

    public FpuCase Generate(int index, ulong seed)
    {
        rng = new Rng(seed);
        values = new Values(rng);
        tc = new FpuCase { Form = form, Index = index, Seed = seed };
        pinned = 0;
        overlay.Clear();
        memTarget = -1;
        stiOperand = 1;

        tc.Mode = (byte)((code16 ? Layout.ModeCode16 : 0) | (rng.Chance(30) ? Layout.ModeStack16 : 0));
        for (int r = 0; r < 8; r++) tc.Gpr[r] = rng.Chance(50) ? rng.Next32() : (uint)rng.Below(0x10000);
        tc.Gpr[4] = (uint)rng.Range(0x9000, 0xF000) & ~3u;
        tc.Eflags = rng.Next32() & 0xCD5;

        State();
        Instruction ins = Build();
        Operands(ref ins);
        Encode(ins);
        WriteState();
        foreach (MemPatch p in Runs()) tc.Patches.Add(p);
        return tc;
    }

    // ---- the x87 state ----

    private bool IsMmx => Enumerable.Range(0, oc.OpCount).Any(i => oc.GetOpKind(i) is OpCodeOperandKind.mm_reg or OpCodeOperandKind.mm_rm or OpCodeOperandKind.mm_or_mem)
        || mn == Mnemonic.Emms;

    private void State()
    {
        // Control word: every precision (the reserved 01 too) and rounding mode; mostly masked.
        int pc = rng.Below(20) switch { 0 => 1, < 6 => 0, < 11 => 2, _ => 3 };
        int rc = rng.Below(4);
        int masks = rng.Chance(75) ? 0x3F : (int)(rng.Next32() & 0x3F);
        cw = (ushort)(masks | (pc << 8) | (rc << 10) | 0x40);
        if (rng.Chance(5)) cw |= (ushort)(rng.Next32() & 0xF0C0);
        // Status: condition codes random; exception flags mostly clear (when set with their
        // masks clear, the instruction meets a pending exception).
        sw = (ushort)(rng.Next32() & (FpuStatus.C0 | FpuStatus.C1 | FpuStatus.C2 | FpuStatus.C3));
        if (rng.Chance(15)) sw |= (ushort)(rng.Next32() & 0x7F);
        if (rng.Chance(5)) sw |= (ushort)(rng.Next32() & (FpuStatus.ES | FpuStatus.B));
        top = rng.Below(8);
        for (int i = 0; i < 8; i++)
        {
            empty[i] = rng.Chance(30);
            st[i] = values.Extended();
        }
        // The operands are usually present; ST(7) is usually free for a push.
        empty[0] = rng.Chance(5);
        empty[1] = rng.Chance(8);
        empty[7] = rng.Chance(70);
        if (IsMmx)
        {
            for (int i = 0; i < 8; i++)
            {
                st[i] = new Float80(rng.Chance(50) ? (ushort)0xFFFF : (ushort)rng.Next32(), rng.Next64());
                empty[i] = rng.Chance(20);
            }
            if (rng.Chance(80)) cw |= 0x3F; // a pending exception is rarer here: the x87 part has its own cases
        }
    }

    /// <summary>Shapes ST(0) and ST(1) (and the ST(i) operand) for what the instruction does.</summary>
    private void ShapeOperands()
    {
        switch (mn)
        {
            case Mnemonic.Fsin or Mnemonic.Fcos or Mnemonic.Fsincos or Mnemonic.Fptan:
                st[0] = values.Trig();
                break;
            case Mnemonic.F2xm1:
                st[0] = values.UnitRange();
                break;
            case Mnemonic.Fyl2x:
                st[0] = values.LogArgument();
                break;
            case Mnemonic.Fyl2xp1:
                st[0] = values.SmallLogArgument();
                break;
            case Mnemonic.Fscale:
                st[1] = values.ScaleFactor();
                break;
            case Mnemonic.Frndint or Mnemonic.Fist or Mnemonic.Fistp or Mnemonic.Fbstp:
                if (rng.Chance(60)) st[0] = rng.Chance(50) ? values.Integer() : values.Half();
                break;
            case Mnemonic.Fprem or Mnemonic.Fprem1:
                if (rng.Chance(70) && st[0].Class == FpClass.Normal)
                {
                    int d = rng.Chance(70) ? rng.Range(-3, 70) : rng.Range(60, 20000);
                    int e = st[0].Exponent - d;
                    if (e >= 1 && e <= 0x7FFE) st[1] = new Float80((ushort)((rng.Chance(50) ? 0x8000 : 0) | e), rng.Next64() | Float80.IntegerBit);
                }
                break;
            case Mnemonic.Fsqrt:
                if (rng.Chance(60)) st[0] = st[0].WithSign(false);
                break;
        }
        // Equal operands and near-cancellation for two-operand arithmetic and compares.
        if (rng.Chance(10)) st[stiOperand] = st[0];
        else if (rng.Chance(8) && st[0].Class == FpClass.Normal)
        {
            Float80 v = st[0];
            v.Significand = (ulong)((long)v.Significand + rng.Range(-2, 2)) | Float80.IntegerBit;
            st[stiOperand] = rng.Chance(50) ? v : v.WithSign(!v.Sign);
        }
    }

    private void WriteState()
    {
        byte[] img = tc.FpuImage;
        BitConverter.TryWriteBytes(img.AsSpan(0), (uint)cw | 0xFFFF_0000u);
        BitConverter.TryWriteBytes(img.AsSpan(4), (uint)(sw | (top << 11)) | 0xFFFF_0000u);
        uint tags = 0;
        for (int i = 0; i < 8; i++)
        {
            int phys = (top + i) & 7;
            int tag = empty[i] ? 3 : rng.Below(3); // non-empty tags are recomputed from the contents on load
            tags |= (uint)tag << (2 * phys);
        }
        BitConverter.TryWriteBytes(img.AsSpan(8), tags | 0xFFFF_0000u);
        BitConverter.TryWriteBytes(img.AsSpan(12), rng.Next32());
        BitConverter.TryWriteBytes(img.AsSpan(16), (rng.Next32() & 0x07FF_0000u) | (uint)rng.Below(0x10000));
        BitConverter.TryWriteBytes(img.AsSpan(20), rng.Next32());
        BitConverter.TryWriteBytes(img.AsSpan(24), (uint)rng.Below(0x10000) | 0xFFFF_0000u);
        for (int i = 0; i < 8; i++)
        {
            BitConverter.TryWriteBytes(img.AsSpan(28 + 10 * i), st[i].Significand);
            BitConverter.TryWriteBytes(img.AsSpan(36 + 10 * i), st[i].SignExponent);
        }
    }

    // ---- memory ----

    private void Poke(long off, byte b)
    {
        // With 16-bit addressing an operand's bytes wrap at 64 KiB, as the processor addresses them.
        if (form.AddressSize == 16) off &= 0xFFFF;
        if (off < 0 || off >= Layout.DataSize) return;
        overlay[(int)off] = b;
    }

    private void PokeBytes(long off, ReadOnlySpan<byte> bytes)
    {
        for (int i = 0; i < bytes.Length; i++) Poke(off + i, bytes[i]);
    }

    private void PokeValue(long off, ulong v, int bytes)
    {
        for (int i = 0; i < bytes; i++) Poke(off + i, (byte)(v >> (8 * i)));
    }

    private IEnumerable<MemPatch> Runs()
    {
        int start = -1, prev = -2;
        var bytes = new List<byte>();
        foreach (var (off, b) in overlay)
        {
            if (off != prev + 1)
            {
                if (bytes.Count > 0) yield return new MemPatch((ushort)start, bytes.ToArray());
                bytes.Clear();
                start = off;
            }
            bytes.Add(b);
            prev = off;
        }
        if (bytes.Count > 0) yield return new MemPatch((ushort)start, bytes.ToArray());
    }

    private static int Num(Register r) => r switch
    {
        >= Register.EAX and <= Register.EDI => r - Register.EAX,
        >= Register.AX and <= Register.DI => r - Register.AX,
        _ => throw new ArgumentException(r.ToString()),
    };

    private bool Pinned(int r) => (pinned & (1u << r)) != 0;

    /// <summary>How many bytes the memory operand spans (for placing it near the segment's end).</summary>
    private int OperandBytes => mn switch
    {
        Mnemonic.Fxsave or Mnemonic.Fxrstor => 512,
        Mnemonic.Fnsave or Mnemonic.Frstor => 108,
        Mnemonic.Fnstenv or Mnemonic.Fldenv => 28,
        _ => 10,
    };

    /// <summary>A memory operand whose effective address lands on a random target in the data segment.</summary>
    private MemoryOperand Memory()
    {
        bool a16 = form.AddressSize == 16;
        int span = OperandBytes;
        uint t = (uint)rng.Range(0x100, 0x7E00);
        if (span >= 512 && rng.Chance(85)) t &= ~15u; // FXSAVE/FXRSTOR: mostly aligned (else #GP)
        if (rng.Chance(4))
        {
            t = (uint)(0x10000 - rng.Range(1, Math.Min(span, 16) + 2)) + (a16 ? 0 : (uint)rng.Below(2) * 8);
            // At the segment's end FXSAVE and FXRSTOR are only tried aligned: misaligned there,
            // this host reports #GP or the limit fault in an order no simple rule describes.
            if (span >= 512) t &= ~15u;
        }
        Register seg = rng.Chance(30) ? rng.Pick(DataOverrides) : Register.None;
        Register b, x;
        int scale = 1, displSize;
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
            uint sum = (b == Register.None ? 0 : tc.Gpr[Num(b)]) + (x == Register.None ? 0 : tc.Gpr[Num(x)]) + d;
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
            disp = displSize == 2 ? d & 0xFFFF : displSize == 1 ? (sbyte)d : 0;
        }
        else
        {
            b = rng.Chance(15) ? Register.None : rng.Pick(Regs32.Where(r => r != Register.ESP || rng.Chance(20)).ToArray());
            x = rng.Chance(50) ? Register.None : rng.Pick(Regs32.Where(r => r != Register.ESP && r != b).ToArray());
            if (x != Register.None) scale = rng.Pick(new[] { 1, 2, 4, 8 });
            displSize = b == Register.None ? 4 : rng.Pick(new[] { 0, 1, 4 });
            uint d = displSize switch { 1 => (uint)(sbyte)rng.Next32(), 4 => rng.Next32(), _ => 0 };
            uint xv = x == Register.None ? 0 : tc.Gpr[Num(x)] * (uint)scale;
            if (b != Register.None && !Pinned(Num(b))) tc.Gpr[Num(b)] = t - xv - d;
            else
            {
                d = t - (b == Register.None ? 0 : tc.Gpr[Num(b)]) - xv;
                displSize = 4;
            }
            disp = (int)d;
        }
        foreach (Register r in new[] { b, x })
            if (r != Register.None) pinned |= 1u << Num(r);
        memTarget = (int)t;
        return new MemoryOperand(b, x, scale, disp, displSize, false, seg);
    }

    // ---- operands ----

    private Instruction Build()
    {
        var ops = new List<object>();
        for (int i = 0; i < oc.OpCount; i++) ops.Add(Operand(oc.GetOpKind(i)));
        ShapeOperands();
        Code c = form.Code;
        return ops.Count switch
        {
            0 => Instruction.Create(c),
            1 => ops[0] switch
            {
                Register r => Instruction.Create(c, r),
                MemoryOperand m => Instruction.Create(c, m),
                _ => throw new InvalidOperationException(),
            },
            2 => (ops[0], ops[1]) switch
            {
                (Register a, Register b) => Instruction.Create(c, a, b),
                (Register a, MemoryOperand b) => Instruction.Create(c, a, b),
                (MemoryOperand a, Register b) => Instruction.Create(c, a, b),
                (Register a, int b) => Instruction.Create(c, a, b),
                _ => throw new InvalidOperationException($"{c}: operands"),
            },
            _ => throw new InvalidOperationException($"{c}: {ops.Count} operands"),
        };
    }

    private object Operand(OpCodeOperandKind k)
    {
        switch (k)
        {
            case OpCodeOperandKind.st0:
                return Register.ST0;
            case OpCodeOperandKind.sti_opcode:
                stiOperand = rng.Below(8);
                return Register.ST0 + stiOperand;
            case OpCodeOperandKind.mm_reg:
            case OpCodeOperandKind.mm_rm:
                return Register.MM0 + rng.Below(8);
            case OpCodeOperandKind.mm_or_mem:
                return form.Operand == FpuOperandForm.Register ? Register.MM0 + rng.Below(8) : Memory();
            case OpCodeOperandKind.r32_or_mem:
                return form.Operand == FpuOperandForm.Register ? rng.Pick(Regs32) : Memory();
            case OpCodeOperandKind.r32_reg:
                return rng.Pick(Regs32);
            case OpCodeOperandKind.mem:
                return Memory();
            case OpCodeOperandKind.ax:
                return Register.AX;
            case OpCodeOperandKind.imm8:
                return rng.Below(3) switch { 0 => rng.Below(16), 1 => rng.Pick(new[] { 0, 1, 7, 8, 15, 16, 31, 32, 63, 64, 255 }), _ => rng.Below(256) };
            default:
                throw new NotSupportedException($"{form.Code}: operand kind {k}");
        }
    }

    /// <summary>The memory operand's contents, by what the instruction reads there.</summary>
    private void Operands(ref Instruction ins)
    {
        if (memTarget < 0) return;
        long at = memTarget;
        // Something around the operand, so stores show exactly which bytes they write.
        for (int i = -8; i < OperandBytes + 8; i++) Poke(at + i, (byte)rng.Next32());
        switch (ins.MemorySize)
        {
            case MemorySize.Float32:
                PokeValue(at, RelatedSingle(), 4);
                break;
            case MemorySize.Float64:
                PokeValue(at, RelatedDouble(), 8);
                break;
            case MemorySize.Float80:
            {
                Float80 v = values.Extended();
                PokeValue(at, v.Significand, 8);
                PokeValue(at + 8, v.SignExponent, 2);
                break;
            }
            case MemorySize.Int16:
                PokeValue(at, (ulong)values.Int16(), 2);
                break;
            case MemorySize.Int32:
                PokeValue(at, (ulong)values.Int32(), 4);
                break;
            case MemorySize.Int64:
                PokeValue(at, (ulong)values.Int64(), 8);
                break;
            case MemorySize.Bcd:
                PokeBytes(at, values.Bcd());
                break;
            case MemorySize.FpuEnv14:
            case MemorySize.FpuEnv28:
            case MemorySize.FpuState94:
            case MemorySize.FpuState108:
                if (mn is Mnemonic.Fldenv or Mnemonic.Frstor) Environment(at, ins.MemorySize);
                break;
            case MemorySize.Fxsave_512Byte:
                if (mn == Mnemonic.Fxrstor) FxImage(at);
                else
                {
                    // MXCSR, MXCSR_MASK and the XMM area: SSE state this CPU does not have.
                    tc.IgnoredMemory.Add((memTarget + 24, 8));
                    tc.IgnoredMemory.Add((memTarget + 160, 512 - 160));
                    // This AMD host stores FOP, FIP and FDP (with their selectors) as zeros
                    // unless an exception is pending; a P6 stores them always.
                    bool pending = ((sw & ~cw) & 0x3F) != 0;
                    if (!pending) tc.IgnoredMemory.Add((memTarget + 6, 18));
                }
                break;
            case MemorySize.Packed64_Int8:
            case MemorySize.Packed64_Int16:
            case MemorySize.Packed64_Int32:
            case MemorySize.Packed64_UInt8:
            case MemorySize.Packed64_UInt16:
            case MemorySize.Packed64_UInt32:
            case MemorySize.UInt64:
                PokeValue(at, MmxValue(), 8);
                break;
            default:
                if (mn == Mnemonic.Fldcw) PokeValue(at, (ulong)(rng.Chance(70) ? (rng.Next32() & 0x0F3F) | 0x40 : rng.Next32()), 2);
                break;
        }
    }

    private ulong MmxValue() => rng.Below(4) switch
    {
        0 => rng.Next64() & 0x00FF_00FF_00FF_00FFUL,
        1 => rng.Pick(new[] { 0UL, ulong.MaxValue, 0x8000_8000_8000_8000UL, 0x7FFF_7FFF_7FFF_7FFFUL, 0x8080_8080_8080_8080UL, 0x7F7F_7F7F_7F7F_7F7FUL, 63UL, 64UL, 15UL, 16UL, 31UL, 32UL }),
        _ => rng.Next64(),
    };

    /// <summary>A single operand; sometimes ST(0)'s value rounded to single (equal compares, exact cancellation).</summary>
    private ulong RelatedSingle()
    {
        if (rng.Chance(15) && st[0].Class == FpClass.Normal)
        {
            uint f = 0;
            return Conversions.ToSingle(st[0], rng.Below(4), 0x3F, ref f);
        }
        return values.Single();
    }

    private ulong RelatedDouble()
    {
        if (rng.Chance(15) && st[0].Class == FpClass.Normal)
        {
            uint f = 0;
            return Conversions.ToDouble(st[0], rng.Below(4), 0x3F, ref f);
        }
        return values.Double();
    }

    /// <summary>An FLDENV/FRSTOR image in the protected-mode layout of the operand size.</summary>
    private void Environment(long at, MemorySize size)
    {
        bool op32 = size is MemorySize.FpuEnv28 or MemorySize.FpuState108;
        ushort ecw = (ushort)(rng.Chance(70) ? (rng.Next32() & 0x0F3F) | 0x40 : rng.Next32());
        if (rng.Chance(70)) ecw |= 0x3F;
        ushort esw = (ushort)rng.Next32();
        if (rng.Chance(60)) esw &= unchecked((ushort)~0xFF);
        ushort etw = (ushort)rng.Next32();
        if (op32)
        {
            PokeValue(at, ecw | ((ulong)rng.Next32() << 16), 4);
            PokeValue(at + 4, esw | ((ulong)rng.Next32() << 16), 4);
            PokeValue(at + 8, etw | ((ulong)rng.Next32() << 16), 4);
        }
        else
        {
            PokeValue(at, ecw, 2);
            PokeValue(at + 2, esw, 2);
            PokeValue(at + 4, etw, 2);
        }
        if (size is MemorySize.FpuState94 or MemorySize.FpuState108)
        {
            int env = op32 ? 28 : 14;
            for (int r = 0; r < 8; r++)
            {
                Float80 v = values.Extended();
                PokeValue(at + env + 10 * r, v.Significand, 8);
                PokeValue(at + env + 10 * r + 8, v.SignExponent, 2);
            }
        }
    }

    /// <summary>An FXRSTOR image: random x87 fields, a valid MXCSR.</summary>
    private void FxImage(long at)
    {
        ushort ecw = (ushort)(rng.Chance(70) ? (rng.Next32() & 0x0F3F) | 0x40 : rng.Next32());
        if (rng.Chance(70)) ecw |= 0x3F;
        ushort esw = (ushort)rng.Next32();
        if (rng.Chance(60)) esw &= unchecked((ushort)~0xFF);
        PokeValue(at, ecw, 2);
        PokeValue(at + 2, esw, 2);
        PokeValue(at + 24, 0x1F80, 4); // MXCSR: reserved bits set would be #GP on this SSE host
        for (int r = 0; r < 8; r++)
        {
            Float80 v = values.Extended();
            PokeValue(at + 32 + 16 * r, v.Significand, 8);
            PokeValue(at + 32 + 16 * r + 8, v.SignExponent, 2);
        }
    }

    // ---- encoding ----

    private void Encode(Instruction ins)
    {
        uint entry = Layout.Entry(code16);
        int jmpLen = code16 ? 3 : 5;
        byte[] bytes = EncodeAt(ins, entry);
        tc.TrailingWait = rng.Chance(20);
        Array.Fill(tc.Code, (byte)0xF4);
        bytes.CopyTo(tc.Code, 0);
        int at = bytes.Length;
        tc.InstructionLength = bytes.Length;
        if (tc.TrailingWait) tc.Code[at++] = 0x9B;
        WriteJump(at, Layout.ExitFall(code16));
        WriteJump(at + jmpLen, Layout.ExitTaken(code16));
    }

    private void WriteJump(int at, uint target)
    {
        uint from = Layout.Entry(code16) + (uint)at;
        tc.Code[at] = 0xE9;
        if (code16) BitConverter.TryWriteBytes(tc.Code.AsSpan(at + 1), (ushort)(target - (from + 3)));
        else BitConverter.TryWriteBytes(tc.Code.AsSpan(at + 1), target - (from + 5));
    }

    private byte[] EncodeAt(Instruction ins, uint ip)
    {
        var w = new CodeWriterImpl();
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
}
