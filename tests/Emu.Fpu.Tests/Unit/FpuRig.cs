using System;
using System.IO;
using Emu.Memory;
using Emu.TestSupport;
using Emu.Translator;
using Emu.X86;
using Iced.Intel;

namespace Emu.Fpu.Tests.Unit;

/// <summary>
/// A CPU for x87 unit tests on either engine: flat 32-bit protected mode at CPL 0 (code at
/// 1000h, data at 10000h) or real mode (CS = DS = 0), CR0.NE and MP set as an OS sets them.
/// </summary>
public sealed class FpuRig : IDisposable
{
    public const uint Code = 0x1000, Data = 0x10000;

    public readonly TestCpu T;

    public static readonly string[] Engines = { "interpreter", "translator" };

    public FpuRig(string engine, bool realMode = false)
    {
        IExecutionEngine? e = engine == "translator" ? new TranslatorEngine(threshold: 1, synchronous: true) : null;
        if (realMode)
        {
            T = new TestCpu(e, TestCpu.DefaultRam);
            for (int s = 0; s < 6; s++) T.Cpu.Seg[s].LoadReal(0);
            T.Cpu.UpdateModes();
            T.Cpu.Blocks.FlushJumpCache();
            T.Cpu.Esp = 0xFFF0;
        }
        else
        {
            T = TestCpu.Flat32(e);
        }
        T.Cpu.Cr0 |= Cr0Bits.NE | Cr0Bits.MP;
        T.Cpu.Fpu.Init();
    }

    public Cpu Cpu => T.Cpu;
    public FpuState Fpu => T.Cpu.Fpu;
    public int Bitness => T.Cpu.ProtectedMode ? 32 : 16;

    public byte[] Assemble(Action<Assembler> build, uint at = Code)
    {
        var a = new Assembler(Bitness);
        build(a);
        var w = new MemoryStream();
        a.Assemble(new StreamCodeWriter(w), at);
        return w.ToArray();
    }

    /// <summary>Runs code followed by HLT from <see cref="Code"/>; returns how it stopped.</summary>
    public StopReason Run(Action<Assembler> build)
    {
        byte[] code = Assemble(a =>
        {
            build(a);
            a.hlt();
        });
        T.Physical.WriteBytes(Cpu.Seg[SegReg.CS].Base + Code, code);
        Cpu.LastFault = null;
        Cpu.Halted = false;
        Cpu.Eip = Code;
        return Cpu.Run(10_000);
    }

    /// <summary>Runs and requires that the code reached its HLT.</summary>
    public void RunToHalt(Action<Assembler> build)
    {
        StopReason r = Run(build);
        if (r != StopReason.Halted || Cpu.LastFault is not null)
            throw new InvalidOperationException($"stopped with {r}" + (Cpu.LastFault is { } f ? $" {f.Name} at {f.Eip:X8}" : ""));
    }

    /// <summary>Runs and returns the exception vector the code stopped on (-1 if none).</summary>
    public int FaultOf(Action<Assembler> build)
    {
        StopReason r = Run(build);
        return r == StopReason.UnhandledException && Cpu.LastFault is { } f ? f.Vector : -1;
    }

    /// <summary>The address of the instruction at index <paramref name="n"/> of the code <paramref name="build"/> assembles.</summary>
    public uint AddressOf(Action<Assembler> build, int n)
    {
        byte[] code = Assemble(build);
        var d = Decoder.Create(Bitness, new ByteArrayCodeReader(code), Code);
        for (int i = 0; i < n; i++) d.Decode(out _);
        return (uint)d.IP;
    }

    /// <summary>Loads a segment register in real mode (base = selector * 16).</summary>
    public void LoadReal(int seg, ushort selector)
    {
        Cpu.Seg[seg].LoadReal(selector);
        Cpu.UpdateModes();
        Cpu.Blocks.FlushJumpCache();
    }

    public ushort Read16(uint a) => (ushort)T.Physical.Read(a, 2);
    public uint Read32(uint a) => T.Physical.Read(a, 4);
    public void Write16(uint a, ushort v) => T.Physical.Write(a, 2, v);
    public void Write32(uint a, uint v) => T.Physical.Write(a, 4, v);

    public void Dispose()
    {
        (T.Cpu.Engine as IDisposable)?.Dispose();
        T.Dispose();
    }
}

/// <summary>A fake board for FERR# and IGNNE#: records what the CPU drives and lets a test assert IGNNE#.</summary>
public sealed class FakeFpuErrorPins : IFpuErrorPins
{
    public bool Ferr;
    public int FerrEdges;
    public bool IgnneAsserted { get; set; }

    public void SetFerr(bool asserted)
    {
        if (asserted != Ferr) FerrEdges++;
        Ferr = asserted;
    }
}
