using Emu.Memory;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Fpu.Tests.Unit;

/// <summary>
/// The x87's system side: CR0.EM, MP, TS and #NM (lazy FPU context switching), #UD for MMX
/// under EM, unmasked exceptions delivered as #MF (CR0.NE=1) or through FERR# and the
/// freeze (CR0.NE=0, IGNNE#), the RESET and FNINIT states, CPUID and CR4.OSFXSR. Each test
/// runs on both engines.
/// </summary>
public class X87SystemTests
{
    public static TheoryData<string> Engines => new(FpuRig.Engines);

    [Theory]
    [MemberData(nameof(Engines))]
    public void EmRaisesNmForX87AndUdForMmxButNotForWait(string engine)
    {
        using var r = new FpuRig(engine);
        r.Cpu.Cr0 |= Cr0Bits.EM;
        Assert.Equal(ExceptionVectors.NM, r.FaultOf(a => a.fld1()));
        Assert.Equal(ExceptionVectors.NM, r.FaultOf(a => a.fnstsw(ax)));
        Assert.Equal(ExceptionVectors.NM, r.FaultOf(a => a.fxsave(__[FpuRig.Data])));
        Assert.Equal(ExceptionVectors.UD, r.FaultOf(a => a.paddb(mm0, mm1)));
        Assert.Equal(ExceptionVectors.UD, r.FaultOf(a => a.emms()));
        r.RunToHalt(a => a.wait()); // WAIT looks only at MP and TS
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void TsRaisesNmSoAKernelCanSwitchLazily(string engine)
    {
        using var r = new FpuRig(engine);
        r.Cpu.Cr0 |= Cr0Bits.TS;
        void Code(Assembler a)
        {
            a.mov(eax, 7);
            a.fld1();
            a.fld1();
            a.faddp(st1, st0);
        }
        uint fld1 = r.AddressOf(Code, 1);
        Assert.Equal(ExceptionVectors.NM, r.FaultOf(Code));
        Assert.Equal(fld1, r.Cpu.LastFault!.Value.Eip); // a fault: the x87 instruction runs again after the handler
        Assert.Equal(7u, r.Cpu.Eax);
        Assert.Equal(ExceptionVectors.NM, r.FaultOf(a => a.movq(mm0, mm1)));
        Assert.Equal(ExceptionVectors.NM, r.FaultOf(a => a.fninit())); // no-wait forms too
        Assert.Equal(ExceptionVectors.NM, r.FaultOf(a => a.fxrstor(__[FpuRig.Data])));
        Assert.Equal(ExceptionVectors.NM, r.FaultOf(a => a.wait())); // WAIT with MP and TS
        r.Cpu.Cr0 &= ~Cr0Bits.MP;
        r.RunToHalt(a => a.wait()); // ... but not without MP
        // The kernel's #NM handler: CLTS (here, directly), restore the context, return.
        r.Cpu.Cr0 &= ~Cr0Bits.TS;
        r.RunToHalt(Code);
        Assert.Equal(Float80.One.SignExponent + 1, r.Fpu.St(0).SignExponent); // 1 + 1 = 2
    }

    /// <summary>A divide by zero with ZE unmasked: the pending exception and where it surfaces.</summary>
    private static void DivideByZeroUnmasked(Assembler a)
    {
        a.mov(__word_ptr[FpuRig.Data], 0x037B); // ZM clear
        a.fldcw(__word_ptr[FpuRig.Data]);
        a.fld1();
        a.fldz();
        a.fdivp(st1, st0); // 1 / 0: #Z, unmasked, pending
        a.fnstsw(ax);      // no-wait: does not fault
        a.mov(ebx, eax);
        a.fld1();          // waiting: #MF here
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void UnmaskedExceptionIsDeliveredAsMfBeforeTheNextWaitingInstruction(string engine)
    {
        using var r = new FpuRig(engine);
        uint next = r.AddressOf(DivideByZeroUnmasked, 7);
        Assert.Equal(ExceptionVectors.MF, r.FaultOf(DivideByZeroUnmasked));
        Assert.Equal(next, r.Cpu.LastFault!.Value.Eip);
        ushort sw = (ushort)r.Cpu.Ebx;
        Assert.Equal(FpuStatus.ZE | FpuStatus.ES | FpuStatus.B, sw & (FpuStatus.Exceptions | FpuStatus.ES | FpuStatus.B));
        // The unmasked #Z left the operands as they were: nothing popped, no infinity stored.
        Assert.Equal(6, r.Fpu.Top);
        Assert.Equal(FpClass.Zero, r.Fpu.St(0).Class);
        Assert.Equal(Float80.One.Significand, r.Fpu.St(1).Significand);
        Assert.False(r.Fpu.FerrAsserted);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void CompatibilityModeAssertsFerrFreezesAndHonoursIgnne(string engine)
    {
        using var r = new FpuRig(engine);
        var pins = new FakeFpuErrorPins();
        r.Cpu.FpuErrorPins = pins;
        r.Cpu.Cr0 &= ~Cr0Bits.NE;
        uint fld1 = r.AddressOf(DivideByZeroUnmasked, 7);
        StopReason stop = r.Run(DivideByZeroUnmasked);
        // FERR# went up when the FDIVP completed (P6: at the end of the faulting instruction),
        // and the next waiting instruction froze: halted, EIP still on it, nothing raised.
        Assert.True(pins.Ferr);
        Assert.Equal(StopReason.Halted, stop);
        Assert.True(r.Cpu.Halted);
        Assert.Null(r.Cpu.LastFault);
        Assert.Equal(fld1, r.Cpu.Eip);
        Assert.Equal(6, r.Fpu.Top);

        // With IGNNE# asserted (the PC's port F0h logic after the IRQ 13 handler) it runs.
        pins.IgnneAsserted = true;
        r.Cpu.Halted = false;
        Assert.Equal(StopReason.Halted, r.Cpu.Run(10));
        Assert.Equal(5, r.Fpu.Top);
        Assert.True(pins.Ferr); // still pending until cleared

        // FNCLEX clears the exception and FERR# with it.
        r.RunToHalt(a => a.fnclex());
        Assert.False(pins.Ferr);
        Assert.Equal(2, pins.FerrEdges);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void NativeModeLeavesFerrAlone(string engine)
    {
        using var r = new FpuRig(engine);
        var pins = new FakeFpuErrorPins();
        r.Cpu.FpuErrorPins = pins;
        Assert.Equal(ExceptionVectors.MF, r.FaultOf(DivideByZeroUnmasked));
        Assert.Equal(0, pins.FerrEdges);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void LoadingAControlWordThatUnmasksASetFlagMakesItPending(string engine)
    {
        using var r = new FpuRig(engine);
        void Code(Assembler a)
        {
            a.fld1();
            a.fldz();
            a.fdivp(st1, st0); // masked #Z: ZE set, infinity stored
            a.mov(__word_ptr[FpuRig.Data], 0x037B);
            a.fldcw(__word_ptr[FpuRig.Data]);
            a.fnstsw(ax);
            a.wait(); // #MF: ES is derived from the flags and the new masks
        }
        uint wait = r.AddressOf(Code, 6);
        Assert.Equal(ExceptionVectors.MF, r.FaultOf(Code));
        Assert.Equal(wait, r.Cpu.LastFault!.Value.Eip);
        Assert.NotEqual(0u, r.Cpu.Eax & FpuStatus.ES);
    }

    [Fact]
    public void ResetAndFninitStates()
    {
        using var r = new FpuRig("interpreter");
        r.Cpu.Reset();
        // RESET (Intel SDM Vol. 3, Table 9-1): FCW 0040h, FSW 0, FTW 5555h, registers +0.0.
        Assert.Equal(0x0040, r.Fpu.ControlWord);
        Assert.Equal(0, r.Fpu.Sw);
        Assert.Equal(0x5555, r.Fpu.TagWord);
        r.Cpu.EnterFlatProtectedMode();
        r.Fpu.St(3) = Float80.One;
        r.RunToHalt(a => a.fninit());
        Assert.Equal(0x037F, r.Fpu.ControlWord);
        Assert.Equal(0xFFFF, r.Fpu.TagWord);
        Assert.Equal(Float80.One.Significand, r.Fpu.St(3).Significand); // FNINIT keeps register contents
    }

    [Fact]
    public void CpuidReportsFpuMmxAndFxsrAndCr4AcceptsOsfxsr()
    {
        var (_, _, _, edx) = CpuidInfo.Leaf(1);
        Assert.NotEqual(0u, edx & CpuidInfo.Edx.FPU);
        Assert.NotEqual(0u, edx & CpuidInfo.Edx.MMX);
        Assert.NotEqual(0u, edx & CpuidInfo.Edx.FXSR);
        using var r = new FpuRig("interpreter");
        r.RunToHalt(a =>
        {
            a.mov(eax, Cr4Bits.OSFXSR);
            a.mov(cr4, eax);
        });
        Assert.Equal(Cr4Bits.OSFXSR, r.Cpu.Cr4);
    }
}
