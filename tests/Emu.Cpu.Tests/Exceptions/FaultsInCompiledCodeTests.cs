using System;
using System.Collections.Generic;
using Emu.Cpu.Tests.Support;
using Emu.Memory;
using Emu.X86;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emu.Cpu.Tests.Exceptions;

/// <summary>
/// Precise faults inside compiled code (issue 3, point 6): each guest runs hot loops and
/// long blocks that end in a fault, in the middle of a block and after instructions that
/// leave lazy flags; the engine under test must stop with the interpreter's fault, EIP,
/// registers, flags, retired-instruction count and memory. On the interpreter the row still
/// checks which instruction faulted.
/// </summary>
public class FaultsInCompiledCodeTests
{
    private const uint Code = 0x1000;
    private const uint Data = 0x2000;
    private const uint Stack = 0x8_0000;
    private const uint SmallBase = 0x3_0000; // DS/SS for the limit rows: base 30000h, limit FFFh

    private static readonly uint DataRights = SegmentCache.RightsP | SegmentCache.RightsS | SegmentCache.RightsDB | 3;

    private static void Small(Emu.X86.Cpu c, int seg)
    {
        c.Seg[seg].Load(0x10, SmallBase, 0xFFF, DataRights);
        c.UpdateModes();
    }

    /// <param name="FaultsAt">The instruction at the reported EIP (for a trap, the one after the trapping instruction).</param>
    private sealed record Row(Action<Emu.X86.Cpu> Setup, Action<Assembler> Guest, int Vector, Mnemonic FaultsAt);

    private static readonly Dictionary<string, Row> Rows = new()
    {
        ["#DE on the 50th pass of a loop, flags from an ADD"] = new(_ => { }, a =>
        {
            var top = a.CreateLabel();
            a.mov(ecx, 50);
            a.xor(esi, esi);
            a.Label(ref top);
            a.mov(eax, 1000);
            a.xor(edx, edx);
            a.lea(edi, __[ecx - 1]);
            a.add(esi, ecx);
            a.div(edi);             // EDI = 0 when ECX = 1
            a.dec(ecx);
            a.jnz(top);
        }, ExceptionVectors.DE, Mnemonic.Div),

        ["#GP on a store after register-only instructions (EIP not stored for them)"] = new(c => Small(c, SegReg.DS), a =>
        {
            a.mov(eax, 5);
            a.add(eax, ebx);
            a.shl(eax, 2);
            a.sub(eax, 3);
            a.neg(eax);
            a.mov(__dword_ptr[ebx + 0xFFD], eax); // EBX = 0: bytes FFDh-1000h, past the limit
            a.inc(eax);
        }, ExceptionVectors.GP, Mnemonic.Mov),

        ["#GP on the first instruction of a block"] = new(c => Small(c, SegReg.DS), a =>
        {
            var target = a.CreateLabel();
            a.mov(eax, 0x7FFF_FFFF);
            a.add(eax, 1);           // OF, SF: lazy
            a.jmp(target);
            a.nop();
            a.Label(ref target);
            a.mov(ecx, __dword_ptr[0x1000]);
        }, ExceptionVectors.GP, Mnemonic.Mov),

        ["#GP on a jump beyond the CS limit, the last instruction of its block"] = new(c =>
        {
            c.Seg[SegReg.CS].Load(0x08, 0, 0x1FFF, SegmentCache.RightsP | SegmentCache.RightsS | SegmentCache.RightsDB | 0xB);
            c.UpdateModes();
        }, a =>
        {
            a.mov(eax, 0x3000);
            a.cmp(eax, 0x2000);
            a.jmp(eax);
        }, ExceptionVectors.GP, Mnemonic.Jmp),

        ["#SS on a RET in a loop of calls"] = new(c => { Small(c, SegReg.SS); c.Esp = 0x800; }, a =>
        {
            var f = a.CreateLabel();
            var top = a.CreateLabel();
            var done = a.CreateLabel();
            a.mov(ecx, 20);
            a.Label(ref top);
            a.call(f);
            a.dec(ecx);
            a.jnz(top);
            a.jmp(done);
            a.Label(ref f);
            a.add(edx, ecx);
            a.cmp(ecx, 1);
            var ok = a.CreateLabel();
            a.jne(ok);
            a.mov(esp, 0xFFE);       // the last pass returns through a stack pointer past SS's limit
            a.Label(ref ok);
            a.ret();
            a.Label(ref done);
        }, ExceptionVectors.SS, Mnemonic.Ret),

        ["#UD in the middle of a block after a CMP"] = new(_ => { }, a =>
        {
            a.mov(eax, 3);
            a.cmp(eax, 7);           // CF, SF: lazy
            a.inc(ebx);
            a.ud2();
            a.inc(ebx);
        }, ExceptionVectors.UD, Mnemonic.Ud2),

        ["#BR from a handler-called BOUND after folded instructions"] = new(c => c.Ebx = Data, a =>
        {
            a.mov(__dword_ptr[ebx], 0);
            a.mov(__dword_ptr[ebx + 4], 10);
            a.mov(eax, 20);
            a.sub(eax, 9);           // 11: above the upper bound
            a.bound(eax, __qword_ptr[ebx]);
        }, ExceptionVectors.BR, Mnemonic.Bound),

        ["#GP in a REP MOVSB part way, after a flag-setting XOR"] = new(c => Small(c, SegReg.ES), a =>
        {
            a.mov(esi, Data);
            a.mov(edi, 0xFF0);
            a.mov(ecx, 100);
            a.xor(eax, 0x55);
            a.rep.movsb();           // 16 bytes fit below ES's limit
        }, ExceptionVectors.GP, Mnemonic.Movsb),

        ["#GP after a Jcc not taken"] = new(c => Small(c, SegReg.DS), a =>
        {
            var skip = a.CreateLabel();
            a.mov(eax, 1);
            a.test(eax, eax);
            a.jz(skip);
            a.mov(ebx, __dword_ptr[0x2000]);
            a.Label(ref skip);
        }, ExceptionVectors.GP, Mnemonic.Mov),

        ["#SS on a PUSH after a PUSH that fit"] = new(c => { Small(c, SegReg.SS); c.Esp = 0x6; }, a =>
        {
            a.mov(eax, 1);
            a.push(eax);             // ESP 6 -> 2
            a.add(eax, eax);
            a.push(eax);             // would store at -2
        }, ExceptionVectors.SS, Mnemonic.Push),

        ["#OF from INTO after an overflowing ADD in a loop (a trap)"] = new(_ => { }, a =>
        {
            var top = a.CreateLabel();
            a.mov(eax, 0x7FFF_FFF0);
            a.Label(ref top);
            a.add(eax, 4);
            a.into();
            a.jmp(top);
        }, ExceptionVectors.OF, Mnemonic.Jmp),

        ["#DE from IDIV r/m8 in a long block"] = new(c => c.Ebx = Data, a =>
        {
            a.mov(__byte_ptr[ebx], 0);
            for (int i = 0; i < 20; i++) a.add(eax, i);
            a.mov(ax, 100);
            a.idiv(__byte_ptr[ebx]);
            a.nop();
        }, ExceptionVectors.DE, Mnemonic.Idiv),
    };

    public static TheoryData<string> Names()
    {
        var d = new TheoryData<string>();
        foreach (string k in Rows.Keys) d.Add(k);
        return d;
    }

    private sealed record State(uint[] Gpr, uint Eflags, uint Eip, long Retired, FaultInfo? Fault, byte[] Data, byte[] Stack, byte[] Small);

    private static State Run(Row row, string engine)
    {
        using var t = TestCpu.Flat32(engine);
        Emu.X86.Cpu c = t.Cpu;
        c.Eax = 0x0102_0304;
        c.Ecx = 0x0A0B_0C0D;
        c.Edx = 0x5555_0000;
        c.Esp = Stack;
        c.SetEflagsRaw(Flags.Reserved1 | Flags.ZF);
        for (uint a = 0; a < 0x100; a += 4) t.Write32(Data + a, 0x1111_1111 * (a / 4 % 15 + 1));
        for (uint a = 0; a < 0x1000; a += 4) t.Write32(SmallBase + a, 0xA5A5_0000 | a);
        row.Setup(c);
        t.Load(Code, a => { row.Guest(a); a.hlt(); });
        StopReason r = t.Run(Code, 100_000);
        Assert.Equal(StopReason.UnhandledException, r);
        var gpr = new uint[8];
        for (int i = 0; i < 8; i++) gpr[i] = c.Gpr[i];
        byte[] Bytes(uint at, int n)
        {
            var b = new byte[n];
            t.Physical.ReadBytes(at, b);
            return b;
        }
        return new State(gpr, c.GetEflags(), c.Eip, c.InstructionCount, c.LastFault, Bytes(Data, 0x100), Bytes(Stack - 0x40, 0x40), Bytes(SmallBase, 0x1000));
    }

    [Theory]
    [MemberDataOnEveryEngine(nameof(Names))]
    public void AFaultLeavesTheInterpretersState(string name, string engine)
    {
        Row row = Rows[name];
        State expected = Run(row, Engines.Interpreter);
        State actual = Run(row, engine);

        FaultInfo f = actual.Fault!.Value;
        Assert.Equal(ExceptionVectors.Name(row.Vector), f.Name);
        Assert.Equal(actual.Eip, f.Eip);
        using (var probe = TestCpu.Flat32(Engines.Interpreter))
        {
            byte[] code = probe.Load(Code, a => { row.Guest(a); a.hlt(); });
            Assert.Equal(row.FaultsAt, Asm.First(32, f.Eip, code[(int)(f.Eip - Code)..]).Mnemonic);
        }

        Assert.Equal(expected.Fault, actual.Fault);
        Assert.Equal(expected.Eip, actual.Eip);
        for (int i = 0; i < 8; i++)
            Assert.True(expected.Gpr[i] == actual.Gpr[i], $"{Reg.Names32[i]} is {actual.Gpr[i]:X8}, the interpreter's is {expected.Gpr[i]:X8}");
        Assert.True(expected.Eflags == actual.Eflags, $"EFLAGS is {actual.Eflags:X8}, the interpreter's is {expected.Eflags:X8}");
        Assert.Equal(expected.Retired, actual.Retired);
        Assert.Equal(expected.Data, actual.Data);
        Assert.Equal(expected.Stack, actual.Stack);
        Assert.Equal(expected.Small, actual.Small);
    }
}
