using System;
using System.Collections.Generic;
using System.IO;

namespace Emu.Machine.Benchmarks;

/// <summary>
/// A benchmark workload: a bare-metal program of ours, <c>firmware/bench-NAME</c>, built into
/// <c>build/firmware/bench-NAME.elf</c>. It computes something `rounds` times (kernel command
/// line <c>rounds=N</c>; its default takes about a second on the interpreter), checks the result
/// itself every round, marks each round's end on port 0xEA (<see cref="RoundMarks"/>), prints the
/// result over port 0xE9 and exits with FW_EXIT_PASS (status 33).
/// </summary>
public sealed record Workload(string Name, string Description)
{
    /// <summary>The workloads, in the order tables list them. A new firmware/bench-NAME directory goes here too.</summary>
    public static IReadOnlyList<Workload> All { get; } = new Workload[]
    {
        new("sieve", "sieve of Eratosthenes below 2,000,000: strided byte stores, a counting loop"),
        new("crc32", "table-driven CRC-32 of 256 KiB: loads, shifts, XOR"),
        new("matmul", "64x64 integer matrix multiply: IMUL, strided loads"),
        new("calls", "recursive Fibonacci, Takeuchi, calls through function pointers"),
        new("strings", "memcpy/memcmp/strlen loops and REP MOVS/STOS/CMPS/SCAS at every alignment"),
        new("bytecode", "a stack-machine bytecode interpreter (switch dispatch: an indirect JMP through a jump table per bytecode) running Collatz and trial-division loops"),
        new("hash", "MD5 of 128 KiB: 32-bit adds, rotates, AND/OR/XOR/NOT"),
        new("recursion", "Ackermann's function, N-queens backtracking, recursive quicksort: deep and branching CALL/RET"),
        new("pointers", "binary search tree, chained hash table and linked list through a node pool: dependent loads"),
        new("x87", "n-body simulation and Mandelbrot escape counts in doubles on the x87 stack: FMUL/FADD/FDIV/FSQRT/FCOMI"),
    };

    /// <summary>The file name of the built program.</summary>
    public string FileName => $"bench-{Name}.elf";

    /// <summary>The workload called <paramref name="name"/>, or null.</summary>
    public static Workload? Find(string name)
    {
        foreach (Workload w in All)
            if (w.Name == name) return w;
        return null;
    }

    /// <summary>
    /// Where the built workloads are: build/firmware of the repository the program runs from
    /// (found by walking up from it to the directory holding firmware/build.sh), else
    /// build/firmware under the current directory.
    /// </summary>
    public static string DefaultDirectory()
    {
        for (string? d = AppContext.BaseDirectory; d is not null; d = Path.GetDirectoryName(d))
            if (File.Exists(Path.Combine(d, "firmware", "build.sh"))) return Path.Combine(d, "build", "firmware");
        return Path.Combine(Directory.GetCurrentDirectory(), "build", "firmware");
    }
}
