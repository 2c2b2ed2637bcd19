using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Emu.Memory;

/// <summary>
/// The 32-bit physical address space: guest RAM as one pinned native block, ROM regions,
/// memory-mapped devices and unmapped holes, at 4 KiB page granularity.
/// </summary>
/// <remarks>
/// Every page has a read region and a write region (they differ for ROM, whose writes are
/// dropped, and for shadow RAM in C0000h-FFFFFh: see <see cref="SetShadow"/>). Only RAM and ROM hand out host pointers, and only
/// for whole pages inside their own native block: no guest physical address can reach host
/// memory outside it. Unmapped reads return all ones, as on a PC bus; unmapped writes are
/// dropped.
/// </remarks>
public sealed unsafe class PhysicalMemory : IDisposable
{
    public const int PageShift = 12;
    public const uint PageSize = 1u << PageShift;
    public const uint PageMask = PageSize - 1;
    private const int PageCount = 1 << (32 - PageShift);

    private enum RegionKind : byte { Unmapped, Ram, Rom, Mmio }

    private sealed class Region
    {
        public RegionKind Kind;
        public uint Start;
        public uint Size;
        public byte* Host;          // RAM and ROM only
        public IMmioDevice? Device; // MMIO only
        public string Name = "";
        public long Accesses;       // MMIO only: reads and writes since the machine started
    }

    private readonly List<Region> regions = new();
    private readonly ushort[] readRegion = new ushort[PageCount];
    private readonly ushort[] writeRegion = new ushort[PageCount];
    private readonly byte[] codePages; // per RAM page: nonzero while decoded guest code lives there
    private readonly void* ramBlock;   // the allocation Ram lies in (Ram is its first page boundary)
    private readonly List<IntPtr> romBlocks = new();
    private bool disposed;

    // The shadow window C0000h-FFFFFh. What the bus decodes there (RAM when nothing else is
    // mapped, or the ROM and devices mapped over it) is kept per page; once a chipset takes the
    // window over, each page reads and writes either RAM or that bus layer.
    public const uint ShadowStart = 0xC_0000, ShadowEnd = 0x10_0000;
    private const uint ShadowFirstPage = ShadowStart >> PageShift;
    private const int ShadowPages = (int)((ShadowEnd - ShadowStart) >> PageShift);
    private const ushort RamRegion = 1;
    private readonly ushort[] busRead = new ushort[ShadowPages];
    private readonly ushort[] busWrite = new ushort[ShadowPages];
    private readonly bool[] shadowReadRam = new bool[ShadowPages];
    private readonly bool[] shadowWriteRam = new bool[ShadowPages];
    private bool shadowControlled;

    /// <summary>Host address of guest RAM (physical address 0).</summary>
    public byte* Ram { get; }

    /// <summary>Size of guest RAM in bytes (a multiple of 4 KiB).</summary>
    public uint RamSize { get; }

    /// <summary>
    /// Called after a write (by the CPU or a device) landed on a page marked as holding code,
    /// with the physical address and length written. The CPU's block cache invalidates here.
    /// </summary>
    public Action<uint, int>? CodeWritten { get; set; }

    /// <summary>Called when a page becomes a code page, so cached write translations to it can be dropped.</summary>
    public event Action<uint>? CodePageMarked;

    /// <summary>Called when write pointers handed out before may no longer be used (write tracking began): drop them all.</summary>
    public event Action? WritePointersRevoked;

    /// <summary>
    /// Called after the map of [start, start + length) changed (a chipset switched shadow RAM
    /// on or off there): host pointers and decoded code taken from that range before may now
    /// stand for other backing. The <see cref="Mmu"/> drops its cached translations itself;
    /// whoever caches decoded blocks by physical address (the CPU's block cache) must drop
    /// those of the range.
    /// </summary>
    public event Action<uint, uint>? LayoutChanged;

    /// <summary>
    /// Records every MMIO access, or replays them instead of reaching any device: see
    /// <see cref="DeviceAccessLog"/>. Null (the default) for a plain run.
    /// </summary>
    public DeviceAccessLog? Log { get; set; }

    private bool trackWrites;
    private byte[]? dirtyMark;     // per RAM page: listed in dirtyPages since the last clear
    private uint[] dirtyPages = new uint[64];
    private int dirtyCount;

    public PhysicalMemory(uint ramSize)
    {
        if (ramSize == 0 || (ramSize & PageMask) != 0)
            throw new ArgumentException("RAM size must be a non-zero multiple of 4 KiB", nameof(ramSize));
        if (ramSize > 0xF000_0000u)
            throw new ArgumentException("RAM size must leave room below 4 GiB for ROM and devices", nameof(ramSize));
        RamSize = ramSize;
        // Zeroed by the allocator: for a block this large the C library maps fresh pages, which
        // the host zeroes when they are first touched, so start-up neither writes nor faults in
        // the whole RAM. Aligned to a page by hand (the allocator only promises 16 bytes).
        ramBlock = NativeMemory.AllocZeroed((nuint)ramSize + PageSize);
        Ram = (byte*)(((nuint)ramBlock + PageMask) & ~(nuint)PageMask);
        codePages = new byte[ramSize >> PageShift];
        regions.Add(new Region { Kind = RegionKind.Unmapped, Name = "unmapped" });
        var ram = new Region { Kind = RegionKind.Ram, Start = 0, Size = ramSize, Host = Ram, Name = "RAM" };
        Map(ram, read: true, write: true);
    }

    /// <summary>Maps a read-only copy of <paramref name="image"/> at <paramref name="address"/>; writes there are dropped.</summary>
    public void MapRom(uint address, ReadOnlySpan<byte> image, string name = "ROM")
    {
        uint size = ((uint)image.Length + PageMask) & ~PageMask;
        CheckRange(address, size);
        byte* block = (byte*)NativeMemory.AlignedAlloc(size, 4096);
        NativeMemory.Fill(block, size, 0xFF);
        image.CopyTo(new Span<byte>(block, image.Length));
        romBlocks.Add((IntPtr)block);
        var region = new Region { Kind = RegionKind.Rom, Start = address, Size = size, Host = block, Name = name };
        Map(region, read: true, write: false);
        SetWriteRegion(address, size, 0);
    }

    /// <summary>Each MMIO region mapped (by name) with its reads and writes so far (<c>emu run --stats</c>).</summary>
    public System.Collections.Generic.IEnumerable<(string Name, long Accesses)> MmioAccesses()
    {
        foreach (Region r in regions)
            if (r.Kind == RegionKind.Mmio && !ReferenceEquals(r.Device, EmptyBus.Instance)) yield return (r.Name, r.Accesses);
    }

    /// <summary>Routes the pages of [address, address + size) to a device.</summary>
    public void MapMmio(uint address, uint size, IMmioDevice device, string name = "MMIO")
    {
        CheckRange(address, size);
        var region = new Region { Kind = RegionKind.Mmio, Start = address, Size = size, Device = device, Name = name };
        Map(region, read: true, write: true);
    }

    private static void CheckRange(uint address, uint size)
    {
        if ((address & PageMask) != 0 || size == 0 || (size & PageMask) != 0 || (ulong)address + size > 0x1_0000_0000UL)
            throw new ArgumentException($"region 0x{address:X8}+0x{size:X} is not page-aligned or leaves the 4 GiB space");
    }

    private void Map(Region region, bool read, bool write)
    {
        if (regions.Count >= ushort.MaxValue) throw new InvalidOperationException("too many memory regions");
        regions.Add(region);
        ushort index = (ushort)(regions.Count - 1);
        uint first = region.Start >> PageShift;
        uint count = region.Size >> PageShift;
        for (uint p = 0; p < count; p++)
        {
            uint page = first + p;
            if (read) readRegion[page] = index;
            if (write) writeRegion[page] = index;
            if (page - ShadowFirstPage < ShadowPages)
            {
                int i = (int)(page - ShadowFirstPage);
                if (read) busRead[i] = index;
                if (write) busWrite[i] = index;
                ApplyShadow(i);
            }
        }
    }

    private void SetWriteRegion(uint address, uint size, ushort index)
    {
        uint first = address >> PageShift;
        for (uint p = 0; p < size >> PageShift; p++)
        {
            uint page = first + p;
            writeRegion[page] = index;
            if (page - ShadowFirstPage < ShadowPages)
            {
                busWrite[page - ShadowFirstPage] = index;
                ApplyShadow((int)(page - ShadowFirstPage));
            }
        }
    }

    // ---- shadow RAM (the i440FX PAM registers) ----

    /// <summary>
    /// Routes the pages of [address, address + length) inside the shadow window C0000h-FFFFFh:
    /// reads from RAM or from the bus (the ROM or device mapped there; an empty bus reads all
    /// ones), writes to RAM or to the bus (where ROM drops them). The first call hands the whole
    /// window to the chipset: from then on a page whose bus holds nothing but RAM reads as an
    /// empty bus unless routed to RAM, as behind an i440FX whose PAM registers are clear. Before
    /// any call the window is plain: RAM, with ROM and devices mapped over it. Raises
    /// <see cref="LayoutChanged"/> for the pages whose routing changed.
    /// </summary>
    public void SetShadow(uint address, uint length, bool readRam, bool writeRam)
    {
        if ((address & PageMask) != 0 || (length & PageMask) != 0 || length == 0
            || address < ShadowStart || (ulong)address + length > ShadowEnd)
            throw new ArgumentException($"shadow range 0x{address:X}+0x{length:X} is not whole pages inside C0000h-FFFFFh");
        bool wasControlled = shadowControlled;
        shadowControlled = true;
        int first = (int)((address - ShadowStart) >> PageShift);
        int count = (int)(length >> PageShift);
        for (int i = first; i < first + count; i++)
        {
            shadowReadRam[i] = readRam;
            shadowWriteRam[i] = writeRam;
        }
        // Taking the window over may change pages outside the range too (RAM there turns into an empty bus).
        int lo = wasControlled ? first : 0, hi = wasControlled ? first + count : ShadowPages;
        int changedLo = -1, changedHi = -1;
        for (int i = lo; i < hi; i++)
        {
            uint page = ShadowFirstPage + (uint)i;
            ushort r = readRegion[page], w = writeRegion[page];
            ApplyShadow(i);
            if (r != readRegion[page] || w != writeRegion[page])
            {
                if (changedLo < 0) changedLo = i;
                changedHi = i;
            }
        }
        if (changedLo >= 0)
            LayoutChanged?.Invoke(ShadowStart + ((uint)changedLo << PageShift), (uint)(changedHi - changedLo + 1) << PageShift);
    }

    /// <summary>Whether reads of the page of <paramref name="address"/> (in the shadow window) come from RAM, and writes go to RAM.</summary>
    public (bool ReadRam, bool WriteRam) ShadowRouting(uint address)
    {
        uint page = address >> PageShift;
        return (regions[readRegion[page]].Kind == RegionKind.Ram, regions[writeRegion[page]].Kind == RegionKind.Ram);
    }

    /// <summary>Sets the effective read and write regions of window page <paramref name="i"/> from the bus layer and the routing.</summary>
    private void ApplyShadow(int i)
    {
        uint page = ShadowFirstPage + (uint)i;
        ushort r = busRead[i], w = busWrite[i];
        if (shadowControlled)
        {
            ushort ram = page < (RamSize >> PageShift) ? RamRegion : (ushort)0;
            r = shadowReadRam[i] ? ram : r == RamRegion ? (ushort)0 : r;
            w = shadowWriteRam[i] ? ram : w == RamRegion ? (ushort)0 : w;
        }
        readRegion[page] = r;
        writeRegion[page] = w;
    }

    /// <summary>
    /// Host pointer to the start of the physical page containing <paramref name="address"/>
    /// for direct access, or null when the page must take the slow path (MMIO, unmapped,
    /// a dropped ROM write, or a write to a page that holds code).
    /// </summary>
    public byte* PageHostPointer(uint address, bool write)
    {
        uint page = address >> PageShift;
        Region r = regions[write ? writeRegion[page] : readRegion[page]];
        if (r.Kind != RegionKind.Ram && r.Kind != RegionKind.Rom) return null;
        if (write && r.Kind == RegionKind.Ram && (codePages[page] != 0 || trackWrites)) return null;
        return r.Host + ((address & ~PageMask) - r.Start);
    }

    // ---- write tracking (lockstep compares what each step wrote) ----

    /// <summary>
    /// While set, every write to RAM is seen here and its page listed in <see cref="DirtyPages"/>:
    /// no write pointer to RAM is handed out (<see cref="PageHostPointer"/> returns null for
    /// writes), so the MMU's fast path never stores to RAM behind this class's back, and
    /// setting it revokes the pointers handed out before (<see cref="WritePointersRevoked"/>).
    /// It slows every store down; lockstep is its only user.
    /// </summary>
    public bool TrackWrites
    {
        get => trackWrites;
        set
        {
            if (value == trackWrites) return;
            trackWrites = value;
            if (value)
            {
                dirtyMark ??= new byte[RamSize >> PageShift];
                WritePointersRevoked?.Invoke();
            }
            ClearDirtyPages();
        }
    }

    /// <summary>The RAM pages (page numbers: address >> 12) written since the last <see cref="ClearDirtyPages"/>, each once.</summary>
    public ReadOnlySpan<uint> DirtyPages => dirtyPages.AsSpan(0, dirtyCount);

    public void ClearDirtyPages()
    {
        if (dirtyMark is not null)
            for (int i = 0; i < dirtyCount; i++) dirtyMark[dirtyPages[i]] = 0;
        dirtyCount = 0;
    }

    private void NoteDirty(uint page)
    {
        if (dirtyMark![page] != 0) return;
        dirtyMark[page] = 1;
        if (dirtyCount == dirtyPages.Length) Array.Resize(ref dirtyPages, dirtyCount * 2);
        dirtyPages[dirtyCount++] = page;
    }

    /// <summary>
    /// A second address space with this one's map and contents, for a machine that shadows
    /// this one: RAM and ROM copied, MMIO regions at the same addresses but with no device
    /// behind them (they read as an empty bus and drop writes, until a replaying
    /// <see cref="DeviceAccessLog"/> answers for the devices). Code-page marks are not copied:
    /// they belong to the CPU that decoded the code.
    /// </summary>
    public PhysicalMemory CreateShadow()
    {
        var shadow = new PhysicalMemory(RamSize);
        NativeMemory.Copy(Ram, shadow.Ram, RamSize);
        for (int i = 2; i < regions.Count; i++) // 0 is "unmapped", 1 is RAM
        {
            Region r = regions[i];
            if (r.Kind == RegionKind.Rom) shadow.MapRom(r.Start, new ReadOnlySpan<byte>(r.Host, (int)r.Size), r.Name);
            else if (r.Kind == RegionKind.Mmio) shadow.MapMmio(r.Start, r.Size, EmptyBus.Instance, r.Name);
        }
        if (shadowControlled)
        {
            // The chipset's routing of the shadow window now; later changes are the caller's to mirror.
            shadow.shadowControlled = true;
            for (int i = 0; i < ShadowPages; i++)
            {
                shadow.shadowReadRam[i] = shadowReadRam[i];
                shadow.shadowWriteRam[i] = shadowWriteRam[i];
                shadow.ApplyShadow(i);
            }
        }
        return shadow;
    }

    private sealed class EmptyBus : IMmioDevice
    {
        public static readonly EmptyBus Instance = new();
        public uint Read(uint address, int size) => size == 1 ? 0xFFu : size == 2 ? 0xFFFFu : 0xFFFF_FFFFu;
        public void Write(uint address, int size, uint value) { }
    }

    private uint MmioRead(Region r, uint address, int size)
    {
        r.Accesses++;
        DeviceAccessLog? log = Log;
        if (log is not null && log.Replaying) return log.Replay(DeviceBus.Mmio, false, address, size, 0);
        uint v = r.Device!.Read(address, size);
        log?.Record(DeviceBus.Mmio, false, address, size, v);
        return v;
    }

    private void MmioWrite(Region r, uint address, int size, uint value)
    {
        r.Accesses++;
        DeviceAccessLog? log = Log;
        if (log is not null && log.Replaying)
        {
            log.Replay(DeviceBus.Mmio, true, address, size, value);
            return;
        }
        log?.Record(DeviceBus.Mmio, true, address, size, value);
        r.Device!.Write(address, size, value);
    }

    // ---- sized physical accesses (slow path; also used by devices for DMA) ----

    public byte Read8(uint address)
    {
        Region r = regions[readRegion[address >> PageShift]];
        return r.Kind switch
        {
            RegionKind.Ram or RegionKind.Rom => r.Host[address - r.Start],
            RegionKind.Mmio => (byte)MmioRead(r, address, 1),
            _ => 0xFF,
        };
    }

    /// <summary>
    /// A read of 1, 2 or 4 bytes. One that crosses a page boundary (a device's DMA may ask
    /// for one) is split into bytes, each answered by its own page's region, so it never
    /// runs off the end of a RAM or ROM block.
    /// </summary>
    public uint Read(uint address, int size)
    {
        if ((address & PageMask) > PageSize - (uint)size) return ReadSplit(address, size);
        Region r = regions[readRegion[address >> PageShift]];
        switch (r.Kind)
        {
            case RegionKind.Ram:
            case RegionKind.Rom:
                byte* p = r.Host + (address - r.Start);
                return size switch { 1 => *p, 2 => Unsafe.ReadUnaligned<ushort>(p), _ => Unsafe.ReadUnaligned<uint>(p) };
            case RegionKind.Mmio:
                return MmioRead(r, address, size);
            default:
                return size switch { 1 => 0xFFu, 2 => 0xFFFFu, _ => 0xFFFF_FFFFu };
        }
    }

    private uint ReadSplit(uint address, int size)
    {
        uint v = 0;
        for (int k = 0; k < size; k++) v |= (uint)Read8(address + (uint)k) << (8 * k);
        return v;
    }

    /// <summary>A write of 1, 2 or 4 bytes; one that crosses a page boundary is split into bytes as <see cref="Read"/> is.</summary>
    public void Write(uint address, int size, uint value)
    {
        if ((address & PageMask) > PageSize - (uint)size)
        {
            for (int k = 0; k < size; k++) Write(address + (uint)k, 1, (byte)(value >> (8 * k)));
            return;
        }
        uint page = address >> PageShift;
        Region r = regions[writeRegion[page]];
        switch (r.Kind)
        {
            case RegionKind.Ram:
                byte* p = r.Host + (address - r.Start);
                switch (size)
                {
                    case 1: *p = (byte)value; break;
                    case 2: Unsafe.WriteUnaligned(p, (ushort)value); break;
                    default: Unsafe.WriteUnaligned(p, value); break;
                }
                if (trackWrites) NoteDirty(page);
                if (codePages[page] != 0) CodeWritten?.Invoke(address, size);
                break;
            case RegionKind.Mmio:
                MmioWrite(r, address, size, value);
                break;
            default:
                break; // ROM and holes drop writes
        }
    }

    /// <summary>Copies guest physical memory out, byte by byte through the address map.</summary>
    public void ReadBytes(uint address, Span<byte> destination)
    {
        for (int i = 0; i < destination.Length; i++) destination[i] = Read8(address + (uint)i);
    }

    /// <summary>Copies bytes into guest physical memory (a loader or a device's DMA).</summary>
    public void WriteBytes(uint address, ReadOnlySpan<byte> source)
    {
        for (int i = 0; i < source.Length; i++) Write(address + (uint)i, 1, source[i]);
    }

    /// <summary>Whether [address, address + length) lies wholly inside guest RAM (no ROM or device mapped over any of it).</summary>
    public bool IsRam(uint address, uint length)
    {
        if ((ulong)address + length > RamSize) return false;
        uint last = length == 0 ? address : address + length - 1;
        for (uint page = address >> PageShift; page <= last >> PageShift; page++)
        {
            if (regions[readRegion[page]].Kind != RegionKind.Ram || regions[writeRegion[page]].Kind != RegionKind.Ram) return false;
        }
        return true;
    }

    // ---- code pages (self-modifying code) ----

    /// <summary>Whether the page of <paramref name="address"/> is RAM that holds decoded code.</summary>
    public bool IsCodePage(uint address)
    {
        uint page = address >> PageShift;
        return page < (uint)codePages.Length && codePages[page] != 0;
    }

    /// <summary>
    /// Marks the RAM page of <paramref name="address"/> as holding decoded code: from now on
    /// writes to it take the slow path and report through <see cref="CodeWritten"/>.
    /// </summary>
    public void MarkCodePage(uint address)
    {
        uint page = address >> PageShift;
        if (page >= (uint)codePages.Length || codePages[page] != 0) return;
        if (regions[writeRegion[page]].Kind != RegionKind.Ram) return;
        codePages[page] = 1;
        CodePageMarked?.Invoke(page << PageShift);
    }

    /// <summary>Clears the code mark of a page once no decoded code remains there.</summary>
    public void UnmarkCodePage(uint address)
    {
        uint page = address >> PageShift;
        if (page < (uint)codePages.Length) codePages[page] = 0;
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    ~PhysicalMemory() => Free();

    private void Free()
    {
        if (disposed) return;
        disposed = true;
        NativeMemory.Free(ramBlock);
        foreach (IntPtr b in romBlocks) NativeMemory.AlignedFree((void*)b);
        romBlocks.Clear();
    }
}
