using System;
using System.Collections.Generic;
using Emu.Memory;
using Emu.X86;
using Iced.Intel;

namespace Emu.Cpu.Tests.Interpreter;

/// <summary>
/// The interpreter's handlers for one operand form (<see cref="OperandForm"/>), which read their
/// operands from <see cref="Operands"/> worked out once per block, against the general handler
/// of the same instruction, which asks Iced's <see cref="Instruction"/> on every run. Both run
/// each instruction from the same random state and must leave the same registers, flags, EIP,
/// memory and faults.
/// </summary>
public unsafe class OperandFormTests
{
    private const uint Ram = 1u << 20;
    private const uint CodeAt = 0x1000;

    // One-byte opcodes and 0F xx opcodes of the instruction groups that have form handlers.
    private static readonly int[] OneByte = Opcodes(
        (0x00, 0x05), (0x08, 0x0D), (0x10, 0x15), (0x18, 0x1D), (0x20, 0x25), (0x28, 0x2D), (0x30, 0x35), (0x38, 0x3D),
        (0x40, 0x5F), (0x69, 0x69), (0x6B, 0x6B), (0x70, 0x7F), (0x80, 0x85), (0x88, 0x8B), (0x8D, 0x8D),
        (0xA0, 0xA3), (0xB0, 0xBF), (0xC0, 0xC1), (0xC6, 0xC7), (0xD0, 0xD3), (0xE8, 0xE9), (0xEB, 0xEB),
        (0xF6, 0xF7), (0xFE, 0xFF));
    private static readonly int[] TwoByte = Opcodes((0x40, 0x4F), (0x80, 0x9F), (0xAF, 0xAF), (0xB6, 0xB7), (0xBE, 0xBF));
    private static readonly byte[] Prefixes = { 0x66, 0x67, 0x64, 0x26, 0x36, 0x2E };

    private static int[] Opcodes(params (int First, int Last)[] ranges)
    {
        var list = new List<int>();
        foreach (var (first, last) in ranges)
            for (int op = first; op <= last; op++) list.Add(op);
        return list.ToArray();
    }

    [Fact]
    public void EveryFormHandlerDoesWhatTheGeneralHandlerDoes()
    {
        var random = new Random(1234);
        var formsSeen = new HashSet<OperandForm>();
        int compared = 0;
        var image = new byte[Ram];
        random.NextBytes(image);
        using var a = NewCpu(image);
        using var b = NewCpu(image);
        var bytes = new byte[15];
        for (int trial = 0; trial < 6000; trial++)
        {
            int n = 0;
            if (random.Next(3) == 0) bytes[n++] = Prefixes[random.Next(Prefixes.Length)];
            if (random.Next(2) == 0) bytes[n++] = 0x0F;
            bytes[n] = (byte)(n > 0 && bytes[n - 1] == 0x0F ? TwoByte[random.Next(TwoByte.Length)] : OneByte[random.Next(OneByte.Length)]);
            n++;
            while (n < bytes.Length) bytes[n++] = (byte)random.Next(256);

            var decoder = Decoder.Create(32, new ByteArrayCodeReader(bytes), CodeAt);
            decoder.Decode(out Instruction ins);
            if (ins.IsInvalid) continue;
            var decoded = new DecodedInstruction[1];
            decoded[0].Instruction = ins;
            decoded[0].Operands = Operands.Decode(ref ins);
            delegate*<X86.Cpu, ref Instruction, void> form = InstructionTable.HandlerFor(ref decoded[0].Instruction);
            delegate*<X86.Cpu, ref Instruction, void> general = InstructionTable.Handlers[(int)ins.Code];
            if ((nint)form == (nint)general) continue;

            int seed = random.Next();
            Prepare(a, seed);
            Prepare(b, seed);
            string? faultA = Run(a.Cpu, form, ref decoded[0].Instruction);
            Instruction plain = ins;
            string? faultB = Run(b.Cpu, general, ref plain);

            string what = $"{ins} ({ins.Code}, {OperandForms.Of(ref ins)}; {decoded[0].Operands})";
            Assert.True(faultA == faultB, $"{what}: the form handler {faultA ?? "did not fault"}, the general handler {faultB ?? "did not fault"}");
            StateDifference? d = b.Cpu.FirstDifference(a.Cpu);
            Assert.True(d is null, $"{what}: {d}");
            Assert.True(a.Physical.DirtyPages.SequenceEqual(b.Physical.DirtyPages), $"{what}: different pages written");
            foreach (uint page in a.Physical.DirtyPages)
                Assert.True(Page(a, page).SequenceEqual(Page(b, page)), $"{what}: page {page:X} differs");
            Restore(a, image);
            Restore(b, image);
            formsSeen.Add(OperandForms.Of(ref ins));
            compared++;
        }
        Assert.True(compared > 1500, $"only {compared} instructions had a form handler");
        foreach (OperandForm f in Enum.GetValues<OperandForm>())
            if (f != OperandForm.Other) Assert.Contains(f, formsSeen);
    }

    [Fact]
    public void DecodedAddressesAreThoseOfTheInstruction()
    {
        using var t = NewCpu();
        var random = new Random(99);
        Prepare(t, 5);
        foreach (var (bitness, hex) in new[]
        {
            (32, "8B 44 B3 10"),          // mov eax,[ebx+esi*4+10h]
            (32, "8B 45 F8"),             // mov eax,[ebp-8]
            (32, "A1 68 24 00 00"),       // mov eax,[2468h] (moffs)
            (32, "8B 04 FD 00 01 00 00"), // mov eax,[edi*8+100h] (no base)
            (32, "64 8B 04 3B"),          // mov eax,fs:[ebx+edi]
            (32, "67 8B 40 04"),          // mov eax,[bx+si+4] (16-bit addressing)
            (32, "67 A1 34 12"),          // mov eax,[1234h] (16-bit moffs)
            (16, "8B 46 FE"),             // mov ax,[bp-2]
            (16, "66 67 8B 44 24 08"),    // mov eax,[esp+8] (32-bit addressing in 16-bit code)
        })
        {
            byte[] code = Convert.FromHexString(hex.Replace(" ", ""));
            Decoder.Create(bitness, new ByteArrayCodeReader(code), CodeAt).Decode(out Instruction ins);
            Operands o = Operands.Decode(ref ins);
            for (int i = 0; i < 20; i++)
            {
                for (int r = 0; r < 8; r++) t.Cpu.Gpr[r] = (uint)random.Next() ^ (uint)random.Next() << 16;
                Assert.Equal(t.Cpu.EffectiveAddress(ref ins), t.Cpu.EffectiveAddress(ref o));
                Assert.Equal(X86.Cpu.MemSeg(ref ins), o.Segment);
            }
        }
    }

    /// <summary>A flat 32-bit CPU with <paramref name="image"/> as its RAM, its stores to RAM tracked.</summary>
    private static TestCpu NewCpu(byte[]? image = null)
    {
        var t = TestCpu.Flat32(Engines.Interpreter, Ram);
        if (image is not null) t.Physical.WriteBytes(0, image);
        t.Physical.TrackWrites = true;
        return t;
    }

    /// <summary>Writes back the pages the last instruction changed.</summary>
    private static void Restore(TestCpu t, byte[] image)
    {
        foreach (uint page in t.Physical.DirtyPages.ToArray())
            t.Physical.WriteBytes(page << PhysicalMemory.PageShift, image.AsSpan((int)(page << PhysicalMemory.PageShift), (int)PhysicalMemory.PageSize));
        t.Physical.ClearDirtyPages();
    }

    /// <summary>Random registers and flags, the stack inside RAM.</summary>
    private static void Prepare(TestCpu t, int seed)
    {
        var random = new Random(seed);
        for (int r = 0; r < 8; r++)
            t.Cpu.Gpr[r] = random.Next(2) == 0 ? (uint)random.Next((int)Ram) : (uint)random.Next() ^ (uint)random.Next() << 16;
        t.Cpu.Esp = 0x1000u + (uint)random.Next((int)Ram - 0x2000);
        t.Cpu.SetEflagsRaw(Flags.Reserved1 | ((uint)random.Next() & 0x8D5));
    }

    private static string? Run(X86.Cpu c, delegate*<X86.Cpu, ref Instruction, void> handler, ref Instruction ins)
    {
        c.Eip = (uint)ins.IP;
        try
        {
            handler(c, ref ins);
            return null;
        }
        catch (GuestFault f)
        {
            return $"faulted with vector {f.Vector}, error code {f.ErrorCode}";
        }
    }

    private static byte[] Page(TestCpu t, uint page)
    {
        var bytes = new byte[PhysicalMemory.PageSize];
        t.Physical.ReadBytes(page << PhysicalMemory.PageShift, bytes);
        return bytes;
    }
}
