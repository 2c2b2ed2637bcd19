using System;
using System.Collections.Generic;
using System.IO;
using Emu.Memory;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Bench;

/// <summary>
/// A guest workload: 32-bit flat code assembled with Iced, run from its start to HLT, leaving
/// a result in EAX that the host computes too, so a benchmark never times a wrong run.
/// </summary>
public sealed class Workload
{
    public const uint CodeAddress = 0x1000;
    public const uint DataAddress = 0x10_0000;
    public const uint StackTop = 0x8_0000;

    public required string Name { get; init; }
    public required Action<Assembler> Code { get; init; }
    public required uint ExpectedEax { get; init; }

    public override string ToString() => Name;

    public static IReadOnlyList<Workload> All { get; } = new[]
    {
        new Workload { Name = "sieve", Code = Sieve, ExpectedEax = SieveExpected() },
        new Workload { Name = "crc32", Code = Crc32, ExpectedEax = Crc32Expected() },
    };

    public static Workload Get(string name)
    {
        foreach (Workload w in All)
            if (w.Name == name) return w;
        throw new ArgumentException($"no workload named {name}");
    }

    // ---- sieve: count the primes below SieveLimit (byte array, inner loops of stores) ----

    private const int SieveLimit = 200_000;

    private static void Sieve(Assembler a)
    {
        Label clear = a.CreateLabel(), outer = a.CreateLabel(), inner = a.CreateLabel(), next = a.CreateLabel();
        Label count = a.CreateLabel(), skip = a.CreateLabel(), done = a.CreateLabel();
        // memset(flags, 0, SieveLimit)
        a.mov(edi, DataAddress);
        a.mov(ecx, SieveLimit);
        a.xor(eax, eax);
        a.Label(ref clear);
        a.mov(__byte_ptr[edi], al);
        a.inc(edi);
        a.dec(ecx);
        a.jnz(clear);
        // for (i = 2; i * i < N; i++) if (!flags[i]) for (j = i * i; j < N; j += i) flags[j] = 1;
        a.mov(ebx, 2);
        a.Label(ref outer);
        a.mov(eax, ebx);
        a.imul(eax, ebx);
        a.cmp(eax, SieveLimit);
        a.jae(count);
        a.cmp(__byte_ptr[ebx + DataAddress], 0);
        a.jne(next);
        a.Label(ref inner);
        a.mov(__byte_ptr[eax + DataAddress], 1);
        a.add(eax, ebx);
        a.cmp(eax, SieveLimit);
        a.jb(inner);
        a.Label(ref next);
        a.inc(ebx);
        a.jmp(outer);
        // eax = number of i in [2, N) with !flags[i]
        a.Label(ref count);
        a.xor(eax, eax);
        a.mov(ebx, 2);
        a.Label(ref skip);
        a.cmp(ebx, SieveLimit);
        a.jae(done);
        a.movzx(edx, __byte_ptr[ebx + DataAddress]);
        a.xor(edx, 1);
        a.add(eax, edx);
        a.inc(ebx);
        a.jmp(skip);
        a.Label(ref done);
        a.hlt();
    }

    private static uint SieveExpected()
    {
        var composite = new bool[SieveLimit];
        uint n = 0;
        for (long i = 2; i < SieveLimit; i++)
        {
            if (composite[i]) continue;
            n++;
            for (long j = i * i; j < SieveLimit; j += i) composite[j] = true;
        }
        return n;
    }

    // ---- crc32: bitwise CRC-32 of a generated buffer (shifts, flags, data-dependent branches) ----

    private const int CrcBytes = 32 * 1024;

    private static void Crc32(Assembler a)
    {
        Label fill = a.CreateLabel(), bytes = a.CreateLabel(), bits = a.CreateLabel(), noXor = a.CreateLabel();
        // buffer[i] = (byte)(i * 7 + (i >> 8))
        a.xor(ecx, ecx);
        a.Label(ref fill);
        a.mov(eax, ecx);
        a.imul(eax, eax, 7);
        a.mov(edx, ecx);
        a.shr(edx, 8);
        a.add(eax, edx);
        a.mov(__byte_ptr[ecx + DataAddress], al);
        a.inc(ecx);
        a.cmp(ecx, CrcBytes);
        a.jb(fill);
        // crc = ~0; for each byte: crc ^= b; 8 times: crc = (crc >> 1) ^ (crc & 1 ? poly : 0); eax = ~crc
        a.mov(eax, 0xFFFF_FFFF);
        a.mov(esi, DataAddress);
        a.mov(ecx, CrcBytes);
        a.Label(ref bytes);
        a.movzx(edx, __byte_ptr[esi]);
        a.xor(eax, edx);
        a.mov(ebx, 8);
        a.Label(ref bits);
        a.shr(eax, 1);
        a.jnc(noXor);
        a.xor(eax, 0xEDB8_8320);
        a.Label(ref noXor);
        a.dec(ebx);
        a.jnz(bits);
        a.inc(esi);
        a.dec(ecx);
        a.jnz(bytes);
        a.not(eax);
        a.hlt();
    }

    private static uint Crc32Expected()
    {
        uint crc = 0xFFFF_FFFF;
        for (int i = 0; i < CrcBytes; i++)
        {
            crc ^= (byte)(i * 7 + (i >> 8));
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ ((crc & 1) != 0 ? 0xEDB8_8320u : 0);
        }
        return ~crc;
    }
}

/// <summary>A machine with one workload loaded: RAM, MMU, I/O space and a CPU in flat protected mode.</summary>
public sealed class WorkloadRunner : IDisposable
{
    private readonly PhysicalMemory memory = new(4u << 20);
    private readonly Mmu mmu;
    private readonly Workload workload;

    public Cpu Cpu { get; }

    public WorkloadRunner(Workload workload, IExecutionEngine? engine = null)
    {
        this.workload = workload;
        mmu = new Mmu(memory);
        Cpu = new Cpu(mmu, new IoSpace()) { Engine = engine };
        var a = new Assembler(32);
        workload.Code(a);
        var w = new MemoryStream();
        a.Assemble(new StreamCodeWriter(w), Workload.CodeAddress);
        memory.WriteBytes(Workload.CodeAddress, w.ToArray());
        Cpu.EnterFlatProtectedMode();
    }

    /// <summary>Runs the workload once from its start; returns the instructions it retired.</summary>
    public long RunOnce()
    {
        Cpu c = Cpu;
        c.Eip = Workload.CodeAddress;
        c.Esp = Workload.StackTop;
        c.Halted = false;
        long before = c.InstructionCount;
        StopReason r = c.Run();
        if (r != StopReason.Halted)
            throw new InvalidOperationException($"workload {workload.Name} stopped with {r} at EIP {c.Eip:X8}, not HLT");
        if (c.Eax != workload.ExpectedEax)
            throw new InvalidOperationException($"workload {workload.Name} computed EAX={c.Eax:X8}, expected {workload.ExpectedEax:X8}");
        return c.InstructionCount - before;
    }

    public void Dispose()
    {
        mmu.Dispose();
        memory.Dispose();
    }
}
