using System;
using Emu.Conformance.Tests;
using Emu.TestSupport;
using Emu.X86;

namespace Emu.Fpu.Tests.Differential;

/// <summary>
/// Runs cases on the emulator with the native helper's address space and descriptor caches
/// (protected mode, CPL 3, the same selectors, bases, limits and rights) and the CR0 a
/// Linux process runs under (NE and MP set, EM and TS clear). The x87 state is loaded from
/// the case's FRSTOR image; the engine is pluggable (null: the interpreter).
/// </summary>
public sealed class FpuHarness : IDisposable
{
    private const uint Present = SegmentCache.RightsP | SegmentCache.RightsS | (3u << 5);
    private const uint DataRights = Present | 3;
    private const uint CodeRights = Present | 0xB;

    private readonly TestCpu t;
    private readonly HostSelectors host;
    private readonly byte[] image;
    private readonly byte[] expected;
    private readonly byte[] halts = new byte[Layout.CodeWindow];

    public Cpu Cpu => t.Cpu;

    public FpuHarness(byte[] image, HostSelectors host, IExecutionEngine? engine)
    {
        this.image = image;
        this.host = host;
        expected = (byte[])image.Clone();
        t = new TestCpu(engine, Layout.RamSize);
        t.Cpu.EnterFlatProtectedMode();
        t.Cpu.Cr0 |= Cr0Bits.NE | Cr0Bits.MP;
        Array.Fill(halts, (byte)0xF4);
        var fill = new byte[0x1_0000];
        Array.Fill(fill, (byte)0xF4);
        t.Physical.WriteBytes(Layout.Code32Base, fill.AsSpan(0, 0x4000));
        t.Physical.WriteBytes(Layout.Code16Base, fill);
        t.Physical.WriteBytes(Layout.DataBase, image);
    }

    private unsafe Span<byte> Data => new(t.Physical.Ram + Layout.DataBase, Layout.DataSize);

    public FpuResult Run(FpuCase c)
    {
        Cpu cpu = t.Cpu;
        Span<byte> data = Data;
        foreach (MemPatch p in c.Patches)
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
        cpu.Seg[SegReg.GS].Load(host.Gs, 0, 0xFFFF_FFFF, DataRights | SegmentCache.RightsDB | SegmentCache.RightsG);
        if (code16) cpu.Seg[SegReg.CS].Load(Layout.SelCode16, Layout.Code16Base, 0xFFFF, CodeRights);
        else cpu.Seg[SegReg.CS].Load(host.Cs, 0, 0xFFFF_FFFF, CodeRights | SegmentCache.RightsDB | SegmentCache.RightsG);
        cpu.SetEflagsRaw((c.Eflags & 0xCD5) | 0x202);
        cpu.UpdateModes();
        for (int i = 0; i < 8; i++) cpu.Gpr[i] = c.Gpr[i];
        cpu.Fpu.Init();
        X87Control.Restore(cpu, c.FpuImage);
        cpu.Eip = entry;
        cpu.LastFault = null;
        cpu.Halted = false;
        cpu.StopAtLinear = codeBase + Layout.ExitFall(code16);
        cpu.StopAtLinear2 = codeBase + Layout.ExitTaken(code16);

        var r = new FpuResult();
        StopReason stop;
        try
        {
            stop = cpu.Run(1000);
        }
        catch (Exception e)
        {
            stop = StopReason.None;
            r.Note = $"{e.GetType().Name}: {e.Message}";
        }
        uint linear = cpu.Seg[SegReg.CS].Base + cpu.Eip;
        if (stop == StopReason.StopAddress)
        {
            r.Status = FpuResult.Exited;
            r.ExitId = linear == codeBase + Layout.ExitFall(code16) ? 1 : 2;
        }
        else if (stop == StopReason.UnhandledException && cpu.LastFault is { } f)
        {
            r.Status = FpuResult.Faulted;
            r.Vector = f.Vector;
            r.ErrorCode = f.ErrorCode;
            r.Eip = f.Eip;
            r.Cs = f.Cs;
        }
        else
        {
            r.Status = FpuResult.Other;
            r.Note ??= $"stopped with {stop} at {cpu.Seg[SegReg.CS].Selector:X4}:{cpu.Eip:X8}" + (cpu.LastLimitation is { } l ? $" ({l})" : "");
        }
        for (int i = 0; i < 8; i++) r.Gpr[i] = cpu.Gpr[i];
        r.Eflags = cpu.GetEflags();
        r.Fpu = FpuSnapshot.FromState(cpu.Fpu);

        for (int o = 0; o < Layout.DataSize; o += 64)
        {
            Span<byte> a = data.Slice(o, 64);
            ReadOnlySpan<byte> e = expected.AsSpan(o, 64);
            if (a.SequenceEqual(e)) continue;
            for (int b = 0; b < 64; b++)
                if (a[b] != e[b]) r.Changes.Add(((ushort)(o + b), a[b]));
        }
        foreach (var (off, _) in r.Changes) data[off] = image[off];
        foreach (MemPatch p in c.Patches)
        {
            image.AsSpan(p.Offset, p.Bytes.Length).CopyTo(expected.AsSpan(p.Offset));
            image.AsSpan(p.Offset, p.Bytes.Length).CopyTo(data[p.Offset..]);
        }
        t.Physical.WriteBytes(codeBase + entry, halts);
        return r;
    }

    public void Dispose() => t.Dispose();
}
