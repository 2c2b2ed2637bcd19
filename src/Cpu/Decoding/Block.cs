using System;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// A basic block of guest code decoded once by Iced: instructions from one start address
/// up to a control transfer, an instruction that changes how code is decoded, the end of
/// the page, or a size cap. Keyed by physical address, EIP and code size (16/32-bit).
/// Both engines run these: the interpreter walks <see cref="Code"/>, the translator
/// compiles it.
/// </summary>
public sealed unsafe class Block
{
    public readonly Instruction[] Code;
    /// <summary>
    /// The same instructions with their operands worked out (<see cref="Operands"/>), as the
    /// interpreter passes them to <see cref="Handlers"/>.
    /// </summary>
    public readonly DecodedInstruction[] Decoded;
    /// <summary>
    /// The interpreter handler of each instruction, chosen once at decode time for its operand
    /// form (<see cref="InstructionTable.HandlerFor"/>). A form handler reads the operands after
    /// the instruction, so these are called only with an element of <see cref="Decoded"/>.
    /// </summary>
    public readonly delegate*<Cpu, ref Instruction, void>[] Handlers;
    public readonly int Count;

    /// <summary>EIP of the first instruction.</summary>
    public readonly uint Eip;
    /// <summary>EIP after the last instruction (where execution goes when the block falls through).</summary>
    public readonly uint NextEip;
    /// <summary>Offset from CS of the last byte of the block (checked against the CS limit).</summary>
    public readonly uint LastByte;
    /// <summary>CS base the block was found through (with EIP, it gives the linear address).</summary>
    public readonly uint CsBase;
    /// <summary>Physical address range [PhysStart, PhysEnd) the block's bytes occupy in its first page.</summary>
    public readonly uint PhysStart, PhysEnd;

    /// <summary>
    /// For a block whose one instruction runs into the next page: the physical range of its
    /// bytes there, [SecondPage, SecondPage + SecondPageBytes). <see cref="NoSecondPage"/> otherwise.
    /// </summary>
    public readonly uint SecondPage = NoSecondPage;
    public readonly int SecondPageBytes;

    public const uint NoSecondPage = 0xFFFF_FFFF;

    public bool Straddles => SecondPage != NoSecondPage;
    public readonly bool Code32;
    /// <summary>The block holds a sensitive instruction (<see cref="InstructionTable.IsSensitive"/>).</summary>
    public readonly bool Sensitive;
    /// <summary>The last instruction sets EIP itself (a branch, call, return, interrupt...).</summary>
    public readonly bool EndsInBranch;
    /// <summary>False for blocks that are decoded for one use only (crossing a page, or in MMIO).</summary>
    public readonly bool Cacheable;

    /// <summary>Cleared when guest stores overwrite the block's bytes.</summary>
    public bool Valid = true;

    /// <summary>Times the block has been entered (the translator's tiering counter).</summary>
    public int Hits;

    /// <summary>
    /// The compiled region the translator runs this block in (its own type; the CPU never
    /// looks inside), with <see cref="RegionEntry"/> the block's entry into it; null until one
    /// is installed, and again after the region is invalidated.
    /// </summary>
    public object? Region;

    /// <summary>The entry number of this block in <see cref="Region"/>.</summary>
    public int RegionEntry;

    /// <summary>Set when the block has been queued for compilation (in a region being built).</summary>
    public bool CompileQueued;

    internal Block? HashNext;
    internal Block? PageNext;
    internal Block? PageNext2; // the link in the second page's list, for a block that straddles

    internal Block(Instruction[] code, delegate*<Cpu, ref Instruction, void>[] handlers, int count, uint eip, uint nextEip,
        uint csBase, uint physStart, uint physEnd, bool code32, bool endsInBranch, bool cacheable,
        uint secondPage = NoSecondPage, int secondPageBytes = 0)
    {
        SecondPage = secondPage;
        SecondPageBytes = secondPageBytes;
        Code = code;
        Decoded = new DecodedInstruction[count];
        for (int i = 0; i < count; i++)
        {
            Decoded[i].Instruction = code[i];
            Decoded[i].Operands = Operands.Decode(ref code[i]);
            Sensitive |= InstructionTable.IsSensitive(code[i].Code);
        }
        Handlers = handlers;
        Count = count;
        Eip = eip;
        NextEip = nextEip;
        LastByte = nextEip - 1;
        CsBase = csBase;
        PhysStart = physStart;
        PhysEnd = physEnd;
        Code32 = code32;
        EndsInBranch = endsInBranch;
        Cacheable = cacheable;
    }

    public override string ToString() => $"block {CsBase + Eip:X8} (EIP {Eip:X8}, phys {PhysStart:X8}, {Count} instructions)";
}
