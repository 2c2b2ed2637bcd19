using System;
using System.Runtime.CompilerServices;
using Emu.Memory;
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
    private static int Delta(Cpu c, int size) => Step(c.Eflags, size);

    /// <summary>How far (E)SI and (E)DI move per element: the element's size, down when EFLAGS.DF is set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Step(uint eflags, int size) => (eflags & Flags.DF) != 0 ? -Bytes(size) : Bytes(size);

    /// <summary>Yields in the middle of a long repeat: EIP stays on the instruction, which runs again.</summary>
    private static void Yield(Cpu c) => c.BlockExit = BlockExitKind.EipSet;

    public static void Movs(Cpu c, int size, int srcSeg, bool a32, int rep)
    {
        int delta = Delta(c, size);
        if (rep == NoRep)
        {
            MovsOne(c, size, srcSeg, a32, delta);
            return;
        }
        var op = new MovsOp { C = c, Size = size, SrcSeg = srcSeg, A32 = a32, Delta = delta };
        Repeat(c, a32, ref op);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MovsOne(Cpu c, int size, int srcSeg, bool a32, int delta)
    {
        uint v = c.ReadMem(srcSeg, Index(c, Reg.ESI, a32), size);
        c.WriteMem(SegReg.ES, Index(c, Reg.EDI, a32), size, v);
        Advance(c, Reg.ESI, a32, delta);
        Advance(c, Reg.EDI, a32, delta);
    }

    public static void Stos(Cpu c, int size, bool a32, int rep)
    {
        int delta = Delta(c, size);
        uint v = c.GetReg(Reg.EAX, size);
        if (rep == NoRep)
        {
            StosOne(c, size, a32, delta, v);
            return;
        }
        var op = new StosOp { C = c, Size = size, A32 = a32, Delta = delta, Value = v };
        Repeat(c, a32, ref op);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StosOne(Cpu c, int size, bool a32, int delta, uint v)
    {
        c.WriteMem(SegReg.ES, Index(c, Reg.EDI, a32), size, v);
        Advance(c, Reg.EDI, a32, delta);
    }

    public static void Lods(Cpu c, int size, int srcSeg, bool a32, int rep)
    {
        int delta = Delta(c, size);
        if (rep == NoRep)
        {
            LodsOne(c, size, srcSeg, a32, delta);
            return;
        }
        var op = new LodsOp { C = c, Size = size, SrcSeg = srcSeg, A32 = a32, Delta = delta };
        Repeat(c, a32, ref op);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LodsOne(Cpu c, int size, int srcSeg, bool a32, int delta)
    {
        uint v = c.ReadMem(srcSeg, Index(c, Reg.ESI, a32), size);
        c.SetReg(Reg.EAX, size, v);
        Advance(c, Reg.ESI, a32, delta);
    }

    /// <summary>
    /// CMPS: flags of [src:(E)SI] - [ES:(E)DI]; REPE stops on a mismatch, REPNE on a match.
    /// ES:(E)DI is read first: when both operands fault, a real CPU reports the destination's.
    /// </summary>
    public static void Cmps(Cpu c, int size, int srcSeg, bool a32, int rep)
    {
        int delta = Delta(c, size);
        if (rep == NoRep)
        {
            CmpsOne(c, size, srcSeg, a32, delta);
            return;
        }
        var op = new CmpsOp { C = c, Size = size, SrcSeg = srcSeg, A32 = a32, Delta = delta, RepE = rep == RepE };
        Repeat(c, a32, ref op);
    }

    /// <summary>One CMPS element; whether its operands were equal.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool CmpsOne(Cpu c, int size, int srcSeg, bool a32, int delta)
    {
        uint b = c.ReadMem(SegReg.ES, Index(c, Reg.EDI, a32), size);
        uint a = c.ReadMem(srcSeg, Index(c, Reg.ESI, a32), size);
        Arithmetic.Sub(c, a, b, size);
        Advance(c, Reg.ESI, a32, delta);
        Advance(c, Reg.EDI, a32, delta);
        return a == b;
    }

    /// <summary>SCAS: flags of accumulator - [ES:(E)DI]; REPE stops on a mismatch, REPNE on a match.</summary>
    public static void Scas(Cpu c, int size, bool a32, int rep)
    {
        int delta = Delta(c, size);
        uint a = c.GetReg(Reg.EAX, size);
        if (rep == NoRep)
        {
            ScasOne(c, size, a32, delta, a);
            return;
        }
        var op = new ScasOp { C = c, Size = size, A32 = a32, Delta = delta, Accumulator = a, RepE = rep == RepE };
        Repeat(c, a32, ref op);
    }

    /// <summary>One SCAS element; whether it equalled the accumulator.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool ScasOne(Cpu c, int size, bool a32, int delta, uint a)
    {
        uint b = c.ReadMem(SegReg.ES, Index(c, Reg.EDI, a32), size);
        Arithmetic.Sub(c, a, b, size);
        Advance(c, Reg.EDI, a32, delta);
        return a == b;
    }

    // ---- the repeat loop, one for every string instruction with runs ----

    /// <summary>One repeated string instruction's elements: as a run (see below), or one at a time.</summary>
    private interface IRepeated
    {
        /// <summary>
        /// Up to <paramref name="max"/> elements as one run; how many were done (0: none, then
        /// <paramref name="slow"/> elements go one by one). <paramref name="stopped"/>: the last
        /// of them ended the repeat (REPE/REPNE).
        /// </summary>
        uint Run(uint max, out uint slow, out bool stopped);

        /// <summary>One element; false when it ends the repeat (REPE/REPNE).</summary>
        bool One();
    }

    /// <summary>
    /// The repeat: runs while they can be formed, single elements where they cannot, ECX (CX)
    /// counting down after each, and a yield after <see cref="Cpu.RepLimit"/> elements.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Repeat<T>(Cpu c, bool a32, ref T op) where T : struct, IRepeated
    {
        uint n = Count(c, a32), slow = 0;
        for (int done = 0; n != 0;)
        {
            if (done == c.RepLimit) { Yield(c); return; }
            if (slow == 0)
            {
                uint max = Math.Min(n, (uint)(c.RepLimit - done));
                bool stopped = false;
                uint k = max > 1 ? op.Run(max, out slow, out stopped) : 0;
                if (k != 0)
                {
                    slow = 0; // the next elements may form a run again
                    n -= k;
                    done += (int)k;
                    SetCount(c, a32, n);
                    if (stopped) return;
                    continue;
                }
                if (slow == 0) slow = 1;
            }
            bool more = op.One();
            SetCount(c, a32, --n);
            if (!more) return;
            done++;
            slow--;
        }
    }

    private struct MovsOp : IRepeated
    {
        public Cpu C;
        public int Size, SrcSeg, Delta;
        public bool A32;

        public uint Run(uint max, out uint slow, out bool stopped)
        {
            stopped = false;
            return MovsRun(C, Size, SrcSeg, A32, Delta, max, out slow);
        }

        public bool One()
        {
            MovsOne(C, Size, SrcSeg, A32, Delta);
            return true;
        }
    }

    private struct StosOp : IRepeated
    {
        public Cpu C;
        public int Size, Delta;
        public bool A32;
        public uint Value;

        public uint Run(uint max, out uint slow, out bool stopped)
        {
            stopped = false;
            return StosRun(C, Size, A32, Delta, Value, max, out slow);
        }

        public bool One()
        {
            StosOne(C, Size, A32, Delta, Value);
            return true;
        }
    }

    private struct LodsOp : IRepeated
    {
        public Cpu C;
        public int Size, SrcSeg, Delta;
        public bool A32;

        public uint Run(uint max, out uint slow, out bool stopped)
        {
            stopped = false;
            return LodsRun(C, Size, SrcSeg, A32, Delta, max, out slow);
        }

        public bool One()
        {
            LodsOne(C, Size, SrcSeg, A32, Delta);
            return true;
        }
    }

    private struct CmpsOp : IRepeated
    {
        public Cpu C;
        public int Size, SrcSeg, Delta;
        public bool A32, RepE;

        public uint Run(uint max, out uint slow, out bool stopped) =>
            CmpsRun(C, Size, SrcSeg, A32, Delta, !RepE, max, out slow, out stopped);

        public bool One() => CmpsOne(C, Size, SrcSeg, A32, Delta) == RepE;
    }

    private struct ScasOp : IRepeated
    {
        public Cpu C;
        public int Size, Delta;
        public bool A32, RepE;
        public uint Accumulator;

        public uint Run(uint max, out uint slow, out bool stopped) =>
            ScasRun(C, Size, A32, Delta, Accumulator, !RepE, max, out slow, out stopped);

        public bool One() => ScasOne(C, Size, A32, Delta, Accumulator) == RepE;
    }

    // ---- runs: the elements of a repeated instruction that lie in one page, at once ----
    //
    // A run is the longest stretch of elements, from the next one on, that the element loop would
    // complete without a fault, a page crossing or a slow page: every element inside the segment
    // limits and the address size (no wrap), and inside the linear page of the first. Each page is
    // translated once, as the first element's access would translate it (the same order of
    // accesses, so the same #PF, CR2 and accessed/dirty bits), and the run then works on the host
    // memory directly. Anything else (the first element faulting or crossing a page, MMIO, ROM
    // writes, pages holding decoded code, data breakpoints, alignment checks, lockstep's tracked
    // writes) is left to the element loop, which is the reference: for the elements inside the
    // pages it refused (<c>slow</c>), after which a run is tried again.

    /// <summary>
    /// How many elements from seg:offset on (the first one included, going down when
    /// <paramref name="down"/>) lie inside the segment's limits, inside the address size, and
    /// inside the linear page of the first; 0 when the first does not. <paramref name="linear"/>
    /// is the first element's linear address.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Room(Cpu c, int seg, uint offset, int size, bool write, bool down, bool a32, out uint linear)
    {
        ref SegmentCache s = ref c.Seg[seg];
        linear = 0;
        if (!(write ? s.Writable : s.Readable)) return 0;
        uint low = s.ValidLow;
        uint high = a32 ? s.ValidHigh : Math.Min(s.ValidHigh, 0xFFFFu);
        uint last = (uint)Bytes(size) - 1;
        if (offset < low || offset > high || high - offset < last) return 0;
        linear = s.Base + offset;
        uint inPage = linear & PhysicalMemory.PageMask;
        if (inPage + last > PhysicalMemory.PageMask) return 0; // the first element crosses into the next page
        if (!down) return Math.Min((uint)(((ulong)high - offset + 1) >> size), (PhysicalMemory.PageSize - inPage) >> size);
        return Math.Min((offset - low) >> size, inPage >> size) + 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Load(byte* p, int size) =>
        size == 2 ? Unsafe.ReadUnaligned<uint>(p) : size == 1 ? Unsafe.ReadUnaligned<ushort>(p) : *p;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(byte* p, int size, uint v)
    {
        if (size == 2) Unsafe.WriteUnaligned(p, v);
        else if (size == 1) Unsafe.WriteUnaligned(p, (ushort)v);
        else *p = (byte)v;
    }

    /// <summary>The host address of element <paramref name="i"/> of a run starting at <paramref name="p"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte* At(byte* p, uint i, int size, bool down) => down ? p - ((nint)i << size) : p + ((nint)i << size);

    /// <summary>Up to <paramref name="max"/> MOVS elements as one run; 0 when none (then <paramref name="slow"/> elements go one by one).</summary>
    private static uint MovsRun(Cpu c, int size, int srcSeg, bool a32, int delta, uint max, out uint slow)
    {
        bool down = delta < 0;
        slow = 1;
        uint k = Math.Min(max, Room(c, srcSeg, Index(c, Reg.ESI, a32), size, write: false, down, a32, out uint srcLinear));
        if (k == 0) return 0;
        k = Math.Min(k, Room(c, SegReg.ES, Index(c, Reg.EDI, a32), size, write: true, down, a32, out uint dstLinear));
        if (k == 0) return 0;
        slow = k;
        // Each element reads its source before it writes: translate in that order.
        byte* s = c.Mmu.ReadRunPointer(srcLinear);
        if (s == null) return 0;
        byte* d = c.Mmu.WriteRunPointer(dstLinear);
        if (d == null) return 0;
        Copy(s, d, k, size, down);
        Advance(c, Reg.ESI, a32, (int)k * delta);
        Advance(c, Reg.EDI, a32, (int)k * delta);
        return k;
    }

    /// <summary>
    /// Copies <paramref name="k"/> elements as MOVS does, one after another. When no element
    /// reads a byte an earlier one wrote (the host ranges, which may alias through paging, do
    /// not overlap that way), that is a plain block move; otherwise (the destination just after
    /// the source in the direction of the copy) the elements are copied in order, which repeats
    /// the pattern the first ones wrote, as the element loop does.
    /// </summary>
    private static void Copy(byte* s, byte* d, uint k, int size, bool down)
    {
        nint bytes = (nint)k << size;
        nint gap = (nint)(down ? s - d : d - s);
        if (gap <= 0 || gap >= bytes)
        {
            nint back = down ? bytes - (1 << size) : 0;
            Buffer.MemoryCopy(s - back, d - back, bytes, bytes);
            return;
        }
        for (uint i = 0; i < k; i++) Store(At(d, i, size, down), size, Load(At(s, i, size, down), size));
    }

    private static uint StosRun(Cpu c, int size, bool a32, int delta, uint v, uint max, out uint slow)
    {
        bool down = delta < 0;
        slow = 1;
        uint k = Math.Min(max, Room(c, SegReg.ES, Index(c, Reg.EDI, a32), size, write: true, down, a32, out uint linear));
        if (k == 0) return 0;
        slow = k;
        byte* d = c.Mmu.WriteRunPointer(linear);
        if (d == null) return 0;
        if (down) d -= (nint)(k - 1) << size; // the lowest element: every element holds the same value
        if (size == 0) new Span<byte>(d, (int)k).Fill((byte)v);
        else if (size == 1 && ((nint)d & 1) == 0) new Span<ushort>(d, (int)k).Fill((ushort)v);
        else if (size == 2 && ((nint)d & 3) == 0) new Span<uint>(d, (int)k).Fill(v);
        else for (uint i = 0; i < k; i++) Store(d + ((nint)i << size), size, v);
        Advance(c, Reg.EDI, a32, (int)k * delta);
        return k;
    }

    private static uint LodsRun(Cpu c, int size, int srcSeg, bool a32, int delta, uint max, out uint slow)
    {
        bool down = delta < 0;
        slow = 1;
        uint k = Math.Min(max, Room(c, srcSeg, Index(c, Reg.ESI, a32), size, write: false, down, a32, out uint linear));
        if (k == 0) return 0;
        slow = k;
        byte* s = c.Mmu.ReadRunPointer(linear);
        if (s == null) return 0;
        c.SetReg(Reg.EAX, size, Load(At(s, k - 1, size, down), size)); // only the last load is seen
        Advance(c, Reg.ESI, a32, (int)k * delta);
        return k;
    }

    /// <summary>
    /// Up to <paramref name="max"/> SCAS elements as one run, to the first that ends the repeat
    /// (equal for REPNE, different for REPE) included; <paramref name="stopped"/> when one did.
    /// </summary>
    private static uint ScasRun(Cpu c, int size, bool a32, int delta, uint a, bool stopOnEqual, uint max, out uint slow, out bool stopped)
    {
        bool down = delta < 0;
        slow = 1;
        stopped = false;
        uint k = Math.Min(max, Room(c, SegReg.ES, Index(c, Reg.EDI, a32), size, write: false, down, a32, out uint linear));
        if (k == 0) return 0;
        slow = k;
        byte* d = c.Mmu.ReadRunPointer(linear);
        if (d == null) return 0;
        int m = FindStop(d, k, size, down, a, stopOnEqual);
        stopped = m >= 0;
        uint done = stopped ? (uint)m + 1 : k;
        Arithmetic.Sub(c, a, Load(At(d, done - 1, size, down), size), size); // the flags of the last comparison
        Advance(c, Reg.EDI, a32, (int)done * delta);
        return done;
    }

    /// <summary>The first element (in the order of the run) that is equal to / different from <paramref name="a"/>, or -1.</summary>
    private static int FindStop(byte* p, uint k, int size, bool down, uint a, bool stopOnEqual)
    {
        byte* low = down ? p - ((nint)(k - 1) << size) : p;
        int i;
        if (size == 0) i = Find(low, (int)k, (byte)a, down, stopOnEqual);
        else if (size == 1 && ((nint)low & 1) == 0) i = Find((ushort*)low, (int)k, (ushort)a, down, stopOnEqual);
        else if (size == 2 && ((nint)low & 3) == 0) i = Find((uint*)low, (int)k, a, down, stopOnEqual);
        else
        {
            for (uint j = 0; j < k; j++)
                if ((Load(At(p, j, size, down), size) == a) == stopOnEqual) return (int)j;
            return -1;
        }
        return i < 0 ? -1 : down ? (int)k - 1 - i : i;
    }

    /// <summary>The index in memory of the first (last when <paramref name="down"/>) element equal to / different from <paramref name="a"/>, or -1.</summary>
    private static int Find<T>(T* p, int k, T a, bool down, bool stopOnEqual) where T : unmanaged, IEquatable<T>
    {
        var span = new ReadOnlySpan<T>(p, k);
        if (stopOnEqual) return down ? span.LastIndexOf(a) : span.IndexOf(a);
        return down ? span.LastIndexOfAnyExcept(a) : span.IndexOfAnyExcept(a);
    }

    /// <summary>Up to <paramref name="max"/> CMPS elements as one run, to the first that ends the repeat included.</summary>
    private static uint CmpsRun(Cpu c, int size, int srcSeg, bool a32, int delta, bool stopOnEqual, uint max, out uint slow, out bool stopped)
    {
        bool down = delta < 0;
        slow = 1;
        stopped = false;
        uint k = Math.Min(max, Room(c, SegReg.ES, Index(c, Reg.EDI, a32), size, write: false, down, a32, out uint dstLinear));
        if (k == 0) return 0;
        k = Math.Min(k, Room(c, srcSeg, Index(c, Reg.ESI, a32), size, write: false, down, a32, out uint srcLinear));
        if (k == 0) return 0;
        slow = k;
        // ES:(E)DI is read first in each element: translate in that order.
        byte* d = c.Mmu.ReadRunPointer(dstLinear);
        if (d == null) return 0;
        byte* s = c.Mmu.ReadRunPointer(srcLinear);
        if (s == null) return 0;
        int m;
        if (!stopOnEqual && !down)
        {
            // REPE forward (memcmp): the first differing byte is in the first differing element.
            int bytes = (int)k << size;
            int same = new ReadOnlySpan<byte>(s, bytes).CommonPrefixLength(new ReadOnlySpan<byte>(d, bytes));
            m = same == bytes ? -1 : same >> size;
        }
        else
        {
            m = -1;
            for (uint j = 0; j < k; j++)
            {
                if ((Load(At(s, j, size, down), size) == Load(At(d, j, size, down), size)) == stopOnEqual)
                {
                    m = (int)j;
                    break;
                }
            }
        }
        stopped = m >= 0;
        uint done = stopped ? (uint)m + 1 : k;
        Arithmetic.Sub(c, Load(At(s, done - 1, size, down), size), Load(At(d, done - 1, size, down), size), size);
        Advance(c, Reg.ESI, a32, (int)done * delta);
        Advance(c, Reg.EDI, a32, (int)done * delta);
        return done;
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
