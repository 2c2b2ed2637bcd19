using System;
using System.Buffers.Binary;
using Emu.Memory;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// x87 control instructions (Intel SDM Vol. 1, 8.3.13; Vol. 2): FNINIT, FNCLEX, FNSTSW,
/// FNSTCW, FLDCW, FNSTENV, FLDENV, FNSAVE, FRSTOR (16- and 32-bit formats, real-mode and
/// protected-mode layouts, Figures 8-9 to 8-12), FXSAVE, FXRSTOR, FFREE, FFREEP, FDECSTP,
/// FINCSTP, FNOP, the 8087/287 leftovers that do nothing (FNENI, FNDISI, FNSETPM), and
/// WAIT. The waiting forms (FINIT, FCLEX, ...) decode as WAIT followed by the FN form.
/// </summary>
public static unsafe class X87Control
{
    private static void Fninit(Cpu c, ref Instruction i) => Fninit(c);

    public static void Fninit(Cpu c)
    {
        X87.BeginNoWait(c);
        c.Fpu.Init();
        X87.FollowErrorSummary(c);
    }

    /// <summary>FNCLEX: clears the exception flags, SF, ES and B; C0-C3 and TOP stay.</summary>
    private static void Fnclex(Cpu c, ref Instruction i) => Fnclex(c);

    public static void Fnclex(Cpu c)
    {
        X87.BeginNoWait(c);
        c.Fpu.StatusWord &= unchecked((ushort)~(FpuStatus.Exceptions | FpuStatus.SF));
        X87.FollowErrorSummary(c);
    }

    private static void FnstswAx(Cpu c, ref Instruction i) => FnstswAx(c);

    /// <summary>FNSTSW AX.</summary>
    public static void FnstswAx(Cpu c)
    {
        X87.BeginNoWait(c);
        c.SetReg16(Reg.EAX, c.Fpu.Sw);
    }

    private static void FnstswM16(Cpu c, ref Instruction i) => FnstswM16(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i));

    /// <summary>FNSTSW m2byte.</summary>
    public static void FnstswM16(Cpu c, int seg, uint ea)
    {
        X87.BeginNoWait(c);
        c.Write16(seg, ea, c.Fpu.Sw);
    }

    private static void FnstcwM16(Cpu c, ref Instruction i) => FnstcwM16(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i));

    /// <summary>FNSTCW m2byte.</summary>
    public static void FnstcwM16(Cpu c, int seg, uint ea)
    {
        X87.BeginNoWait(c);
        c.Write16(seg, ea, c.Fpu.ControlWord);
    }

    /// <summary>The control-word bits that exist; bit 6 reads as 1 (Intel SDM Vol. 1, Figure 8-6: reserved).</summary>
    private const ushort ControlWordBits = 0x1F3F;
    private const ushort ControlWordOnes = 0x0040;

    private static void Fldcw(Cpu c, ref Instruction i) => Fldcw(c, Cpu.MemSeg(ref i), c.EffectiveAddress(ref i));

    /// <summary>FLDCW m2byte.</summary>
    public static void Fldcw(Cpu c, int seg, uint ea)
    {
        if (!X87.Begin(c)) return;
        ushort v = c.Read16(seg, ea);
        LoadControlWord(c, v);
    }

    private static void LoadControlWord(Cpu c, ushort v)
    {
        c.Fpu.ControlWord = (ushort)((v & ControlWordBits) | ControlWordOnes);
        X87.FollowErrorSummary(c);
    }

    // ---- environment and state images ----

    /// <summary>Whether the real-address-mode layouts apply (real mode and virtual-8086 mode).</summary>
    private static bool RealLayout(Cpu c) => !c.ProtectedMode || c.V86Mode;

    /// <summary>The size of the environment image: 28 bytes with a 32-bit operand size, 14 with 16.</summary>
    private static int EnvironmentSize(bool op32) => op32 ? 28 : 14;

    /// <summary>
    /// The memory image of FNSTENV, FLDENV, FNSAVE, FRSTOR, FXSAVE and FXRSTOR, accessed
    /// field by field as the processor does: each field's offset is computed in the
    /// instruction's address size (with 16-bit addressing it wraps at 64 KiB) and checked
    /// against the segment on its own. A store image is written twice: first probing every
    /// field (so a fault leaves memory and state untouched), then for real.
    /// </summary>
    private readonly struct StateImage
    {
        private readonly Cpu c;
        private readonly int seg;
        private readonly uint ea, mask;
        private readonly bool probe;

        public StateImage(Cpu c, ref Instruction i)
        {
            this.c = c;
            seg = Cpu.MemSeg(ref i);
            ea = c.EffectiveAddress(ref i);
            mask = Cpu.AddressSize16(ref i) ? 0xFFFFu : 0xFFFF_FFFFu;
            probe = false;
        }

        private StateImage(in StateImage o, bool probe)
        {
            c = o.c;
            seg = o.seg;
            ea = o.ea;
            mask = o.mask;
            this.probe = probe;
        }

        /// <summary>The same image in probing mode: the writes only check.</summary>
        public StateImage Probing => new(this, true);

        /// <summary>The linear address of the image's start (FXSAVE's alignment check).</summary>
        public uint Linear => c.Seg[seg].Base + ea;

        private uint At(int off) => (ea + (uint)off) & mask;

        public ushort R16(int off) => c.Read16(seg, At(off));
        public uint R32(int off) => c.Read32(seg, At(off));
        public ulong R64(int off) => X87.Read64(c, seg, At(off));

        public void W16(int off, uint v)
        {
            if (probe) X87.StoreAddress(c, seg, At(off), 2);
            else c.Write16(seg, At(off), (ushort)v);
        }

        public void W32(int off, uint v)
        {
            if (probe) X87.StoreAddress(c, seg, At(off), 4);
            else c.Write32(seg, At(off), v);
        }

        public void W64(int off, ulong v)
        {
            if (probe) X87.StoreAddress(c, seg, At(off), 8);
            else X87.Write64(c, X87.StoreAddress(c, seg, At(off), 8), v);
        }

        public Float80 R80(int off)
        {
            ulong sig = R64(off);
            return new Float80(R16(off + 8), sig);
        }

        public void W80(int off, Float80 v)
        {
            W64(off, v.Significand);
            W16(off + 8, v.SignExponent);
        }
    }

    /// <summary>Writes the environment (FNSTENV, FNSAVE).</summary>
    private static void StoreEnvironment(Cpu c, in StateImage m, bool op32)
    {
        FpuState f = c.Fpu;
        bool real = RealLayout(c);
        ushort tags = f.TagWord;
        if (op32)
        {
            // Reserved upper halves are stored as ones.
            m.W32(0, 0xFFFF_0000u | f.ControlWord);
            m.W32(4, 0xFFFF_0000u | f.Sw);
            m.W32(8, 0xFFFF_0000u | tags);
            if (real)
            {
                uint ip = ((uint)f.Fcs << 4) + f.Fip;
                uint dp = ((uint)f.Fds << 4) + f.Fdp;
                m.W32(12, 0xFFFF_0000u | (ip & 0xFFFF));
                m.W32(16, ((ip >> 16) << 12) | (uint)(f.Fop & 0x7FF));
                m.W32(20, 0xFFFF_0000u | (dp & 0xFFFF));
                m.W32(24, (dp >> 16) << 12);
            }
            else
            {
                m.W32(12, f.Fip);
                m.W32(16, f.Fcs | ((uint)(f.Fop & 0x7FF) << 16));
                m.W32(20, f.Fdp);
                m.W32(24, 0xFFFF_0000u | f.Fds);
            }
        }
        else
        {
            m.W16(0, f.ControlWord);
            m.W16(2, f.Sw);
            m.W16(4, tags);
            if (real)
            {
                uint ip = ((uint)f.Fcs << 4) + f.Fip;
                uint dp = ((uint)f.Fds << 4) + f.Fdp;
                m.W16(6, ip);
                m.W16(8, ((ip >> 16) << 12) | (uint)(f.Fop & 0x7FF));
                m.W16(10, dp);
                m.W16(12, (dp >> 16) << 12);
            }
            else
            {
                m.W16(6, f.Fip);
                m.W16(8, f.Fcs);
                m.W16(10, f.Fdp);
                m.W16(12, f.Fds);
            }
        }
    }

    /// <summary>An environment image read from memory, applied only once every byte has been read.</summary>
    private struct Environment
    {
        public ushort Cw, Sw, Tags, Fcs, Fds, Fop;
        public uint Fip, Fdp;
    }

    private static Environment ReadEnvironment(Cpu c, in StateImage m, bool op32)
    {
        bool real = RealLayout(c);
        Environment e = default;
        if (op32)
        {
            // The 32-bit layout is read a doubleword per field (a field that crosses the
            // segment limit faults even where only its low half is used).
            e.Cw = (ushort)m.R32(0);
            e.Sw = (ushort)m.R32(4);
            e.Tags = (ushort)m.R32(8);
            if (real)
            {
                uint w16 = m.R32(16);
                e.Fip = (m.R32(12) & 0xFFFF) | (((w16 >> 12) & 0xFFFF) << 16);
                e.Fop = (ushort)(w16 & 0x7FF);
                e.Fdp = (m.R32(20) & 0xFFFF) | (((m.R32(24) >> 12) & 0xFFFF) << 16);
            }
            else
            {
                e.Fip = m.R32(12);
                uint w16 = m.R32(16);
                e.Fcs = (ushort)w16;
                e.Fop = (ushort)((w16 >> 16) & 0x7FF);
                e.Fdp = m.R32(20);
                e.Fds = (ushort)m.R32(24);
            }
        }
        else
        {
            e.Cw = m.R16(0);
            e.Sw = m.R16(2);
            e.Tags = m.R16(4);
            if (real)
            {
                ushort w8 = m.R16(8);
                e.Fip = m.R16(6) | ((uint)(w8 >> 12) << 16);
                e.Fop = (ushort)(w8 & 0x7FF);
                e.Fdp = m.R16(10) | ((uint)(m.R16(12) >> 12) << 16);
            }
            else
            {
                e.Fip = m.R16(6);
                e.Fcs = m.R16(8);
                e.Fdp = m.R16(10);
                e.Fds = m.R16(12);
            }
        }
        return e;
    }

    private static void ApplyEnvironment(Cpu c, in Environment e)
    {
        FpuState f = c.Fpu;
        f.ControlWord = (ushort)((e.Cw & ControlWordBits) | ControlWordOnes);
        f.SetSw(e.Sw);
        f.SetTagWord(e.Tags);
        f.Fip = e.Fip;
        f.Fcs = e.Fcs;
        f.Fdp = e.Fdp;
        f.Fds = e.Fds;
        f.Fop = e.Fop;
        X87.FollowErrorSummary(c);
    }

    /// <summary>
    /// Loads a 108-byte FSAVE image in the 32-bit protected-mode layout, as FRSTOR does: for
    /// hosts and tests that set up an x87 state without running guest code.
    /// </summary>
    public static void Restore(Cpu c, ReadOnlySpan<byte> image)
    {
        Environment e = default;
        e.Cw = BinaryPrimitives.ReadUInt16LittleEndian(image);
        e.Sw = BinaryPrimitives.ReadUInt16LittleEndian(image[4..]);
        e.Tags = BinaryPrimitives.ReadUInt16LittleEndian(image[8..]);
        e.Fip = BinaryPrimitives.ReadUInt32LittleEndian(image[12..]);
        uint w16 = BinaryPrimitives.ReadUInt32LittleEndian(image[16..]);
        e.Fcs = (ushort)w16;
        e.Fop = (ushort)((w16 >> 16) & 0x7FF);
        e.Fdp = BinaryPrimitives.ReadUInt32LittleEndian(image[20..]);
        e.Fds = BinaryPrimitives.ReadUInt16LittleEndian(image[24..]);
        ApplyEnvironment(c, e);
        for (int r = 0; r < 8; r++)
        {
            ReadOnlySpan<byte> v = image.Slice(28 + 10 * r, 10);
            c.Fpu.St(r) = new Float80(BinaryPrimitives.ReadUInt16LittleEndian(v[8..]), BinaryPrimitives.ReadUInt64LittleEndian(v));
        }
    }

    private static void Fnstenv(Cpu c, ref Instruction i, bool op32)
    {
        X87.BeginNoWait(c);
        var m = new StateImage(c, ref i);
        StoreEnvironment(c, m.Probing, op32);
        StoreEnvironment(c, m, op32);
        // FNSTENV then masks every exception (Intel SDM Vol. 2, FSTENV), which clears ES.
        c.Fpu.ControlWord |= FpuControl.Masks;
        X87.FollowErrorSummary(c);
    }

    private static void Fnstenv14(Cpu c, ref Instruction i) => Fnstenv(c, ref i, false);
    private static void Fnstenv28(Cpu c, ref Instruction i) => Fnstenv(c, ref i, true);

    private static void Fldenv(Cpu c, ref Instruction i, bool op32)
    {
        if (!X87.Begin(c)) return;
        Environment e = ReadEnvironment(c, new StateImage(c, ref i), op32);
        ApplyEnvironment(c, e);
    }

    private static void Fldenv14(Cpu c, ref Instruction i) => Fldenv(c, ref i, false);
    private static void Fldenv28(Cpu c, ref Instruction i) => Fldenv(c, ref i, true);

    private static void Fnsave(Cpu c, ref Instruction i, bool op32)
    {
        X87.BeginNoWait(c);
        var m = new StateImage(c, ref i);
        SaveImage(c, m.Probing, op32);
        SaveImage(c, m, op32);
        // FNSAVE then initializes the FPU, as FNINIT does.
        c.Fpu.Init();
        X87.FollowErrorSummary(c);
    }

    private static void SaveImage(Cpu c, in StateImage m, bool op32)
    {
        StoreEnvironment(c, m, op32);
        int env = EnvironmentSize(op32);
        for (int r = 0; r < 8; r++) m.W80(env + 10 * r, c.Fpu.St(r));
    }

    private static void Fnsave94(Cpu c, ref Instruction i) => Fnsave(c, ref i, false);
    private static void Fnsave108(Cpu c, ref Instruction i) => Fnsave(c, ref i, true);

    private static void Frstor(Cpu c, ref Instruction i, bool op32)
    {
        if (!X87.Begin(c)) return;
        var m = new StateImage(c, ref i);
        Environment e = ReadEnvironment(c, m, op32);
        int env = EnvironmentSize(op32);
        FpuRegisterFile regs = default;
        for (int r = 0; r < 8; r++) regs[r] = m.R80(env + 10 * r);
        ApplyEnvironment(c, e);
        FpuState f = c.Fpu;
        for (int r = 0; r < 8; r++) f.St(r) = regs[r];
    }

    private static void Frstor94(Cpu c, ref Instruction i) => Frstor(c, ref i, false);
    private static void Frstor108(Cpu c, ref Instruction i) => Frstor(c, ref i, true);

    // ---- FXSAVE / FXRSTOR (Intel SDM Vol. 2, FXSAVE, Table 3-53) ----

    /// <summary>
    /// The x87 part of the 512-byte FXSAVE image (a misaligned image is #GP(0)). The SSE fields (MXCSR at 24, XMM registers from 160) are left as they
    /// are: this CPU has no SSE.
    /// </summary>
    private static void Fxsave(Cpu c, ref Instruction i)
    {
        X87.BeginNoWait(c);
        var m = new StateImage(c, ref i);
        if ((m.Linear & 15) != 0) throw GuestFault.Create(ExceptionVectors.GP, 0);
        FxImage(c, m.Probing);
        FxImage(c, m);
    }

    private static void FxImage(Cpu c, in StateImage m)
    {
        FpuState f = c.Fpu;
        m.W16(0, f.ControlWord);
        m.W16(2, f.Sw);
        m.W16(4, f.Valid);
        m.W16(6, f.Fop);
        m.W32(8, f.Fip);
        m.W32(12, f.Fcs);
        m.W32(16, f.Fdp);
        m.W32(20, f.Fds);
        for (int r = 0; r < 8; r++)
        {
            int at = 32 + 16 * r;
            m.W80(at, f.St(r));
            m.W16(at + 10, 0);
            m.W32(at + 12, 0);
        }
    }

    private static void Fxrstor(Cpu c, ref Instruction i)
    {
        X87.BeginNoWait(c);
        var m = new StateImage(c, ref i);
        if ((m.Linear & 15) != 0) throw GuestFault.Create(ExceptionVectors.GP, 0);
        ushort cw = m.R16(0), sw = m.R16(2);
        byte tags = (byte)m.R16(4);
        ushort fop = m.R16(6);
        uint fip = m.R32(8), fdp = m.R32(16);
        ushort fcs = m.R16(12), fds = m.R16(20);
        FpuRegisterFile regs = default;
        for (int r = 0; r < 8; r++) regs[r] = m.R80(32 + 16 * r);
        FpuState f = c.Fpu;
        f.ControlWord = (ushort)((cw & ControlWordBits) | ControlWordOnes);
        f.SetSw(sw);
        f.Valid = tags;
        f.Fop = (ushort)(fop & 0x7FF);
        f.Fip = fip;
        f.Fcs = fcs;
        f.Fdp = fdp;
        f.Fds = fds;
        for (int r = 0; r < 8; r++) f.St(r) = regs[r];
        X87.FollowErrorSummary(c);
    }

    // ---- stack and no-operation instructions ----

    /// <summary>FFREE: tags ST(i) empty. C1 is cleared (the SDM leaves C0-C3 undefined; that is what the host does).</summary>
    private static void Ffree(Cpu c, ref Instruction i)
    {
        int s = X87.StIndex(i.Op0Register);
        Ffree(c, s, (ushort)(X87.FopOf(i.Code) | s));
    }

    public static void Ffree(Cpu c, int s, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        c.Fpu.SetEmpty(s);
        c.Fpu.StatusWord &= unchecked((ushort)~FpuStatus.C1);
    }

    /// <summary>FFREEP (DF C0+i): FFREE then pop; undocumented by Intel but present since the 287.</summary>
    private static void Ffreep(Cpu c, ref Instruction i)
    {
        int s = X87.StIndex(i.Op0Register);
        Ffreep(c, s, (ushort)(X87.FopOf(i.Code) | s));
    }

    public static void Ffreep(Cpu c, int s, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        c.Fpu.SetEmpty(s);
        c.Fpu.Pop();
        c.Fpu.StatusWord &= unchecked((ushort)~FpuStatus.C1);
    }

    private static void Fincstp(Cpu c, ref Instruction i) => Fincstp(c, X87.FopOf(i.Code));

    public static void Fincstp(Cpu c, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        FpuState f = c.Fpu;
        f.Top = (f.Top + 1) & 7;
        f.StatusWord &= unchecked((ushort)~FpuStatus.C1);
    }

    private static void Fdecstp(Cpu c, ref Instruction i) => Fdecstp(c, X87.FopOf(i.Code));

    public static void Fdecstp(Cpu c, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
        FpuState f = c.Fpu;
        f.Top = (f.Top - 1) & 7;
        f.StatusWord &= unchecked((ushort)~FpuStatus.C1);
    }

    private static void Fnop(Cpu c, ref Instruction i) => Fnop(c, X87.FopOf(i.Code));

    public static void Fnop(Cpu c, ushort fop)
    {
        if (!X87.Begin(c)) return;
        X87.Pointers(c, fop);
    }

    /// <summary>FNENI, FNDISI, FNSETPM: 8087 and 287 instructions the 387 and later execute as no-ops.</summary>
    private static void Obsolete(Cpu c, ref Instruction i) => X87.BeginNoWait(c);

    /// <summary>WAIT/FWAIT: #NM when CR0.MP and CR0.TS are both set; then any pending unmasked x87 exception.</summary>
    private static void Wait(Cpu c, ref Instruction i) => Wait(c);

    public static void Wait(Cpu c)
    {
        if ((c.Cr0 & (Cr0Bits.MP | Cr0Bits.TS)) == (Cr0Bits.MP | Cr0Bits.TS)) throw GuestFault.Create(ExceptionVectors.NM);
        if (c.Fpu.ErrorSummary) X87.PendingError(c);
    }

    internal static void Register()
    {
        X87.Add(Code.Fninit, &Fninit);
        X87.Add(Code.Fnclex, &Fnclex);
        X87.Add(Code.Fnstsw_AX, &FnstswAx);
        X87.Add(Code.Fnstsw_m2byte, &FnstswM16);
        X87.Add(Code.Fnstcw_m2byte, &FnstcwM16);
        X87.Add(Code.Fldcw_m2byte, &Fldcw);
        X87.Add(Code.Fnstenv_m14byte, &Fnstenv14);
        X87.Add(Code.Fnstenv_m28byte, &Fnstenv28);
        X87.Add(Code.Fldenv_m14byte, &Fldenv14);
        X87.Add(Code.Fldenv_m28byte, &Fldenv28);
        X87.Add(Code.Fnsave_m94byte, &Fnsave94);
        X87.Add(Code.Fnsave_m108byte, &Fnsave108);
        X87.Add(Code.Frstor_m94byte, &Frstor94);
        X87.Add(Code.Frstor_m108byte, &Frstor108);
        X87.Add(Code.Fxsave_m512byte, &Fxsave);
        X87.Add(Code.Fxrstor_m512byte, &Fxrstor);
        X87.Add(Code.Ffree_sti, &Ffree);
        X87.Add(Code.Ffreep_sti, &Ffreep);
        X87.Add(Code.Fincstp, &Fincstp);
        X87.Add(Code.Fdecstp, &Fdecstp);
        X87.Add(Code.Fnop, &Fnop);
        X87.Add(Code.Fneni, &Obsolete);
        X87.Add(Code.Fndisi, &Obsolete);
        X87.Add(Code.Fnsetpm, &Obsolete);
        InstructionTable.Add(Code.Wait, &Wait);
    }
}
