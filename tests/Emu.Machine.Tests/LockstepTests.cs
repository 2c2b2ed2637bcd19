using System;
using System.IO;
using Emu.Devices.Storage;
using System.Linq;
using System.Text;
using Emu.Machine.Lockstep;
using Emu.Memory;
using Emu.TestSupport;
using Emu.Translator;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Machine.Tests;

/// <summary>
/// Lockstep (<c>--engine lockstep</c>): the translator checked against the interpreter after
/// every block. It must find nothing on our programs, and find, name and place what a
/// deliberately wrong engine does.
/// </summary>
public sealed class LockstepTests : IClassFixture<FirmwareFixture>
{
    private const uint Start = 0x10_0000;

    private readonly FirmwareFixture firmware;

    public LockstepTests(FirmwareFixture firmware) => this.firmware = firmware;

    // ---- no divergence on the programs of the repository ----

    /// <summary>Every program in firmware/ (each directory but lib/ and include/), found when the tests are discovered.</summary>
    public static TheoryData<string> FirmwarePrograms()
    {
        var d = new TheoryData<string>();
        foreach (string dir in Directory.GetDirectories(Path.Combine(Repository.Root, "firmware")).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(dir);
            if (name is not ("lib" or "include" or "systests")) d.Add(name); // systests/ are NASM programs with their own tests
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(FirmwarePrograms))]
    public void AFirmwareProgramRunsInLockstepWithoutDivergence(string program)
    {
        // One round of a benchmark workload or of the disk writer (other programs ignore the
        // word): enough to run every block of it many times, compiled at its first entry. The
        // disk writer writes to a small disk held in memory.
        var output = new MemoryStream();
        using var engine = new TranslatorEngine(threshold: 1, synchronous: true);
        using var disk = DiskImage.FromMemory(new byte[1 << 20], DiskImage.HardDiskSectorSize, DiskImageMode.CopyOnWrite);
        using var board = new Board(32, output, engine, new BoardOptions { Hda = disk });
        board.BootMultiboot(File.ReadAllBytes(firmware.Elf(program)), "rounds=1");
        LockstepRunner lockstep = board.StartLockstep();
        RunResult r = board.Run();

        Assert.True(lockstep.Divergence is null, lockstep.Divergence?.Summary + "\n" + lockstep.Divergence?.Details);
        Assert.Equal(RunOutcome.GuestExit, r.Outcome);
        Assert.Equal(0x10u, r.GuestExitValue); // FW_EXIT_PASS: the program's own checks held
        Assert.DoesNotContain("FAIL", Encoding.ASCII.GetString(output.ToArray()), StringComparison.Ordinal);
        // The translator really ran compiled code, and both machines went all the way.
        Assert.True(engine.CompiledBlocks > 0);
        Assert.Equal(0, engine.Failures);
        Assert.True(lockstep.Steps > 100);
        Assert.Equal(board.Cpu.InstructionCount, lockstep.Shadow.InstructionCount);
        Assert.Equal(board.Cpu.Eip, lockstep.Shadow.Eip);
    }

    /// <summary>
    /// An instruction the emulator does not implement yet (RDPMC) inside a block stops the
    /// translator before it retires; the shadow, which follows exactly as far, goes on into it
    /// and stops the same way: no divergence. The shadow used to stop before it ("it went on")
    /// and lockstep reported a divergence instead of the limitation (found by the instruction
    /// fuzzer's lockstep run).
    /// </summary>
    [Fact]
    public void AnUnimplementedInstructionInsideABlockStopsBothMachinesAlike()
    {
        using var engine = new TranslatorEngine(threshold: 1, synchronous: true);
        using var t = TestCpu.Flat32(engine);
        t.Load(0x1000, a =>
        {
            a.inc(eax);
            a.rdpmc();
            a.hlt();
        });
        t.Cpu.Eip = 0x1000;
        using var lockstep = new LockstepRunner(t.Cpu, "translator");
        Assert.Equal(StopReason.Unimplemented, lockstep.Step());
        Assert.True(lockstep.Divergence is null, lockstep.Divergence?.Summary);
        Assert.Equal(1, lockstep.Shadow.InstructionCount);
        Assert.Equal(StopReason.Unimplemented, lockstep.Shadow.StopReason);
        Assert.Equal(0x1001u, lockstep.Shadow.Eip);
    }

    // ---- a deliberately wrong engine: the report names the block, the location, both values ----

    /// <summary>
    /// The interpreter with one mistake: on the <see cref="OnEntry"/>th entry of the block at
    /// <see cref="Target"/>, <see cref="Mistake"/> runs after the block (or instead of it, with
    /// <see cref="Instead"/>).
    /// </summary>
    private sealed class FaultyEngine : IExecutionEngine
    {
        public uint Target;
        public int OnEntry = 1;
        public bool Instead;
        public Action<Cpu> Mistake = _ => { };
        private int entries;

        public void Execute(Cpu cpu, Block block)
        {
            bool hit = block.CsBase + block.Eip == Target && ++entries == OnEntry;
            if (hit && Instead)
            {
                Mistake(cpu);
                return;
            }
            Interpreter.Execute(cpu, block);
            if (hit) Mistake(cpu);
        }
    }

    /// <summary>
    /// EBX = 5; three times: EBX += ECX (ECX = 3, 2, 1) and store EBX at 0x200000; print "k"; exit 0x10.
    /// The first pass runs in the first block (blocks end at branches, not labels); the second
    /// and third are the block at <see cref="Loop"/>, whose first entry the faulty engine spoils.
    /// </summary>
    private static void Guest(Assembler a)
    {
        Label loop = a.CreateLabel();
        a.mov(ebx, 5);
        a.mov(ecx, 3);
        a.Label(ref loop);
        a.add(ebx, ecx);
        a.mov(__dword_ptr[0x20_0000], ebx);
        a.dec(ecx);
        a.jnz(loop);
        a.mov(al, (byte)'k');
        a.@out(0xE9, al);
        a.mov(al, 0x10);
        a.@out(0xF4, al);
        a.hlt();
    }

    private const uint Loop = Start + 10; // after mov ebx, imm32 and mov ecx, imm32 (5 bytes each)

    private static (RunResult Result, Board Board, string Output) RunInLockstep(IExecutionEngine engine, Action<Assembler> code)
    {
        var output = new MemoryStream();
        var board = new Board(8, output, engine);
        board.BootMultiboot(ElfBuilder.WithCode(Start, code).Build(), "");
        board.StartLockstep("faulty engine");
        RunResult r = board.Run(1_000_000);
        return (r, board, Encoding.ASCII.GetString(output.ToArray()));
    }

    [Fact]
    public void ACorruptedRegisterIsReportedWithItsBlockAndBothValues()
    {
        var engine = new FaultyEngine { Target = Loop, Mistake = c => c.Ebx ^= 0x100 };
        (RunResult r, Board board, string output) = RunInLockstep(engine, Guest);
        using (board)
        {
            // The second pass: EBX = 5 + 3 + 2 = 10, which the faulty engine made 0x10A.
            Divergence d = board.Lockstep!.Divergence!;
            Assert.Equal((ushort)0x08, d.Cs);
            Assert.Equal(Loop, d.Eip);
            Assert.Equal(Loop, d.Linear);
            Assert.Equal("EBX", d.What);
            Assert.Equal("0x0000000A", d.Expected);
            Assert.Equal("0x0000010A", d.Actual);
            Assert.Equal(6, d.InstructionsBefore); // the first block: the two MOVs and the first pass
            Assert.Equal(RunOutcome.Divergence, r.Outcome);
            Assert.Equal(ExitStatus.Divergence, r.ExitStatus);
            Assert.Equal(
                "lockstep: the faulty engine diverged from the interpreter in the block at 0008:0010000A (linear 0x0010000A), " +
                "6 instructions into the run: EBX is 0x0000010A, expected 0x0000000A", r.Message);
            // The block's code, and both register sets, follow.
            Assert.Contains("0010000A  add ebx,ecx", r.Details, StringComparison.Ordinal);
            Assert.Contains("00100013  jne short 0010000Ah", r.Details, StringComparison.Ordinal);
            Assert.Contains("interpreter (expected):\n    EAX=2BADB002 EBX=0000000A", r.Details, StringComparison.Ordinal);
            Assert.Contains("faulty engine (actual):\n    EAX=2BADB002 EBX=0000010A", r.Details, StringComparison.Ordinal);
            Assert.Equal("", output); // the run stopped there: nothing after the loop ran
        }
    }

    [Fact]
    public void ACorruptedMemoryByteIsReportedWithItsAddressAndBothValues()
    {
        var engine = new FaultyEngine { Target = Loop, Mistake = c => c.Mmu.Write8(0x30_0012, 0xAA) };
        (RunResult r, Board board, _) = RunInLockstep(engine, Guest);
        using (board)
        {
            Divergence d = board.Lockstep!.Divergence!;
            Assert.Equal(Loop, d.Linear);
            Assert.Equal("memory at 0x00300012", d.What);
            Assert.Equal("00 00 00 00", d.Expected);
            Assert.Equal("aa 00 00 00", d.Actual);
            Assert.Equal(ExitStatus.Divergence, r.ExitStatus);
            Assert.EndsWith("memory at 0x00300012 is aa 00 00 00, expected 00 00 00 00", r.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void AWrongStoreIntoAPageTheBlockWritesIsFoundAtTheByteThatDiffers()
    {
        // The guest stores EBX at 0x200000 in the same block; the engine spoils its second byte.
        var engine = new FaultyEngine { Target = Loop, Mistake = c => c.Mmu.Write8(0x20_0001, 0x7F) };
        (_, Board board, _) = RunInLockstep(engine, Guest);
        using (board)
        {
            Divergence d = board.Lockstep!.Divergence!;
            Assert.Equal("memory at 0x00200001", d.What);
            Assert.Equal("00 00 00 00", d.Expected);
            Assert.Equal("7f 00 00 00", d.Actual);
        }
    }

    [Fact]
    public void WrongFlagsAreReportedAsEflagsWithTheirNames()
    {
        // After the second pass DEC leaves ECX = 1: ZF clear (and PF, CF...). The engine sets it.
        var engine = new FaultyEngine { Target = Loop, Mistake = c => c.SetArithFlags(c.ArithFlags() | Flags.ZF) };
        (_, Board board, _) = RunInLockstep(engine, Guest);
        using (board)
        {
            Divergence d = board.Lockstep!.Divergence!;
            Assert.Equal("EFLAGS", d.What);
            Assert.Equal("0x00000002", d.Expected);
            Assert.Equal("0x00000042 (ZF)", d.Actual);
        }
    }

    [Fact]
    public void AnExtraDeviceAccessIsReported()
    {
        var engine = new FaultyEngine { Target = Loop, Mistake = c => c.Io.Out(0xE9, 1, 'X') };
        (RunResult r, Board board, string output) = RunInLockstep(engine, Guest);
        using (board)
        {
            Divergence d = board.Lockstep!.Divergence!;
            Assert.Equal(Loop, d.Linear);
            Assert.Equal("device access", d.What);
            Assert.Equal("(no such access)", d.Expected);
            Assert.Equal("write to port 0x00E9 (1 byte, 0x58)", d.Actual);
            Assert.Equal("X", output); // the primary owns the devices: its write went out, once
        }
    }

    [Fact]
    public void AFaultTheInterpreterDoesNotRaiseIsReportedAsHowTheStepEnded()
    {
        var engine = new FaultyEngine
        {
            Target = Loop,
            Instead = true,
            Mistake = _ => throw GuestFault.Create(ExceptionVectors.UD),
        };
        (RunResult r, Board board, _) = RunInLockstep(engine, Guest);
        using (board)
        {
            Divergence d = board.Lockstep!.Divergence!;
            Assert.Equal(Loop, d.Linear);
            Assert.Equal("how the step ended", d.What);
            Assert.Equal("it went on", d.Expected);
            // The guest has no IDT, so the #UD the faulty engine invented shuts the processor down.
            Assert.StartsWith("shut down (triple fault: #UD (invalid opcode), then ", d.Actual);
            Assert.Equal(RunOutcome.Divergence, r.Outcome);
        }
    }

    // ---- what must stay in step: device reads, stops, exceptions, halts ----

    [Fact]
    public void DeviceReadsAreReplayedToTheInterpreter()
    {
        // IN from the debug console (0xE9) and from a port nobody claims (0xFF): the shadow has
        // no devices, so it gets the primary's values or diverges.
        (RunResult r, Board board, _) = RunInLockstep(new TranslatorEngine(1, synchronous: true), a =>
        {
            a.@in(al, 0xE9);
            a.mov(bl, al);
            a.mov(dx, 0xFF);
            a.@in(eax, dx);
            a.hlt();
        });
        using (board)
        {
            Assert.Null(board.Lockstep!.Divergence);
            Assert.Equal(RunOutcome.Halted, r.Outcome);
            Assert.Equal(0xE9u, board.Lockstep.Shadow.Ebx & 0xFF);
            Assert.Equal(0xFFFF_FFFFu, board.Lockstep.Shadow.Eax);
        }
    }

    [Fact]
    public void TheDebugExitStopsBothMachinesAfterTheSameInstruction()
    {
        // The exit write and the prints after it are in one block: neither machine may run them.
        (RunResult r, Board board, string output) = RunInLockstep(new TranslatorEngine(1, synchronous: true), a =>
        {
            a.mov(eax, 0x11);
            a.@out(0xF4, eax);
            a.mov(al, (byte)'z');
            a.@out(0xE9, al);
            a.hlt();
        });
        using (board)
        {
            Assert.Null(board.Lockstep!.Divergence);
            Assert.Equal(RunOutcome.GuestExit, r.Outcome);
            Assert.Equal(0x11u, r.GuestExitValue);
            Assert.Equal("", output);
            Assert.Equal(Start + 7, board.Lockstep.Shadow.Eip);
            Assert.Equal(board.Cpu.InstructionCount, board.Lockstep.Shadow.InstructionCount);
        }
    }

    [Fact]
    public void AGuestExceptionStopsBothMachinesTheSameWay()
    {
        (RunResult r, Board board, _) = RunInLockstep(new TranslatorEngine(1, synchronous: true), a =>
        {
            a.mov(eax, 1);
            a.xor(ecx, ecx);
            a.div(ecx);
        });
        using (board)
        {
            // Without an IDT the #DE ends in a triple fault, on both machines alike.
            Assert.Null(board.Lockstep!.Divergence);
            Assert.Equal(RunOutcome.Shutdown, r.Outcome);
            Assert.Equal(board.Cpu.LastFault, board.Lockstep.Shadow.LastFault);
            Assert.Equal(board.Cpu.ShutdownCause, board.Lockstep.Shadow.ShutdownCause);
            Assert.Equal(ExceptionVectors.DE, board.Lockstep.Shadow.LastFault!.Value.Vector);
        }
    }

    [Fact]
    public void SelfModifyingCodeStaysInStep()
    {
        // The block patches the immediate of an instruction later in itself, then runs it:
        // EAX takes ECX's value each time, not 0x55.
        (RunResult r, Board board, _) = RunInLockstep(new TranslatorEngine(1, synchronous: true), a =>
        {
            Label loop = a.CreateLabel();
            a.xor(ebx, ebx);                   // Start + 0, 2 bytes
            a.mov(ecx, 3);                     // Start + 2, 5 bytes
            a.Label(ref loop);
            a.mov(__byte_ptr[Start + 14], cl); // Start + 7, 6 bytes: the immediate below
            a.mov(eax, 0x55);                  // Start + 13
            a.add(ebx, eax);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        using (board)
        {
            Assert.Null(board.Lockstep!.Divergence);
            Assert.Equal(RunOutcome.Halted, r.Outcome);
            Assert.Equal(3u + 2 + 1, board.Cpu.Ebx);
        }
    }

    [Fact]
    public void StartingLockstepTwiceIsRefused()
    {
        using var board = new Board(8, new MemoryStream());
        board.StartLockstep();
        Assert.Throws<InvalidOperationException>(() => board.StartLockstep());
    }
}
