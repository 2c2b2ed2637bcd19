using System.Runtime.CompilerServices;
using Emu.X86;

namespace Emu.Translator.Emit;

/// <summary>
/// The store-back of a flat region's locals on its slow paths, as one call rather than a
/// store per local: slow paths are many (one per memory access) and rarely run, so their
/// size, which RyuJIT pays for at every compile, matters more than their speed.
/// </summary>
public static class StateStore
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Store(Cpu c, uint eax, uint ecx, uint edx, uint ebx, uint esp, uint ebp, uint esi, uint edi,
        int flagsOp, uint src1, uint src2, uint res, uint eflags, long count, uint eip, int block)
    {
        StoreLocals(c, eax, ecx, edx, ebx, esp, ebp, esi, edi, flagsOp, src1, src2, res, eflags, count, block);
        c.Eip = eip;
    }

    /// <summary>
    /// The slow path of a flat region's inline memory access (a TLB miss, a device, an access
    /// across a page): stores the locals, which hold the state before instruction
    /// <paramref name="index"/> of the region's block <paramref name="block"/>, and runs that
    /// instruction through the interpreter (which may fault); the region then leaves, and
    /// the dispatcher goes on after it. The inline path needs no join after the access and
    /// no check for a store into the running code: such a store always misses (code pages
    /// never enter the write TLB), so it lands here.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void StoreAndRun(Cpu c, uint eax, uint ecx, uint edx, uint ebx, uint esp, uint ebp, uint esi, uint edi,
        int flagsOp, uint src1, uint src2, uint res, uint eflags, long count, int block, int index)
    {
        StoreLocals(c, eax, ecx, edx, ebx, esp, ebp, esi, edi, flagsOp, src1, src2, res, eflags, count, block);
        Interpreter.ExecuteAt(c, c.CurrentBlocks![block], index);
    }

    /// <summary>The general registers, the lazy flags, EFLAGS, the count and the running block, as a region's locals hold them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreLocals(Cpu c, uint eax, uint ecx, uint edx, uint ebx, uint esp, uint ebp, uint esi, uint edi,
        int flagsOp, uint src1, uint src2, uint res, uint eflags, long count, int block)
    {
        c.Gpr[Reg.EAX] = eax;
        c.Gpr[Reg.ECX] = ecx;
        c.Gpr[Reg.EDX] = edx;
        c.Gpr[Reg.EBX] = ebx;
        c.Gpr[Reg.ESP] = esp;
        c.Gpr[Reg.EBP] = ebp;
        c.Gpr[Reg.ESI] = esi;
        c.Gpr[Reg.EDI] = edi;
        c.FlagsOp = flagsOp;
        c.FlagsSrc1 = src1;
        c.FlagsSrc2 = src2;
        c.FlagsRes = res;
        c.Eflags = eflags;
        c.InstructionCount = count;
        c.RegionBlock = block;
    }
}
