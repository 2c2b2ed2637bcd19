using System.IO;
using System.Text;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Machine.Tests;

/// <summary>The PC board's event loop: timer interrupts through the PIC wake a halted guest, on both engines.</summary>
public class PcBoardTests
{
    private const uint Start = 0x10_0000, Idt = 0x2_0000, Idtr = 0x2_0800, Ticks = 0x2_1000;

    /// <summary>
    /// A guest that remaps the PIC (IRQ 0 at vector 20h), programs PIT channel 0 as a 100 Hz
    /// rate generator, and halts until its handler has counted five ticks; then it exits.
    /// </summary>
    private static void TickingGuest(Assembler a) => TickingGuest(a, 5, 11932);

    /// <summary>
    /// As above, with <paramref name="ticks"/> ticks of a rate generator counting
    /// <paramref name="count"/> (1193182 Hz); from tick <paramref name="busyFrom"/> on, each
    /// wake-up runs <paramref name="busyLoops"/> loop iterations (two instructions each) before it halts again.
    /// </summary>
    private static void TickingGuest(Assembler a, int ticks, ushort count, int busyFrom = int.MaxValue, int busyLoops = 0)
    {
        // At the entry, jump over the handler (11 bytes), so that it sits at Start + 2:
        // inc dword [Ticks]; mov al, 20h; out 20h, al (non-specific EOI); iretd.
        const uint handler = Start + 2;
        a.db(0xEB, 11);
        a.db(0xFF, 0x05, 0x00, 0x10, 0x02, 0x00); // inc dword [21000h] (Ticks)
        a.db(0xB0, 0x20, 0xE6, 0x20, 0xCF);
        var wait = a.CreateLabel();
        a.mov(esp, 0x8_0000); // Multiboot leaves no stack; the interrupts need one
        // IDT entry 20h: a 32-bit interrupt gate to the handler in the loader's code segment (08h).
        a.mov(__dword_ptr[Idt + 0x20 * 8], 0x0008_0000 | (handler & 0xFFFF));
        a.mov(__dword_ptr[Idt + 0x20 * 8 + 4], unchecked((int)((handler & 0xFFFF_0000) | 0x8E00)));
        a.mov(__word_ptr[Idtr], 0x21 * 8 - 1);
        a.mov(__dword_ptr[Idtr + 2], Idt);
        a.lidt(__[Idtr]);
        // 8259A pair: ICW1-ICW4, master vectors 20h-27h, slave 28h-2Fh; only IRQ 0 unmasked.
        foreach ((int port, byte value) in new (int, byte)[]
                 {
                     (0x20, 0x11), (0x21, 0x20), (0x21, 0x04), (0x21, 0x01),
                     (0xA0, 0x11), (0xA1, 0x28), (0xA1, 0x02), (0xA1, 0x01),
                     (0x21, 0xFE), (0xA1, 0xFF),
                     // 8254 channel 0, lobyte/hibyte, mode 2 (11932: 100 Hz).
                     (0x43, 0x34), (0x40, (byte)(count & 0xFF)), (0x40, (byte)(count >> 8)),
                 })
        {
            a.mov(al, value);
            a.@out((byte)port, al);
        }
        a.mov(__dword_ptr[Ticks], 0);
        a.sti();
        a.Label(ref wait);
        a.hlt();
        var quiet = a.CreateLabel();
        var work = a.CreateLabel();
        a.cmp(__dword_ptr[Ticks], busyFrom);
        a.jb(quiet);
        a.mov(ecx, busyLoops);
        a.Label(ref work);
        a.dec(ecx);
        a.jnz(work);
        a.Label(ref quiet);
        a.cmp(__dword_ptr[Ticks], ticks);
        a.jb(wait);
        a.cli();
        foreach (char ch in "five ticks")
        {
            a.mov(al, (byte)ch);
            a.@out(0xE9, al);
        }
        a.mov(al, 0x10);
        a.@out(0xF4, al); // status 33
    }

    [Theory, OnEveryEngine]
    public void TimerInterruptsWakeAHaltedGuest(string engine)
    {
        var output = new MemoryStream();
        using var board = new Board(8, output, Engines.Create(engine), new BoardOptions { Deterministic = true });
        board.BootMultiboot(ElfBuilder.WithCode(Start, TickingGuest).Build(), "");
        RunResult r = board.Run(10_000_000);
        Engines.CheckHealthy(board.Cpu.Engine);
        Assert.True(r.Outcome == RunOutcome.GuestExit, r.Message);
        Assert.Equal("five ticks", Encoding.ASCII.GetString(output.ToArray()));
        Assert.Equal(RunOutcome.GuestExit, r.Outcome);
        Assert.Equal(33, r.ExitStatus);
        // Four or five 10 ms periods passed on the virtual clock (the control word itself takes
        // OUT from low to high, an edge the PIC may count as the first tick), and the guest slept
        // through them: the deterministic clock jumped to each tick instead of counting idle
        // instructions.
        Assert.InRange(board.Clock.Now, 40_000_000, 60_000_000);
        Assert.InRange(r.Instructions, 50, 5_000);
    }

    [Fact]
    public void OnTheRealTimeClockTheGuestWaitsForItsTicks()
    {
        var output = new MemoryStream();
        using var board = new Board(8, output, Engines.Create(Engines.Translator));
        board.BootMultiboot(ElfBuilder.WithCode(Start, TickingGuest).Build(), "");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        RunResult r = board.Run(10_000_000);
        Assert.Equal(33, r.ExitStatus);
        Assert.Equal("five ticks", Encoding.ASCII.GetString(output.ToArray()));
        // Four periods of 10 ms at least, on the host's clock.
        Assert.True(watch.ElapsedMilliseconds >= 35, $"the run took {watch.ElapsedMilliseconds} ms");
    }

    [Theory, OnEveryEngine]
    public void OneHostWakeUpServesSeveralTicksOfAnIdleGuest(string engine)
    {
        // 50 ticks at 250 Hz (Debian's kernel's rate): each host wake-up of the idle guest is
        // followed by the ticks its sleep went past, back to back on the guest's clock, so there
        // are far fewer wake-ups than ticks; and the guest's time still follows the host's.
        var output = new MemoryStream();
        using var board = new Board(8, output, Engines.Create(engine));
        board.BootMultiboot(ElfBuilder.WithCode(Start, a => TickingGuest(a, 50, 4773)).Build(), "");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        RunResult r = board.Run(10_000_000);
        Assert.Equal(33, r.ExitStatus);
        Assert.True(board.IdleWakeups <= 25, $"{board.IdleWakeups} host sleeps for 50 ticks");
        // 49 periods of 4 ms, less what the guest's clock may still owe at the end.
        Assert.True(watch.Elapsed.TotalMilliseconds >= 196 - VirtualClock.MaxLagNs / 1e6, $"the run took {watch.ElapsedMilliseconds} ms");
        Assert.True(board.Clock.Now >= 196_000_000, $"the guest's clock says {board.Clock.Now / 1000} us");
    }

    [Theory, OnEveryEngine]
    public void AGuestThatStaysQuietSleepsLongerPerHostWakeUp(string engine)
    {
        // 250 ticks at 250 Hz, a second of nothing but ticks: the sleeps go further past the
        // timer at each wake-up, up to the longest batch, so the second costs fewer wake-ups
        // than with the first batch throughout (over 45).
        using var board = new Board(8, new MemoryStream(), Engines.Create(engine));
        board.BootMultiboot(ElfBuilder.WithCode(Start, a => TickingGuest(a, 250, 4773)).Build(), "");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        RunResult r = board.Run(10_000_000);
        Assert.Equal(33, r.ExitStatus);
        Assert.Equal(Board.IdleBatchMaxNs, board.IdleBatch);
        Assert.True(board.IdleWakeups <= 30, $"{board.IdleWakeups} host sleeps for 250 ticks");
        Assert.True(watch.Elapsed.TotalMilliseconds >= 996 - VirtualClock.MaxLagNs / 1e6, $"the run took {watch.ElapsedMilliseconds} ms");
    }

    [Theory]
    [InlineData(Engines.Interpreter)]
    [InlineData(Engines.Translator)]
    public void AGuestAtWorkBetweenItsTicksSleepsShortBatchesAgain(string engine)
    {
        // 100 Hz ticks: quiet for 30 (the batch grows to its longest), then 200,000 instructions
        // after each of the last 20, 20,000 per millisecond of the guest's time: the batch is
        // back to the first one, so the guest's timers are not held back while it works.
        // The rule compares instructions with the guest's real-time clock, so a host slower than
        // the rule's rate sees any guest as quiet: this Debug-build interpreter, in a parallel
        // test run, once ran the busy ticks at under 5,000 instructions per millisecond. A tenth
        // of the rate still tells the busy ticks (200,000 instructions each) from the quiet ones.
        using var board = new Board(8, new MemoryStream(), Engines.Create(engine)) { QuietInstructionsPerMs = Board.DefaultQuietInstructionsPerMs / 10 };
        board.BootMultiboot(ElfBuilder.WithCode(Start, a => TickingGuest(a, 50, 11932, busyFrom: 30, busyLoops: 100_000)).Build(), "");
        RunResult r = board.Run(100_000_000);
        Assert.Equal(33, r.ExitStatus);
        Assert.Equal(Board.IdleBatchNs, board.IdleBatch);
    }

    [Fact]
    public void TheRealTimeClockResumesAnIdleGuestAtItsTimerAndPaysWhatItOwesLater()
    {
        using var board = new Board(8, new MemoryStream());
        VirtualClock clock = board.Clock;
        long t0 = clock.Now;
        System.Threading.Thread.Sleep(10);
        // A wake-up 10 ms late for a timer at t0 + 1 ms: the clock resumes there.
        clock.HoldAt(t0 + 1_000_000);
        long t1 = clock.Now;
        Assert.InRange(t1 - t0, 1_000_000, 5_000_000);
        Assert.InRange(clock.Lag, 5_000_000, VirtualClock.MaxLagNs);
        // The next 2 ms of idle come from what it owes, at once.
        long lag = clock.Lag;
        long before = clock.Now;
        var host = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(2_000_000, clock.CatchUp(2_000_000));
        long t2 = clock.Now;
        long elapsed = (long)(host.Elapsed.TotalMilliseconds * 1e6);
        Assert.Equal(lag - 2_000_000, clock.Lag);
        Assert.InRange(t2 - before, 2_000_000, 2_000_000 + elapsed + 100_000);
        // It never owes more than MaxLagNs, and never goes back.
        System.Threading.Thread.Sleep((int)(VirtualClock.MaxLagNs / 1_000_000) + 15);
        clock.HoldAt(t2);
        Assert.Equal(VirtualClock.MaxLagNs, clock.Lag);
        Assert.True(clock.Now >= t2);
        Assert.Equal(VirtualClock.MaxLagNs, clock.CatchUp(long.MaxValue));
        Assert.Equal(0, clock.Lag);
    }

    [Fact]
    public void WhileTheGuestRunsTheRealTimeClockHidesTheEmulatorsStalls()
    {
        // A stall of the emulation thread with no instruction retired: the guest, running, sees
        // at most VirtualClock.MaxNsPerInstruction per instruction of it; idle, it sees all of it.
        using var board = new Board(8, new MemoryStream());
        VirtualClock clock = board.Clock;
        clock.GuestRunning = true;
        long t0 = clock.Now;
        System.Threading.Thread.Sleep(20);
        long t1 = clock.Now;
        Assert.InRange(t1 - t0, 0, VirtualClock.MaxNsPerInstruction);
        clock.GuestRunning = false;
        System.Threading.Thread.Sleep(20);
        long t2 = clock.Now;
        Assert.True(t2 - t1 >= 15_000_000, $"idle, 20 ms of host time showed as {(t2 - t1) / 1000} us");
        // Instructions retired while running allow their share of the time again.
        clock.GuestRunning = true;
        long t3 = clock.Now;
        board.Cpu.InstructionCount += 100_000;
        System.Threading.Thread.Sleep(5);
        long t4 = clock.Now;
        Assert.InRange(t4 - t3, 4_000_000, 100_000 * VirtualClock.MaxNsPerInstruction);
    }
}
