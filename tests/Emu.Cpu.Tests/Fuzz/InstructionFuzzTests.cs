using System;
using System.Diagnostics;
using Xunit.Abstractions;

using Emu.TestSupport.Fuzz;

namespace Emu.Cpu.Tests.Fuzz;

/// <summary>
/// The instruction fuzzer (issue 12). Each program is random bytes, or random valid
/// instructions encoded by Iced (<see cref="InstructionGenerator"/>, system instructions
/// included), over a random but plausible world (<see cref="FuzzEnvironment"/>: GDT, LDT, IDT
/// with gates, TSSs with ring stacks and an I/O bitmap, paging on or off, interrupt handlers);
/// it starts in real mode, 16- or 32-bit protected mode at CPL 0 to 3, or virtual-8086 mode
/// with IOPL 3 or below, and runs for <see cref="FuzzRunner.Budget"/> instructions with its
/// exceptions delivered through the guest's tables. It runs on the translator (every block
/// compiled at its first entry) with the interpreter following in lockstep
/// (<see cref="FuzzRunner"/>): no host exception, and both engines stop alike at every step,
/// with the same state and, at the end, the same RAM.
/// <para>
/// CI runs a few programs of each mode and generator (<see cref="Cases"/>). Longer runs:
/// <c>EMU_FUZZ_PROGRAMS=N</c> runs N programs per case instead (there are <see cref="CaseCount"/>
/// cases, so N = 45000 is about 10^6 programs), and <c>EMU_FUZZ_SEED=S</c> changes the seed of
/// every case, so that one process per core runs different programs. A core does about 100
/// programs a second (most of it RyuJIT compiling the translator's regions; each case reports
/// its rate), so 10^6 programs take about three hours on one core. For example, two processes:
/// <code>
/// dotnet build tests/Emu.Cpu.Tests -c Release
/// EMU_FUZZ_SEED=1 EMU_FUZZ_PROGRAMS=22500 dotnet test tests/Emu.Cpu.Tests -c Release --no-build --filter FullyQualifiedName~InstructionFuzz &amp;
/// EMU_FUZZ_SEED=2 EMU_FUZZ_PROGRAMS=22500 dotnet test tests/Emu.Cpu.Tests -c Release --no-build --filter FullyQualifiedName~InstructionFuzz
/// </code>
/// (add <c>--logger "console;verbosity=detailed"</c> to see each case's counts and rate). The same
/// programs also run through the emulator's lockstep engine: Emu.Machine.Tests' LockstepFuzzTests.
/// A failure names the program (case, seed, index, program seed); <c>EMU_FUZZ_PROGRAM_SEED=P</c> with a
/// filter on the case runs that one program again (<c>EMU_FUZZ_TRACE=1</c> lists its steps), as does
/// <c>EMU_FUZZ_FIRST=I EMU_FUZZ_PROGRAMS=1</c> with the same seed.
/// </para>
/// </summary>
public sealed class InstructionFuzzTests
{
    private readonly ITestOutputHelper output;

    public InstructionFuzzTests(ITestOutputHelper output) => this.output = output;

    public const int CaseCount = 22;

    /// <summary>Every mode, CPL and generator: (mode, CPL, IOPL 3 in virtual-8086 mode, generator, seed, programs in CI).</summary>
    public static TheoryData<FuzzMode, int, bool, FuzzGenerator, int, int> Cases()
    {
        var d = new TheoryData<FuzzMode, int, bool, FuzzGenerator, int, int>();
        int seed = 1;
        foreach (FuzzGenerator g in new[] { FuzzGenerator.Bytes, FuzzGenerator.Instructions })
        {
            int n = g == FuzzGenerator.Bytes ? 16 : 24;
            d.Add(FuzzMode.Real, 0, false, g, seed++, n);
            d.Add(FuzzMode.Virtual8086, 3, false, g, seed++, n);
            d.Add(FuzzMode.Virtual8086, 3, true, g, seed++, n);
            for (int cpl = 0; cpl < 4; cpl++)
            {
                d.Add(FuzzMode.Protected16, cpl, false, g, seed++, n);
                d.Add(FuzzMode.Protected32, cpl, false, g, seed++, n);
            }
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ProgramsRunAlikeOnBothEngines(FuzzMode mode, int cpl, bool iopl3, FuzzGenerator generator, int seed, int programs)
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("EMU_FUZZ_PROGRAMS"), out int asked) && asked > 0) programs = asked;
        if (int.TryParse(Environment.GetEnvironmentVariable("EMU_FUZZ_SEED"), out int s)) seed = seed * 7919 + s;
        long.TryParse(Environment.GetEnvironmentVariable("EMU_FUZZ_FIRST"), out long first);
        var runner = new FuzzRunner();
        if (Environment.GetEnvironmentVariable("EMU_FUZZ_TRACE") == "1") runner.Trace = output.WriteLine;
        var clock = Stopwatch.StartNew();
        TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        // A long run goes on after a failing program (the runner's machines start afresh for each)
        // and reports the first few at the end.
        var failures = new System.Collections.Generic.List<string>();
        int failed = 0;
        // EMU_FUZZ_PROGRAM_SEED=P runs the one program a failure names (the case filtered to its mode).
        int? only = int.TryParse(Environment.GetEnvironmentVariable("EMU_FUZZ_PROGRAM_SEED"), out int p) ? p : null;
        if (only is not null) programs = 1;
        for (long i = first; i < first + programs; i++)
        {
            try
            {
                runner.Run(only ?? FuzzRunner.ProgramSeed(seed, i), mode, cpl, iopl3, generator);
            }
            catch (Exception e)
            {
                string message = $"seed {seed}, program {i}: {(e is FuzzFailure ? e.Message : e.ToString())}";
                if (programs <= 1000) throw new Xunit.Sdk.XunitException(message);
                if (++failed <= 10) failures.Add(message);
            }
        }
        // Programs per second of the process's processor time: on a shared machine the wall clock says little.
        double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        output.WriteLine($"{mode} CPL {cpl} {generator}: {runner.Summary()} {clock.Elapsed.TotalSeconds:F1} s, " +
            $"{programs / clock.Elapsed.TotalSeconds:F1} programs/s; {cpuSeconds:F1} s of processor time, {programs / cpuSeconds:F1} programs per processor-second");
        Assert.True(failed == 0, $"{failed} of {programs} programs failed; the first:\n{string.Join("\n", failures)}");
        if (programs < 10) return; // one program replayed: the checks above are all it gets
        // The programs do something: they retire instructions and take exceptions, and not all stop at once.
        Assert.True(runner.Instructions > programs, $"only {runner.Instructions} instructions in {programs} programs");
        Assert.True(runner.Faults > 0, "no program took an exception");
    }
}

/// <summary>The instruction generator makes what the fuzzer promises: valid instructions of every kind, system ones included.</summary>
public sealed class InstructionGeneratorTests
{
    private readonly ITestOutputHelper output;

    public InstructionGeneratorTests(ITestOutputHelper output) => this.output = output;

    [Theory]
    [InlineData(16)]
    [InlineData(32)]
    public void ItEncodesValidInstructionsOfEveryKindSystemOnesIncluded(int bitness)
    {
        var r = new Random(bitness);
        var g = new InstructionGenerator(r);
        var code = new byte[64 * 1024];
        const uint ip = 0x100;
        g.Fill(code, bitness, ip);
        var decoder = Iced.Intel.Decoder.Create(bitness, new Iced.Intel.ByteArrayCodeReader(code), ip);
        var seen = new System.Collections.Generic.HashSet<Iced.Intel.Mnemonic>();
        var codes = new System.Collections.Generic.HashSet<Iced.Intel.Code>();
        int count = 0, invalid = 0, rep = 0;
        while (decoder.IP < ip + (ulong)code.Length - 15)
        {
            decoder.Decode(out Iced.Intel.Instruction ins);
            count++;
            if (ins.IsInvalid) invalid++;
            if (ins.HasRepPrefix || ins.HasRepnePrefix) rep++;
            seen.Add(ins.Mnemonic);
            codes.Add(ins.Code);
        }
        output.WriteLine($"{InstructionGenerator.Describe(bitness)}; {count} instructions, {codes.Count} codes, {seen.Count} mnemonics, {invalid} invalid");
        // Iced's decoder calls a few encodings invalid on purpose (a LOCK prefix where none is
        // allowed, MOV to or from a test register): #UD on both engines, and rare.
        Assert.True(invalid < count / 20, $"{invalid} of {count} instructions do not decode");
        Assert.True(codes.Count > 800, $"only {codes.Count} distinct codes");
        Assert.True(rep > 100, $"only {rep} string instructions with a repeat prefix");
        foreach (Iced.Intel.Mnemonic m in new[]
        {
            Iced.Intel.Mnemonic.Lgdt, Iced.Intel.Mnemonic.Lidt, Iced.Intel.Mnemonic.Lldt, Iced.Intel.Mnemonic.Ltr,
            Iced.Intel.Mnemonic.Mov, Iced.Intel.Mnemonic.Int, Iced.Intel.Mnemonic.Iret, Iced.Intel.Mnemonic.Iretd,
            Iced.Intel.Mnemonic.Jmp, Iced.Intel.Mnemonic.Call, Iced.Intel.Mnemonic.Retf, Iced.Intel.Mnemonic.Popf,
            Iced.Intel.Mnemonic.Pushf, Iced.Intel.Mnemonic.Cli, Iced.Intel.Mnemonic.Sti, Iced.Intel.Mnemonic.Hlt,
            Iced.Intel.Mnemonic.In, Iced.Intel.Mnemonic.Out, Iced.Intel.Mnemonic.Insb, Iced.Intel.Mnemonic.Outsd,
            Iced.Intel.Mnemonic.Invlpg, Iced.Intel.Mnemonic.Cpuid, Iced.Intel.Mnemonic.Rdmsr, Iced.Intel.Mnemonic.Wrmsr,
            Iced.Intel.Mnemonic.Rdtsc, Iced.Intel.Mnemonic.Lar, Iced.Intel.Mnemonic.Lsl, Iced.Intel.Mnemonic.Verr,
            Iced.Intel.Mnemonic.Verw, Iced.Intel.Mnemonic.Arpl, Iced.Intel.Mnemonic.Lds, Iced.Intel.Mnemonic.Lss,
            Iced.Intel.Mnemonic.Movsd, Iced.Intel.Mnemonic.Cmpsb, Iced.Intel.Mnemonic.Fld, Iced.Intel.Mnemonic.Fsin,
            Iced.Intel.Mnemonic.Fxsave, Iced.Intel.Mnemonic.Paddb, Iced.Intel.Mnemonic.Cmpxchg8b, Iced.Intel.Mnemonic.Sysenter,
            Iced.Intel.Mnemonic.Clts, Iced.Intel.Mnemonic.Lmsw, Iced.Intel.Mnemonic.Smsw, Iced.Intel.Mnemonic.Sgdt,
        })
            Assert.True(seen.Contains(m), $"no {m} among {count} instructions");
    }
}
