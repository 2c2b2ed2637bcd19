using System.Runtime.CompilerServices;
using Iced.Intel;
using static Emu.X86.OperandSize;

namespace Emu.X86;

/// <summary>
/// Shifts and rotates: SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR, SHLD, SHRD (Intel SDM Vol. 2,
/// "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR", "SHLD", "SHRD"). The count is masked to 5 bits; a
/// masked count of 0 changes no flags. Flags the SDM leaves undefined get the values listed
/// in <see cref="UndefinedFlags"/>.
/// </summary>
public static unsafe class Shifts
{
    private const uint ShiftFlags = Flags.Arith;
    private const uint RotateFlags = Flags.CF | Flags.OF;

    public static uint Shl(Cpu c, uint a, uint count, int size)
    {
        count &= 0x1F;
        if (count == 0) return a;
        uint r = Shl(a, count, size, out _);
        c.SetLazy(LazyFlags.Shl | size, a, count, r);
        return r;
    }

    /// <summary>SHL by a masked count of 1-31: the result and the six arithmetic flags (compiled code keeps them in locals).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Shl(uint a, uint count, int size, out uint flags)
    {
        int bits = Bits(size);
        ulong wide = (ulong)a << (int)count;
        uint r = (uint)wide & Mask(size);
        uint cf = (uint)(wide >> bits) & 1;
        uint of = ((r >> (bits - 1)) & 1) ^ cf;
        flags = cf | (of << 11) | Cpu.SzpFlags(r, size);
        return r;
    }

    public static uint Shr(Cpu c, uint a, uint count, int size)
    {
        count &= 0x1F;
        if (count == 0) return a;
        uint r = Shr(a, count, size, out _);
        c.SetLazy(LazyFlags.Shr | size, a, count, r);
        return r;
    }

    /// <summary>SHR by a masked count of 1-31 (operand zero-extended).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Shr(uint a, uint count, int size, out uint flags)
    {
        int bits = Bits(size);
        uint r = a >> (int)count;
        uint cf = (a >> (int)(count - 1)) & 1;
        uint of = (a >> (bits - 1)) & 1;
        flags = cf | (of << 11) | Cpu.SzpFlags(r, size);
        return r;
    }

    public static uint Sar(Cpu c, uint a, uint count, int size)
    {
        count &= 0x1F;
        if (count == 0) return a;
        uint r = Sar(a, count, size, out _);
        c.SetLazy(LazyFlags.Sar | size, a, count, r);
        return r;
    }

    /// <summary>SAR by a masked count of 1-31.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Sar(uint a, uint count, int size, out uint flags)
    {
        int s = (int)SignExtend(a, size);
        uint r = (uint)(s >> (int)count) & Mask(size);
        uint cf = (uint)(s >> (int)(count - 1)) & 1;
        flags = cf | Cpu.SzpFlags(r, size);
        return r;
    }

    public static uint Rol(Cpu c, uint a, uint count, int size)
    {
        count &= 0x1F;
        if (count == 0) return a;
        uint r = Rol(a, count, size, out uint flags);
        c.SetArithFlags(flags, RotateFlags);
        return r;
    }

    /// <summary>ROL by a masked count of 1-31: the result, and CF and OF (the other flags keep their values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Rol(uint a, uint count, int size, out uint flags)
    {
        int bits = Bits(size);
        int n = (int)(count % (uint)bits);
        uint r = n == 0 ? a : ((a << n) | (a >> (bits - n))) & Mask(size);
        uint cf = r & 1;
        uint of = ((r >> (bits - 1)) & 1) ^ cf;
        flags = cf | (of << 11);
        return r;
    }

    public static uint Ror(Cpu c, uint a, uint count, int size)
    {
        count &= 0x1F;
        if (count == 0) return a;
        uint r = Ror(a, count, size, out uint flags);
        c.SetArithFlags(flags, RotateFlags);
        return r;
    }

    /// <summary>ROR by a masked count of 1-31: the result, and CF and OF.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Ror(uint a, uint count, int size, out uint flags)
    {
        int bits = Bits(size);
        int n = (int)(count % (uint)bits);
        uint r = n == 0 ? a : ((a >> n) | (a << (bits - n))) & Mask(size);
        uint cf = (r >> (bits - 1)) & 1;
        uint of = cf ^ ((r >> (bits - 2)) & 1);
        flags = cf | (of << 11);
        return r;
    }

    /// <summary>The flags ROL and ROR change.</summary>
    public const uint RotateFlagMask = RotateFlags;

    public static uint Rcl(Cpu c, uint a, uint count, int size)
    {
        count &= 0x1F;
        if (count == 0) return a;
        int bits = Bits(size);
        int n = (int)(count % (uint)(bits + 1));
        uint cfIn = c.GetCF();
        // Rotate the (bits+1)-bit quantity CF:dest left by n.
        ulong v = ((ulong)cfIn << bits) | a;
        ulong all = (1UL << (bits + 1)) - 1;
        if (n != 0) v = ((v << n) | (v >> (bits + 1 - n))) & all;
        uint r = (uint)v & Mask(size);
        uint cf = (uint)(v >> bits) & 1;
        uint of = ((r >> (bits - 1)) & 1) ^ cf;
        c.SetArithFlags(cf | (of << 11), RotateFlags);
        return r;
    }

    public static uint Rcr(Cpu c, uint a, uint count, int size)
    {
        count &= 0x1F;
        if (count == 0) return a;
        int bits = Bits(size);
        int n = (int)(count % (uint)(bits + 1));
        uint cfIn = c.GetCF();
        ulong v = ((ulong)cfIn << bits) | a;
        ulong all = (1UL << (bits + 1)) - 1;
        if (n != 0) v = ((v >> n) | (v << (bits + 1 - n))) & all;
        uint r = (uint)v & Mask(size);
        uint cf = (uint)(v >> bits) & 1;
        // OF for a 1-bit RCR is MSB(dest) XOR CF, both taken before the rotate.
        uint of = ((a >> (bits - 1)) & 1) ^ cfIn;
        c.SetArithFlags(cf | (of << 11), RotateFlags);
        return r;
    }

    /// <summary>SHLD: shifts dest left, filling from the high bits of src. 16-bit counts above 16 give an undefined result.</summary>
    public static uint Shld(Cpu c, uint dest, uint src, uint count, int size)
    {
        count &= 0x1F;
        if (count == 0) return dest;
        int bits = Bits(size);
        uint r, cf;
        if (size == 2)
        {
            r = (dest << (int)count) | (src >> (32 - (int)count));
            cf = (dest >> (32 - (int)count)) & 1;
        }
        else
        {
            // 16-bit: shift the 32-bit pair dest:src (then src:dest...) as a P6 does for counts up to 31.
            ulong pair = ((ulong)dest << 32) | ((ulong)src << 16) | dest;
            ulong shifted = pair << (int)count;
            r = (uint)(shifted >> 32) & 0xFFFF;
            cf = (uint)(shifted >> 48) & 1;
        }
        uint of = ((r ^ dest) >> (bits - 1)) & 1;
        c.SetArithFlags(cf | (of << 11) | Cpu.SzpFlags(r, size));
        return r;
    }

    /// <summary>SHRD: shifts dest right, filling from the low bits of src. 16-bit counts above 16 give an undefined result.</summary>
    public static uint Shrd(Cpu c, uint dest, uint src, uint count, int size)
    {
        count &= 0x1F;
        if (count == 0) return dest;
        int bits = Bits(size);
        uint r, cf;
        if (size == 2)
        {
            r = (dest >> (int)count) | (src << (32 - (int)count));
            cf = (dest >> ((int)count - 1)) & 1;
        }
        else
        {
            ulong pair = ((ulong)dest << 32) | ((ulong)src << 16) | dest;
            r = (uint)(pair >> (int)count) & 0xFFFF;
            cf = (uint)(pair >> ((int)count - 1)) & 1;
        }
        uint of = ((r ^ dest) >> (bits - 1)) & 1;
        c.SetArithFlags(cf | (of << 11) | Cpu.SzpFlags(r, size));
        return r;
    }

    public struct ShlOp : IBinaryOp { public static bool WritesResult => true; public static uint Apply(Cpu c, uint a, uint n, int s) => Shl(c, a, n, s); }
    public struct ShrOp : IBinaryOp { public static bool WritesResult => true; public static uint Apply(Cpu c, uint a, uint n, int s) => Shr(c, a, n, s); }
    public struct SarOp : IBinaryOp { public static bool WritesResult => true; public static uint Apply(Cpu c, uint a, uint n, int s) => Sar(c, a, n, s); }
    public struct RolOp : IBinaryOp { public static bool WritesResult => true; public static uint Apply(Cpu c, uint a, uint n, int s) => Rol(c, a, n, s); }
    public struct RorOp : IBinaryOp { public static bool WritesResult => true; public static uint Apply(Cpu c, uint a, uint n, int s) => Ror(c, a, n, s); }
    public struct RclOp : IBinaryOp { public static bool WritesResult => true; public static uint Apply(Cpu c, uint a, uint n, int s) => Rcl(c, a, n, s); }
    public struct RcrOp : IBinaryOp { public static bool WritesResult => true; public static uint Apply(Cpu c, uint a, uint n, int s) => Rcr(c, a, n, s); }

    /// <summary>SHLD/SHRD r, r, imm8|CL with the source and count read.</summary>
    public static void DoubleShiftRegister(Cpu c, int r, uint src, uint count, int size, bool left)
    {
        uint d = c.GetReg(r, size);
        c.SetReg(r, size, left ? Shld(c, d, src, count, size) : Shrd(c, d, src, count, size));
    }

    /// <summary>SHLD/SHRD m, r, imm8|CL: a read-modify-write, checked for writing first.</summary>
    public static void DoubleShiftMemory(Cpu c, int seg, uint ea, uint src, uint count, int size, bool left)
    {
        uint lin = c.LinearRmw(seg, ea, Bytes(size));
        uint d = c.ReadLinearRmw(lin, size);
        c.WriteLinear(lin, size, left ? Shld(c, d, src, count, size) : Shrd(c, d, src, count, size));
    }

    /// <summary>SHLD/SHRD r/m, r, imm8|CL.</summary>
    private static void DoubleShift<TSize>(Cpu c, ref Instruction i, bool left) where TSize : struct, IOperandSize
    {
        int size = TSize.Size;
        uint src = c.GetReg(Cpu.RegNum(i.Op1Register), size);
        uint count = i.Op2Kind == OpKind.Register ? c.GetReg8(1) : i.Immediate8;
        if (i.Op0Kind == OpKind.Register) DoubleShiftRegister(c, Cpu.RegNum(i.Op0Register), src, count, size, left);
        else DoubleShiftMemory(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), src, count, size, left);
    }

    private static void ShldW(Cpu c, ref Instruction i) => DoubleShift<Word16>(c, ref i, true);
    private static void ShldD(Cpu c, ref Instruction i) => DoubleShift<Dword32>(c, ref i, true);
    private static void ShrdW(Cpu c, ref Instruction i) => DoubleShift<Word16>(c, ref i, false);
    private static void ShrdD(Cpu c, ref Instruction i) => DoubleShift<Dword32>(c, ref i, false);

    internal static void Register()
    {
        RegisterShift<ShlOp>("Shl");
        RegisterShift<ShlOp>("Sal"); // the undocumented /6 alias of SHL
        RegisterShift<ShrOp>("Shr");
        RegisterShift<SarOp>("Sar");
        RegisterShift<RolOp>("Rol");
        RegisterShift<RorOp>("Ror");
        RegisterShift<RclOp>("Rcl");
        RegisterShift<RcrOp>("Rcr");
        InstructionTable.Add(Code.Shld_rm16_r16_imm8, &ShldW);
        InstructionTable.Add(Code.Shld_rm16_r16_CL, &ShldW);
        InstructionTable.Add(Code.Shld_rm32_r32_imm8, &ShldD);
        InstructionTable.Add(Code.Shld_rm32_r32_CL, &ShldD);
        InstructionTable.Add(Code.Shrd_rm16_r16_imm8, &ShrdW);
        InstructionTable.Add(Code.Shrd_rm16_r16_CL, &ShrdW);
        InstructionTable.Add(Code.Shrd_rm32_r32_imm8, &ShrdD);
        InstructionTable.Add(Code.Shrd_rm32_r32_CL, &ShrdD);
    }

    private static void RegisterShift<TOp>(string m) where TOp : struct, IBinaryOp
    {
        foreach (string f in new[] { "imm8", "1", "CL" })
        {
            InstructionTable.AddBinary<TOp, Byte8>(Shapes.CodeOf(m, "rm8_" + f));
            InstructionTable.AddBinary<TOp, Word16>(Shapes.CodeOf(m, "rm16_" + f));
            InstructionTable.AddBinary<TOp, Dword32>(Shapes.CodeOf(m, "rm32_" + f));
        }
    }
}
