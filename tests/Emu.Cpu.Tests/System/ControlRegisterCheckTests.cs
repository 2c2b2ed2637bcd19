using Emu.Memory;
using Emu.TestSupport;
using Emu.Translator;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.SystemTests; // (not ".System": it would hide the System namespace in this project)

/// <summary>
/// Control-register writes that must fault, on both engines. These are unit tests rather than
/// lines of firmware/systests/monitor.asm because QEMU 7.2 does not survive them (it loops in
/// its SVM exit path on a reserved CR4 bit, and shuts down on CR0.PG without PE).
/// </summary>
public sealed class ControlRegisterCheckTests
{
    private static FaultInfo Fault(bool translator, global::System.Action<Assembler> code)
    {
        using var engine = translator ? new TranslatorEngine(threshold: 1, synchronous: true) : null;
        using var t = TestCpu.Flat32(engine);
        t.Load(0x1000, a => { code(a); a.hlt(); });
        Assert.Equal(StopReason.UnhandledException, t.Run(0x1000));
        return t.Cpu.LastFault!.Value;
    }

    [Theory]
    [InlineData(false, 1u << 6)]  // MCE: not implemented, so not in CPUID, so reserved
    [InlineData(true, 1u << 6)]
    [InlineData(false, 1u << 11)] // reserved on a P6
    [InlineData(true, 1u << 20)]
    [InlineData(false, 1u << 0)]  // VME: not implemented
    public void AReservedCr4BitIsGp0(bool translator, uint bit)
    {
        FaultInfo f = Fault(translator, a =>
        {
            a.mov(eax, bit);
            a.mov(cr4, eax);
        });
        Assert.Equal(ExceptionVectors.GP, f.Vector);
        Assert.True(f.HasErrorCode);
        Assert.Equal(0u, f.ErrorCode);
        Assert.Equal(0x1005u, f.Eip); // the MOV CR4
    }

    [Theory]
    [InlineData(false, 0x8000_0000u)] // PG without PE
    [InlineData(true, 0x8000_0000u)]
    [InlineData(false, 0x2000_0001u)] // NW without CD
    [InlineData(true, 0x2000_0001u)]
    public void AnInconsistentCr0IsGp0(bool translator, uint value)
    {
        FaultInfo f = Fault(translator, a =>
        {
            a.mov(eax, value);
            a.mov(cr0, eax);
        });
        Assert.Equal(ExceptionVectors.GP, f.Vector);
        Assert.Equal(0u, f.ErrorCode);
        Assert.Equal(0x1005u, f.Eip);
    }
}
