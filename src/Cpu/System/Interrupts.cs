using Emu.Memory;

namespace Emu.X86;

/// <summary>Where an interrupt or exception comes from; it decides the saved EIP, the gate DPL check and EXT.</summary>
public enum EventSource
{
    /// <summary>An exception the processor detected (fault or trap).</summary>
    Exception,
    /// <summary>INT n, INT3, INTO: the gate's DPL must be at least CPL.</summary>
    Software,
    /// <summary>An external interrupt (INTR) or NMI: error codes carry EXT=1.</summary>
    External,
}

/// <summary>
/// Interrupt and exception delivery (Intel SDM Vol. 3, chapter 6): the real-mode interrupt
/// vector table; the protected-mode IDT with interrupt, trap and task gates; the stack
/// switch to an inner level from the TSS; delivery out of virtual-8086 mode; the double
/// fault rules (Table 6-5) and shutdown on a triple fault.
/// </summary>
public static class Interrupts
{
    private enum FaultClass { Benign, Contributory, PageFault, DoubleFault }

    private static FaultClass Classify(int vector) => vector switch
    {
        ExceptionVectors.DE or ExceptionVectors.TS or ExceptionVectors.NP or ExceptionVectors.SS or ExceptionVectors.GP => FaultClass.Contributory,
        ExceptionVectors.PF => FaultClass.PageFault,
        ExceptionVectors.DF => FaultClass.DoubleFault,
        _ => FaultClass.Benign,
    };

    /// <summary>
    /// Delivers an event to the guest. EIP must already be the address to return to (the
    /// faulting instruction for faults, the next one for traps and software interrupts).
    /// An exception raised while delivering is combined with this one as Table 6-5 says:
    /// serially, as a double fault, or as a shutdown.
    /// </summary>
    /// <param name="c">The CPU.</param>
    /// <param name="vector">The vector.</param>
    /// <param name="hasErrorCode">Whether the event pushes an error code.</param>
    /// <param name="errorCode">The error code.</param>
    /// <param name="source">Where the event comes from.</param>
    /// <param name="instructionEip">
    /// For a software interrupt, the EIP of the INT n, INT3 or INTO instruction: a fault while
    /// delivering it is a fault of that instruction, so it reports and restarts it.
    /// </param>
    public static void Deliver(Cpu c, int vector, bool hasErrorCode, uint errorCode, EventSource source, uint instructionEip = 0)
    {
        c.Halted = false;
        // EXT is set in the error code of a fault met while delivering anything but INT n,
        // INT3 or INTO: an external interrupt or an earlier exception (Intel SDM Vol. 3, 6.13).
        bool ext = source != EventSource.Software;
        string? chain = null;
        while (true)
        {
            try
            {
                c.Events[(int)source * 256 + (vector & 0xFF)]++;
                DeliverOnce(c, vector, hasErrorCode, errorCode, source, ext);
                if (!c.DebugTrapPending) return;
                // A task gate switched to a TSS with the T flag: the debug trap comes now, before
                // the handler's first instruction (Intel SDM Vol. 3, 17.3.1.5), delivered serially.
                c.DebugTrapPending = false;
                vector = ExceptionVectors.DB;
                hasErrorCode = false;
                errorCode = 0;
                source = EventSource.Exception;
                ext = true;
                continue;
            }
            catch (GuestFault second)
            {
                if (second.Vector == ExceptionVectors.PF) c.Cr2 = second.Address;
                if (source == EventSource.Software) c.Eip = instructionEip;
                chain = (chain ?? Describe(vector, hasErrorCode, errorCode, source)) + ", then " + Describe(second.Vector, second.HasErrorCode, second.ErrorCode, EventSource.Exception);
                FaultClass first = source == EventSource.Exception ? Classify(vector) : FaultClass.Benign;
                FaultClass next = Classify(second.Vector);
                if (first == FaultClass.DoubleFault)
                {
                    // A fault while starting the double-fault handler: the processor shuts down.
                    c.ShutdownCause = "triple fault: " + chain + " while delivering the double fault";
                    c.RequestStop(StopReason.Shutdown);
                    return;
                }
                bool isDouble = (first == FaultClass.Contributory && next == FaultClass.Contributory)
                                || (first == FaultClass.PageFault && next is FaultClass.Contributory or FaultClass.PageFault);
                if (isDouble)
                {
                    chain += ": a double fault";
                    vector = ExceptionVectors.DF;
                    hasErrorCode = true;
                    errorCode = 0;
                }
                else
                {
                    vector = second.Vector;
                    hasErrorCode = second.HasErrorCode;
                    errorCode = second.ErrorCode;
                }
                source = EventSource.Exception;
                ext = true; // a fault while delivering another event is reported with EXT set
            }
        }
    }

    private static string Describe(int vector, bool hasErrorCode, uint errorCode, EventSource source) =>
        source == EventSource.Software ? $"INT {vector:X2}h"
        : source == EventSource.External ? $"interrupt {vector:X2}h"
        : hasErrorCode ? $"{ExceptionVectors.Name(vector)} error code {errorCode:X}h" : ExceptionVectors.Name(vector);

    /// <summary>Faults restart their instruction: the saved EFLAGS get RF so an instruction breakpoint does not fire again (Intel SDM Vol. 3, 17.3.1.1).</summary>
    private static bool IsFault(int vector, EventSource source) =>
        source == EventSource.Exception && vector is not (ExceptionVectors.DB or ExceptionVectors.BP or ExceptionVectors.OF
            or ExceptionVectors.DF or ExceptionVectors.MC or ExceptionVectors.NMI);

    private static void DeliverOnce(Cpu c, int vector, bool hasErrorCode, uint errorCode, EventSource source, bool ext)
    {
        if (!c.ProtectedMode)
        {
            DeliverReal(c, vector);
            return;
        }
        uint extBit = ext ? 1u : 0u;
        uint idtError = ((uint)vector << 3) | 2 | extBit;
        if (((uint)vector << 3) + 7 > c.Idtr.Limit) throw GuestFault.Create(ExceptionVectors.GP, idtError);
        var gate = new Descriptor(c.SystemRead64(c.Idtr.Base + ((uint)vector << 3)));
        if (!gate.IsSystem || gate.Type is not (5 or 6 or 7 or 0xE or 0xF)) throw GuestFault.Create(ExceptionVectors.GP, idtError);
        if (source == EventSource.Software && gate.Dpl < c.Cpl) throw GuestFault.Create(ExceptionVectors.GP, idtError);
        if (!gate.Present) throw GuestFault.Create(ExceptionVectors.NP, idtError);
        if (gate.IsTaskGate)
        {
            TaskSwitch.Switch(c, gate.GateSelector, TaskSwitchReason.InterruptGate, c.Eip, extBit);
            if (hasErrorCode)
            {
                // The error code goes on the new task's stack (Intel SDM Vol. 3, 6.12.2).
                if ((c.Tr.Rights & 8) != 0) c.Push32(errorCode);
                else c.Push16((ushort)errorCode);
            }
            return;
        }
        bool trapGate = (gate.Type & 1) != 0;
        ushort selector = gate.GateSelector;
        uint offset = gate.GateOffset;
        int bytes = gate.Gate32 ? 4 : 2;
        if ((selector & 0xFFFC) == 0) throw GuestFault.Create(ExceptionVectors.GP, extBit);
        uint selError = (selector & 0xFFFCu) | extBit;
        Descriptor cd = c.ReadDescriptor(selector, ExceptionVectors.GP, extBit);
        if (!cd.IsCode || cd.Dpl > c.Cpl) throw GuestFault.Create(ExceptionVectors.GP, selError);
        if (!cd.Present) throw GuestFault.Create(ExceptionVectors.NP, selError);
        bool fromV86 = c.V86Mode;
        uint oldFlags = c.GetEflags();
        if (IsFault(vector, source)) oldFlags |= Flags.RF;
        ushort oldCs = c.Seg[SegReg.CS].Selector;
        uint oldEip = c.Eip;

        if (!cd.IsConforming && cd.Dpl < c.Cpl)
        {
            // To an inner level: the handler's stack comes from the TSS (Intel SDM Vol. 3, 6.12.1).
            int newCpl = cd.Dpl;
            if (fromV86 && newCpl != 0) throw GuestFault.Create(ExceptionVectors.GP, selError);
            TaskSwitch.ReadStackFromTss(c, newCpl, extBit, out ushort newSs, out uint newEsp);
            SegmentCache ss = Segments.CheckStackSegment(c, newSs, newCpl, ExceptionVectors.TS, extBit);
            ushort oldSs = c.Seg[SegReg.SS].Selector;
            uint oldEsp = c.Gpr[Reg.ESP];
            var frame = new StackFrame(c, ss, newEsp, bytes, (newSs & 0xFFFCu) | extBit, newCpl);
            if (fromV86)
            {
                frame.Push(c.Seg[SegReg.GS].Selector);
                frame.Push(c.Seg[SegReg.FS].Selector);
                frame.Push(c.Seg[SegReg.DS].Selector);
                frame.Push(c.Seg[SegReg.ES].Selector);
            }
            frame.Push(oldSs);
            frame.Push(oldEsp);
            frame.Push(oldFlags);
            frame.Push(oldCs);
            frame.Push(oldEip);
            if (hasErrorCode) frame.Push(errorCode);
            if (offset > cd.Limit) throw GuestFault.Create(ExceptionVectors.GP, extBit);
            frame.Write();
            c.SetAccessed(selector, cd);
            c.Seg[SegReg.SS] = ss;
            c.Gpr[Reg.ESP] = frame.NewEsp(newEsp);
            c.Seg[SegReg.CS] = Cpu.CacheOf((ushort)((selector & 0xFFFC) | newCpl), cd);
            if (fromV86)
            {
                c.Seg[SegReg.DS].LoadNull(0);
                c.Seg[SegReg.ES].LoadNull(0);
                c.Seg[SegReg.FS].LoadNull(0);
                c.Seg[SegReg.GS].LoadNull(0);
            }
        }
        else
        {
            // Same level (or a conforming handler): the frame goes on the current stack.
            if (fromV86) throw GuestFault.Create(ExceptionVectors.GP, selError);
            var frame = new StackFrame(c, c.Seg[SegReg.SS], c.StackPointer, bytes, extBit, c.Cpl);
            frame.Push(oldFlags);
            frame.Push(oldCs);
            frame.Push(oldEip);
            if (hasErrorCode) frame.Push(errorCode);
            if (offset > cd.Limit) throw GuestFault.Create(ExceptionVectors.GP, extBit);
            frame.Write();
            c.SetAccessed(selector, cd);
            c.Gpr[Reg.ESP] = frame.NewEsp(c.Gpr[Reg.ESP]);
            c.Seg[SegReg.CS] = Cpu.CacheOf((ushort)((selector & 0xFFFC) | c.Cpl), cd);
        }
        uint clear = Flags.TF | Flags.NT | Flags.VM | Flags.RF | (trapGate ? 0 : Flags.IF);
        c.SetEflagsRaw(oldFlags & ~clear);
        c.Eip = offset;
        c.UpdateModes();
    }

    /// <summary>Real mode: FLAGS, CS and IP go on the stack; CS:IP come from the vector table (Intel SDM Vol. 3, 20.1.4).</summary>
    private static void DeliverReal(Cpu c, int vector)
    {
        uint entry = (uint)vector << 2;
        if (entry + 3 > c.Idtr.Limit) throw GuestFault.Create(ExceptionVectors.GP, 0);
        uint ptr = c.Mmu.Read32(c.Idtr.Base + entry);
        uint flags = c.GetEflags();
        uint sp1 = c.StackOffset(-2), sp2 = c.StackOffset(-4), sp3 = c.StackOffset(-6);
        c.LinearWrite(SegReg.SS, sp3, 2);
        c.LinearWrite(SegReg.SS, sp1, 2);
        c.Write16(SegReg.SS, sp1, (ushort)flags);
        c.Write16(SegReg.SS, sp2, c.Seg[SegReg.CS].Selector);
        c.Write16(SegReg.SS, sp3, (ushort)c.Eip);
        c.StackPointer = sp3;
        c.SetEflags(flags & ~(Flags.IF | Flags.TF | Flags.AC | Flags.RF));
        c.Seg[SegReg.CS].LoadReal((ushort)(ptr >> 16));
        c.Eip = ptr & 0xFFFF;
        c.UpdateModes();
    }
}
