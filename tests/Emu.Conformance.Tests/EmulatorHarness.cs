using System;
using Emu.Memory;
using Emu.TestSupport;
using Emu.X86;

namespace Emu.Conformance.Tests;

/// <summary>
/// Runs cases on the emulator with the same address space and descriptor caches as the
/// native helper's process: protected mode, CPL 3, IOPL 0; the flat user CS (or the LDT
/// 16-bit code segment) and the LDT data segment in DS, ES, FS and SS. The engine is
/// pluggable: null is the interpreter; the translator plugs in here unchanged.
/// </summary>
public sealed unsafe class EmulatorHarness : IDisposable
{
    private const uint Present = SegmentCache.RightsP | SegmentCache.RightsS | (3u << 5);
    private const uint DataRights = Present | 3;  // read/write data, accessed
    private const uint CodeRights = Present | 0xB; // execute/read code, accessed

    private readonly TestCpu t;
    private readonly HostSelectors host;
    private readonly byte[] image;
    private readonly byte[] expected;
    private readonly byte[] halts = new byte[Layout.CodeWindow];

    public Cpu Cpu => t.Cpu;

    public EmulatorHarness(byte[] image, HostSelectors host, IExecutionEngine? engine)
    {
        this.image = image;
        this.host = host;
        expected = (byte[])image.Clone();
        t = new TestCpu(engine, Layout.RamSize);
        t.Cpu.EnterFlatProtectedMode();
        Array.Fill(halts, (byte)0xF4);
        var fill = new byte[0x1_0000];
        Array.Fill(fill, (byte)0xF4);
        t.Physical.WriteBytes(Layout.Code32Base, fill.AsSpan(0, 0x4000));
        t.Physical.WriteBytes(Layout.Code16Base, fill);
        image.CopyTo(Data);
    }

    private Span<byte> Data => new(t.Physical.Ram + Layout.DataBase, Layout.DataSize);

    public CaseResult Run(TestCase c)
    {
        Cpu cpu = t.Cpu;
        Span<byte> data = Data;
        foreach (Patch p in c.Patches)
        {
            p.Bytes.CopyTo(expected.AsSpan(p.Offset));
            p.Bytes.CopyTo(data[p.Offset..]);
        }
        bool code16 = c.Code16;
        uint codeBase = Layout.CodeBase(code16);
        uint entry = Layout.Entry(code16);
        t.Physical.WriteBytes(codeBase + entry, c.Code);

        for (int s = 0; s < 6; s++) cpu.Seg[s].Load(Layout.SelData32, Layout.DataBase, Layout.DataSize - 1, DataRights | SegmentCache.RightsDB);
        if (c.Stack16) cpu.Seg[SegReg.SS].Load(Layout.SelData16, Layout.DataBase, Layout.DataSize - 1, DataRights);
        // GS is glibc's TLS segment on the host; the cases only read its selector.
        cpu.Seg[SegReg.GS].Load(host.Gs, 0, 0xFFFF_FFFF, DataRights | SegmentCache.RightsDB | SegmentCache.RightsG);
        if (code16) cpu.Seg[SegReg.CS].Load(Layout.SelCode16, Layout.Code16Base, 0xFFFF, CodeRights);
        else cpu.Seg[SegReg.CS].Load(host.Cs, 0, 0xFFFF_FFFF, CodeRights | SegmentCache.RightsDB | SegmentCache.RightsG);
        cpu.SetEflagsRaw((c.Eflags & 0xCD5) | 0x202);
        cpu.UpdateModes();
        for (int i = 0; i < 8; i++) cpu.Gpr[i] = c.Gpr[i];
        cpu.Eip = entry;
        cpu.LastFault = null;
        cpu.Halted = false;
        cpu.StopAtLinear = codeBase + Layout.ExitFall(code16);
        cpu.StopAtLinear2 = codeBase + Layout.ExitTaken(code16);

        var r = new CaseResult();
        StopReason stop;
        try
        {
            stop = cpu.Run(100_000);
        }
        catch (Exception e)
        {
            stop = StopReason.None;
            r.Note = $"{e.GetType().Name}: {e.Message}";
        }
        uint linear = cpu.Seg[SegReg.CS].Base + cpu.Eip;
        if (stop == StopReason.StopAddress)
        {
            r.Status = CaseResult.Exited;
            r.ExitId = linear == codeBase + Layout.ExitFall(code16) ? 1 : 2;
        }
        else if (stop == StopReason.UnhandledException && cpu.LastFault is { } f)
        {
            r.Status = CaseResult.Faulted;
            r.Vector = f.Vector;
            r.ErrorCode = f.ErrorCode;
            r.Eip = f.Eip;
            r.Cs = f.Cs;
        }
        else
        {
            r.Status = CaseResult.Other;
            r.Note ??= $"stopped with {stop} at {cpu.Seg[SegReg.CS].Selector:X4}:{cpu.Eip:X8}";
        }
        for (int i = 0; i < 8; i++) r.Gpr[i] = cpu.Gpr[i];
        r.Eflags = cpu.GetEflags();

        // Changed bytes, then back to the initial image for the next case.
        for (int o = 0; o < Layout.DataSize; o += 64)
        {
            Span<byte> a = data.Slice(o, 64);
            ReadOnlySpan<byte> e = expected.AsSpan(o, 64);
            if (a.SequenceEqual(e)) continue;
            for (int b = 0; b < 64; b++)
                if (a[b] != e[b]) r.Changes.Add(((ushort)(o + b), a[b]));
        }
        foreach (var (off, _) in r.Changes) data[off] = image[off];
        foreach (Patch p in c.Patches)
        {
            image.AsSpan(p.Offset, p.Bytes.Length).CopyTo(expected.AsSpan(p.Offset));
            image.AsSpan(p.Offset, p.Bytes.Length).CopyTo(data[p.Offset..]);
        }
        t.Physical.WriteBytes(codeBase + entry, halts);
        return r;
    }

    public void Dispose() => t.Dispose();
}
