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
    /// <summary>The default tiering threshold: block entries before a block is compiled.</summary>
    /// <remarks>
    /// Chosen by measurement: the total time of the five benchmark workloads (firmware/bench-*,
    /// about 0.6 s each on the interpreter), compiles included, median of 5-9 runs, per threshold:
    /// <code>
    /// threshold              1     10     50    200    500   2000   (interpreter: 3358 ms)
    /// 2 cores, quiet      1515   1349   1343   1335   1348   1334   ms
    /// 1 core (taskset)    1790   1472   1413   1422   1394   1392   ms
    /// blocks compiled      188    109     82     80     56     46
    /// </code>
    /// 1 is 10-25% slower (the compile queue fills with cold blocks at about a millisecond of
    /// RyuJIT each); from 10 up the totals are flat within noise on two cores, and on one core,
    /// or on a loaded machine (a sweep at load average 5-8 had 500 lowest, 4% under 50), the
    /// thresholds that compile less win by a little. 500 is in the middle of that flat region
    /// and compiles a third fewer blocks than 50. Interpreting a block 500 times costs about
    /// 30 us, far less than compiling it, so warm code of a big guest loses little by waiting.
    /// Reproduce: <c>./emu bench --sweep 1,10,50,200,500,2000 --runs 9</c> (and under
    /// <c>taskset -c 0</c> for one core).
    /// </remarks>
    public const int DefaultThreshold = 500;

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
