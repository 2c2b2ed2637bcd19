using System;

namespace Emu.Memory;

// 32-bit paging (Intel SDM Vol. 3, 4.3): two-level tables, 4 KiB pages, 4 MiB pages with
// CR4.PSE, global pages with CR4.PGE, CR0.WP, U/S and R/W, accessed and dirty bits.
// PAE paging (4.4): with CR4.PAE, four PDPTEs loaded with CR3, then 8-byte directory and table
// entries, 4 KiB and 2 MiB pages, and execute-disable with IA32_EFER.NXE.
public sealed unsafe partial class Mmu
{
    private const uint P = 1, RW = 2, US = 4, A = 1u << 5, D = 1u << 6, PS = 1u << 7, G = 1u << 8;

    /// <summary>
    /// The physical-address width (MAXPHYADDR) with PAE paging, as CPUID leaf 80000008h reports
    /// it: guest memory lies below 4 GiB, so bits 32 and up of an entry's address are reserved.
    /// </summary>
    public const int PhysicalAddressBits = 32;

    /// <summary>Bits of a PAE directory or table entry that must be 0 (the address above MAXPHYADDR, bits 62:52 included); XD (bit 63) too unless NXE.</summary>
    private const ulong PaeReserved = ~0ul << PhysicalAddressBits & ~(1ul << 63);

    /// <summary>Reserved bits of a present PDPTE with PAE paging: 2:1, 8:5 and those above MAXPHYADDR, XD included (Intel SDM Vol. 3, 4.4.1).</summary>
    private const ulong PdpteReserved = ~0ul << PhysicalAddressBits | 0x1E6;

    /// <summary>The execute-disable bit of a PAE entry.</summary>
    private const ulong XD = 1ul << 63;

    /// <summary>#PF error code bits besides P, W/R and U/S: a reserved bit was set; the access was an instruction fetch.</summary>
    private const uint FaultRsvd = 8, FaultFetch = 16;

    private bool paging;
    private uint pageDirectory;
    private bool pse, pge, writeProtect, pae, nxe;

    /// <summary>The four PDPTEs (PAE paging), loaded by <see cref="LoadPdptes"/>, not read from memory on each walk.</summary>
    private readonly ulong[] pdptes = new ulong[4];

    /// <summary>CR0.PG: linear addresses go through the page tables.</summary>
    public bool PagingEnabled => paging;

    /// <summary>
    /// Loads the paging controls (CR0.PG, CR0.WP, CR3, CR4.PSE, CR4.PGE, CR4.PAE and
    /// IA32_EFER.NXE). Which cached translations survive is the caller's decision (see
    /// <see cref="FlushAll"/> and <see cref="FlushNonGlobal"/>), as the SDM ties it to the register
    /// written; so is when the PDPTEs are loaded (<see cref="LoadPdptes"/>).
    /// </summary>
    public void SetPaging(bool enabled, uint cr3, bool pageSizeExtensions, bool globalPages, bool wp,
        bool physicalAddressExtension = false, bool noExecute = false)
    {
        paging = enabled;
        pae = physicalAddressExtension;
        pageDirectory = pae ? cr3 & ~0x1Fu : cr3 & ~PhysicalMemory.PageMask;
        pse = pageSizeExtensions;
        pge = globalPages;
        writeProtect = wp;
        nxe = noExecute;
    }

    /// <summary>
    /// Loads the four PDPTEs from the 32-byte table CR3 points to (PAE paging: on MOV CR3, and
    /// on MOV CR0 or CR4 that changes PG, CD, NW, PAE, PGE or PSE with PAE paging in use). Returns
    /// false, loading nothing, when a present one has a reserved bit set: the instruction then
    /// raises #GP(0) and changes nothing (Intel SDM Vol. 3, 4.4.1).
    /// </summary>
    public bool LoadPdptes(uint cr3)
    {
        Span<ulong> loaded = stackalloc ulong[4];
        uint table = cr3 & ~0x1Fu;
        for (int i = 0; i < 4; i++)
        {
            uint at = (table + (uint)(8 * i)) & a20Mask;
            loaded[i] = ReadEntry(at);
            if ((loaded[i] & P) != 0 && (loaded[i] & PdpteReserved) != 0) return false;
        }
        loaded.CopyTo(pdptes);
        return true;
    }

    /// <summary>Makes the loaded PDPTEs those of <paramref name="other"/> (lockstep's shadow CPU).</summary>
    public void CopyPdptesFrom(Mmu other) => other.pdptes.CopyTo(pdptes, 0);

    /// <summary>Drops every cached translation except those of global pages (a CR3 load with CR4.PGE=1); returns how many entries held one.</summary>
    public int FlushNonGlobal()
    {
        int dropped = 0;
        for (int i = 0; i < TlbEntries * 4; i++)
        {
            if ((tlbBlock[i].Phys & 1) != 0 || tlbBlock[i].Tag == InvalidTag) continue;
            tlbBlock[i].Tag = InvalidTag;
            dropped++;
        }
        return dropped;
    }

    /// <summary>
    /// Translates at an explicit privilege (supervisor for the CPU's implicit accesses to
    /// descriptor tables, the TSS and inner-level stacks). Sets accessed/dirty bits as the
    /// CPU does and raises #PF (with CR2's value in <see cref="GuestFault.Address"/>).
    /// </summary>
    public uint Translate(uint linear, AccessKind kind, bool user, out PageFlags flags)
    {
        uint physical = pae ? WalkPae(linear, kind, user, out flags, out uint fault) : Walk(linear, kind == AccessKind.Write, user, out flags, out fault);
        if (fault != 0) throw GuestFault.PageFault(linear, fault & 0x1F);
        return physical;
    }

    /// <summary>
    /// The page walk behind <see cref="Translate(uint, AccessKind, bool, out bool)"/>, raising
    /// nothing: a #PF comes back as <paramref name="fault"/> (its error code with bit 31 set;
    /// 0 when there is none), and then no accessed or dirty bit has been set.
    /// </summary>
    private uint Walk(uint linear, bool write, bool user, out PageFlags flags, out uint fault)
    {
        flags = PageFlags.None;
        fault = 0;
        if (!paging) return linear & a20Mask;
        Counters.PageWalks++;
        uint pdeAddress = (pageDirectory | ((linear >> 20) & 0xFFC)) & a20Mask;
        uint pde = phys.Read(pdeAddress, 4);
        if ((pde & P) == 0)
        {
            fault = FaultCode(present: false, write, user);
            return 0;
        }
        if (pse && (pde & PS) != 0)
        {
            // A 4 MiB page: the directory entry maps it directly.
            if (!Allowed(pde, write, user))
            {
                fault = FaultCode(present: true, write, user);
                return 0;
            }
            uint updated = pde | A | (write ? D : 0);
            if (updated != pde) phys.Write(pdeAddress, 4, updated);
            flags = PageFlags.Large | (pge && (pde & G) != 0 ? PageFlags.Global : PageFlags.None);
            return ((pde & 0xFFC0_0000u) | (linear & 0x003F_FFFFu)) & a20Mask;
        }
        uint pteAddress = ((pde & ~PhysicalMemory.PageMask) | ((linear >> 10) & 0xFFC)) & a20Mask;
        uint pte = phys.Read(pteAddress, 4);
        if ((pte & P) == 0)
        {
            fault = FaultCode(present: false, write, user);
            return 0;
        }
        // U/S and R/W combine: the stricter of the two levels applies (Intel SDM Vol. 3, 4.6.1).
        if (!Allowed(pde & pte | ~(US | RW) & pte, write, user))
        {
            fault = FaultCode(present: true, write, user);
            return 0;
        }
        if ((pde & A) == 0) phys.Write(pdeAddress, 4, pde | A);
        uint newPte = pte | A | (write ? D : 0);
        if (newPte != pte) phys.Write(pteAddress, 4, newPte);
        flags = pge && (pte & G) != 0 ? PageFlags.Global : PageFlags.None;
        return ((pte & ~PhysicalMemory.PageMask) | (linear & PhysicalMemory.PageMask)) & a20Mask;
    }

    /// <summary>
    /// The PAE page walk (Intel SDM Vol. 3, 4.4): the PDPTE of bits 31:30, then 8-byte entries
    /// of 9 bits of index each; a directory entry with PS maps a 2 MiB page. A reserved bit set
    /// in a present entry is a #PF with RSVD; XD in either level forbids fetches when NXE is on.
    /// With NXE, a fault on a fetch has I/D set. Raises nothing, as <see cref="Walk"/>.
    /// </summary>
    private uint WalkPae(uint linear, AccessKind kind, bool user, out PageFlags flags, out uint fault)
    {
        flags = PageFlags.None;
        fault = 0;
        if (!paging) return linear & a20Mask;
        Counters.PageWalks++;
        bool write = kind == AccessKind.Write, fetch = kind == AccessKind.Fetch && nxe;
        ulong reserved = nxe ? PaeReserved : PaeReserved | XD;
        ulong pdpte = pdptes[linear >> 30];
        if ((pdpte & P) == 0)
        {
            fault = FaultCode(present: false, write, user) | (fetch ? FaultFetch : 0);
            return 0;
        }
        uint pdeAddress = ((uint)pdpte & ~PhysicalMemory.PageMask | ((linear >> 18) & 0xFF8)) & a20Mask;
        ulong pde = ReadEntry(pdeAddress);
        if ((pde & P) == 0)
        {
            fault = FaultCode(present: false, write, user) | (fetch ? FaultFetch : 0);
            return 0;
        }
        bool large = (pde & PS) != 0;
        // A 2 MiB page's bits 20:13 are reserved (bit 12 is PAT).
        if ((pde & (large ? reserved | 0x1F_E000 : reserved)) != 0)
        {
            fault = FaultCode(present: true, write, user) | FaultRsvd | (fetch ? FaultFetch : 0);
            return 0;
        }
        if (large)
        {
            if (!Allowed((uint)pde, write, user) || fetch && (pde & XD) != 0)
            {
                fault = FaultCode(present: true, write, user) | (fetch ? FaultFetch : 0);
                return 0;
            }
            uint updated = (uint)pde | A | (write ? D : 0);
            if (updated != (uint)pde) phys.Write(pdeAddress, 4, updated);
            flags = PageFlags.Large | (pge && (pde & G) != 0 ? PageFlags.Global : PageFlags.None)
                | (nxe && (pde & XD) != 0 ? PageFlags.NoExecute : PageFlags.None);
            return ((uint)pde & 0xFFE0_0000u | linear & 0x001F_FFFFu) & a20Mask;
        }
        uint pteAddress = ((uint)pde & ~PhysicalMemory.PageMask | ((linear >> 9) & 0xFF8)) & a20Mask;
        ulong pte = ReadEntry(pteAddress);
        if ((pte & P) == 0)
        {
            fault = FaultCode(present: false, write, user) | (fetch ? FaultFetch : 0);
            return 0;
        }
        if ((pte & reserved) != 0)
        {
            fault = FaultCode(present: true, write, user) | FaultRsvd | (fetch ? FaultFetch : 0);
            return 0;
        }
        bool noExecute = nxe && ((pde | pte) & XD) != 0;
        if (!Allowed((uint)pde & (uint)pte | ~(US | RW) & (uint)pte, write, user) || fetch && noExecute)
        {
            fault = FaultCode(present: true, write, user) | (fetch ? FaultFetch : 0);
            return 0;
        }
        if ((pde & A) == 0) phys.Write(pdeAddress, 4, (uint)pde | A);
        uint newPte = (uint)pte | A | (write ? D : 0);
        if (newPte != (uint)pte) phys.Write(pteAddress, 4, newPte);
        flags = (pge && (pte & G) != 0 ? PageFlags.Global : PageFlags.None) | (noExecute ? PageFlags.NoExecute : PageFlags.None);
        return ((uint)pte & ~PhysicalMemory.PageMask | linear & PhysicalMemory.PageMask) & a20Mask;
    }

    /// <summary>An 8-byte paging entry (two 4-byte reads: the table is 8-byte aligned).</summary>
    private ulong ReadEntry(uint address) => phys.Read(address, 4) | (ulong)phys.Read(address + 4, 4) << 32;

    /// <summary>Whether a (combined) paging entry allows the access (Intel SDM Vol. 3, 4.6).</summary>
    private bool Allowed(uint entry, bool write, bool user) =>
        user ? (entry & US) != 0 && (!write || (entry & RW) != 0)
             : !write || !writeProtect || (entry & RW) != 0;

    /// <summary>A #PF's error code (P for a protection violation, W/R, U/S; Intel SDM Vol. 3, 4.7), with bit 31 set so it is never 0.</summary>
    private static uint FaultCode(bool present, bool write, bool user) =>
        0x8000_0000u | (present ? 1u : 0) | (write ? 2u : 0) | (user ? 4u : 0);

    /// <summary>
    /// The start of the second page of an access that crosses a page boundary: it is
    /// translated from its first byte, so a #PF there reports that byte in CR2, as the
    /// processor does.
    /// </summary>
    private static uint SecondPage(uint linear, int size) => (linear + (uint)size - 1) & ~PhysicalMemory.PageMask;

    // ---- accesses at an explicit privilege (never through the TLB) ----

    /// <summary>Reads 1, 2 or 4 bytes at an explicit privilege (page-crossing reads are split).</summary>
    public uint ReadAs(uint linear, int size, bool user)
    {
        uint offset = linear & PhysicalMemory.PageMask;
        if (offset + (uint)size <= PhysicalMemory.PageSize)
            return phys.Read(Translate(linear, AccessKind.Read, user, out _), size);
        uint p0 = Translate(linear, AccessKind.Read, user, out _);
        uint p1 = Translate(SecondPage(linear, size), AccessKind.Read, user, out _);
        int first = (int)(PhysicalMemory.PageSize - offset);
        uint value = 0;
        for (int i = 0; i < size; i++)
            value |= (uint)(i < first ? phys.Read8(p0 + (uint)i) : phys.Read8(p1 + (uint)(i - first))) << (8 * i);
        return value;
    }

    /// <summary>Checks that [linear, linear + size) may be written at an explicit privilege.</summary>
    public void ProbeWriteAs(uint linear, int size, bool user)
    {
        Translate(linear, AccessKind.Write, user, out _);
        if (((linear ^ (linear + (uint)size - 1)) & ~PhysicalMemory.PageMask) != 0)
            Translate(SecondPage(linear, size), AccessKind.Write, user, out _);
    }

    /// <summary>Writes 1, 2 or 4 bytes at an explicit privilege; both pages are translated before either is written.</summary>
    public void WriteAs(uint linear, int size, uint value, bool user)
    {
        uint offset = linear & PhysicalMemory.PageMask;
        if (offset + (uint)size <= PhysicalMemory.PageSize)
        {
            phys.Write(Translate(linear, AccessKind.Write, user, out _), size, value);
            return;
        }
        uint p0 = Translate(linear, AccessKind.Write, user, out _);
        uint p1 = Translate(SecondPage(linear, size), AccessKind.Write, user, out _);
        int first = (int)(PhysicalMemory.PageSize - offset);
        for (int i = 0; i < size; i++)
        {
            byte b = (byte)(value >> (8 * i));
            if (i < first) phys.Write(p0 + (uint)i, 1, b);
            else phys.Write(p1 + (uint)(i - first), 1, b);
        }
    }
}
