using System.Runtime.CompilerServices;
using Emu.Memory;

namespace Emu.X86;

/// <summary>
/// A stack frame built by a far CALL through a gate, an interrupt or an exception, often on a
/// stack that is not the current one. Every slot is checked (segment limit, then the page
/// with write access at the new privilege) as it is pushed, and nothing is written until the
/// whole frame has been checked: a fault leaves memory and registers as they were.
/// </summary>
public ref struct StackFrame
{
    /// <summary>
    /// The largest frame: a CALL through a call gate to an inner level pushes the caller's SS
    /// and ESP, up to 31 parameters (the gate's 5-bit count) and CS and EIP (Intel SDM Vol. 3,
    /// 5.8.5); an interrupt from virtual-8086 mode pushes 10 slots.
    /// </summary>
    public const int MaxSlots = 2 + 31 + 2;

    [InlineArray(MaxSlots)]
    private struct Values { private uint element; }

    private readonly Cpu cpu;
    private readonly SegmentCache ss;
    private readonly int bytes;
    private readonly uint faultCode;
    private readonly bool user;
    private uint sp;
    private int count;
    private Values values;

    /// <param name="c">The CPU.</param>
    /// <param name="stack">The stack segment the frame goes on.</param>
    /// <param name="pointer">Its stack pointer before the pushes.</param>
    /// <param name="bytes">2 or 4 bytes per slot.</param>
    /// <param name="faultCode">The #SS error code if the frame does not fit (0, or the new SS selector).</param>
    /// <param name="cpl">The privilege the stores are made at.</param>
    public StackFrame(Cpu c, in SegmentCache stack, uint pointer, int bytes, uint faultCode, int cpl)
    {
        cpu = c;
        ss = stack;
        this.bytes = bytes;
        this.faultCode = faultCode;
        user = cpl == 3;
        sp = pointer;
        count = 0;
        values = default;
    }

    /// <summary>The stack pointer after the pushes so far.</summary>
    public readonly uint Pointer => sp;

    public void Push(uint value)
    {
        sp = ss.Big ? sp - (uint)bytes : (sp - (uint)bytes) & 0xFFFF;
        uint last = sp + (uint)bytes - 1;
        if (!ss.Writable || sp < ss.ValidLow || last > ss.ValidHigh || last < sp)
            throw GuestFault.Create(ExceptionVectors.SS, faultCode);
        cpu.Mmu.ProbeWriteAs(ss.Base + sp, bytes, user);
        values[count++] = value;
    }

    /// <summary>Stores the checked frame.</summary>
    public readonly void Write()
    {
        uint p = sp;
        for (int i = count - 1; i >= 0; i--)
        {
            cpu.Mmu.WriteAs(ss.Base + p, bytes, values[i], user);
            p = ss.Big ? p + (uint)bytes : (p + (uint)bytes) & 0xFFFF;
        }
    }

    /// <summary>The new ESP for this frame: ESP for a 32-bit stack, SP (keeping the old upper half) for a 16-bit one.</summary>
    public readonly uint NewEsp(uint oldEsp) => ss.Big ? sp : (oldEsp & 0xFFFF_0000u) | (sp & 0xFFFF);
}
