using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Emu.X86;

/// <summary>General-register numbers as the instruction encoding numbers them (Intel SDM Vol. 2, Table 2-2).</summary>
public static class Reg
{
    public const int EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;

    public static readonly string[] Names32 = { "EAX", "ECX", "EDX", "EBX", "ESP", "EBP", "ESI", "EDI" };
}

/// <summary>Segment-register numbers in encoding order (Sreg field).</summary>
public static class SegReg
{
    public const int ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;

    public static readonly string[] Names = { "ES", "CS", "SS", "DS", "FS", "GS" };
}

/// <summary>The eight 32-bit general registers, inline in the CPU object.</summary>
[InlineArray(8)]
public struct GprFile
{
    private uint element;
}

/// <summary>The six segment registers, inline in the CPU object.</summary>
[InlineArray(6)]
public struct SegmentFile
{
    private SegmentCache element;
}

/// <summary>The debug registers DR0-DR7 (DR4/DR5 alias DR6/DR7 when CR4.DE=0).</summary>
[InlineArray(8)]
public struct DebugRegisterFile
{
    private uint element;
}

/// <summary>A descriptor-table register (GDTR, IDTR): a linear base and a 16-bit limit.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct TableRegister
{
    public uint Base;
    public ushort Limit;
}

/// <summary>
/// A segment register: the visible selector and the hidden descriptor cache the CPU loads
/// with it (Intel SDM Vol. 3, 3.4.3). Accesses are checked against the cache, never the
/// descriptor table, so the cache keeps its limits after a mode switch ("unreal" mode).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct SegmentCache
{
    public uint Base;
    /// <summary>Effective limit in bytes (granularity applied).</summary>
    public uint Limit;
    /// <summary>Lowest valid offset (limit + 1 for expand-down data segments, else 0).</summary>
    public uint ValidLow;
    /// <summary>Highest valid offset (the limit, or 0xFFFF/0xFFFFFFFF for expand-down).</summary>
    public uint ValidHigh;
    /// <summary>Access rights in the VMX layout: type 3:0, S 4, DPL 6:5, P 7, AVL 12, D/B 14, G 15.</summary>
    public uint Rights;
    public ushort Selector;
    public bool Readable;
    public bool Writable;

    public const uint RightsS = 1u << 4, RightsP = 1u << 7, RightsDB = 1u << 14, RightsG = 1u << 15;

    public readonly int Dpl => (int)(Rights >> 5) & 3;
    public readonly bool Present => (Rights & RightsP) != 0;
    public readonly bool Big => (Rights & RightsDB) != 0;
    public readonly bool IsCode => (Rights & RightsS) != 0 && (Rights & 8) != 0;

    /// <summary>Fills the cache from a base, byte limit and access rights, deriving the access checks.</summary>
    public void Load(ushort selector, uint @base, uint limit, uint rights)
    {
        Selector = selector;
        Base = @base;
        Limit = limit;
        Rights = rights;
        bool present = (rights & RightsP) != 0;
        bool system = (rights & RightsS) == 0;
        uint type = rights & 0xF;
        bool code = !system && (type & 8) != 0;
        if (!present || system)
        {
            Readable = Writable = false;
        }
        else if (code)
        {
            Readable = (type & 2) != 0;
            Writable = false;
        }
        else
        {
            Readable = true;
            Writable = (type & 2) != 0;
        }
        if (!system && !code && (type & 4) != 0)
        {
            // Expand-down: valid offsets are limit+1 .. 0xFFFF (B=0) or 0xFFFFFFFF (B=1).
            ValidLow = limit + 1;
            ValidHigh = (rights & RightsDB) != 0 ? 0xFFFF_FFFFu : 0xFFFFu;
            if (limit == 0xFFFF_FFFFu) { ValidLow = 1; ValidHigh = 0; } // nothing is valid
        }
        else
        {
            ValidLow = 0;
            ValidHigh = limit;
        }
    }

    /// <summary>A real-mode (or virtual-8086) load: base = selector * 16, rights and limit kept.</summary>
    public void LoadReal(ushort selector)
    {
        Selector = selector;
        Base = (uint)selector << 4;
        // Real mode checks limits but not types (Intel SDM Vol. 3, 20.1.1).
        Readable = Writable = true;
    }

    /// <summary>Marks the register unusable (a null selector loaded in protected mode).</summary>
    public void LoadNull(ushort selector)
    {
        Selector = selector;
        Base = 0;
        Limit = 0;
        Rights = 0;
        ValidLow = 1;
        ValidHigh = 0;
        Readable = Writable = false;
    }
}
