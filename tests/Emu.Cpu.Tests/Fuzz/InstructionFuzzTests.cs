using System;
using Emu.Memory;
using Emu.X86;

namespace Emu.Cpu.Tests.Fuzz;

/// <summary>
/// A short run of the instruction fuzzer (issue 12): programs of random bytes, in flat 32-bit
/// protected mode at CPL 0 over random RAM, each run on the interpreter and on the translator
/// (every block compiled at its first entry). Neither may end in a host exception, and both
/// must stop the same way, at the same instruction, with the same registers, flags and RAM.
/// EMU_FUZZ_PROGRAMS=N runs N programs per seed instead of the CI's few hundred.
/// Still to come: valid-instruction generation, real and virtual-8086 mode, CPL 3, descriptor
/// tables, gates and paging.
/// </summary>
public sealed class InstructionFuzzTests
{
    private const uint Ram = 1u << 20;
    private const uint Code = 0x1000;
    private const long Budget = 400;

    [Theory]
    [InlineData(1, 150)]
    [InlineData(2, 150)]
    public void RandomProgramsRunAlikeOnBothEngines(int seed, int programs)
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("EMU_FUZZ_PROGRAMS"), out int asked) && asked > 0) programs = asked;
        var random = new Random(seed);
        var image = new byte[Ram];
        int faulted = 0, ranOut = 0;
        for (int p = 0; p < programs; p++)
        {
            random.NextBytes(image);
            uint[] regs = new uint[8];
            for (int r = 0; r < 8; r++) regs[r] = random.Next(2) == 0 ? (uint)random.Next((int)Ram) : (uint)random.Next() * 2u;
            regs[Reg.ESP] = 0x1000u + (uint)random.Next((int)Ram - 0x2000);
            uint flags = Flags.Reserved1 | ((uint)random.Next() & 0xCD5);

            using var interpreter = Start(Engines.Interpreter, image, regs, flags);
            using var translator = Start(Engines.Translator, image, regs, flags);
            // The translator's budget ends at a block boundary of its own: the interpreter then
            // follows it exactly as far, as lockstep's shadow does, into its exception if it took one.
            StopReason b = translator.Run(Code, Budget);
            if (b == StopReason.UnhandledException) faulted++;
            if (b == StopReason.BudgetExhausted) ranOut++;
            interpreter.Cpu.Eip = Code;
            interpreter.Cpu.Follow(translator.Cpu.InstructionCount, b == StopReason.UnhandledException);

            string what = $"seed {seed}, program {p} (bytes at {Code:X}: {Convert.ToHexString(image, (int)Code, 16)}; translator: {b})";
            Assert.True(interpreter.Cpu.InstructionCount == translator.Cpu.InstructionCount,
                $"{what}: {interpreter.Cpu.InstructionCount} instructions on the interpreter, {translator.Cpu.InstructionCount} on the translator");
            Assert.True(Equals(interpreter.Cpu.LastFault, translator.Cpu.LastFault),
                $"{what}: faults {interpreter.Cpu.LastFault} and {translator.Cpu.LastFault}");
            StateDifference? d = interpreter.Cpu.FirstDifference(translator.Cpu);
            Assert.True(d is null, $"{what}: {d}");
            var ra = new byte[Ram];
            var rb = new byte[Ram];
            interpreter.Physical.ReadBytes(0, ra);
            translator.Physical.ReadBytes(0, rb);
            int at = ra.AsSpan().CommonPrefixLength(rb);
            Assert.True(at == ra.Length, $"{what}: RAM differs at {at:X}");
        }
        // Both kinds of ending are exercised: random code mostly faults soon, and some runs last.
        Assert.True(faulted > programs / 2, $"only {faulted} of {programs} programs faulted");
        Assert.True(ranOut > 0 || programs < 100, $"no program ran its {Budget} instructions");
    }

    private static TestCpu Start(string engine, byte[] image, uint[] regs, uint flags)
    {
        var t = TestCpu.Flat32(engine, Ram);
        t.Physical.WriteBytes(0, image);
        for (int r = 0; r < 8; r++) t.Cpu.Gpr[r] = regs[r];
        t.Cpu.SetEflagsRaw(flags);
        return t;
    }
}
