using System.Runtime.CompilerServices;
using Iced.Intel;
using static Emu.X86.OperandSize;

namespace Emu.X86;

/// <summary>
/// String instructions: MOVS, CMPS, SCAS, LODS, STOS, INS, OUTS, with REP/REPE/REPNE.
/// The source is seg:(E)SI (DS unless overridden), the destination ES:(E)DI; the address
/// size picks ESI/EDI/ECX or SI/DI/CX. Registers advance after every element, so a fault in
/// the middle of a repeated instruction leaves the completed elements counted and EIP on the
/// instruction, which restarts where it stopped (Intel SDM Vol. 2, REP).
/// </summary>
public static unsafe class Strings
{
    /// <summary>Elements one execution of a repeated instruction moves before it yields (it then restarts).</summary>
    public const int RepChunk = 16384;

    /// <summary>Repeat prefix: none, REP/REPE (F3), REPNE (F2).</summary>
    public const int NoRep = 0, RepE = 1, RepNE = 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Index(Cpu c, int r, bool a32) => a32 ? c.Gpr[r] : c.Gpr[r] & 0xFFFF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Advance(Cpu c, int r, bool a32, int delta)
    {
        if (a32) c.Gpr[r] += (uint)delta;
        else c.Gpr[r] = (c.Gpr[r] & 0xFFFF_0000u) | ((c.Gpr[r] + (uint)delta) & 0xFFFF);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Count(Cpu c, bool a32) => a32 ? c.Gpr[Reg.ECX] : c.Gpr[Reg.ECX] & 0xFFFF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetCount(Cpu c, bool a32, uint n)
    {
        if (a32) c.Gpr[Reg.ECX] = n;
        else c.Gpr[Reg.ECX] = (c.Gpr[Reg.ECX] & 0xFFFF_0000u) | (n & 0xFFFF);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Delta(Cpu c, int size) => (c.Eflags & Flags.DF) != 0 ? -Bytes(size) : Bytes(size);

    /// <summary>Yields in the middle of a long repeat: EIP stays on the instruction, which runs again.</summary>
    private static void Yield(Cpu c) => c.BlockExit = BlockExitKind.EipSet;

    public static void Movs(Cpu c, int size, int srcSeg, bool a32, int rep)
    {
        int delta = Delta(c, size);
        if (rep == NoRep)
        {
            uint v = c.ReadMem(srcSeg, Index(c, Reg.ESI, a32), size);
            c.WriteMem(SegReg.ES, Index(c, Reg.EDI, a32), size, v);
            Advance(c, Reg.ESI, a32, delta);
            Advance(c, Reg.EDI, a32, delta);
            return;
        }
        uint n = Count(c, a32);
        for (int done = 0; n != 0; done++)
        {
            if (done == c.RepLimit) { Yield(c); return; }
            uint v = c.ReadMem(srcSeg, Index(c, Reg.ESI, a32), size);
            c.WriteMem(SegReg.ES, Index(c, Reg.EDI, a32), size, v);
            Advance(c, Reg.ESI, a32, delta);
            Advance(c, Reg.EDI, a32, delta);
            SetCount(c, a32, --n);
        }
    }

    public static void Stos(Cpu c, int size, bool a32, int rep)
    {
        int delta = Delta(c, size);
        uint v = c.GetReg(Reg.EAX, size);
        if (rep == NoRep)
        {
            c.WriteMem(SegReg.ES, Index(c, Reg.EDI, a32), size, v);
            Advance(c, Reg.EDI, a32, delta);
            return;
        }
        uint n = Count(c, a32);
        for (int done = 0; n != 0; done++)
        {
            if (done == c.RepLimit) { Yield(c); return; }
            c.WriteMem(SegReg.ES, Index(c, Reg.EDI, a32), size, v);
            Advance(c, Reg.EDI, a32, delta);
            SetCount(c, a32, --n);
        }
    }

    public static void Lods(Cpu c, int size, int srcSeg, bool a32, int rep)
    {
        int delta = Delta(c, size);
        if (rep == NoRep)
        {
            uint v = c.ReadMem(srcSeg, Index(c, Reg.ESI, a32), size);
            c.SetReg(Reg.EAX, size, v);
            Advance(c, Reg.ESI, a32, delta);
            return;
        }
        uint n = Count(c, a32);
        for (int done = 0; n != 0; done++)
        {
            if (done == c.RepLimit) { Yield(c); return; }
            uint v = c.ReadMem(srcSeg, Index(c, Reg.ESI, a32), size);
            c.SetReg(Reg.EAX, size, v);
            Advance(c, Reg.ESI, a32, delta);
            SetCount(c, a32, --n);
        }
    }

    /// <summary>
    /// CMPS: flags of [src:(E)SI] - [ES:(E)DI]; REPE stops on a mismatch, REPNE on a match.
    /// ES:(E)DI is read first: when both operands fault, a real CPU reports the destination's.
    /// </summary>
    public static void Cmps(Cpu c, int size, int srcSeg, bool a32, int rep)
    {
        int delta = Delta(c, size);
        uint n = rep == NoRep ? 1 : Count(c, a32);
        for (int done = 0; n != 0; done++)
        {
            if (done == c.RepLimit) { Yield(c); return; }
            uint b = c.ReadMem(SegReg.ES, Index(c, Reg.EDI, a32), size);
            uint a = c.ReadMem(srcSeg, Index(c, Reg.ESI, a32), size);
            Arithmetic.Sub(c, a, b, size);
            Advance(c, Reg.ESI, a32, delta);
            Advance(c, Reg.EDI, a32, delta);
            if (rep == NoRep) return;
            SetCount(c, a32, --n);
            if ((a == b) != (rep == RepE)) return;
        }
    }

    /// <summary>SCAS: flags of accumulator - [ES:(E)DI]; REPE stops on a mismatch, REPNE on a match.</summary>
    public static void Scas(Cpu c, int size, bool a32, int rep)
    {
        int delta = Delta(c, size);
        uint a = c.GetReg(Reg.EAX, size);
        uint n = rep == NoRep ? 1 : Count(c, a32);
        for (int done = 0; n != 0; done++)
        {
            if (done == c.RepLimit) { Yield(c); return; }
            uint b = c.ReadMem(SegReg.ES, Index(c, Reg.EDI, a32), size);
            Arithmetic.Sub(c, a, b, size);
            Advance(c, Reg.EDI, a32, delta);
            if (rep == NoRep) return;
            SetCount(c, a32, --n);
            if ((a == b) != (rep == RepE)) return;
        }
    }

    /// <summary>INS: port DX into ES:(E)DI. The destination is checked before the port is read.</summary>
    public static void Ins(Cpu c, int size, bool a32, int rep)
    {
        ushort port = (ushort)c.Gpr[Reg.EDX];
        SystemOps.CheckIoPermission(c, port, Bytes(size));
        int delta = Delta(c, size);
        uint n = rep == NoRep ? 1 : Count(c, a32);
        for (int done = 0; n != 0; done++)
        {
            if (done == c.RepLimit) { Yield(c); return; }
            uint lin = c.LinearWrite(SegReg.ES, Index(c, Reg.EDI, a32), Bytes(size));
            c.Mmu.ProbeWrite(lin, Bytes(size));
            c.WriteLinear(lin, size, c.Io.In(port, Bytes(size)));
            Advance(c, Reg.EDI, a32, delta);
            if (rep == NoRep) return;
            SetCount(c, a32, --n);
        }
    }

    /// <summary>OUTS: [src:(E)SI] to port DX.</summary>
    public static void Outs(Cpu c, int size, int srcSeg, bool a32, int rep)
    {
        ushort port = (ushort)c.Gpr[Reg.EDX];
        SystemOps.CheckIoPermission(c, port, Bytes(size));
        int delta = Delta(c, size);
        uint n = rep == NoRep ? 1 : Count(c, a32);
        for (int done = 0; n != 0; done++)
        {
            if (done == c.RepLimit) { Yield(c); return; }
            uint v = c.ReadMem(srcSeg, Index(c, Reg.ESI, a32), size);
            c.Io.Out(port, Bytes(size), v);
            Advance(c, Reg.ESI, a32, delta);
            if (rep == NoRep) return;
            SetCount(c, a32, --n);
        }
    }

    // ---- decoding the instruction's form ----

    /// <summary>The repeat prefix: <see cref="NoRep"/>, <see cref="RepE"/> or <see cref="RepNE"/>.</summary>
    public static int RepOf(ref Instruction i) => i.HasRepePrefix ? RepE : i.HasRepnePrefix ? RepNE : NoRep;

    /// <summary>Whether the string instruction uses 32-bit addressing (ESI/EDI/ECX).</summary>
    public static bool A32(ref Instruction i)
    {
        for (int n = 0; n < i.OpCount; n++)
        {
            switch (i.GetOpKind(n))
            {
                case OpKind.MemorySegSI:
                case OpKind.MemoryESDI:
                case OpKind.MemorySegDI:
                    return false;
                case OpKind.MemorySegESI:
                case OpKind.MemoryESEDI:
                case OpKind.MemorySegEDI:
                    return true;
            }
        }
        return true;
    }

    /// <summary>The source segment (DS unless overridden); the destination is always ES.</summary>
    public static int SourceSeg(ref Instruction i) => Cpu.RegNum(i.MemorySegment);

    private static void MovsH<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        Movs(c, TSize.Size, SourceSeg(ref i), A32(ref i), RepOf(ref i));

    private static void StosH<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        Stos(c, TSize.Size, A32(ref i), RepOf(ref i));

    private static void LodsH<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        Lods(c, TSize.Size, SourceSeg(ref i), A32(ref i), RepOf(ref i));

    private static void CmpsH<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        Cmps(c, TSize.Size, SourceSeg(ref i), A32(ref i), RepOf(ref i));

    private static void ScasH<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        Scas(c, TSize.Size, A32(ref i), RepOf(ref i));

    private static void InsH<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        Ins(c, TSize.Size, A32(ref i), RepOf(ref i));

    private static void OutsH<TSize>(Cpu c, ref Instruction i) where TSize : struct, IOperandSize =>
        Outs(c, TSize.Size, SourceSeg(ref i), A32(ref i), RepOf(ref i));

    internal static void Register()
    {
        InstructionTable.Add(Code.Movsb_m8_m8, &MovsH<Byte8>);
        InstructionTable.Add(Code.Movsw_m16_m16, &MovsH<Word16>);
        InstructionTable.Add(Code.Movsd_m32_m32, &MovsH<Dword32>);
        InstructionTable.Add(Code.Stosb_m8_AL, &StosH<Byte8>);
        InstructionTable.Add(Code.Stosw_m16_AX, &StosH<Word16>);
        InstructionTable.Add(Code.Stosd_m32_EAX, &StosH<Dword32>);
        InstructionTable.Add(Code.Lodsb_AL_m8, &LodsH<Byte8>);
        InstructionTable.Add(Code.Lodsw_AX_m16, &LodsH<Word16>);
        InstructionTable.Add(Code.Lodsd_EAX_m32, &LodsH<Dword32>);
        InstructionTable.Add(Code.Cmpsb_m8_m8, &CmpsH<Byte8>);
        InstructionTable.Add(Code.Cmpsw_m16_m16, &CmpsH<Word16>);
        InstructionTable.Add(Code.Cmpsd_m32_m32, &CmpsH<Dword32>);
        InstructionTable.Add(Code.Scasb_AL_m8, &ScasH<Byte8>);
        InstructionTable.Add(Code.Scasw_AX_m16, &ScasH<Word16>);
        InstructionTable.Add(Code.Scasd_EAX_m32, &ScasH<Dword32>);
        InstructionTable.AddSensitive(Code.Insb_m8_DX, &InsH<Byte8>);
        InstructionTable.AddSensitive(Code.Insw_m16_DX, &InsH<Word16>);
        InstructionTable.AddSensitive(Code.Insd_m32_DX, &InsH<Dword32>);
        InstructionTable.AddSensitive(Code.Outsb_DX_m8, &OutsH<Byte8>);
        InstructionTable.AddSensitive(Code.Outsw_DX_m16, &OutsH<Word16>);
        InstructionTable.AddSensitive(Code.Outsd_DX_m32, &OutsH<Dword32>);
    }
}
