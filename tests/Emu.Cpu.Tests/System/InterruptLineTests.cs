using System;
using Emu.Memory;
using Emu.TestSupport;
using Emu.Translator;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.SystemTests; // (not ".System": it would hide the System namespace in this project)

/// <summary>
/// The contract a PIC will implement (<see cref="InterruptLine"/>), driven by a fake
/// controller, on the interpreter and on the translator (every block compiled): INTR with
/// EFLAGS.IF, NMI regardless of IF and blocked until the next IRET, HLT woken by an
/// interrupt, the interrupt shadow of STI and MOV SS, and no error code for an external
/// interrupt through an exception vector (Intel SDM Vol. 3, 6.3, 6.7.1, 6.8.3, 6.12.1).
/// </summary>
public sealed class InterruptLineTests
{
    private const uint Gdt = 0x800, Idt = 0x1000, Code = 0x2000, Handlers = 0x3000, Data = 0x6000, StackTop = 0x80000;
    private const ushort CodeSel = 0x08;
    private const int Vector = 0x40;
    private const ushort PortRaiseIntr = 0x98, PortRaiseNmi = 0x99;

    /// <summary>The controller: one vector; INTR drops when the CPU acknowledges it.</summary>
    private sealed class FakeController : IInterruptAcknowledge, IPortDevice
    {
        private readonly InterruptLine line;
        public int Vector = InterruptLineTests.Vector;
        public int Acknowledged;

        public FakeController(InterruptLine line) => this.line = line;

        public int Acknowledge()
        {
            Acknowledged++;
            line.Intr = false;
            return Vector;
        }

        public uint In(ushort port, int size) => 0xFF;

        public void Out(ushort port, int size, uint value)
        {
            if (port == PortRaiseIntr) line.Intr = true;
            else line.RaiseNmi();
        }
    }

    /// <summary>
    /// A #UD handler that is itself UD2: every delivery faults again and nothing retires. The
    /// run still comes back (after <see cref="Emu.X86.Cpu.MaxFaultsWithoutRetiring"/> faults in
    /// a row), as its budget would end it, so a board keeps serving its timers and stop requests.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AFaultLoopThatRetiresNothingStillReturns(bool translator)
    {
        using var rig = new Rig(translator);
        rig.Handler(6, Handlers, a => a.ud2());
        rig.T.Load(Code, a => a.ud2());
        rig.T.Cpu.Eip = Code;
        StopReason r = rig.T.Cpu.Run(1000);
        Assert.Equal(StopReason.BudgetExhausted, r);
        Assert.Equal(0, rig.T.Cpu.InstructionCount);
        Assert.Equal(Handlers, rig.T.Cpu.Eip);
        Assert.True(rig.T.Cpu.FaultsTaken >= Emu.X86.Cpu.MaxFaultsWithoutRetiring, $"{rig.T.Cpu.FaultsTaken} faults");
    }

    private sealed class Rig : IDisposable
    {
        public readonly TestCpu T;
        public readonly InterruptLine Line = new();
        public readonly FakeController Pic;
        private readonly TranslatorEngine? engine;

        public Rig(bool translator)
        {
            engine = translator ? new TranslatorEngine(threshold: 1, synchronous: true) : null;
            T = TestCpu.Flat32(engine);
            T.Cpu.StopOnException = false; // deliver through the IDT
            T.Cpu.Esp = StackTop;
            Pic = new FakeController(Line);
            Line.Controller = Pic;
            T.Cpu.Line = Line;
            T.Io.Register(PortRaiseIntr, 2, Pic);
            // GDT: null, flat 32-bit code (08h), flat data (10h).
            T.Write32(Gdt + 8, 0x0000_FFFF);
            T.Write32(Gdt + 12, 0x00CF_9B00);
            T.Write32(Gdt + 16, 0x0000_FFFF);
            T.Write32(Gdt + 20, 0x00CF_9300);
            T.Cpu.Gdtr = new TableRegister { Base = Gdt, Limit = 23 };
            T.Cpu.Idtr = new TableRegister { Base = Idt, Limit = 256 * 8 - 1 };
        }

        /// <summary>An interrupt gate (DPL 0) for a vector to a handler assembled at an address.</summary>
        public void Handler(int vector, uint at, Action<Assembler> body)
        {
            T.Load(at, body);
            T.Write32(Idt + (uint)vector * 8, (CodeSel << 16) | (at & 0xFFFF));
            T.Write32(Idt + (uint)vector * 8 + 4, (at & 0xFFFF_0000) | 0x8E00);
        }

        /// <summary>The usual handler: counts at Data, saves the pushed EIP at Data+4 and [Data+20h] at Data+24h, IRETs.</summary>
        public void CountingHandler(int vector = Vector) => Handler(vector, Handlers, a =>
        {
            a.inc(__dword_ptr[Data]);
            a.mov(eax, __dword_ptr[esp]);
            a.mov(__dword_ptr[Data + 4], eax);
            a.mov(eax, __dword_ptr[Data + 0x20]);
            a.mov(__dword_ptr[Data + 0x24], eax);
            a.mov(__dword_ptr[Data + 0x30], esp);
            a.iretd();
        });

        public uint At(uint offset) => T.Read32(Data + offset);

        /// <summary>
        /// Runs from an address as a board would: HLT ends a run (the machine then waits for its
        /// devices), and a CPU halted with an interrupt it can take is run again, which takes it.
        /// </summary>
        public StopReason Run(uint eip)
        {
            StopReason r = T.Run(eip);
            for (int i = 0; i < 10 && r == StopReason.Halted && Wakes(); i++) r = T.Cpu.Run();
            return r;
        }

        private bool Wakes() => (Line.NmiPending && !T.Cpu.NmiBlocked) || (Line.Intr && (T.Cpu.Eflags & Flags.IF) != 0);

        public void Dispose()
        {
            engine?.Dispose();
            T.Dispose();
        }
    }

    /// <summary>Assembles code at Code and returns the addresses of its labels, in order.</summary>
    private static uint[] Load(Rig r, Func<Assembler, Label[]> build)
    {
        var a = new Assembler(32);
        Label[] labels = build(a);
        var w = new System.IO.MemoryStream();
        AssemblerResult result = a.Assemble(new StreamCodeWriter(w), Code, BlockEncoderOptions.ReturnNewInstructionOffsets);
        r.T.WriteBytes(Code, w.ToArray());
        var at = new uint[labels.Length];
        for (int i = 0; i < labels.Length; i++) at[i] = (uint)result.GetLabelRIP(labels[i]);
        return at;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void IntrIsTakenWhenIfIsSetAndAcknowledgedOnce(bool translator)
    {
        using var r = new Rig(translator);
        r.CountingHandler();
        r.Line.Intr = true;
        uint[] at = Load(r, a =>
        {
            Label afterHlt = a.CreateLabel();
            a.sti();
            a.hlt();
            a.Label(ref afterHlt);
            a.mov(__dword_ptr[Data + 8], 1);
            a.hlt();
            return new[] { afterHlt };
        });
        Assert.Equal(StopReason.Halted, r.Run(Code));
        Assert.Equal(1u, r.At(0));
        Assert.Equal(1, r.Pic.Acknowledged);
        // STI's shadow covers the HLT: the interrupt wakes the CPU from it and returns after it.
        Assert.Equal(at[0], r.At(4));
        Assert.Equal(1u, r.At(8));
        Assert.Equal(StackTop, r.T.Cpu.Esp);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void IntrFromAnotherThreadStopsALoopThatNeverLeavesCompiledCode(bool translator)
    {
        // An endless loop of two blocks (one region, its back edge inside the method): only the
        // budget word tested at every block boundary lets the interrupt in.
        using var r = new Rig(translator);
        r.Handler(Vector, Handlers, a =>
        {
            a.mov(__dword_ptr[Data + 8], 1);
            a.cli();
            a.hlt();
        });
        Load(r, a =>
        {
            Label loop = a.CreateLabel(), skip = a.CreateLabel();
            a.sti();
            a.Label(ref loop);
            a.inc(__dword_ptr[Data + 0x20]);
            a.test(__dword_ptr[Data + 0x20], 1);
            a.jz(skip);
            a.add(ebx, 3);
            a.Label(ref skip);
            a.jmp(loop);
            return Array.Empty<Label>();
        });
        var raiser = new System.Threading.Thread(() =>
        {
            System.Threading.Thread.Sleep(50);
            r.Line.Intr = true;
        });
        raiser.Start();
        const long budget = 50_000_000_000; // far more than 50 ms of guest time on any engine
        r.T.Cpu.Eip = Code;
        StopReason stop = r.T.Cpu.Run(budget);
        raiser.Join();
        Assert.Equal(StopReason.Halted, stop);
        Assert.Equal(1u, r.At(8));
        Assert.Equal(1, r.Pic.Acknowledged);
        Assert.True(r.At(0x20) > 1000, $"the loop ran {r.At(0x20)} times");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void IntrWaitsWhileIfIsClear(bool translator)
    {
        using var r = new Rig(translator);
        r.CountingHandler();
        r.Line.Intr = true;
        Load(r, a =>
        {
            a.cli();
            a.nop();
            a.mov(__dword_ptr[Data + 8], 1);
            a.hlt();
            return Array.Empty<Label>();
        });
        Assert.Equal(StopReason.Halted, r.Run(Code));
        Assert.Equal(0u, r.At(0));
        Assert.Equal(0, r.Pic.Acknowledged);
        Assert.True(r.Line.Intr);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void HltIsWokenByALaterInterrupt(bool translator)
    {
        using var r = new Rig(translator);
        r.CountingHandler();
        uint[] at = Load(r, a =>
        {
            Label afterHlt = a.CreateLabel();
            a.sti();
            a.hlt();
            a.Label(ref afterHlt);
            a.mov(__dword_ptr[Data + 8], 1);
            a.cli();
            a.hlt();
            return new[] { afterHlt };
        });
        Assert.Equal(StopReason.Halted, r.Run(Code));
        Assert.True(r.T.Cpu.Halted);
        Assert.Equal(0u, r.At(8));
        // The controller raises INTR while the CPU waits: the next run takes it.
        r.Line.Intr = true;
        Assert.Equal(StopReason.Halted, r.T.Cpu.Run());
        Assert.Equal(1u, r.At(0));
        Assert.Equal(at[0], r.At(4));
        Assert.Equal(1u, r.At(8));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NmiIgnoresIfAndIsBlockedUntilIret(bool translator)
    {
        using var r = new Rig(translator);
        // The NMI handler raises a second NMI (through the port) and records the count before IRET.
        r.Handler(ExceptionVectors.NMI, Handlers, a =>
        {
            a.inc(__dword_ptr[Data]);
            a.mov(eax, __dword_ptr[Data]);
            a.cmp(eax, 1);
            Label second = a.CreateLabel();
            a.jne(second);
            a.@out((byte)PortRaiseNmi, al);
            a.nop();
            a.nop();
            a.mov(eax, __dword_ptr[Data]);
            a.mov(__dword_ptr[Data + 0x10], eax);
            a.Label(ref second);
            a.iretd();
        });
        r.Line.RaiseNmi();
        Load(r, a =>
        {
            a.cli();
            a.nop();
            a.mov(__dword_ptr[Data + 8], 1);
            a.hlt();
            return Array.Empty<Label>();
        });
        Assert.Equal(StopReason.Halted, r.Run(Code));
        Assert.Equal(1u, r.At(0x10));  // not nested: the second NMI waited for the IRET
        Assert.Equal(2u, r.At(0));     // then it was taken
        Assert.Equal(1u, r.At(8));
        Assert.False(r.Line.NmiPending);
        Assert.False(r.T.Cpu.NmiBlocked);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MovSsHoldsAnInterruptUntilAfterTheNextInstruction(bool translator)
    {
        using var r = new Rig(translator);
        r.CountingHandler();
        Load(r, a =>
        {
            a.sti();
            a.nop();
            a.@out((byte)PortRaiseIntr, al);       // INTR rises here
            a.mov(ax, ss);
            a.mov(ss, ax);                   // the shadow: no interrupt before the next instruction
            a.mov(__dword_ptr[Data + 0x20], 1);
            a.hlt();
            a.cli();
            a.hlt();
            return Array.Empty<Label>();
        });
        Assert.Equal(StopReason.Halted, r.Run(Code));
        Assert.Equal(1u, r.At(0));
        Assert.Equal(1u, r.At(0x24)); // the instruction after MOV SS ran before the handler
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void StiHoldsAnInterruptUntilAfterTheNextInstruction(bool translator)
    {
        using var r = new Rig(translator);
        r.CountingHandler();
        r.Line.Intr = true;
        uint[] at = Load(r, a =>
        {
            Label afterMov = a.CreateLabel();
            a.cli();
            a.sti();
            a.mov(__dword_ptr[Data + 0x20], 1);
            a.Label(ref afterMov);
            a.cli();                         // the window is one instruction wide
            a.mov(__dword_ptr[Data + 0x28], 1);
            a.hlt();
            return new[] { afterMov };
        });
        Assert.Equal(StopReason.Halted, r.Run(Code));
        Assert.Equal(1u, r.At(0));
        Assert.Equal(1u, r.At(0x24));  // the instruction after STI ran before the handler
        Assert.Equal(at[0], r.At(4));  // and the interrupt came right after it, before the CLI
        Assert.Equal(1u, r.At(0x28));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MovSsHoldsAnInterruptExactlyOneInstruction(bool translator)
    {
        using var r = new Rig(translator);
        r.CountingHandler();
        uint[] at = Load(r, a =>
        {
            Label afterMov = a.CreateLabel();
            a.sti();
            a.nop();
            a.@out((byte)PortRaiseIntr, al);
            a.mov(ax, ss);
            a.mov(ss, ax);
            a.mov(__dword_ptr[Data + 0x20], 1);
            a.Label(ref afterMov);
            a.cli();
            a.hlt();
            return new[] { afterMov };
        });
        Assert.Equal(StopReason.Halted, r.Run(Code));
        Assert.Equal(1u, r.At(0));
        Assert.Equal(1u, r.At(0x24));
        Assert.Equal(at[0], r.At(4));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AnExternalInterruptOnAnExceptionVectorPushesNoErrorCode(bool translator)
    {
        using var r = new Rig(translator);
        r.CountingHandler(ExceptionVectors.GP);
        r.Pic.Vector = ExceptionVectors.GP;
        r.Line.Intr = true;
        Load(r, a =>
        {
            a.sti();
            a.hlt();
            a.cli();
            a.hlt();
            return Array.Empty<Label>();
        });
        Assert.Equal(StopReason.Halted, r.Run(Code));
        Assert.Equal(1u, r.At(0));
        Assert.Equal(StackTop - 12, r.At(0x30)); // EIP, CS, EFLAGS: no error code (6.3.1)
    }
}
