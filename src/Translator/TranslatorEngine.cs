using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading;
using Emu.X86;

namespace Emu.Translator;

/// <summary>
/// The translating engine. A block is interpreted until it has been entered
/// <see cref="Threshold"/> times; it is then compiled to IL on a background thread while
/// the interpreter keeps running it, and once the compiled code is published, dispatch
/// runs that instead. Execution never waits for the JIT. Compiled code lives on the
/// <see cref="Block"/> itself, so finding it costs nothing beyond finding the block.
/// </summary>
public sealed class TranslatorEngine : IExecutionEngine, IDisposable
{
    /// <summary>The default tiering threshold (see the translator's benchmark for how it was chosen).</summary>
    public const int DefaultThreshold = 50;

    private readonly BlockingCollection<Block>? queue;
    private readonly Thread? worker;
    private long compiledBlocks;
    private long compiledInstructions;
    private long compileTicks;
    private long failures;

    /// <param name="threshold">Entries before a block is compiled (0 or 1: compile at first entry).</param>
    /// <param name="synchronous">Compile on the emulation thread before running a block (tests: every block runs compiled).</param>
    public TranslatorEngine(int threshold = DefaultThreshold, bool synchronous = false)
    {
        Threshold = Math.Max(threshold, 1);
        Synchronous = synchronous;
        if (!synchronous)
        {
            queue = new BlockingCollection<Block>(new ConcurrentQueue<Block>());
            worker = new Thread(CompileLoop) { IsBackground = true, Name = "translator", Priority = ThreadPriority.BelowNormal };
            worker.Start();
        }
    }

    public int Threshold { get; }
    public bool Synchronous { get; }

    /// <summary>Blocks compiled so far.</summary>
    public long CompiledBlocks => Interlocked.Read(ref compiledBlocks);

    /// <summary>Guest instructions in the compiled blocks.</summary>
    public long CompiledInstructions => Interlocked.Read(ref compiledInstructions);

    /// <summary>Time spent building IL and running RyuJIT on it.</summary>
    public TimeSpan CompileTime => TimeSpan.FromTicks(Interlocked.Read(ref compileTicks) * TimeSpan.TicksPerSecond / Stopwatch.Frequency);

    /// <summary>Blocks the compiler refused (they stay interpreted).</summary>
    public long Failures => Interlocked.Read(ref failures);

    public void Execute(Cpu cpu, Block block)
    {
        Action<Cpu>? code = block.Translation;
        if (code is not null)
        {
            code(cpu);
            return;
        }
        if (++block.Hits >= Threshold && !block.CompileQueued && block.Cacheable)
        {
            block.CompileQueued = true;
            if (Synchronous)
            {
                CompileOne(block);
                code = block.Translation;
                if (code is not null)
                {
                    code(cpu);
                    return;
                }
            }
            else
            {
                queue!.Add(block);
            }
        }
        Interpreter.Execute(cpu, block);
    }

    /// <summary>Waits until every queued block has been compiled (benchmarks and tests).</summary>
    public void Drain()
    {
        if (queue is null) return;
        while (queue.Count > 0) Thread.Sleep(1);
        lock (queue) { }
    }

    private void CompileLoop()
    {
        foreach (Block b in queue!.GetConsumingEnumerable())
        {
            lock (queue) CompileOne(b);
        }
    }

    private void CompileOne(Block b)
    {
        if (!b.Valid) return;
        long t0 = Stopwatch.GetTimestamp();
        try
        {
            Action<Cpu> code = BlockCompiler.Compile(b);
            code(null!); // JIT it here (a null CPU returns at once), not on the emulation thread
            if (b.Valid) b.Translation = code;
            Interlocked.Increment(ref compiledBlocks);
            Interlocked.Add(ref compiledInstructions, b.Count);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A block the compiler cannot handle keeps running in the interpreter; one message per failure.
            Interlocked.Increment(ref failures);
            Console.Error.WriteLine($"translator: cannot compile {b}: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            Interlocked.Add(ref compileTicks, Stopwatch.GetTimestamp() - t0);
        }
    }

    public void Dispose()
    {
        queue?.CompleteAdding();
    }
}
