using System;
using System.Collections.Generic;
using Emu.Cpu.Tests.Support;
using Emu.Memory;
using Emu.TestSupport;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.Exceptions;

/// <summary>
/// Precise exceptions (DESIGN.md principle 5): after a fault, EIP is the faulting
/// instruction's and every register, flag and byte of memory is as it was before that
/// instruction. Each row runs the same prefix twice on fresh CPUs: once followed by HLT (the
/// reference state "just before"), once followed by the faulting instruction, and compares.
/// The prefix leaves lazily computed flags behind, so a fault must not disturb those either.
/// </summary>
public class PreciseFaultTests
{
    private const uint Code = 0x1000;
    private const uint SmallBase = 0x3_0000;   // DS/ES/SS for the limit rows: base 30000h, limit FFFh
    private const uint SmallLimit = 0xFFF;
    private const uint Stack = 0x8_0000;

    private static readonly uint DataRights = SegmentCache.RightsP | SegmentCache.RightsS | SegmentCache.RightsDB | 3;

    private static void Small(Emu.X86.Cpu c, int seg) => c.Seg[seg].Load(0x10, SmallBase, SmallLimit, DataRights);

    private sealed record Row(Action<Emu.X86.Cpu> Setup, Action<Assembler> Faulting, int Vector, uint? Error);

    private static readonly Dictionary<string, Row> Rows = new()
    {
        ["div ecx by 0"] = new(c => c.Ecx = 0, a => a.div(ecx), ExceptionVectors.DE, null),
        ["div ecx: quotient too large"] = new(c => { c.Edx = 1; c.Eax = 0; c.Ecx = 1; }, a => a.div(ecx), ExceptionVectors.DE, null),
        ["div bl: quotient too large"] = new(c => { c.Eax = 0x1000; c.Ebx = 0x10; }, a => a.div(bl), ExceptionVectors.DE, null),
        ["idiv ecx: -2^31 / -1"] = new(c => { c.Edx = 0xFFFF_FFFF; c.Eax = 0x8000_0000; c.Ecx = 0xFFFF_FFFF; }, a => a.idiv(ecx), ExceptionVectors.DE, null),
        ["idiv ecx: -2^63 / -1"] = new(c => { c.Edx = 0x8000_0000; c.Eax = 0; c.Ecx = 0xFFFF_FFFF; }, a => a.idiv(ecx), ExceptionVectors.DE, null),
        ["idiv bx: quotient 8000h"] = new(c => { c.Edx = 0; c.Eax = 0x8000; c.Ebx = 1; }, a => a.idiv(bx), ExceptionVectors.DE, null),
        ["div dword [mem] by 0"] = new(c => c.Ebx = 0x2000, a => a.div(__dword_ptr[ebx]), ExceptionVectors.DE, null),
        ["aam 0"] = new(c => c.Eax = 0x1234, a => a.aam(0), ExceptionVectors.DE, null),
        ["bound eax above"] = new(c => { c.Eax = 11; c.Ebx = 0x2010; }, a => a.bound(eax, __qword_ptr[ebx]), ExceptionVectors.BR, null),
        ["bound ax below"] = new(c => { c.Eax = 0xFFFF; c.Ebx = 0x2010; }, a => a.bound(ax, __dword_ptr[ebx]), ExceptionVectors.BR, null),
        ["ud2"] = new(_ => { }, a => a.ud2(), ExceptionVectors.UD, null),
        ["invalid FE /7"] = new(_ => { }, a => a.db(0xFE, 0xF8), ExceptionVectors.UD, null),
        ["push: SS limit"] = new(c => { Small(c, SegReg.SS); c.UpdateModes(); c.Esp = 0x1002; }, a => a.push(eax), ExceptionVectors.SS, 0),
        ["call: SS limit"] = new(c => { Small(c, SegReg.SS); c.UpdateModes(); c.Esp = 0x1002; }, a => a.call(Code + 0x100), ExceptionVectors.SS, 0),
        ["pushad: SS limit at the end"] = new(c => { Small(c, SegReg.SS); c.UpdateModes(); c.Esp = 0x10; }, a => a.pushad(), ExceptionVectors.SS, 0),
        ["enter: SS limit"] = new(c => { Small(c, SegReg.SS); c.UpdateModes(); c.Esp = 0x1002; }, a => a.enter(8, 1), ExceptionVectors.SS, 0),
        ["enter: the copied frame pointer is beyond the limit"] = new(c => { Small(c, SegReg.SS); c.UpdateModes(); c.Esp = 0x800; c.Ebp = 0x2000; }, a => a.enter(8, 2), ExceptionVectors.SS, 0),
        ["leave: EBP beyond the SS limit"] = new(c => { Small(c, SegReg.SS); c.UpdateModes(); c.Esp = 0x800; c.Ebp = 0x1000; }, a => a.leave(), ExceptionVectors.SS, 0),
        ["ret: ESP beyond the SS limit"] = new(c => { Small(c, SegReg.SS); c.UpdateModes(); c.Esp = 0xFFE; }, a => a.ret(), ExceptionVectors.SS, 0),
        ["pop [ebx]: destination beyond DS"] = new(c => { Small(c, SegReg.DS); c.Ebx = 0x1000; }, a => a.pop(__dword_ptr[ebx]), ExceptionVectors.GP, 0),
        ["pop [ebx]: destination straddling the DS limit"] = new(c => { Small(c, SegReg.DS); c.Ebx = 0xFFE; }, a => a.pop(__dword_ptr[ebx]), ExceptionVectors.GP, 0),
        ["mov [ebx],eax beyond DS"] = new(c => { Small(c, SegReg.DS); c.Ebx = 0xFFD; }, a => a.mov(__dword_ptr[ebx], eax), ExceptionVectors.GP, 0),
        ["add [ebx],eax beyond DS"] = new(c => { Small(c, SegReg.DS); c.Ebx = 0xFFE; }, a => a.add(__dword_ptr[ebx], eax), ExceptionVectors.GP, 0),
        ["inc dword [ebx] beyond DS"] = new(c => { Small(c, SegReg.DS); c.Ebx = 0xFFD; }, a => a.inc(__dword_ptr[ebx]), ExceptionVectors.GP, 0),
        ["neg word [ebx] beyond DS"] = new(c => { Small(c, SegReg.DS); c.Ebx = 0xFFF; }, a => a.neg(__word_ptr[ebx]), ExceptionVectors.GP, 0),
        ["shl dword [ebx],1 beyond DS"] = new(c => { Small(c, SegReg.DS); c.Ebx = 0xFFD; }, a => a.shl(__dword_ptr[ebx], 1), ExceptionVectors.GP, 0),
        ["rcr dword [ebx],cl beyond DS"] = new(c => { Small(c, SegReg.DS); c.Ebx = 0xFFD; c.Ecx = 3; }, a => a.rcr(__dword_ptr[ebx], cl), ExceptionVectors.GP, 0),
        ["shld [ebx],eax,4 beyond DS"] = new(c => { Small(c, SegReg.DS); c.Ebx = 0xFFD; }, a => a.shld(__dword_ptr[ebx], eax, 4), ExceptionVectors.GP, 0),
        ["xchg [ebx],eax beyond DS"] = new(c => { Small(c, SegReg.DS); c.Ebx = 0xFFD; }, a => a.xchg(__dword_ptr[ebx], eax), ExceptionVectors.GP, 0),
        ["cmpxchg [ebx],ecx beyond DS"] = new(c => { Small(c, SegReg.DS); c.Ebx = 0xFFD; }, a => a.cmpxchg(__dword_ptr[ebx], ecx), ExceptionVectors.GP, 0),
        ["cmpxchg8b [ebx] beyond DS"] = new(c => { Small(c, SegReg.DS); c.Ebx = 0xFFA; }, a => a.cmpxchg8b(__qword_ptr[ebx]), ExceptionVectors.GP, 0),
        ["xadd [ebx],eax beyond DS"] = new(c => { Small(c, SegReg.DS); c.Ebx = 0xFFD; }, a => a.xadd(__dword_ptr[ebx], eax), ExceptionVectors.GP, 0),
        ["bts [ebx],eax beyond DS"] = new(c => { Small(c, SegReg.DS); c.Ebx = 0xFFC; c.Eax = 32; }, a => a.bts(__dword_ptr[ebx], eax), ExceptionVectors.GP, 0),
        ["setz [ebx] beyond DS"] = new(c => { Small(c, SegReg.DS); c.Ebx = 0x1000; }, a => a.setz(__byte_ptr[ebx]), ExceptionVectors.GP, 0),
        ["movsd: destination beyond ES"] = new(c => { Small(c, SegReg.ES); c.Esi = 0x2000; c.Edi = 0xFFE; }, a => a.movsd(), ExceptionVectors.GP, 0),
        ["rep movsb: first element beyond ES"] = new(c => { Small(c, SegReg.ES); c.Esi = 0x2000; c.Edi = 0x1000; c.Ecx = 5; }, a => a.rep.movsb(), ExceptionVectors.GP, 0),
        ["lodsd beyond DS"] = new(c => { Small(c, SegReg.DS); c.Esi = 0xFFE; }, a => a.lodsd(), ExceptionVectors.GP, 0),
        ["repe cmpsb: source beyond DS"] = new(c => { Small(c, SegReg.DS); c.Esi = 0x1000; c.Edi = 0x2000; c.Ecx = 3; }, a => a.repe.cmpsb(), ExceptionVectors.GP, 0),
        ["stosw beyond ES"] = new(c => { Small(c, SegReg.ES); c.Edi = 0xFFF; }, a => a.stosw(), ExceptionVectors.GP, 0),
        ["lds: pointer beyond DS"] = new(c => { Small(c, SegReg.DS); c.Ebx = 0xFFE; }, a => a.lds(esi, __fword_ptr[ebx]), ExceptionVectors.GP, 0),
        ["jmp beyond the CS limit"] = new(c => c.Seg[SegReg.CS].Load(0x08, 0, 0x1FFF, SegmentCache.RightsP | SegmentCache.RightsS | SegmentCache.RightsDB | 0xB), a => a.jmp(0x3000), ExceptionVectors.GP, 0),
        ["jz taken beyond the CS limit"] = new(c => c.Seg[SegReg.CS].Load(0x08, 0, 0x1FFF, SegmentCache.RightsP | SegmentCache.RightsS | SegmentCache.RightsDB | 0xB), a => a.jb(0x3000), ExceptionVectors.GP, 0),
        ["mov eax,[ebx] through a null DS"] = new(c => c.Seg[SegReg.DS].LoadNull(0), a => a.mov(eax, __dword_ptr[ebx]), ExceptionVectors.GP, 0),
        ["mov eax,cr1"] = new(_ => { }, a => a.db(0x0F, 0x20, 0xC8), ExceptionVectors.UD, null),
    };

    public static TheoryData<string> Names()
    {
        var d = new TheoryData<string>();
        foreach (string k in Rows.Keys) d.Add(k);
        return d;
    }

    /// <summary>Leaves lazy flags (a CMP: CF and SF set) and changes a register nobody above uses.</summary>
    private static void Prefix(Assembler a)
    {
        a.lea(edx, __[edx + 0x111]);
        a.cmp(esp, 0x7FFF_0000);
    }

    private sealed record Snapshot(uint[] Gpr, uint Eflags, uint Eip, long Retired, ushort[] Selectors, byte[] Data, byte[] Stack, byte[] Small);

    private static Snapshot Take(TestCpu t)
    {
        var c = t.Cpu;
        var gpr = new uint[8];
        for (int r = 0; r < 8; r++) gpr[r] = c.Gpr[r];
        var sel = new ushort[6];
        for (int s = 0; s < 6; s++) sel[s] = c.Seg[s].Selector;
        byte[] Bytes(uint at, int n)
        {
            var b = new byte[n];
            t.Physical.ReadBytes(at, b);
            return b;
        }
        return new Snapshot(gpr, c.GetEflags(), c.Eip, c.InstructionCount, sel, Bytes(0x2000, 0x100), Bytes(Stack - 0x40, 0x80), Bytes(SmallBase, 0x2000));
    }

    private static TestCpu Prepare(Row row, string engine)
    {
        var t = TestCpu.Flat32(engine);
        var c = t.Cpu;
        c.Eax = 0x0102_0304;
        c.Ebx = 0x2000;
        c.Ecx = 0x0A0B_0C0D;
        c.Edx = 0x5555_0000;
        c.Esi = 0x2040;
        c.Edi = 0x2080;
        c.Ebp = Stack;
        c.SetEflagsRaw(Flags.Reserved1 | Flags.OF | Flags.ZF);
        for (uint a = 0; a < 0x100; a += 4) t.Write32(0x2000 + a, 0x1111_1111 * (a / 4 % 15 + 1));
        t.Write32(0x2010, 0);  // BOUND limits: [0, 10]
        t.Write32(0x2014, 10);
        for (uint a = 0; a < 0x2000; a += 4) t.Write32(SmallBase + a, 0xA5A5_0000 | a);
        row.Setup(c);
        return t;
    }

    [Theory]
    [MemberDataOnEveryEngine(nameof(Names))]
    public void AFaultLeavesTheStateBeforeTheInstruction(string name, string engine)
    {
        Row row = Rows[name];

        // The reference is always the interpreter's: the engine under test must leave exactly its state.
        using var reference = Prepare(row, Engines.Interpreter);
        reference.Load(Code, a => { Prefix(a); a.hlt(); });
        Assert.Equal(StopReason.Halted, reference.Run(Code));
        Snapshot before = Take(reference);
        uint faultAt = before.Eip - 1; // where the HLT was is where the faulting instruction is

        using var t = Prepare(row, engine);
        t.Load(Code, a => { Prefix(a); row.Faulting(a); a.hlt(); });
        StopReason r = t.Run(Code);
        Faults.AssertFault(t.Cpu, r, row.Vector, faultAt, row.Error);
        Snapshot after = Take(t);

        for (int i = 0; i < 8; i++)
            Assert.True(before.Gpr[i] == after.Gpr[i], $"{Reg.Names32[i]} is {after.Gpr[i]:X8}, was {before.Gpr[i]:X8}");
        Assert.Equal(before.Eflags, after.Eflags);
        Assert.Equal(before.Selectors, after.Selectors);
        Assert.Equal(before.Data, after.Data);
        // Memory below the stack pointer is free (PUSHA and ENTER store as they go, as Bochs does);
        // from the stack pointer up it must be intact.
        uint sp = t.Cpu.Seg[SegReg.SS].Base + t.Cpu.Esp;
        int smallFrom = t.Cpu.Seg[SegReg.SS].Base == SmallBase ? (int)Math.Min(t.Cpu.Esp, 0x2000u) : 0;
        Assert.Equal(before.Small[smallFrom..], after.Small[smallFrom..]);
        int stackFrom = (int)Math.Clamp((long)sp - (Stack - 0x40), 0, 0x80);
        Assert.Equal(before.Stack[stackFrom..], after.Stack[stackFrom..]);
        Assert.Equal(before.Retired - 1, after.Retired); // the prefix retired, the faulting instruction did not
    }

    [Theory, OnEveryEngine]
    public void IntoIsATrapThatLeavesEipAfterItself(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.Load(Code, a =>
        {
            a.mov(al, 0x7F);
            a.add(al, 1);   // OF=1
            a.into();
            a.hlt();
        });
        StopReason r = t.Run(Code);
        Assert.Equal(StopReason.UnhandledException, r);
        Assert.Equal(ExceptionVectors.Name(ExceptionVectors.OF), t.Cpu.LastFault!.Value.Name);
        Assert.Equal(Code + 5u, t.Cpu.Eip); // after the INTO (2 + 2 + 1 bytes)
        Assert.True(t.Cpu.OF);
    }

    [Theory, OnEveryEngine]
    public void IntoWithoutOverflowDoesNothing(string engine)
    {
        using var t = TestCpu.Flat32(engine);
        t.RunToHalt(Code, a =>
        {
            a.mov(al, 1);
            a.add(al, 1);
            a.into();
            a.mov(ebx, 7);
        });
        Assert.Equal(7u, t.Cpu.Ebx);
    }

    [Theory, OnEveryEngine]
    public void ARepeatedStringFaultKeepsTheElementsAlreadyDone(string engine)
    {
        // A fault in the middle of REP MOVSB: the elements before it are done and counted,
        // EIP stays on the instruction so it restarts where it stopped (Intel SDM Vol. 2, REP).
        using var t = TestCpu.Flat32(engine);
        var c = t.Cpu;
        Small(c, SegReg.ES);
        for (uint i = 0; i < 8; i++) t.WriteBytes(0x2000 + i, (byte)(0x40 + i));
        c.Esi = 0x2000;
        c.Edi = 0xFFD; // three bytes fit below the ES limit
        c.Ecx = 8;
        t.Load(Code, a => { a.rep.movsb(); a.hlt(); });
        Faults.AssertFault(c, t.Run(Code), ExceptionVectors.GP, Code, 0);
        Assert.Equal(5u, c.Ecx);
        Assert.Equal(0x2003u, c.Esi);
        Assert.Equal(0x1000u, c.Edi);
        Assert.Equal(0x4241_40u, t.Physical.Read(SmallBase + 0xFFD, 4) & 0xFF_FFFF);
    }
}
