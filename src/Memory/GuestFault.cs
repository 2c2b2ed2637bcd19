using System;

namespace Emu.Memory;

/// <summary>
/// An architectural exception raised while executing guest code (#PF from the page walker,
/// #GP, #UD, #DE, ... from the CPU). It unwinds to the dispatcher, which delivers it to the
/// guest. Faults are rare next to instructions, so throwing keeps every instruction's normal
/// path free of checks; one instance per thread is reused, so raising one does not allocate.
/// </summary>
public sealed class GuestFault : Exception
{
    [ThreadStatic] private static GuestFault? cached;

    public int Vector { get; private set; }
    public uint ErrorCode { get; private set; }
    public bool HasErrorCode { get; private set; }

    /// <summary>
    /// Raised by INT n, INT3 or INTO rather than by a fault: the saved EIP is the next
    /// instruction and the gate's DPL is checked against CPL (Intel SDM Vol. 3, 6.12.1.1).
    /// </summary>
    public bool IsSoftwareInterrupt { get; private set; }

    /// <summary>For #PF, the linear address that faulted (the CPU loads it into CR2).</summary>
    public uint Address { get; private set; }

    private GuestFault() : base("guest exception") { }

    public static GuestFault Create(int vector) => Get(vector, 0, false, false);

    public static GuestFault Create(int vector, uint errorCode) => Get(vector, errorCode, true, false);

    /// <summary>A software interrupt (INT n, INT3, INTO); the CPU has already moved EIP past the instruction.</summary>
    public static GuestFault SoftwareInterrupt(int vector, uint instructionEip)
    {
        GuestFault f = Get(vector, 0, false, true);
        f.InstructionEip = instructionEip;
        return f;
    }

    /// <summary>For a software interrupt, the EIP of the instruction that raised it (a fault while delivering it restarts it).</summary>
    public uint InstructionEip { get; private set; }

    /// <summary>#PF at a linear address, with the page-fault error code.</summary>
    public static GuestFault PageFault(uint linear, uint errorCode)
    {
        GuestFault f = Get(ExceptionVectors.PF, errorCode, true, false);
        f.Address = linear;
        return f;
    }

    private static GuestFault Get(int vector, uint errorCode, bool hasErrorCode, bool software)
    {
        GuestFault f = cached ??= new GuestFault();
        f.Vector = vector;
        f.ErrorCode = errorCode;
        f.HasErrorCode = hasErrorCode;
        f.IsSoftwareInterrupt = software;
        f.Address = 0;
        f.InstructionEip = 0;
        return f;
    }

    /// <summary>
    /// A fault's values, kept to be raised later (<see cref="Raise"/>): the instance itself is
    /// reused by the next fault raised on this thread, by this CPU or another one.
    /// </summary>
    public readonly record struct Saved(int Vector, uint ErrorCode, bool HasErrorCode, uint Address);

    public Saved Save() => new(Vector, ErrorCode, HasErrorCode, Address);

    /// <summary>The fault <paramref name="s"/> holds, to throw.</summary>
    public static GuestFault Raise(Saved s)
    {
        GuestFault f = Get(s.Vector, s.ErrorCode, s.HasErrorCode, false);
        f.Address = s.Address;
        return f;
    }

    public override string Message => IsSoftwareInterrupt ? $"INT {Vector:X2}h" : HasErrorCode
        ? $"{ExceptionVectors.Name(Vector)} (error code 0x{ErrorCode:X})"
        : ExceptionVectors.Name(Vector);
}

/// <summary>Exception and interrupt vector numbers (Intel SDM Vol. 3, Table 6-1).</summary>
public static class ExceptionVectors
{
    public const int DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8,
        TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18;

    public static string Name(int vector) => vector switch
    {
        DE => "#DE (divide error)",
        DB => "#DB (debug)",
        NMI => "NMI",
        BP => "#BP (breakpoint)",
        OF => "#OF (overflow)",
        BR => "#BR (BOUND range exceeded)",
        UD => "#UD (invalid opcode)",
        NM => "#NM (device not available)",
        DF => "#DF (double fault)",
        9 => "coprocessor segment overrun",
        TS => "#TS (invalid TSS)",
        NP => "#NP (segment not present)",
        SS => "#SS (stack fault)",
        GP => "#GP (general protection)",
        PF => "#PF (page fault)",
        MF => "#MF (x87 floating-point error)",
        AC => "#AC (alignment check)",
        MC => "#MC (machine check)",
        _ => $"vector {vector}",
    };
}
