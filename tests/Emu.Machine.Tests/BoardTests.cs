using System;
using System.IO;
using System.Text;
using Emu.Machine.Boot;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Machine.Tests;

/// <summary>Guests assembled in the test, booted through the Multiboot loader, run to their end.</summary>
public class BoardTests
{
    private const uint Start = 0x10_0000;

    private static (RunResult Result, string Output, Board Board) Run(Action<Assembler> code, string engine, long maxInstructions = 1_000_000, string cmdline = "")
    {
        var output = new MemoryStream();
        var board = new Board(8, output, Engines.Create(engine));
        board.BootMultiboot(ElfBuilder.WithCode(Start, code).Build(), cmdline);
        RunResult r = board.Run(maxInstructions);
        Engines.CheckHealthy(board.Cpu.Engine);
        return (r, Encoding.ASCII.GetString(output.ToArray()), board);
    }

    private static void Print(Assembler a, string text)
    {
        foreach (char ch in text)
        {
            a.mov(al, (byte)ch);
            a.@out(0xE9, al);
        }
    }

    [Fact]
    public void TheKernelStartsInTheMultibootState()
    {
        // Boot only: no guest code runs.
        var output = new MemoryStream();
        using var board = new Board(8, output);
        MultibootEntry e = board.BootMultiboot(ElfBuilder.WithCode(Start, a => a.hlt()).Build(), "");
        Cpu c = board.Cpu;
        Assert.Equal(MultibootLoader.BootloaderMagic, c.Eax);
        Assert.Equal(e.InfoAddress, c.Ebx);
        Assert.Equal(Start, c.Eip);
        Assert.True(c.ProtectedMode);
        Assert.Equal(0u, c.Cr0 & Cr0Bits.PG);
        Assert.True(board.Mmu.A20Enabled);
        Assert.Equal(0u, c.GetEflags() & (Flags.IF | Flags.VM));
        Assert.True(c.Code32);
        Assert.Equal(0, c.Cpl);
        for (int s = 0; s < 6; s++)
        {
            Assert.Equal(0u, c.Seg[s].Base);
            Assert.Equal(0xFFFF_FFFFu, c.Seg[s].Limit);
        }
        Assert.Equal(e.GdtBase, c.Gdtr.Base);
    }

    [Theory, OnEveryEngine]
    public void TheGuestPrintsAndExitsWithItsStatus(string engine)
    {
        var (r, output, board) = Run(a =>
        {
            Print(a, "hi\n");
            a.mov(al, 0x2A);
            a.@out(0xF4, al);
            a.hlt();
        }, engine);
        using (board)
        {
            Assert.Equal("hi\n", output);
            Assert.Equal(RunOutcome.GuestExit, r.Outcome);
            Assert.Equal(0x2Au, r.GuestExitValue);
            Assert.Equal(0x55, r.ExitStatus);
            Assert.Null(r.Message);
        }
    }

    [Theory, OnEveryEngine]
    public void NothingRunsAfterTheExitWrite(string engine)
    {
        // The exit write and the prints after it are in one block: they must not run.
        var (r, output, board) = Run(a =>
        {
            a.mov(eax, 0x1_0003);
            a.@out(0xF4, eax);
            Print(a, "after");
            a.hlt();
        }, engine);
        using (board)
        {
            Assert.Equal("", output);
            Assert.Equal(0x1_0003u, r.GuestExitValue);
            Assert.Equal(0x2_0007, r.ExitStatus);
            Assert.Equal(Start + 7, board.Cpu.Eip); // right after mov eax, imm32 (5 bytes) and out imm8, eax (2)
        }
    }

    [Theory, OnEveryEngine]
    public void SegmentReloadsWithTheLoaderSelectorsWork(string engine)
    {
        var (r, _, board) = Run(a =>
        {
            a.mov(ax, 0x10);
            a.mov(ds, ax);
            a.mov(ss, ax);
            a.mov(al, 1);
            a.@out(0xF4, al);
        }, engine);
        using (board) Assert.Equal(RunOutcome.GuestExit, r.Outcome);
    }

    // The loader leaves no IDT (Multiboot leaves IDTR undefined; ours still has its RESET
    // value, base 0 limit FFFFh, over zeroed memory): an exception's gate is invalid, #GP
    // follows (EXT set: it is met while delivering an exception), then #DF, and the processor
    // shuts down. The report names the whole chain and the instruction that started it.

    [Theory, OnEveryEngine]
    public void InvalidOpcodeWithoutAnIdtShutsDownNamingIt(string engine)
    {
        var (r, _, board) = Run(a =>
        {
            a.nop();
            a.ud2();
        }, engine);
        using (board)
        {
            Assert.Equal(RunOutcome.Shutdown, r.Outcome);
            Assert.Equal(ExitStatus.Shutdown, r.ExitStatus);
            Assert.Equal("the processor shut down (triple fault: #UD (invalid opcode), then #GP (general protection) error code 33h, " +
                         "then #GP (general protection) error code 6Bh: a double fault, then #GP (general protection) error code 43h " +
                         "while delivering the double fault); " +
                         "the first exception was raised at 0008:00100001: ud2  [0F0B]", r.Message);
            Assert.Contains("EAX=2BADB002", r.Details, StringComparison.Ordinal);
        }
    }

    [Theory, OnEveryEngine]
    public void GeneralProtectionFaultGivesItsErrorCode(string engine)
    {
        var (r, _, board) = Run(a =>
        {
            a.mov(ax, 0x28); // past the loader's three-entry GDT
            a.mov(ds, ax);
        }, engine);
        using (board)
        {
            Assert.Equal(RunOutcome.Shutdown, r.Outcome);
            Assert.StartsWith("the processor shut down (triple fault: #GP (general protection) error code 28h, then ", r.Message);
            Assert.EndsWith("the first exception was raised at 0008:00100004: mov ds,ax  [668ED8]", r.Message);
        }
    }

    [Theory, OnEveryEngine]
    public void DivideErrorWithoutAnIdtShutsDown(string engine)
    {
        var (r, _, board) = Run(a =>
        {
            a.xor(ecx, ecx);
            a.div(ecx);
        }, engine);
        using (board)
        {
            Assert.StartsWith("the processor shut down (triple fault: #DE (divide error), then ", r.Message);
            Assert.Contains("raised at 0008:00100002: div ecx", r.Message, StringComparison.Ordinal);
        }
    }

    [Theory, OnEveryEngine]
    public void SoftwareInterruptWithoutAnIdtShutsDown(string engine)
    {
        var (r, _, board) = Run(a =>
        {
            a.@int(0x80);
            a.nop();
        }, engine);
        using (board)
        {
            Assert.Equal(ExitStatus.Shutdown, r.ExitStatus);
            Assert.StartsWith("the processor shut down (triple fault: INT 80h, then #GP (general protection) error code 402h, ", r.Message);
        }
    }

    [Theory, OnEveryEngine]
    public void HaltStops(string engine)
    {
        var (r, _, board) = Run(a =>
        {
            a.cli();
            a.hlt();
        }, engine);
        using (board)
        {
            Assert.Equal(RunOutcome.Halted, r.Outcome);
            Assert.Equal(ExitStatus.Halted, r.ExitStatus);
            Assert.Contains("halted (HLT)", r.Message, StringComparison.Ordinal);
            Assert.Contains("0008:00100002", r.Message, StringComparison.Ordinal);
        }
    }

    [Theory, OnEveryEngine]
    public void UnimplementedFeatureStopsWithWhatIsMissing(string engine)
    {
        var (r, _, board) = Run(a =>
        {
            a.xor(ecx, ecx);
            a.rdpmc();
        }, engine);
        using (board)
        {
            Assert.Equal(RunOutcome.Unimplemented, r.Outcome);
            Assert.Equal(ExitStatus.Unimplemented, r.ExitStatus);
            Assert.StartsWith("not implemented yet: instruction RDPMC is not implemented yet, at 0008:00100002: rdpmc", r.Message);
        }
    }

    [Theory, OnEveryEngine]
    public void InstructionLimitStopsAnEndlessLoop(string engine)
    {
        var (r, _, board) = Run(a =>
        {
            var top = a.CreateLabel();
            a.Label(ref top);
            a.inc(eax);
            a.jmp(top);
        }, engine, maxInstructions: 10_000);
        using (board)
        {
            Assert.Equal(RunOutcome.InstructionLimit, r.Outcome);
            Assert.Equal(ExitStatus.InstructionLimit, r.ExitStatus);
            Assert.InRange(r.Instructions, 10_000, 10_000 + 64);
        }
    }

    [Theory, OnEveryEngine]
    public void AnInterruptRequestStopsTheRun(string engine)
    {
        var output = new MemoryStream();
        using var board = new Board(8, output, Engines.Create(engine));
        board.BootMultiboot(ElfBuilder.WithCode(Start, a =>
        {
            var top = a.CreateLabel();
            a.Label(ref top);
            a.jmp(top);
        }).Build(), "");
        board.RequestInterrupt();
        RunResult r = board.Run();
        Assert.Equal(RunOutcome.Interrupted, r.Outcome);
        Assert.Equal(ExitStatus.Interrupted, r.ExitStatus);
    }

    [Theory, OnEveryEngine]
    public void FetchingFromAHoleIsAGuestFaultNotACrash(string engine)
    {
        var (r, _, board) = Run(a =>
        {
            a.mov(eax, 0xFFFF_0000);
            a.jmp(eax);
        }, engine);
        using (board)
        {
            Assert.Equal(RunOutcome.Shutdown, r.Outcome);
            Assert.StartsWith("the processor shut down (triple fault: #UD (invalid opcode), then", r.Message);
        }
    }

    [Fact]
    public void RamSizeIsChecked()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Board(1, new MemoryStream()));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Board(Board.MaxRamMiB + 1, new MemoryStream()));
    }

    /// <summary>
    /// A guest that writes only to the VGA screen (Linux without console=ttyS0) is told about
    /// once: after the board's threshold of time with paging on (an operating system, which
    /// would have set up its serial console by then; a slow BIOS and boot loader before it do
    /// not count), or after the longer threshold without paging. One that uses the debug
    /// console is not.
    /// </summary>
    [Theory]
    [InlineData(true, false)]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void AGuestWritingOnlyToTheScreenGetsOneNotice(bool paging, bool alsoDebugConsole)
    {
        using var board = new Board(8, new MemoryStream(), null, new BoardOptions { Deterministic = true });
        board.BootMultiboot(ElfBuilder.WithCode(Start, a =>
        {
            a.mov(__word_ptr[0xB8000], 0x0741); // 'A', grey on black, top left
            if (alsoDebugConsole)
            {
                a.mov(al, (byte)'A');
                a.@out(0xE9, al);
            }
            // 2 ms of spinning first: the paging threshold counts from paging, not from the start.
            a.mov(ecx, 1_000_000);
            var wait = a.CreateLabel();
            a.Label(ref wait);
            a.dec(ecx);
            a.jnz(wait);
            if (paging)
            {
                // One 4 MiB page mapping the first 4 MiB onto itself (CR4.PSE), directory at 200000h.
                a.mov(__dword_ptr[0x20_0000], 0x83); // P, RW, PS
                a.mov(eax, cr4);
                a.or(eax, 0x10);
                a.mov(cr4, eax);
                a.mov(eax, 0x20_0000);
                a.mov(cr3, eax);
                a.mov(eax, cr0);
                a.or(eax, unchecked((int)0x8000_0000));
                a.mov(cr0, eax);
            }
            var spin = a.CreateLabel();
            a.Label(ref spin);
            a.jmp(spin);
        }).Build(), "");
        board.HeadlessNoticeAfterNs = 1_000_000;             // 1 ms: a million instructions of deterministic time
        board.HeadlessNoticeWithoutPagingAfterNs = 6_000_000;
        var notices = new System.Collections.Generic.List<string>();
        board.Notice = notices.Add;
        board.Run(2_500_000);
        Assert.Empty(notices); // 2.5 ms in all, 0.5 ms of it with paging on
        board.Run(2_000_000);
        if (alsoDebugConsole || !paging)
        {
            Assert.Empty(notices);
        }
        else
        {
            string notice = Assert.Single(notices);
            Assert.Contains("console=ttyS0", notice, StringComparison.Ordinal);
        }
        board.Run(4_000_000);
        if (alsoDebugConsole) Assert.Empty(notices);
        else Assert.Contains("console=ttyS0", Assert.Single(notices), StringComparison.Ordinal);
    }
}
