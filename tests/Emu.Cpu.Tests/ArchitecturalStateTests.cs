using System;
using System.Linq;
using System.Reflection;
using Emu.TestSupport;
using Emu.X86;
using static Iced.Intel.AssemblerRegisters;
using X86Cpu = Emu.X86.Cpu;

namespace Emu.Cpu.Tests;

/// <summary>
/// Copying and comparing CPU state (<see cref="X86Cpu.CopyStateFrom"/>, <see cref="X86Cpu.FirstDifference"/>):
/// lockstep starts its shadow CPU as a copy and compares the two after every block, so a field
/// left out of either would hide a divergence.
/// </summary>
public class ArchitecturalStateTests
{
    [Fact]
    public void EveryFieldOfTheCpuIsEitherArchitecturalStateOrRunControl()
    {
        string[] fields = typeof(X86Cpu).GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .Where(f => !f.Name.Contains('<')) // no auto-property backing fields
            .Select(f => f.Name).ToArray();
        string[] unlisted = fields.Except(X86Cpu.ArchitecturalFields).Except(X86Cpu.RunControlFields).ToArray();
        Assert.True(unlisted.Length == 0,
            $"Cpu fields in neither list of ArchitecturalState.cs (copy and compare them, or call them run control): {string.Join(", ", unlisted)}");
        Assert.Empty(X86Cpu.ArchitecturalFields.Intersect(X86Cpu.RunControlFields));
        Assert.Empty(X86Cpu.ArchitecturalFields.Concat(X86Cpu.RunControlFields).Except(fields)); // no stale names
    }

    [Fact]
    public void ACopyHasNoDifferenceAndRunsTheSame()
    {
        using var a = TestCpu.Flat32();
        using var b = TestCpu.Flat32();
        a.RunToHalt(0x1000, asm =>
        {
            asm.mov(eax, 0x8000_0000);
            asm.add(eax, eax); // lazy flags: CF, OF, ZF set from an ADD
            asm.mov(ebx, 0x1234);
            asm.std();
        });
        a.Cpu.Fpu.ControlWord = 0x027F;
        a.Cpu.Fpu.R[5] = new Float80 { Significand = 0x8000_0000_0000_0001, SignExponent = 0x3FFF };
        a.Cpu.Dr[3] = 0x5000;
        b.Cpu.CopyStateFrom(a.Cpu);
        Assert.Null(a.Cpu.FirstDifference(b.Cpu));

        // Both go on from the copied state to the same place: the lazy flags came along too.
        a.Load(0x2000, asm => { asm.setc(cl); asm.seto(dl); asm.hlt(); });
        b.Load(0x2000, asm => { asm.setc(cl); asm.seto(dl); asm.hlt(); });
        a.Run(0x2000); // a restart: both were halted by the first program's HLT
        b.Run(0x2000);
        Assert.Null(a.Cpu.FirstDifference(b.Cpu));
        Assert.Equal(1u, b.Cpu.Ecx & 0xFF);
        Assert.Equal(1u, b.Cpu.Edx & 0xFF);
    }

    /// <summary>
    /// A copy of a CPU with paging on translates as the original does: CR0, CR3 and CR4 reach
    /// its MMU. Its MMU had kept its own (paging off), so a shadow started from a running guest
    /// would have read physical memory at linear addresses.
    /// </summary>
    [Fact]
    public void ACopyOfACpuWithPagingOnTranslatesAsItDoes()
    {
        using var a = TestCpu.Flat32();
        using var b = TestCpu.Flat32();
        foreach (TestCpu t in new[] { a, b })
        {
            // A page directory at 10000h, its table at 11000h: the first 4 MiB map to themselves,
            // except linear 5000h, which maps to physical 7000h.
            t.Write32(0x1_0000, 0x1_1000 | 7);
            for (uint i = 0; i < 1024; i++) t.Write32(0x1_1000 + 4 * i, (i << 12) | 7);
            t.Write32(0x1_1000 + 4 * 5, 0x7000 | 7);
            t.Write32(0x5000, 0x5555_5555);
            t.Write32(0x7000, 0x7777_7777);
        }
        a.Cpu.WriteCr3(0x1_0000);
        a.Cpu.WriteCr0(a.Cpu.Cr0 | Cr0Bits.PG);
        Assert.Equal(0x7777_7777u, a.Cpu.Mmu.Read32(0x5000));
        b.Cpu.CopyStateFrom(a.Cpu);
        Assert.Equal(0x7777_7777u, b.Cpu.Mmu.Read32(0x5000));
    }

    /// <summary>
    /// A copy of a CPU at CPL 3 with CR0.AM and EFLAGS.AC set checks alignment as it does
    /// (#AC on a misaligned access, Intel SDM Vol. 3, 6.15): the copy's MMU had kept its own
    /// setting, so lockstep's shadow missed the #AC the translator took (found by the
    /// instruction fuzzer's lockstep run, in virtual-8086 mode).
    /// </summary>
    [Fact]
    public void ACopyOfACpuCheckingAlignmentChecksItToo()
    {
        using var a = TestCpu.Flat32();
        using var b = TestCpu.Flat32();
        a.Cpu.WriteCr0(a.Cpu.Cr0 | Cr0Bits.AM);
        a.Cpu.SetEflags(a.Cpu.GetEflags() | Flags.AC);
        const uint dpl3 = SegmentCache.RightsP | SegmentCache.RightsS | SegmentCache.RightsDB | SegmentCache.RightsG | (3u << 5);
        a.Cpu.Seg[SegReg.CS].Load(0x1B, 0, 0xFFFF_FFFF, dpl3 | 0xB);
        a.Cpu.Seg[SegReg.SS].Load(0x23, 0, 0xFFFF_FFFF, dpl3 | 3);
        a.Cpu.UpdateModes();
        Assert.Equal(Emu.Memory.ExceptionVectors.AC, Assert.Throws<Emu.Memory.GuestFault>(() => a.Cpu.Mmu.Read32(0x5001)).Vector);
        b.Cpu.CopyStateFrom(a.Cpu);
        Assert.Equal(Emu.Memory.ExceptionVectors.AC, Assert.Throws<Emu.Memory.GuestFault>(() => b.Cpu.Mmu.Read32(0x5001)).Vector);
    }

    [Fact]
    public void FlagsHeldDifferentlyButReadingTheSameAreNoDifference()
    {
        using var a = TestCpu.Flat32();
        using var b = TestCpu.Flat32();
        b.Cpu.CopyStateFrom(a.Cpu);
        a.Cpu.SetLazy(LazyFlags.Sub | LazyFlags.Size32, 5, 5, 0); // CMP 5, 5: ZF PF
        b.Cpu.SetArithFlags(Flags.ZF | Flags.PF);
        Assert.Null(a.Cpu.FirstDifference(b.Cpu));
    }

    public static TheoryData<string, string, string, string> Differences() => new()
    {
        // mutation, name, expected, actual
        { "ebx", "EBX", "0x00000000", "0x00000001" },
        { "eip", "EIP", "0x00001000", "0x00001001" },
        { "cf", "EFLAGS", "0x00000002", "0x00000003 (CF)" },
        { "ds.base", "DS.base", "0x00000000", "0x00010000" },
        { "ss.selector", "SS", "0x0010", "0x0018" },
        { "cr0", "CR0", "0x00000011", "0x00000031" },
        { "gdtr", "GDTR.limit", "0x0000", "0x0017" },
        { "fpu", "FPU R2", "0000:0000000000000000", "0000:0000000000000001" },
        { "count", "retired instructions", "0", "7" },
        { "a20", "A20 enabled", "yes", "no" },
    };

    [Theory]
    [MemberData(nameof(Differences))]
    public void ADifferenceIsNamedWithBothValues(string mutation, string name, string expected, string actual)
    {
        using var e = TestCpu.Flat32();
        using var a = TestCpu.Flat32();
        e.Cpu.Eip = 0x1000;
        e.Cpu.Cr0 = Cr0Bits.PE | Cr0Bits.ET;
        e.Cpu.SetEflagsRaw(0);
        e.Cpu.Gdtr = default;
        e.Cpu.Mmu.A20Enabled = true;
        a.Cpu.CopyStateFrom(e.Cpu);
        X86Cpu c = a.Cpu;
        switch (mutation)
        {
            case "ebx": c.Ebx = 1; break;
            case "eip": c.Eip++; break;
            case "cf": c.SetCF(true); break;
            case "ds.base": c.Seg[SegReg.DS].Base = 0x1_0000; break;
            case "ss.selector": c.Seg[SegReg.SS].Selector = 0x18; break;
            case "cr0": c.Cr0 |= Cr0Bits.NE; break;
            case "gdtr": c.Gdtr.Limit = 0x17; break;
            case "fpu": c.Fpu.R[2].Significand = 1; break;
            case "count": c.InstructionCount += 7; break;
            case "a20": c.Mmu.A20Enabled = false; break;
        }
        Assert.Equal(new StateDifference(name, expected, actual), e.Cpu.FirstDifference(c));
    }

    [Fact]
    public void EflagsAreDescribedWithTheirFlagNames()
    {
        Assert.Equal("0x00000246 (PF ZF IF)", X86Cpu.DescribeEflags(0x246));
        Assert.Equal("0x00003A93 (CF AF SF IF OF IOPL=3)", X86Cpu.DescribeEflags(0x3A93));
        Assert.Equal("0x00000002", X86Cpu.DescribeEflags(0x2));
    }
}
