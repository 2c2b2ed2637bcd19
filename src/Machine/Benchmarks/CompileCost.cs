using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using Emu.Translator;
using Emu.X86;

namespace Emu.Machine.Benchmarks;

/// <summary>
/// What the translator's compiling costs: every distinct block the workloads run, compiled to a
/// DynamicMethod and JIT-compiled by RyuJIT, per guest instruction.
/// </summary>
public static class CompileCost
{
    /// <summary>Runs each workload once (one round, on the interpreter) and returns the blocks it ran that the translator would compile.</summary>
    public static List<Block> CollectBlocks(IEnumerable<(Workload Workload, byte[] Image)> workloads)
    {
        var blocks = new List<Block>();
        foreach ((Workload w, byte[] image) in workloads)
        {
            var collector = new BlockCollector();
            var output = new MemoryStream();
            using var board = new Board(32, output, collector);
            board.BootMultiboot(image, "rounds=1");
            RunResult r = board.Run();
            if (r.ExitStatus != WorkloadRun.PassStatus)
                throw new WorkloadFailedException($"workload {w.Name} ended with status {r.ExitStatus} while its blocks were collected");
            blocks.AddRange(collector.Blocks);
        }
        return blocks;
    }

    /// <summary>Compiles every block (IL, then RyuJIT through a call that returns at once) and returns the time it took.</summary>
    public static TimeSpan CompileAll(IReadOnlyList<Block> blocks)
    {
        long t0 = Stopwatch.GetTimestamp();
        foreach (Block b in blocks)
        {
            Action<Cpu> code = BlockCompiler.Compile(b);
            code(null!); // a null CPU returns at once: this call only makes RyuJIT compile the method
        }
        return Stopwatch.GetElapsedTime(t0);
    }

    public static long CountInstructions(IReadOnlyList<Block> blocks)
    {
        long n = 0;
        foreach (Block b in blocks) n += b.Count;
        return n;
    }

    /// <summary>Runs blocks on the interpreter and remembers each distinct cacheable block.</summary>
    private sealed class BlockCollector : IExecutionEngine
    {
        private readonly HashSet<Block> seen = new(ReferenceEqualityComparer.Instance);
        public readonly List<Block> Blocks = new();

        public void Execute(Cpu cpu, Block block)
        {
            if (block.Cacheable && seen.Add(block)) Blocks.Add(block);
            Interpreter.Execute(cpu, block);
        }
    }
}
