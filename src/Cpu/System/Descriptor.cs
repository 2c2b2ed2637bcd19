using Emu.Memory;

namespace Emu.X86;

/// <summary>A segment or gate descriptor as it sits in the GDT, LDT or IDT (Intel SDM Vol. 3, 3.4.5 and 6.11).</summary>
public readonly struct Descriptor
{
    public readonly ulong Raw;

    public Descriptor(ulong raw) => Raw = raw;

    public uint Base => (uint)((Raw >> 16) & 0xFF_FFFF) | (uint)((Raw >> 32) & 0xFF00_0000);

    /// <summary>The limit in bytes (granularity applied).</summary>
    public uint Limit
    {
        get
        {
            uint limit = (uint)(Raw & 0xFFFF) | (uint)((Raw >> 32) & 0xF_0000);
            return (Raw & (1UL << 55)) != 0 ? (limit << 12) | 0xFFF : limit;
        }
    }

    /// <summary>Access rights in the VMX layout: type 3:0, S 4, DPL 6:5, P 7, AVL 12, D/B 14, G 15.</summary>
    public uint Rights => (uint)(Raw >> 40) & 0xF0FF;

    public uint Type => (uint)(Raw >> 40) & 0xF;
    public bool IsSegment => (Raw & (1UL << 44)) != 0;
    public bool IsSystem => !IsSegment;
    public int Dpl => (int)(Raw >> 45) & 3;
    public bool Present => (Raw & (1UL << 47)) != 0;
    public bool Big => (Raw & (1UL << 54)) != 0;

    public bool IsCode => IsSegment && (Type & 8) != 0;
    public bool IsData => IsSegment && (Type & 8) == 0;
    public bool IsConforming => IsCode && (Type & 4) != 0;
    public bool IsReadable => IsData || (Type & 2) != 0;
    public bool IsWritableData => IsData && (Type & 2) != 0;

    /// <summary>System types: 1/3 16-bit TSS (available/busy), 2 LDT, 4 16-bit call gate, 5 task gate, 6/7 16-bit interrupt/trap gate, 9/B 32-bit TSS, C 32-bit call gate, E/F 32-bit interrupt/trap gate.</summary>
    public bool IsTss => IsSystem && Type is 1 or 3 or 9 or 11;
    public bool IsBusyTss => IsSystem && Type is 3 or 11;
    public bool IsCallGate => IsSystem && Type is 4 or 12;
    public bool IsTaskGate => IsSystem && Type == 5;

    /// <summary>For a gate: the selector it names.</summary>
    public ushort GateSelector => (ushort)(Raw >> 16);

    /// <summary>For a gate: the entry offset (16 bits for 16-bit gates).</summary>
    public uint GateOffset => (uint)(Raw & 0xFFFF) | ((Type & 8) != 0 ? (uint)(Raw >> 32) & 0xFFFF_0000u : 0);

    /// <summary>For a 32-bit gate (call, interrupt, trap): true.</summary>
    public bool Gate32 => (Type & 8) != 0;

    /// <summary>For a call gate: the number of stack parameters to copy.</summary>
    public int GateParameterCount => (int)(Raw >> 32) & 0x1F;
}

// Descriptor-table access. The CPU reads and writes descriptor tables with supervisor
// privilege whatever the CPL (Intel SDM Vol. 3, 5.5 "implicit supervisor-mode accesses").
public sealed partial class Cpu
{
    public uint SystemRead32(uint linear) => Mmu.ReadAs(linear, 4, user: false);

    public ulong SystemRead64(uint linear) => SystemRead32(linear) | ((ulong)SystemRead32(linear + 4) << 32);

    public ushort SystemRead16(uint linear) => (ushort)Mmu.ReadAs(linear, 2, user: false);

    public void SystemWrite(uint linear, int size, uint value) => Mmu.WriteAs(linear, size, value, user: false);

    /// <summary>
    /// Reads the descriptor a selector names from the GDT or LDT, raising
    /// <paramref name="vector"/>(selector | ext) when it lies outside the table.
    /// </summary>
    public Descriptor ReadDescriptor(ushort selector, int vector = ExceptionVectors.GP, uint ext = 0)
    {
        uint index = (uint)selector & ~7u;
        uint tableBase, limit;
        if ((selector & 4) != 0)
        {
            if ((Ldtr.Rights & SegmentCache.RightsP) == 0) throw GuestFault.Create(vector, (selector & 0xFFFCu) | ext);
            tableBase = Ldtr.Base;
            limit = Ldtr.Limit;
        }
        else
        {
            tableBase = Gdtr.Base;
            limit = Gdtr.Limit;
        }
        if (index + 7 > limit) throw GuestFault.Create(vector, (selector & 0xFFFCu) | ext);
        return new Descriptor(SystemRead64(tableBase + index));
    }

    /// <summary>The linear address of a selector's descriptor (the selector has been checked by a read).</summary>
    public uint DescriptorAddress(ushort selector) => ((selector & 4) != 0 ? Ldtr.Base : Gdtr.Base) + ((uint)selector & ~7u);

    /// <summary>Sets the accessed bit of a segment descriptor in memory, if clear.</summary>
    public void SetAccessed(ushort selector, Descriptor d)
    {
        if ((d.Raw & (1UL << 40)) != 0) return;
        SystemWrite(DescriptorAddress(selector) + 5, 1, (uint)(d.Raw >> 40) | 1);
    }

    /// <summary>Loads a segment cache from a descriptor (accessed bit included).</summary>
    public static SegmentCache CacheOf(ushort selector, Descriptor d)
    {
        var s = new SegmentCache();
        s.Load(selector, d.Base, d.Limit, d.Rights | (d.IsSegment ? 1u : 0u));
        return s;
    }
}
