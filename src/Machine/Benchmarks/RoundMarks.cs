using System;
using System.Collections.Generic;
using System.Diagnostics;
using Emu.Memory;
using Emu.X86;

namespace Emu.Machine.Benchmarks;

/// <summary>
/// The benchmark round mark at port 0xEA (firmware/include/fw.h, <c>fw_round_done</c>): a
/// workload writes the number of each round it has finished, and this device notes when (host
/// time) and after how many retired instructions. Only the benchmark runner attaches it; on
/// any other board (and in QEMU) the port is unclaimed and the write goes nowhere.
/// </summary>
public sealed class RoundMarks : IPortDevice
{
    public const ushort Port = 0xEA;

    private readonly Cpu cpu;
    private readonly Action<RoundMarks>? onMark;

    /// <param name="cpu">Whose retired-instruction count each mark records.</param>
    /// <param name="onMark">Called on the emulation thread at each mark, after it is recorded (the steady-state run drains the compile queue there).</param>
    public RoundMarks(Cpu cpu, Action<RoundMarks>? onMark = null)
    {
        this.cpu = cpu;
        this.onMark = onMark;
    }

    /// <summary>The marks so far: the round the guest reported, the instructions retired by then (counted at block granularity), the host timestamp.</summary>
    public List<(uint Round, long Instructions, long Timestamp)> Marks { get; } = new();

    public void Attach(IoSpace io) => io.Register(Port, 4, this);

    public uint In(ushort port, int size) => size switch { 1 => 0xFFu, 2 => 0xFFFFu, _ => 0xFFFF_FFFFu };

    public void Out(ushort port, int size, uint value)
    {
        if (port != Port) return;
        Marks.Add((value, cpu.InstructionCount, Stopwatch.GetTimestamp()));
        onMark?.Invoke(this);
    }
}
