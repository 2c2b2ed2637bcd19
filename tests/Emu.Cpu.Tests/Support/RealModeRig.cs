using System;
using Emu.TestSupport;
using Emu.X86;
using Iced.Intel;

namespace Emu.Cpu.Tests.Support;

/// <summary>
/// A CPU in real mode, as RESET leaves it, with every segment register at a different base
/// so a wrong default segment or override shows: CS 1000h, DS 2000h, ES 3000h, SS 4000h,
/// FS 5000h, GS 6000h; SP FFF0h. Code runs at CS:0100h.
/// </summary>
public sealed class RealModeRig : IDisposable
{
    public const ushort CodeSeg = 0x1000, DataSeg = 0x2000, ExtraSeg = 0x3000, StackSeg = 0x4000, FSeg = 0x5000, GSeg = 0x6000;
    public const ushort CodeIp = 0x0100;
    public const ushort InitialSp = 0xFFF0;

    public readonly TestCpu T;

    /// <param name="engine">The engine that runs the guest (see <see cref="Engines"/>).</param>
    public RealModeRig(string engine)
    {
        T = new TestCpu(engine, 4u << 20); // 4 MiB: room above 1 MiB for A20 and unreal-mode tests
        LoadSeg(SegReg.CS, CodeSeg);
        LoadSeg(SegReg.DS, DataSeg);
        LoadSeg(SegReg.ES, ExtraSeg);
        LoadSeg(SegReg.SS, StackSeg);
        LoadSeg(SegReg.FS, FSeg);
        LoadSeg(SegReg.GS, GSeg);
        Cpu.Esp = InitialSp;
    }

    public Emu.X86.Cpu Cpu => T.Cpu;

    /// <summary>Loads a segment register as real mode does (base = selector * 16), outside guest code.</summary>
    public void LoadSeg(int seg, ushort selector)
    {
        Cpu.Seg[seg].LoadReal(selector);
        Cpu.UpdateModes();
        Cpu.Blocks.FlushJumpCache();
    }

    public uint Linear(int seg, uint offset) => Cpu.Seg[seg].Base + offset;

    public void Write8(int seg, uint off, byte v) => T.Physical.Write(Linear(seg, off), 1, v);
    public void Write16(int seg, uint off, ushort v) => T.Physical.Write(Linear(seg, off), 2, v);
    public void Write32(int seg, uint off, uint v) => T.Physical.Write(Linear(seg, off), 4, v);
    public byte Read8(int seg, uint off) => T.Physical.Read8(Linear(seg, off));
    public ushort Read16(int seg, uint off) => (ushort)T.Physical.Read(Linear(seg, off), 2);
    public uint Read32(int seg, uint off) => T.Physical.Read(Linear(seg, off), 4);

    /// <summary>Assembles 16-bit code for CS:<paramref name="ip"/> and stores it there.</summary>
    public byte[] Load(ushort ip, Action<Assembler> build)
    {
        byte[] code = Asm.Assemble(16, ip, build);
        T.Physical.WriteBytes(Linear(SegReg.CS, ip), code);
        return code;
    }

    /// <summary>Runs from CS:<paramref name="ip"/> until HLT, an exception or the budget.</summary>
    public StopReason Run(ushort ip = CodeIp, long budget = 1_000_000)
    {
        Cpu.Eip = ip;
        Cpu.Halted = false; // a restart, not a wake-up from the previous run's HLT
        return Cpu.Run(budget);
    }

    /// <summary>Loads <paramref name="build"/> plus HLT at CS:0100h, runs it and requires that it halted.</summary>
    public void RunToHalt(Action<Assembler> build)
    {
        Load(CodeIp, a => { build(a); a.hlt(); });
        AssertHalted(Run());
    }

    public void AssertHalted(StopReason r)
    {
        if (r == StopReason.Halted) return;
        string fault = Cpu.LastFault is { } f ? $" {f.Name} (error {f.ErrorCode:X}) at {f.Cs:X4}:{f.Eip:X8}" : "";
        Assert.Fail($"guest stopped with {r}{fault}, expected HLT");
    }

    /// <summary>Requires that the run stopped on exception <paramref name="vector"/> at CS:<paramref name="eip"/>.</summary>
    public void AssertFault(StopReason r, int vector, uint eip, uint? errorCode = null) => Faults.AssertFault(Cpu, r, vector, eip, errorCode);

    public void Dispose() => T.Dispose();
}

public static class Faults
{
    public static void AssertFault(Emu.X86.Cpu cpu, StopReason r, int vector, uint eip, uint? errorCode = null)
    {
        Assert.Equal(StopReason.UnhandledException, r);
        FaultInfo f = cpu.LastFault!.Value;
        Assert.Equal(Emu.Memory.ExceptionVectors.Name(vector), f.Name);
        Assert.Equal(eip, f.Eip);
        Assert.Equal(eip, cpu.Eip);
        if (errorCode is { } e)
        {
            Assert.True(f.HasErrorCode, "the exception should carry an error code");
            Assert.Equal(e, f.ErrorCode);
        }
    }
}
