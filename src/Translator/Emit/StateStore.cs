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
        c.Eip = eip;
        c.RegionBlock = block;
    }
}
