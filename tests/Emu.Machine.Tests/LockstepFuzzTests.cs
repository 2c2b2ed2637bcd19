using System;
using Emu.Machine.Lockstep;
using Emu.TestSupport.Fuzz;
using Emu.Translator;
using Emu.X86;

namespace Emu.Machine.Tests;

/// <summary>
/// The instruction fuzzer's programs (<see cref="FuzzRunner"/>: random bytes or random valid
/// instructions over a random world of descriptor tables, gates, TSSs and page tables) through
/// the emulator's own lockstep engine (<see cref="LockstepRunner"/>, <c>--engine lockstep</c>):
/// the translator's machine and the interpreter's shadow, with its copied RAM, its dirty-page
/// comparison and its device replay, must not diverge. A few programs per mode in CI;
/// <c>EMU_FUZZ_PROGRAMS=N</c> runs N per case, <c>EMU_FUZZ_SEED=S</c> other programs.
/// </summary>
public sealed class LockstepFuzzTests
{
    [Theory]
    [InlineData(FuzzMode.Real, 0, false, FuzzGenerator.Instructions, 1)]
    [InlineData(FuzzMode.Virtual8086, 3, false, FuzzGenerator.Instructions, 2)]
    [InlineData(FuzzMode.Virtual8086, 3, true, FuzzGenerator.Bytes, 3)]
    [InlineData(FuzzMode.Protected16, 1, false, FuzzGenerator.Instructions, 4)]
    [InlineData(FuzzMode.Protected32, 0, false, FuzzGenerator.Instructions, 5)]
    [InlineData(FuzzMode.Protected32, 3, false, FuzzGenerator.Bytes, 6)]
    public void FuzzProgramsRunInLockstepWithoutDivergence(FuzzMode mode, int cpl, bool iopl3, FuzzGenerator generator, int seed)
    {
        int programs = int.TryParse(Environment.GetEnvironmentVariable("EMU_FUZZ_PROGRAMS"), out int asked) && asked > 0 ? asked : 6;
        if (int.TryParse(Environment.GetEnvironmentVariable("EMU_FUZZ_SEED"), out int s)) seed = seed * 7919 + s;
        var image = new byte[FuzzLayout.RamSize];
        long steps = 0, retired = 0;
        for (int i = 0; i < programs; i++)
        {
            int programSeed = FuzzRunner.ProgramSeed(seed + 1000, i);
            FuzzState state = FuzzRunner.Build(programSeed, mode, cpl, iopl3, generator, image);
            using var engine = new TranslatorEngine(threshold: 1, synchronous: true);
            using var t = new TestCpu(engine, FuzzLayout.RamSize);
            CopyIn(t, image);
            state.Apply(t.Cpu);
            var delivery = new LimitedDelivery();
            t.Cpu.DeliverException = delivery.Deliver;
            using var lockstep = new LockstepRunner(t.Cpu, "translator");
            while (true)
            {
                StopReason p = lockstep.Step();
                steps++;
                Assert.True(lockstep.Divergence is null,
                    $"{mode} CPL {cpl} {generator}, program seed {programSeed}: {lockstep.Divergence?.Summary}\n{lockstep.Divergence?.Details}");
                if (p != StopReason.BudgetExhausted || t.Cpu.InstructionCount >= FuzzRunner.Budget) break;
            }
            Assert.Equal(t.Cpu.InstructionCount, lockstep.Shadow.InstructionCount);
            retired += t.Cpu.InstructionCount;
        }
        // The programs ran: steps were compared, instructions retired.
        Assert.True(retired > programs, $"only {retired} instructions in {programs} programs");
        Assert.True(steps > programs, $"only {steps} steps in {programs} programs");
    }

    private static unsafe void CopyIn(TestCpu t, byte[] image) => image.CopyTo(new Span<byte>(t.Physical.Ram, image.Length));
}
