using Iced.Intel;

namespace Emu.X86;

/// <summary>How an instruction asks the engine to leave the current block early.</summary>
public static class BlockExitKind
{
    public const int None = 0;
    /// <summary>The instruction set EIP itself (for example an unfinished REP string instruction restarts).</summary>
    public const int EipSet = 1;
    /// <summary>The block's own bytes were overwritten: continue at the next instruction, freshly decoded.</summary>
    public const int ContinueAfter = 2;
}

/// <summary>
/// The reference engine: runs a decoded block instruction by instruction through the
/// handlers of <see cref="InstructionTable"/>. It never decodes; blocks come decoded.
/// </summary>
public static unsafe class Interpreter
{
    /// <summary>Runs every instruction of <paramref name="b"/>, leaving EIP at the next instruction to run.</summary>
    public static void Execute(Cpu c, Block b)
    {
        DecodedInstruction[] code = b.Decoded;
        delegate*<Cpu, ref Instruction, void>[] handlers = b.Handlers;
        int n = b.Count;
        for (int i = 0; i < n; i++)
        {
            ref Instruction ins = ref code[i].Instruction;
            c.Eip = (uint)ins.IP;
            handlers[i](c, ref ins);
            if (c.BlockExit != BlockExitKind.None)
            {
                LeaveEarly(c, b, i);
                return;
            }
        }
        c.InstructionCount += n;
        if (!b.EndsInBranch) c.Eip = b.NextEip;
    }

    /// <summary>Runs only the first instruction of <paramref name="b"/> (single-stepping), leaving EIP at the next one.</summary>
    public static void ExecuteFirst(Cpu c, Block b) => ExecuteAt(c, b, 0);

    /// <summary>
    /// Runs instruction <paramref name="index"/> of <paramref name="b"/> alone, the instructions
    /// before it having run (elsewhere) but not yet counted: counts them and it as retired and
    /// leaves EIP at the next instruction to run. Compiled code hands an instruction over to
    /// this when its inline path cannot finish it (a TLB miss).
    /// </summary>
    public static void ExecuteAt(Cpu c, Block b, int index)
    {
        ref Instruction ins = ref b.Decoded[index].Instruction;
        c.Eip = (uint)ins.IP;
        b.Handlers[index](c, ref ins);
        if (c.BlockExit != BlockExitKind.None)
        {
            LeaveEarly(c, b, index);
            return;
        }
        c.InstructionCount += index + 1;
        if (index < b.Count - 1 || !b.EndsInBranch) c.Eip = (uint)ins.NextIP & (b.Code32 ? 0xFFFF_FFFFu : 0xFFFFu);
    }

    /// <summary>
    /// Instruction <paramref name="index"/> of <paramref name="b"/> asked to leave the block
    /// (see <see cref="BlockExitKind"/>): counts it as retired and sets EIP to where execution
    /// continues. Both engines leave a block early through here.
    /// </summary>
    public static void LeaveEarly(Cpu c, Block b, int index)
    {
        int kind = c.BlockExit;
        c.BlockExit = BlockExitKind.None;
        c.InstructionCount += index + 1;
        if (kind == BlockExitKind.EipSet) return;
        if (index < b.Count - 1 || !b.EndsInBranch)
            c.Eip = (uint)b.Code[index].NextIP & (b.Code32 ? 0xFFFF_FFFFu : 0xFFFFu);
    }
}
