using System.Runtime.CompilerServices;
using Emu.Memory;

namespace Emu.X86;

// Segmented memory access: every operand access goes offset -> segment checks -> linear -> Mmu.
public sealed partial class Cpu
{
    /// <summary>
    /// Raises the fault for an access outside a segment's limits or rights: #SS(0) for the
    /// stack segment, #GP(0) otherwise (Intel SDM Vol. 3, 5.3 and 6.15).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static GuestFault SegmentFault(int seg) =>
        GuestFault.Create(seg == SegReg.SS ? ExceptionVectors.SS : ExceptionVectors.GP, 0);

    /// <summary>The linear address of a read of <paramref name="size"/> bytes at seg:offset, after the segment checks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint LinearRead(int seg, uint offset, int size)
    {
        ref SegmentCache s = ref Seg[seg];
        uint last = offset + (uint)(size - 1);
        if (!s.Readable || offset < s.ValidLow || last > s.ValidHigh || last < offset) throw SegmentFault(seg);
        return s.Base + offset;
    }

    /// <summary>The linear address of a write of <paramref name="size"/> bytes at seg:offset, after the segment checks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint LinearWrite(int seg, uint offset, int size)
    {
        ref SegmentCache s = ref Seg[seg];
        uint last = offset + (uint)(size - 1);
        if (!s.Writable || offset < s.ValidLow || last > s.ValidHigh || last < offset) throw SegmentFault(seg);
        return s.Base + offset;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte Read8(int seg, uint offset) => Mmu.Read8(LinearRead(seg, offset, 1));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort Read16(int seg, uint offset) => Mmu.Read16(LinearRead(seg, offset, 2));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Read32(int seg, uint offset) => Mmu.Read32(LinearRead(seg, offset, 4));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write8(int seg, uint offset, byte value) => Mmu.Write8(LinearWrite(seg, offset, 1), value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write16(int seg, uint offset, ushort value) => Mmu.Write16(LinearWrite(seg, offset, 2), value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write32(int seg, uint offset, uint value) => Mmu.Write32(LinearWrite(seg, offset, 4), value);

    /// <summary>
    /// The linear address for a read-modify-write operand: checked for writing (segment and
    /// page) before anything is read, so a fault changes nothing and reports a write.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint LinearRmw(int seg, uint offset, int size)
    {
        uint lin = LinearWrite(seg, offset, size);
        Mmu.ProbeRmw(lin, size);
        return lin;
    }

    /// <summary>
    /// Whether CS, DS, ES and SS are flat: base 0, every offset valid (4 GiB, expand-up),
    /// data segments readable and writable, 32-bit code and stack. Compiled code made for
    /// flat segments runs only while this holds, and leaves out every segment check.
    /// </summary>
    public bool FlatSegments()
    {
        if (!Code32 || !Stack32) return false;
        ref SegmentCache cs = ref Seg[SegReg.CS];
        if (cs.Base != 0 || cs.ValidHigh != 0xFFFF_FFFFu) return false;
        return FlatData(ref Seg[SegReg.DS]) && FlatData(ref Seg[SegReg.ES]) && FlatData(ref Seg[SegReg.SS]);
    }

    private static bool FlatData(ref SegmentCache s) =>
        s.Base == 0 && s.ValidLow == 0 && s.ValidHigh == 0xFFFF_FFFFu && s.Readable && s.Writable;

    // ---- stack ----

    /// <summary>The stack pointer as SS.B selects it: ESP, or SP zero-extended.</summary>
    public uint StackPointer
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Stack32 ? Gpr[Reg.ESP] : (ushort)Gpr[Reg.ESP];
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        set
        {
            if (Stack32) Gpr[Reg.ESP] = value;
            else Gpr[Reg.ESP] = (Gpr[Reg.ESP] & 0xFFFF_0000u) | (ushort)value;
        }
    }

    /// <summary>The stack pointer after moving it by <paramref name="delta"/>, wrapped as SS.B says.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint StackOffset(int delta) => Stack32 ? Gpr[Reg.ESP] + (uint)delta : (ushort)(Gpr[Reg.ESP] + (uint)delta);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Push32(uint value)
    {
        uint sp = StackOffset(-4);
        Write32(SegReg.SS, sp, value);
        StackPointer = sp;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Push16(ushort value)
    {
        uint sp = StackOffset(-2);
        Write16(SegReg.SS, sp, value);
        StackPointer = sp;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Pop32()
    {
        uint v = Read32(SegReg.SS, StackPointer);
        StackPointer = StackOffset(4);
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort Pop16()
    {
        ushort v = Read16(SegReg.SS, StackPointer);
        StackPointer = StackOffset(2);
        return v;
    }
}
