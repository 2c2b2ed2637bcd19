using Emu.Memory;
using Emu.TestSupport;
using Emu.Translator;
using Emu.X86;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.SystemTests; // (not ".System": it would hide the System namespace in this project)

/// <summary>
/// A call gate to CPL 0 whose new stack (SS0:ESP0 from the TSS) cannot hold the frame:
/// #SS(new SS selector) in the caller's context, nothing changed (Intel SDM Vol. 2, CALL,
/// MORE-PRIVILEGE). A unit test, as QEMU ignores the limit and ends in a triple fault.
/// </summary>
public sealed class CallGateStackTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AFrameBelowTheNewStacksLimitIsSsOfTheNewSs(bool translator)
    {
        using var engine = translator ? new TranslatorEngine(threshold: 1, synchronous: true) : null;
        using var t = TestCpu.Flat32(engine);
        // A call gate with one parameter; ESP0 12: the 20-byte frame does not fit.
        Ring3WithCallGate(t, 0x0000_EC01_0008_5000, esp0: 12, ss0: 0x38);
        byte[] code3 = t.Load(0x2000, a =>
        {
            a.push(eax);
            a.call(0x33, 0);
        });
        Assert.Equal(StopReason.UnhandledException, t.Run(0x1000));
        FaultInfo f = t.Cpu.LastFault!.Value;
        Assert.Equal(ExceptionVectors.SS, f.Vector);
        Assert.Equal(0x38u, f.ErrorCode);
        Assert.Equal((ushort)0x1B, f.Cs);
        Assert.Equal(0x2001u, f.Eip);
        Assert.Equal(0x6FFCu, t.Cpu.Esp);               // the caller's stack, after its PUSH only
        Assert.Equal(3, t.Cpu.Cpl);
        Assert.True(code3.Length > 1);
    }

    /// <summary>
    /// A gate's parameter count is five bits: a call through a gate to an inner level with 31
    /// parameters copies all of them onto the new stack, between the caller's SS:ESP and its
    /// CS:EIP (Intel SDM Vol. 3, 5.8.5). The frame is 35 slots; the CPU once held only 12 and
    /// the run ended in a host exception.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ACallGateWith31ParametersCopiesThemAll(bool translator)
    {
        using var engine = translator ? new TranslatorEngine(threshold: 1, synchronous: true) : null;
        using var t = TestCpu.Flat32(engine);
        const uint esp0 = 0x9000, esp3 = 0x7000;
        Ring3WithCallGate(t, 0x0000_EC1F_0008_5000, esp0, ss0: 0x10); // 31 parameters
        t.Load(0x2000, a =>
        {
            for (int i = 30; i >= 0; i--) a.push(0x100 + i); // parameter i ends at [ESP + 4i]
            a.call(0x33, 0);
        });
        t.Load(0x5000, a => a.hlt());
        Assert.Equal(StopReason.Halted, t.Run(0x1000));
        Assert.Equal(0, t.Cpu.Cpl);
        uint sp = esp0 - 35 * 4;
        Assert.Equal(sp, t.Cpu.Esp);
        Assert.Equal(0x10, t.Cpu.Seg[SegReg.SS].Selector);
        Assert.Equal(0x2000u + 31 * 5 + 7, t.Read32(sp)); // the return EIP: after 31 five-byte PUSHes and the CALL
        Assert.Equal(0x1Bu, t.Read32(sp + 4));
        for (int i = 0; i < 31; i++) Assert.Equal(0x100u + (uint)i, t.Read32(sp + 8 + 4 * (uint)i));
        Assert.Equal(esp3 - 31 * 4, t.Read32(sp + 8 + 31 * 4));
        Assert.Equal(0x23u, t.Read32(sp + 12 + 31 * 4));
    }

    /// <summary>
    /// A flat GDT (code and data at DPL 0 and 3, a 32-bit TSS at 28h, <paramref name="gate"/> at
    /// 30h, a small DPL 0 data segment at 38h), the TSS's SS0:ESP0, and code at 1000h that
    /// loads TR and goes to CPL 3 at 1Bh:2000h with ESP 7000h.
    /// </summary>
    private static void Ring3WithCallGate(TestCpu t, ulong gate, uint esp0, ushort ss0)
    {
        const uint gdt = 0x800, tss = 0x3000;
        void D(uint sel, ulong d)
        {
            t.Write32(gdt + sel, (uint)d);
            t.Write32(gdt + sel + 4, (uint)(d >> 32));
        }
        D(0x08, 0x00CF_9B00_0000_FFFF);                 // code, DPL 0
        D(0x10, 0x00CF_9300_0000_FFFF);                 // data, DPL 0
        D(0x18, 0x00CF_FB00_0000_FFFF);                 // code, DPL 3
        D(0x20, 0x00CF_F300_0000_FFFF);                 // data, DPL 3
        D(0x28, 0x0000_8900_0000_0067 | ((ulong)tss << 16)); // 32-bit TSS
        D(0x30, gate);                                  // the call gate, to 08h:5000h
        D(0x38, 0x0040_9300_0000_0FFF);                 // data, DPL 0, limit FFFh, B=1
        t.Cpu.Gdtr = new TableRegister { Base = gdt, Limit = 0x3F };
        t.Write32(tss + 4, esp0);
        t.Write32(tss + 8, ss0);
        t.Load(0x1000, a =>
        {
            a.mov(ax, 0x28);
            a.ltr(ax);
            a.push(0x23);
            a.push(0x7000);
            a.push(2);
            a.push(0x1B);
            a.push(0x2000);
            a.iretd();
        });
    }
}
