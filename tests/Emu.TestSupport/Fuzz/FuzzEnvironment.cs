using System;
using Emu.X86;

namespace Emu.TestSupport.Fuzz;

/// <summary>The processor mode a fuzz program starts in.</summary>
public enum FuzzMode
{
    Real,
    Protected16,
    Protected32,
    Virtual8086,
}

/// <summary>How a program's code is made.</summary>
public enum FuzzGenerator
{
    /// <summary>Random bytes.</summary>
    Bytes,
    /// <summary>Random valid instructions (<see cref="InstructionGenerator"/>).</summary>
    Instructions,
}

/// <summary>
/// Where a fuzz program's environment lies in guest RAM (physical = linear: paging, when on,
/// maps RAM mostly to itself), and the selectors and code offsets generated instructions aim at.
/// </summary>
public static class FuzzLayout
{
    public const uint RamSize = 1u << 20;

    public const uint Ivt = 0x0000;
    public const uint Gdt = 0x1000;          // 64 descriptors
    public const uint Ldt = 0x1400;          // 32 descriptors
    public const uint Idt = 0x1800;          // 256 gates
    public const uint Tss32 = 0x2000;        // the current task's TSS (32-bit), with an I/O bitmap for ports 0-3FFh
    public const uint TargetTss32 = 0x2200;  // a task that task gates and far transfers switch to
    public const uint TargetTss16 = 0x2300;
    public const uint Tss16 = 0x2400;        // the current task's TSS when it is a 16-bit one
    public const uint PageDirectory = 0x3000;
    public const uint PageTable = 0x4000;    // maps 0-4 MiB (0-2 MiB with PAE paging)
    public const uint Pdpt = 0x2FE0;         // the four PDPTEs of PAE paging
    public const uint Handlers32 = 0x10000;  // 32 interrupt handlers of 64 bytes, 32-bit code (flat segments)
    public const uint Code16Base = 0x20000;  // the base of the 16-bit code segments and of real-mode CS
    public const uint Handlers16 = 0x28000;  // 32 handlers of 16-bit code, at offset 8000h of the 16-bit code segments
    public const uint Program = 0x20100;     // the program (offset 100h of the 16-bit code segments)
    public const int ProgramBytes = 0x300;
    public const uint Stack16Base = 0x30000; // the base of the 16-bit data segments and of real-mode SS
    public const uint Data = 0x40000;        // far pointers and selectors for indirect far transfers and segment loads

    public const int GdtEntries = 64, LdtEntries = 32;
    public const int HandlerBytes = 64, HandlerCount = 32;

    // GDT selectors: for DPL d, four segments from index 1 + 4d: flat 32-bit code, flat 32-bit data,
    // 16-bit code at Code16Base, 16-bit data at Stack16Base.
    public static ushort Code32Selector(int dpl) => (ushort)(((1 + 4 * dpl) << 3) | dpl);
    public static ushort Data32Selector(int dpl) => (ushort)(((2 + 4 * dpl) << 3) | dpl);
    public static ushort Code16Selector(int dpl) => (ushort)(((3 + 4 * dpl) << 3) | dpl);
    public static ushort Data16Selector(int dpl) => (ushort)(((4 + 4 * dpl) << 3) | dpl);
    public const ushort Tss32Selector = 17 << 3, TargetTss32Selector = 18 << 3, TargetTss16Selector = 19 << 3,
        LdtSelector = 20 << 3, Tss16Selector = 21 << 3;
    public const int FirstGate = 22, FirstRandom = 32;

    /// <summary>A selector into the GDT or LDT, any RPL; now and then anything at all.</summary>
    public static ushort RandomSelector(Random r)
    {
        int k = r.Next(16);
        if (k == 0) return (ushort)r.Next(0x10000);
        if (k == 1) return 0;
        if (k < 4) return (ushort)((r.Next(LdtEntries) << 3) | 4 | r.Next(4));
        return (ushort)((r.Next(GdtEntries) << 3) | r.Next(4));
    }

    /// <summary>An offset into code: the program or a handler, as a flat segment or the 16-bit code segment sees it.</summary>
    public static uint RandomCodeOffset(Random r, int size)
    {
        uint linear = r.Next(3) switch
        {
            0 => Program + (uint)r.Next(ProgramBytes),
            1 => Handlers32 + (uint)(r.Next(HandlerCount) * HandlerBytes),
            _ => Handlers16 + (uint)(r.Next(HandlerCount) * HandlerBytes),
        };
        return size == 16 ? (linear - Code16Base) & 0xFFFF : linear;
    }

    /// <summary>The program's first offset in its code segment.</summary>
    public static uint CodeOffset(int bitness) => bitness == 16 ? Program - Code16Base : Program;
}

/// <summary>
/// The state a fuzz program starts from, applied alike to both engines' CPUs: registers,
/// EFLAGS, segment caches, descriptor-table registers, control and debug registers.
/// </summary>
public sealed class FuzzState
{
    public readonly uint[] Gpr = new uint[8];
    public readonly SegmentCache[] Seg = new SegmentCache[6];
    public readonly uint[] Dr = new uint[8];
    public uint Eip, Eflags, Cr0, Cr3, Cr4;
    public uint SysenterCs, SysenterEsp, SysenterEip;
    public ulong Efer;
    public TableRegister Gdtr, Idtr;
    public SegmentCache Ldtr, Tr;
    public bool Paging;

    public void Apply(Emu.X86.Cpu c)
    {
        c.WriteEfer(Efer);
        c.WriteCr4(Cr4);
        c.WriteCr3(Cr3);
        c.WriteCr0(Cr0);
        c.Gdtr = Gdtr;
        c.Idtr = Idtr;
        c.Ldtr = Ldtr;
        c.Tr = Tr;
        for (int s = 0; s < 6; s++) c.Seg[s] = Seg[s];
        for (int r = 0; r < 8; r++) c.Gpr[r] = Gpr[r];
        c.Eip = Eip;
        c.SysenterCs = SysenterCs;
        c.SysenterEsp = SysenterEsp;
        c.SysenterEip = SysenterEip;
        c.SetEflagsRaw(Eflags);
        for (int r = 0; r < 8; r++) c.Dr[r] = Dr[r];
        c.UpdateBreakpoints();
        c.UpdateModes();
        c.Mmu.FlushAll();
        c.Blocks.FlushJumpCache();
    }

    public override string ToString()
    {
        var s = new System.Text.StringBuilder();
        s.Append($"CS:EIP {Seg[SegReg.CS].Selector:X4}:{Eip:X8} EFLAGS {Emu.X86.Cpu.DescribeEflags(Eflags)} CR0 {Cr0:X8} CR3 {Cr3:X8} CR4 {Cr4:X8} EFER {Efer:X} DR7 {Dr[7]:X8}");
        for (int r = 0; r < 8; r++) s.Append($" {Reg.Names32[r]} {Gpr[r]:X8}");
        for (int g = 0; g < 6; g++) s.Append($" {SegReg.Names[g]} {Seg[g].Selector:X4}");
        s.Append($" TR {Tr.Selector:X4} LDTR {Ldtr.Selector:X4} SYSENTER {SysenterCs:X4}:{SysenterEip:X8} ESP {SysenterEsp:X8}");
        return s.ToString();
    }
}

/// <summary>
/// Builds a fuzz program's world in RAM: random but plausible GDT, LDT and IDT (valid code and
/// data segments of each DPL, random descriptors of every type with random bases, limits and
/// present bits, call, interrupt, trap and task gates), TSSs (32- and 16-bit, with ring
/// stacks and an I/O permission bitmap), paging structures with random present, RW, US and
/// global bits and 4 MiB pages, interrupt handlers, far pointers, and the program itself.
/// </summary>
public static class FuzzEnvironment
{
    private const byte P = 0x80, S = 0x10, Code = 0x08, Readable = 0x02, Writable = 0x02, Accessed = 0x01;
    private const byte G = 0x8, DB = 0x4;

    /// <summary>A segment descriptor (Intel SDM Vol. 3, Figure 3-8) from a byte limit, access byte and G/D-B flags.</summary>
    public static ulong Segment(uint @base, uint limit, byte access, byte flags)
    {
        if (limit > 0xF_FFFF)
        {
            flags |= G;
            limit >>= 12;
        }
        return (limit & 0xFFFF) | ((ulong)(@base & 0xFF_FFFF) << 16) | ((ulong)access << 40)
            | ((ulong)((limit >> 16) & 0xF) << 48) | ((ulong)(flags & 0xF) << 52) | ((ulong)(@base >> 24) << 56);
    }

    /// <summary>A call, interrupt, trap or task gate (Intel SDM Vol. 3, Figures 5-8 and 6-2).</summary>
    public static ulong Gate(ushort selector, uint offset, int type, int dpl, bool present, int parameters = 0) =>
        (offset & 0xFFFF) | ((ulong)selector << 16) | ((ulong)(parameters & 0x1F) << 32)
        | ((ulong)(type | (dpl << 5) | (present ? P : 0)) << 40) | ((ulong)(offset >> 16) << 48);

    public static FuzzState Build(Random r, FuzzMode mode, int cpl, bool iopl3, FuzzGenerator generator, InstructionGenerator ig, byte[] ram)
    {
        var st = new FuzzState();
        Scramble(r, ram);
        var gdt = new ulong[FuzzLayout.GdtEntries];
        var ldt = new ulong[FuzzLayout.LdtEntries];

        // The valid segments of every DPL, accessed already (the initial caches are loaded from them).
        for (int d = 0; d < 4; d++)
        {
            byte dpl = (byte)(d << 5);
            gdt[1 + 4 * d] = Segment(0, 0xFFFF_FFFF, (byte)(P | dpl | S | Code | Readable | Accessed), DB);
            gdt[2 + 4 * d] = Segment(0, 0xFFFF_FFFF, (byte)(P | dpl | S | Writable | Accessed), DB);
            gdt[3 + 4 * d] = Segment(FuzzLayout.Code16Base, 0xFFFF, (byte)(P | dpl | S | Code | Readable | Accessed), 0);
            gdt[4 + 4 * d] = Segment(FuzzLayout.Stack16Base, 0xFFFF, (byte)(P | dpl | S | Writable | Accessed), 0);
        }
        bool tss16Current = r.Next(7) == 0;
        gdt[FuzzLayout.Tss32Selector >> 3] = Segment(FuzzLayout.Tss32, 0xE8, (byte)(P | (tss16Current ? 0x9 : 0xB)), 0);
        gdt[FuzzLayout.TargetTss32Selector >> 3] = Segment(FuzzLayout.TargetTss32, 0x67, P | 0x9, 0);
        gdt[FuzzLayout.TargetTss16Selector >> 3] = Segment(FuzzLayout.TargetTss16, 0x2B, P | 0x1, 0);
        gdt[FuzzLayout.LdtSelector >> 3] = Segment(FuzzLayout.Ldt, FuzzLayout.LdtEntries * 8 - 1, P | 0x2, 0);
        gdt[FuzzLayout.Tss16Selector >> 3] = Segment(FuzzLayout.Tss16, 0x2B, (byte)(P | (tss16Current ? 0x3 : 0x1)), 0);
        for (int i = FuzzLayout.FirstGate; i < FuzzLayout.FirstRandom; i++) gdt[i] = RandomGate(r);
        for (int i = FuzzLayout.FirstRandom; i < gdt.Length; i++) gdt[i] = RandomDescriptor(r);
        for (int i = 0; i < ldt.Length; i++)
            ldt[i] = r.Next(3) == 0 ? gdt[1 + r.Next(16)] : r.Next(6) == 0 ? RandomGate(r) : RandomDescriptor(r);
        gdt[0] = 0;
        for (int i = 0; i < gdt.Length; i++) Put64(ram, FuzzLayout.Gdt + 8u * (uint)i, gdt[i]);
        for (int i = 0; i < ldt.Length; i++) Put64(ram, FuzzLayout.Ldt + 8u * (uint)i, ldt[i]);

        // The IDT: interrupt and trap gates (mostly to ring 0), task gates, a few absent or broken ones.
        for (int v = 0; v < 256; v++) Put64(ram, FuzzLayout.Idt + 8u * (uint)v, RandomIdtGate(r));
        // The real-mode vector table: handlers at 2000h:8000h + 64k.
        for (int v = 0; v < 256; v++)
        {
            uint entry = r.Next(16) == 0 ? (uint)r.Next() : (uint)(FuzzLayout.Code16Base >> 4) << 16 | (0x8000u + (uint)(r.Next(FuzzLayout.HandlerCount) * FuzzLayout.HandlerBytes));
            Put32(ram, FuzzLayout.Ivt + 4u * (uint)v, entry);
        }

        WriteTss32(r, ram, FuzzLayout.Tss32, current: true);
        WriteTss32(r, ram, FuzzLayout.TargetTss32, current: false);
        WriteTss16(r, ram, FuzzLayout.Tss16, current: true);
        WriteTss16(r, ram, FuzzLayout.TargetTss16, current: false);

        // Far pointers (16:32 and 16:16) and selectors for indirect far transfers and segment loads.
        for (uint a = FuzzLayout.Data; a < FuzzLayout.Data + 0x1000; a += 8)
        {
            Put32(ram, a, FuzzLayout.RandomCodeOffset(r, r.Next(2) == 0 ? 16 : 32));
            Put16(ram, a + 4, FuzzLayout.RandomSelector(r));
            Put16(ram, a + 6, FuzzLayout.RandomSelector(r));
        }

        // Handlers: a few instructions, sometimes popping the error code, then IRET of the code size.
        for (int k = 0; k < FuzzLayout.HandlerCount; k++)
        {
            WriteHandler(r, ram, generator, ig, FuzzLayout.Handlers32 + (uint)(k * FuzzLayout.HandlerBytes), 32);
            WriteHandler(r, ram, generator, ig, FuzzLayout.Handlers16 + (uint)(k * FuzzLayout.HandlerBytes), 16);
        }

        bool v86 = mode == FuzzMode.Virtual8086;
        bool real = mode == FuzzMode.Real;
        int bitness = mode == FuzzMode.Protected32 ? 32 : 16;
        if (generator == FuzzGenerator.Instructions)
            ig.Fill(ram.AsSpan((int)FuzzLayout.Program, FuzzLayout.ProgramBytes), bitness, FuzzLayout.CodeOffset(bitness));

        // Control registers.
        uint cr4 = 0;
        if (r.Next(2) == 0) cr4 |= Cr4Bits.PSE;
        if (r.Next(3) == 0) cr4 |= Cr4Bits.PGE;
        if (r.Next(7) == 0) cr4 |= Cr4Bits.TSD;
        if (r.Next(7) == 0) cr4 |= Cr4Bits.DE;
        if (r.Next(3) == 0) cr4 |= Cr4Bits.OSFXSR;
        bool pae = !real && r.Next(3) == 0;
        if (pae) cr4 |= Cr4Bits.PAE;
        st.Cr4 = cr4;
        uint cr0 = Cr0Bits.ET | Cr0Bits.CD | Cr0Bits.NW;
        if (!real) cr0 |= Cr0Bits.PE;
        if (r.Next(2) == 0) cr0 |= Cr0Bits.NE;
        if (r.Next(2) == 0) cr0 |= Cr0Bits.WP;
        if (r.Next(3) == 0) cr0 |= Cr0Bits.AM;
        if (r.Next(5) == 0) cr0 |= Cr0Bits.MP;
        if (r.Next(10) == 0) cr0 |= Cr0Bits.EM;
        if (r.Next(10) == 0) cr0 |= Cr0Bits.TS;
        st.Paging = !real && r.Next(2) == 0;
        if (st.Paging) cr0 |= Cr0Bits.PG;
        st.Cr0 = cr0;
        st.Cr3 = FuzzLayout.PageDirectory | (r.Next(4) == 0 ? 0x18u : 0);
        WritePaging(r, ram, (cr4 & Cr4Bits.PSE) != 0);
        if (pae)
        {
            st.Cr3 = FuzzLayout.Pdpt | (r.Next(4) == 0 ? 0x18u : 0);
            if (r.Next(2) == 0) st.Efer = Emu.X86.Cpu.EferNxe;
            WritePaePaging(r, ram);
        }

        // Debug registers: now and then breakpoints on the program, its data or its stack.
        st.Dr[6] = 0xFFFF0FF0;
        st.Dr[7] = 0x400;
        if (r.Next(16) == 0)
        {
            for (int n = 0; n < 4; n++) st.Dr[n] = FuzzLayout.Program + (uint)r.Next(0x40000);
            st.Dr[7] |= (uint)r.Next(0x100) | ((uint)r.Next(0x10000) << 16);
        }

        // SYSENTER's MSRs, half the time: CS 08h (SS 10h follows it, Intel SDM Vol. 2, SYSENTER), a ring-0 stack and a handler.
        if (r.Next(2) == 0)
        {
            st.SysenterCs = FuzzLayout.Code32Selector(0);
            st.SysenterEsp = 0x3D000u - (uint)r.Next(0x100) * 4;
            st.SysenterEip = FuzzLayout.Handlers32 + (uint)(r.Next(FuzzLayout.HandlerCount) * FuzzLayout.HandlerBytes);
        }

        st.Gdtr = new TableRegister { Base = FuzzLayout.Gdt, Limit = FuzzLayout.GdtEntries * 8 - 1 };
        st.Ldtr = Emu.X86.Cpu.CacheOf(FuzzLayout.LdtSelector, new Descriptor(gdt[FuzzLayout.LdtSelector >> 3]));
        ushort tr = tss16Current ? FuzzLayout.Tss16Selector : FuzzLayout.Tss32Selector;
        st.Tr = Emu.X86.Cpu.CacheOf(tr, new Descriptor(gdt[tr >> 3]));
        st.Idtr = real
            ? new TableRegister { Base = 0, Limit = r.Next(10) == 0 ? (ushort)r.Next(0x400) : (ushort)0x3FF }
            : new TableRegister { Base = FuzzLayout.Idt, Limit = r.Next(10) == 0 ? (ushort)r.Next(0x800) : (ushort)0x7FF };

        // EFLAGS: random arithmetic flags and DF, IF, IOPL; now and then TF, NT, AC.
        uint flags = Flags.Reserved1 | ((uint)r.Next() & 0xCD5);
        if (r.Next(2) == 0) flags |= Flags.IF;
        if (r.Next(30) == 0) flags |= Flags.TF;
        if (r.Next(20) == 0) flags |= Flags.NT;
        if (r.Next(5) == 0) flags |= Flags.AC;
        int iopl = v86 ? (iopl3 ? 3 : r.Next(3)) : r.Next(4);
        flags |= (uint)iopl << Flags.IoplShift;
        if (v86) flags |= Flags.VM;
        st.Eflags = flags;

        // Registers: addresses in RAM, selectors, small numbers, anything; pointers to the far pointers.
        for (int g = 0; g < 8; g++)
        {
            st.Gpr[g] = r.Next(6) switch
            {
                0 or 1 => (uint)r.Next((int)FuzzLayout.RamSize),
                2 => FuzzLayout.RandomSelector(r),
                3 => (uint)r.Next(256),
                4 => FuzzLayout.Data + (uint)r.Next(0x1000),
                _ => (uint)r.Next() * 2u + (uint)r.Next(2),
            };
        }
        if (r.Next(2) == 0) st.Gpr[Reg.ECX] &= 0xFF;

        if (real || v86)
        {
            ushort[] segs = { 0x0000, 0x1000, 0x2000, 0x3000, 0x4000 };
            for (int s = 0; s < 6; s++)
            {
                ushort sel = s == SegReg.CS ? (ushort)(FuzzLayout.Code16Base >> 4)
                    : s == SegReg.SS ? (ushort)(FuzzLayout.Stack16Base >> 4)
                    : r.Next(5) == 0 ? (ushort)r.Next(0x10000) : segs[r.Next(segs.Length)];
                if (v86) st.Seg[s].Load(sel, (uint)sel << 4, 0xFFFF, s == SegReg.CS ? Segments.V86CodeRights : Segments.V86DataRights);
                else
                {
                    // As RESET leaves the caches (Intel SDM Vol. 3, Table 9-1), then a real-mode load.
                    st.Seg[s].Load(0, 0, 0xFFFF, s == SegReg.CS ? SegmentCache.RightsP | SegmentCache.RightsS | 0xB : SegmentCache.RightsP | SegmentCache.RightsS | 3);
                    st.Seg[s].LoadReal(sel);
                }
            }
            st.Gpr[Reg.ESP] = 0xE000u - (uint)r.Next(0x100) * 2;
            st.Eip = FuzzLayout.Program - FuzzLayout.Code16Base;
            if (real) st.Gdtr = new TableRegister { Base = FuzzLayout.Gdt, Limit = FuzzLayout.GdtEntries * 8 - 1 };
            return st;
        }

        bool code16 = mode == FuzzMode.Protected16;
        ushort cs = code16 ? FuzzLayout.Code16Selector(cpl) : FuzzLayout.Code32Selector(cpl);
        bool stack16 = code16 ? r.Next(3) != 0 : r.Next(8) == 0;
        ushort ss = stack16 ? FuzzLayout.Data16Selector(cpl) : FuzzLayout.Data32Selector(cpl);
        st.Seg[SegReg.CS] = Emu.X86.Cpu.CacheOf(cs, new Descriptor(gdt[cs >> 3]));
        st.Seg[SegReg.SS] = Emu.X86.Cpu.CacheOf(ss, new Descriptor(gdt[ss >> 3]));
        foreach (int s in new[] { SegReg.DS, SegReg.ES, SegReg.FS, SegReg.GS })
        {
            if (r.Next(8) == 0)
            {
                st.Seg[s].LoadNull(0);
                continue;
            }
            int d = r.Next(cpl, 4);
            ushort sel = r.Next(2) == 0 ? FuzzLayout.Data32Selector(d) : FuzzLayout.Data16Selector(d);
            st.Seg[s] = Emu.X86.Cpu.CacheOf(sel, new Descriptor(gdt[sel >> 3]));
        }
        st.Gpr[Reg.ESP] = stack16 ? 0xE000u - (uint)cpl * 0x1000 - (uint)r.Next(0x100) * 2
            : FuzzLayout.Stack16Base + 0x8000u - (uint)cpl * 0x1000 - (uint)r.Next(0x100) * 4;
        st.Eip = FuzzLayout.CodeOffset(code16 ? 16 : 32);
        return st;
    }

    /// <summary>Any descriptor: mostly segments of random type, base, limit, DPL and size, some system ones, some noise.</summary>
    private static ulong RandomDescriptor(Random r)
    {
        int kind = r.Next(12);
        if (kind == 0) return ((ulong)(uint)r.Next() << 32) | (uint)r.Next();
        uint @base = r.Next(3) == 0 ? 0 : (uint)r.Next((int)FuzzLayout.RamSize) & (r.Next(2) == 0 ? ~0xFFFu : ~0u);
        uint limit = r.Next(3) switch { 0 => 0xFFFF_FFFF, 1 => (uint)r.Next(0x1_0000), _ => (uint)r.Next(0x10_0000) };
        byte present = r.Next(10) == 0 ? (byte)0 : P;
        byte dpl = (byte)(r.Next(4) << 5);
        if (kind == 1)
        {
            // A system descriptor: TSS (available or busy, 16- or 32-bit), LDT, or a reserved type.
            int type = new[] { 1, 2, 3, 9, 0xB, 0, 8, 0xA, 0xD }[r.Next(9)];
            return Segment(r.Next(2) == 0 ? FuzzLayout.TargetTss32 : @base, r.Next(2) == 0 ? 0x67u : limit & 0xFFFF, (byte)(present | dpl | type), 0);
        }
        byte flags = r.Next(2) == 0 ? DB : (byte)0;
        if (r.Next(16) == 0) flags |= 0x2; // the L bit, reserved here
        return Segment(@base, limit, (byte)(present | dpl | S | r.Next(16)), flags);
    }

    /// <summary>A call gate (16- or 32-bit, to a code segment of any DPL, 0-3 parameters) or a task gate.</summary>
    private static ulong RandomGate(Random r)
    {
        if (r.Next(5) == 0)
            return Gate(r.Next(2) == 0 ? FuzzLayout.TargetTss32Selector : FuzzLayout.TargetTss16Selector, 0, 5, r.Next(4), r.Next(10) != 0);
        bool gate32 = r.Next(3) != 0;
        int dpl = r.Next(4);
        ushort target = r.Next(8) == 0 ? FuzzLayout.RandomSelector(r)
            : gate32 ? FuzzLayout.Code32Selector(r.Next(4)) : FuzzLayout.Code16Selector(r.Next(4));
        return Gate(target, FuzzLayout.RandomCodeOffset(r, gate32 ? 32 : 16), gate32 ? 0xC : 0x4, dpl, r.Next(12) != 0, r.Next(4));
    }

    /// <summary>An IDT entry: an interrupt or trap gate (mostly to ring-0 code), a task gate, or something broken.</summary>
    private static ulong RandomIdtGate(Random r)
    {
        int k = r.Next(20);
        if (k == 0) return RandomDescriptor(r);
        if (k < 3) return Gate(r.Next(2) == 0 ? FuzzLayout.TargetTss32Selector : FuzzLayout.TargetTss16Selector, 0, 5, r.Next(4), r.Next(10) != 0);
        bool gate32 = r.Next(5) != 0;
        int handler = r.Next(FuzzLayout.HandlerCount) * FuzzLayout.HandlerBytes;
        int targetDpl = r.Next(6) == 0 ? r.Next(4) : 0;
        ushort selector = r.Next(12) == 0 ? FuzzLayout.RandomSelector(r)
            : gate32 ? FuzzLayout.Code32Selector(targetDpl) : FuzzLayout.Code16Selector(targetDpl);
        uint offset = gate32 ? FuzzLayout.Handlers32 + (uint)handler : FuzzLayout.Handlers16 - FuzzLayout.Code16Base + (uint)handler;
        int type = (gate32 ? 0xE : 0x6) | r.Next(2);
        int dpl = r.Next(2) == 0 ? 3 : r.Next(4);
        return Gate(selector, offset, type, dpl, r.Next(20) != 0);
    }

    private static void WriteHandler(Random r, byte[] ram, FuzzGenerator generator, InstructionGenerator ig, uint at, int bitness)
    {
        int body = r.Next(4) == 0 ? 0 : r.Next(8, 40);
        if (generator == FuzzGenerator.Instructions && body > 0)
            ig.Fill(ram.AsSpan((int)at, body), bitness, bitness == 16 ? at - FuzzLayout.Code16Base : at);
        int p = (int)at + body;
        if (r.Next(2) == 0)
        {
            // ADD (E)SP, 4 or 2: drops an error code (right only for the vectors that push one).
            ram[p++] = 0x83;
            ram[p++] = 0xC4;
            ram[p++] = (byte)(bitness == 32 ? 4 : 2);
        }
        ram[p++] = 0xCF; // IRET (IRETD in 32-bit code)
    }

    private static void WriteTss32(Random r, byte[] ram, uint at, bool current)
    {
        // Intel SDM Vol. 3, Figure 8-2.
        Put32(ram, at + 0x00, r.Next(4) == 0 ? (uint)r.Next(0x10000) : 0);
        for (int n = 0; n < 3; n++)
        {
            bool small = r.Next(8) == 0;
            Put32(ram, at + 0x04 + 8u * (uint)n, small ? 0xF000u - (uint)n * 0x400 : 0x3F000u - (uint)n * 0x400);
            Put32(ram, at + 0x08 + 8u * (uint)n, r.Next(12) == 0 ? (uint)FuzzLayout.RandomSelector(r)
                : small ? FuzzLayout.Data16Selector(n) : FuzzLayout.Data32Selector(n));
        }
        Put32(ram, at + 0x1C, FuzzLayout.PageDirectory);
        Put32(ram, at + 0x20, current ? (uint)r.Next() : FuzzLayout.Handlers32 + (uint)(r.Next(FuzzLayout.HandlerCount) * FuzzLayout.HandlerBytes));
        Put32(ram, at + 0x24, Flags.Reserved1 | ((uint)r.Next() & 0xCD5) | (r.Next(2) == 0 ? Flags.IF : 0));
        for (int g = 0; g < 8; g++) Put32(ram, at + 0x28 + 4u * (uint)g, (uint)r.Next((int)FuzzLayout.RamSize));
        Put32(ram, at + 0x38, 0x3E000u - (uint)r.Next(0x100) * 4); // ESP
        ushort[] segs = { FuzzLayout.Data32Selector(0), FuzzLayout.Code32Selector(0), FuzzLayout.Data32Selector(0), FuzzLayout.Data32Selector(0), FuzzLayout.Data32Selector(0), FuzzLayout.Data32Selector(0) };
        for (int s = 0; s < 6; s++) Put32(ram, at + 0x48 + 4u * (uint)s, r.Next(16) == 0 ? FuzzLayout.RandomSelector(r) : segs[s]);
        Put32(ram, at + 0x60, r.Next(4) == 0 ? 0u : FuzzLayout.LdtSelector);
        // The I/O permission bitmap at 68h: ports 0-3FFh, then the terminating FFh byte (Intel SDM Vol. 1, 19.5.2).
        uint ioMap = current ? (r.Next(6) == 0 ? (uint)r.Next(0x10000) : 0x68u) : 0x68u;
        Put32(ram, at + 0x64, (ioMap << 16) | (uint)(r.Next(20) == 0 ? 1 : 0));
        if (current) ram[at + 0x68 + 0x80] = 0xFF;
    }

    private static void WriteTss16(Random r, byte[] ram, uint at, bool current)
    {
        // Intel SDM Vol. 3, Figure 8-11.
        Put16(ram, at + 0, r.Next(4) == 0 ? (ushort)r.Next(0x10000) : (ushort)0);
        for (int n = 0; n < 3; n++)
        {
            Put16(ram, at + 2 + 4u * (uint)n, (ushort)(0xF000 - n * 0x400));
            Put16(ram, at + 4 + 4u * (uint)n, r.Next(12) == 0 ? FuzzLayout.RandomSelector(r) : FuzzLayout.Data16Selector(n));
        }
        Put16(ram, at + 14, (ushort)(0x8000 + r.Next(FuzzLayout.HandlerCount) * FuzzLayout.HandlerBytes));
        Put16(ram, at + 16, (ushort)(Flags.Reserved1 | ((uint)r.Next() & 0xCD5)));
        for (int g = 0; g < 8; g++) Put16(ram, at + 18 + 2u * (uint)g, (ushort)r.Next(0x10000));
        Put16(ram, at + 26, (ushort)(0xE000 - r.Next(0x100) * 2)); // SP
        ushort[] segs = { FuzzLayout.Data16Selector(0), FuzzLayout.Code16Selector(0), FuzzLayout.Data16Selector(0), FuzzLayout.Data16Selector(0) };
        for (int s = 0; s < 4; s++) Put16(ram, at + 34 + 2u * (uint)s, r.Next(16) == 0 ? FuzzLayout.RandomSelector(r) : segs[s]);
        Put16(ram, at + 42, r.Next(4) == 0 ? (ushort)0 : FuzzLayout.LdtSelector);
        _ = current;
    }

    /// <summary>
    /// The page directory and the table for 0-4 MiB: RAM mapped to itself, each page now and then
    /// absent, read-only, supervisor-only, global, or mapped elsewhere; a few more directory
    /// entries, some 4 MiB pages when CR4.PSE (Intel SDM Vol. 3, 4.3).
    /// </summary>
    private static void WritePaging(Random r, byte[] ram, bool pse)
    {
        const uint PresentBit = 1, RwBit = 2, UsBit = 4, PsBit = 0x80, GlobalBit = 0x100;
        Array.Clear(ram, (int)FuzzLayout.PageDirectory, 4096);
        uint pde0 = FuzzLayout.PageTable | PresentBit | RwBit | UsBit;
        if (r.Next(20) == 0) pde0 &= ~RwBit;
        if (r.Next(20) == 0) pde0 &= ~UsBit;
        if (r.Next(4) == 0) pde0 |= 0x60; // accessed, dirty (ignored in a directory entry)
        // Now and then the first 4 MiB are one large page (CR4.PSE, Intel SDM Vol. 3, 4.3): RAM mapped to itself.
        if (pse && r.Next(4) == 0) pde0 = (pde0 & 0x67) | PsBit | (r.Next(3) == 0 ? GlobalBit : 0);
        Put32(ram, FuzzLayout.PageDirectory, pde0);
        for (int extra = r.Next(6); extra > 0; extra--)
        {
            int i = r.Next(1, 1024);
            uint e = pse && r.Next(2) == 0
                ? PsBit | ((uint)r.Next(2) << 22) | PresentBit | (uint)r.Next(8) * RwBit & 0xFFC0_0087u
                : FuzzLayout.PageTable | (uint)r.Next(8);
            Put32(ram, FuzzLayout.PageDirectory + 4u * (uint)i, e | (r.Next(4) == 0 ? GlobalBit : 0));
        }
        for (uint i = 0; i < 1024; i++)
            Put32(ram, FuzzLayout.PageTable + 4 * i, RandomTableEntry(r, i));
    }

    /// <summary>
    /// A page-table entry (its low 32 bits) for linear page <paramref name="i"/>: RAM mapped to
    /// itself, now and then elsewhere, absent, read-only, supervisor-only, global, accessed and dirty.
    /// </summary>
    private static uint RandomTableEntry(Random r, uint i)
    {
        const uint PresentBit = 1, RwBit = 2, UsBit = 4, GlobalBit = 0x100;
        uint frame = i < FuzzLayout.RamSize >> 12 ? i : (uint)r.Next((int)(FuzzLayout.RamSize >> 12));
        if (r.Next(40) == 0) frame = (uint)r.Next((int)(FuzzLayout.RamSize >> 12));
        uint e = (frame << 12) | PresentBit | RwBit | UsBit;
        if (i >= FuzzLayout.RamSize >> 12 && r.Next(2) == 0) e &= ~PresentBit;
        if (r.Next(40) == 0) e &= ~PresentBit;
        if (r.Next(15) == 0) e &= ~RwBit;
        if (r.Next(15) == 0) e &= ~UsBit;
        if (r.Next(5) == 0) e |= GlobalBit;
        if (r.Next(4) == 0) e |= 0x60;
        return e;
    }

    /// <summary>
    /// PAE paging (Intel SDM Vol. 3, 4.4): four PDPTEs (the first present, no reserved bits, so
    /// CR3 loads), a directory whose first entry maps 0-2 MiB through the page table or as one
    /// 2 MiB page, and 8-byte table entries mapping RAM to itself, each now and then absent,
    /// read-only, supervisor-only, global, execute-disable or with a reserved address bit.
    /// </summary>
    private static void WritePaePaging(Random r, byte[] ram)
    {
        const ulong PresentBit = 1, RwBit = 2, UsBit = 4, PsBit = 0x80, GlobalBit = 0x100, Xd = 1ul << 63, Reserved = 1ul << 40;
        for (uint i = 0; i < 4; i++)
            Put64(ram, FuzzLayout.Pdpt + 8 * i, i == 0 || r.Next(4) == 0 ? FuzzLayout.PageDirectory | PresentBit : 0);
        Array.Clear(ram, (int)FuzzLayout.PageDirectory, 4096);
        ulong pde0 = FuzzLayout.PageTable | PresentBit | RwBit | UsBit;
        if (r.Next(20) == 0) pde0 &= ~RwBit;
        if (r.Next(20) == 0) pde0 &= ~UsBit;
        if (r.Next(10) == 0) pde0 |= Xd;
        if (r.Next(4) == 0) pde0 = (pde0 & 0x67) | PsBit | (r.Next(3) == 0 ? GlobalBit : 0);
        Put64(ram, FuzzLayout.PageDirectory, pde0);
        for (int extra = r.Next(6); extra > 0; extra--)
        {
            int i = r.Next(1, 512);
            ulong e = r.Next(2) == 0
                ? PsBit | PresentBit | (ulong)r.Next(8) * RwBit & 0x87ul
                : FuzzLayout.PageTable | (ulong)r.Next(8);
            if (r.Next(8) == 0) e |= Xd;
            if (r.Next(16) == 0) e |= Reserved;
            Put64(ram, FuzzLayout.PageDirectory + 8u * (uint)i, e | (r.Next(4) == 0 ? GlobalBit : 0));
        }
        for (uint i = 0; i < 512; i++)
        {
            ulong e = RandomTableEntry(r, i);
            if (r.Next(12) == 0) e |= Xd;
            if (r.Next(60) == 0) e |= Reserved;
            Put64(ram, FuzzLayout.PageTable + 8 * i, e);
        }
    }

    /// <summary>Fills RAM with random bytes (SplitMix64 seeded from <paramref name="r"/>: a seeded Random's NextBytes is slow).</summary>
    private static void Scramble(Random r, byte[] ram)
    {
        ulong x = ((ulong)(uint)r.Next() << 32) | (uint)r.Next();
        Span<ulong> words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(ram.AsSpan());
        for (int i = 0; i < words.Length; i++)
        {
            ulong z = x += 0x9E37_79B9_7F4A_7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
            words[i] = z ^ (z >> 31);
        }
    }

    private static void Put16(byte[] ram, uint at, ushort v) => System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(ram.AsSpan((int)at), v);

    private static void Put32(byte[] ram, uint at, uint v) => System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(ram.AsSpan((int)at), v);

    private static void Put64(byte[] ram, uint at, ulong v) => System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(ram.AsSpan((int)at), v);
}
