using Emu.Memory;
using Emu.TestSupport;
using Emu.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.SystemTests;

/// <summary>
/// What comes after a task switch's point of commitment, before the new task's first
/// instruction: the T flag's debug trap (Intel SDM Vol. 3, 17.3.1.5), and faults loading the
/// new task's segments (7.3).
/// </summary>
public class TaskSwitchTrapTests
{
    private const uint TssA = 0x3000, TssB = 0x3100;

    /// <summary>
    /// The current task in the busy TSS A (selector 18h); TSS B (20h) available, its task to
    /// start at 1001h (the block's second instruction) with EAX 77h, flat segments but SS
    /// <paramref name="ss"/>; at 1000h a block of three instructions: INC EAX twice, then a far
    /// JMP to TSS B. EAX is 0.
    /// </summary>
    private static void SwitchAtTheEndOfABlock(TestCpu t, uint ss)
    {
        const uint gdt = 0x800;
        void D(uint sel, ulong d)
        {
            t.Write32(gdt + sel, (uint)d);
            t.Write32(gdt + sel + 4, (uint)(d >> 32));
        }
        D(0x08, 0x00CF_9B00_0000_FFFF);                          // code, DPL 0
        D(0x10, 0x00CF_9300_0000_FFFF);                          // data, DPL 0
        D(0x18, 0x0000_8B00_0000_0067 | ((ulong)TssA << 16));    // 32-bit TSS, busy: the current task
        D(0x20, 0x0000_8900_0000_0067 | ((ulong)TssB << 16));    // 32-bit TSS, available
        t.Cpu.Gdtr = new TableRegister { Base = gdt, Limit = 0x27 };
        t.Cpu.Tr = Emu.X86.Cpu.CacheOf(0x18, new Descriptor(0x0000_8B00_0000_0067 | ((ulong)TssA << 16)));
        t.Write32(TssB + 0x20, 0x1001);
        t.Write32(TssB + 0x24, 0x2);
        t.Write32(TssB + 0x38, 0x8000);
        for (uint s = 0; s < 6; s++) t.Write32(TssB + 0x48 + 4 * s, s switch { SegReg.CS => 0x08u, SegReg.SS => ss, _ => 0x10u });
        t.Write32(TssB + 0x28, 0x77);
        t.Load(0x1000, a =>
        {
            a.inc(eax);
            a.inc(eax);
            a.jmp(0x20, 0);
        });
        t.Cpu.Eax = 0;
    }

    /// <summary>
    /// A far JMP to a TSS whose T flag is set, at the end of a block of three instructions:
    /// all three retire, and #DB comes before the new task's first instruction, with EIP at it
    /// and DR6.BT set. The trap was thrown from inside the switch, with EIP already the new
    /// task's; the instructions of the block that retired were counted by finding EIP in the
    /// block, and the new task's EIP (here the block's second instruction) made it one. The
    /// engines then disagreed on where the trap came (found by the instruction fuzzer).
    /// </summary>
    [Theory, OnEveryEngine]
    public void ASwitchIntoATssWithTheTFlagRetiresAndTrapsBeforeTheNewTask(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        SwitchAtTheEndOfABlock(t, ss: 0x10);
        t.Write32(TssB + 0x64, 1);                               // the T flag
        Assert.Equal(StopReason.UnhandledException, t.Run(0x1000));
        FaultInfo f = t.Cpu.LastFault!.Value;
        Assert.Equal(ExceptionVectors.DB, f.Vector);
        Assert.Equal(0x1001u, f.Eip);
        Assert.Equal(0x20, t.Cpu.Tr.Selector);
        Assert.Equal(3, t.Cpu.InstructionCount); // INC, INC and the JMP retired
        Assert.Equal(2u, t.Read32(TssA + 0x28)); // the old task's EAX, saved by the switch: both INCs ran
        Assert.Equal(0x77u, t.Cpu.Eax);          // the new task's, and nothing of it ran
        Assert.NotEqual(0u, t.Cpu.Dr[6] & (1u << 15));
    }

    /// <summary>
    /// #GP(98h) through a task gate to a TSS with the T flag: the switch completes, the error
    /// code goes on the new task's stack, and #DB follows at once, before the new task's first
    /// instruction, as part of the same delivery. Raised from inside the switch, the trap had
    /// skipped the error code; raised by the run loop after the delivery, it was lost to a run
    /// that stops right after delivering an exception (Cpu.Follow, lockstep's shadow), so the
    /// engines disagreed (found by the instruction fuzzer). The translator runs one step and
    /// the interpreter follows it.
    /// </summary>
    [Fact]
    public void AnExceptionThroughATaskGateIntoATssWithTheTFlagTrapsInTheSameDelivery()
    {
        using var interpreter = TestCpu.Flat32(Engines.Interpreter);
        using var translator = TestCpu.Flat32(Engines.Translator);
        foreach (TestCpu t in new[] { interpreter, translator })
        {
            const uint gdt = 0x800, idt = 0x600, tssA = 0x3000, tssB = 0x3100;
            void D(uint at, ulong d)
            {
                t.Write32(at, (uint)d);
                t.Write32(at + 4, (uint)(d >> 32));
            }
            D(gdt + 0x08, 0x00CF_9B00_0000_FFFF);
            D(gdt + 0x10, 0x00CF_9300_0000_FFFF);
            D(gdt + 0x18, 0x0000_8B00_0000_0067 | ((ulong)tssA << 16));
            D(gdt + 0x20, 0x0000_8900_0000_0067 | ((ulong)tssB << 16));
            D(idt + 8 * 13, 0x0000_8500_0020_0000);              // #GP: task gate to 20h
            D(idt + 8 * 1, 0x0000_8E00_0008_5000);               // #DB: interrupt gate to 08h:5000h
            t.Cpu.Gdtr = new TableRegister { Base = gdt, Limit = 0x27 };
            t.Cpu.Idtr = new TableRegister { Base = idt, Limit = 0xFF };
            t.Cpu.Tr = Emu.X86.Cpu.CacheOf(0x18, new Descriptor(0x0000_8B00_0000_0067 | ((ulong)tssA << 16)));
            t.Write32(tssB + 0x20, 0x4000);                      // the new task's EIP
            t.Write32(tssB + 0x24, 0x2);
            t.Write32(tssB + 0x38, 0x8000);                      // its ESP
            for (uint s = 0; s < 6; s++) t.Write32(tssB + 0x48 + 4 * s, s == SegReg.CS ? 0x08u : 0x10u);
            t.Write32(tssB + 0x64, 1);                           // T
            t.Load(0x1000, a =>
            {
                a.inc(ecx);
                a.mov(ds, ax);                                   // #GP(98h): beyond the GDT's limit
            });
            t.Load(0x4000, a => a.hlt());
            t.Load(0x5000, a => a.hlt());
            t.Cpu.Eax = 0x99;
            t.Cpu.StopOnException = false;                       // delivered, through the IDT
            t.Cpu.Eip = 0x1000;
        }
        Emu.X86.Cpu b = translator.Cpu, a = interpreter.Cpu;
        long faults = b.FaultsTaken, before = b.InstructionCount;
        StopReason p = b.Run(1);
        StopReason q = a.Follow(b.InstructionCount - before, b.EndedInFault(faults));
        Assert.Equal(p, q);
        Assert.Null(a.FirstDifference(b));
        Assert.Equal(0x5000u, a.Eip);                            // in the #DB handler, nothing of the task run
        Assert.Equal(0x20, a.Tr.Selector);
        Assert.Equal(0x8000u - 4 - 12, a.Esp);
        Assert.Equal(0x4000u, interpreter.Read32(a.Esp));        // #DB's return EIP: the new task's first instruction
        Assert.Equal(0x98u, interpreter.Read32(a.Esp + 12));     // #GP's error code, on the new task's stack
        Assert.NotEqual(0u, a.Dr[6] & (1u << 15));
    }

    /// <summary>
    /// A far JMP to a TSS whose SS selector lies beyond the GDT, at the end of a block of three
    /// instructions: the switch commits, so all three retire, and #TS(28h) comes in the new
    /// task, with EIP at its first instruction. The fault was thrown from inside the switch,
    /// with EIP already the new task's (here the block's second instruction), so the
    /// instructions of the block that retired were counted as one, and in lockstep the
    /// interpreter, told that the translator's step retired nothing, stopped elsewhere (found
    /// by the instruction fuzzer: seed 2100, program seeds 247574519 and 1443202413).
    /// </summary>
    [Theory, OnEveryEngine]
    public void AFaultLoadingTheNewTasksSegmentsComesAfterTheSwitchingInstructionRetired(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        SwitchAtTheEndOfABlock(t, ss: 0x28);                     // beyond the GDT's limit
        Assert.Equal(StopReason.UnhandledException, t.Run(0x1000));
        FaultInfo f = t.Cpu.LastFault!.Value;
        Assert.Equal(ExceptionVectors.TS, f.Vector);
        Assert.Equal(0x28u, f.ErrorCode);
        Assert.Equal(0x1001u, f.Eip);
        Assert.Equal(0x20, t.Cpu.Tr.Selector);
        Assert.Equal(3, t.Cpu.InstructionCount); // INC, INC and the JMP retired
        Assert.Equal(2u, t.Read32(TssA + 0x28)); // the old task's EAX, saved by the switch
        Assert.Equal(0x77u, t.Cpu.Eax);          // the new task's
    }

    /// <summary>
    /// A stop asked for by a device in the block of the switch: the run ends with the new
    /// task's #TS still pending. Another fault raised on the same thread meanwhile (as the other
    /// machine of a lockstep pair raises its own) must not change it: the CPU reuses one
    /// <see cref="GuestFault"/> per thread, so the pending fault is kept as values.
    /// </summary>
    [Theory, OnEveryEngine]
    public void APendingTaskFaultKeepsItsValuesWhenAnotherFaultIsRaised(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        SwitchAtTheEndOfABlock(t, ss: 0x28);                     // beyond the GDT's limit
        t.WriteBytes(0x1000, 0xE6, 0xE0);                        // OUT E0h, AL instead of the two INCs
        t.Io.Register(0xE0, 1, new StopOnWrite(t.Cpu));
        Assert.Equal(StopReason.Requested, t.Run(0x1000));
        Assert.NotNull(t.Cpu.PendingTaskFault);
        _ = GuestFault.Create(ExceptionVectors.GP, 0);           // another fault on this thread
        Assert.Equal(StopReason.UnhandledException, t.Cpu.Run(1000));
        FaultInfo f = t.Cpu.LastFault!.Value;
        Assert.Equal(ExceptionVectors.TS, f.Vector);
        Assert.Equal(0x28u, f.ErrorCode);
        Assert.Equal(0x20, t.Cpu.Tr.Selector);
    }

    private sealed class StopOnWrite(Emu.X86.Cpu cpu) : IPortDevice
    {
        public uint In(ushort port, int size) => 0xFFFF_FFFF;
        public void Out(ushort port, int size, uint value) => cpu.RequestStop(StopReason.Requested);
    }
}
