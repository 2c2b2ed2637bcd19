using System;
using System.Collections.Generic;
using System.IO;
using Emu.Memory;
using Emu.X86;
using Iced.Intel;

namespace Emu.TestSupport;

/// <summary>
/// A bare CPU with RAM and an I/O space for unit tests: guest code is assembled with
/// Iced's Assembler, loaded at an address and run until HLT (or a stop address), on the
/// execution engine the test names (see <see cref="Engines"/>).
/// </summary>
public sealed class TestCpu : IDisposable
{
    public const uint DefaultRam = 16u << 20;

    public PhysicalMemory Physical { get; }
    public Mmu Mmu { get; }
    public IoSpace Io { get; }
    public Cpu Cpu { get; }

    /// <summary>The engine running guest code (null: the interpreter).</summary>
    public IExecutionEngine? Engine { get; }

    private readonly bool ownsEngine;

    /// <param name="engine">An engine name from <see cref="Engines"/>; the engine is created here and disposed with the CPU.</param>
    public TestCpu(string engine, uint ramSize = DefaultRam) : this(Engines.Create(engine), ramSize) => ownsEngine = true;

    /// <param name="engine">An engine the test built itself (null: the interpreter); the caller disposes it.</param>
    public TestCpu(IExecutionEngine? engine, uint ramSize = DefaultRam)
    {
        Physical = new PhysicalMemory(ramSize);
        Mmu = new Mmu(Physical);
        Io = new IoSpace();
        Engine = engine;
        // Tests inspect the exception a guest raises; the system layer's own tests deliver them.
        Cpu = new Cpu(Mmu, Io) { Engine = engine, StopOnException = true };
    }

    /// <summary>A CPU in flat 32-bit protected mode (as Multiboot leaves it) with ESP at 0x80000.</summary>
    public static TestCpu Flat32(string engine, uint ramSize = DefaultRam) => Flat(new TestCpu(engine, ramSize));

    /// <summary>The same on an engine the test built itself (null: the interpreter); the caller disposes it.</summary>
    public static TestCpu Flat32(IExecutionEngine? engine = null) => Flat(new TestCpu(engine));

    private static TestCpu Flat(TestCpu t)
    {
        t.Cpu.EnterFlatProtectedMode();
        t.Cpu.Esp = 0x80000;
        return t;
    }

    /// <summary>Assembles code at <paramref name="address"/> (its linear = physical address here) and writes it to RAM.</summary>
    public byte[] Load(uint address, Action<Assembler> build, int bitness = 32)
    {
        var a = new Assembler(bitness);
        build(a);
        var w = new MemoryStream();
        a.Assemble(new StreamCodeWriter(w), address);
        byte[] bytes = w.ToArray();
        Physical.WriteBytes(address, bytes);
        return bytes;
    }

    public void WriteBytes(uint address, params byte[] bytes) => Physical.WriteBytes(address, bytes);

    public uint Read32(uint address) => Physical.Read(address, 4);

    public byte Read8(uint address) => Physical.Read8(address);

    public void Write32(uint address, uint value) => Physical.Write(address, 4, value);

    /// <summary>Runs from <paramref name="eip"/> until HLT, a stop, an exception or the budget.</summary>
    public StopReason Run(uint eip, long maxInstructions = 10_000_000)
    {
        // Starting at a new address is a restart: a CPU halted by an earlier run's HLT runs again.
        Cpu.Eip = eip;
        Cpu.Halted = false;
        return Cpu.Run(maxInstructions);
    }

    /// <summary>Assembles at <paramref name="address"/>, appends HLT, runs, and asserts it halted.</summary>
    public void RunToHalt(uint address, Action<Assembler> build, int bitness = 32)
    {
        Load(address, a => { build(a); a.hlt(); }, bitness);
        StopReason r = Run(address);
        if (r != StopReason.Halted)
        {
            string fault = Cpu.LastFault is { } f ? $" {f.Name} at {f.Cs:X4}:{f.Eip:X8}" : "";
            throw new InvalidOperationException($"guest stopped with {r}{fault}, expected HLT");
        }
    }

    public void Dispose()
    {
        Mmu.Dispose();
        Physical.Dispose();
        if (ownsEngine)
        {
            (Engine as IDisposable)?.Dispose();
            Engines.CheckHealthy(Engine);
        }
    }
}
