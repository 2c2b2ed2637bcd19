namespace Emu.X86;

/// <summary>
/// What CPUID reports: a family-6 (P6) Intel processor with exactly the features this
/// emulator implements. Add a feature bit here only together with the feature.
/// </summary>
public static class CpuidInfo
{
    /// <summary>Family 6, model 5, stepping 2 (a Pentium II); also EDX after RESET.</summary>
    public const uint Signature = (6u << 8) | (5u << 4) | 2u;

    public const uint ResetSignature = Signature;

    /// <summary>CPUID.1:EDX feature bits (Intel SDM Vol. 2, Table 3-11).</summary>
    public static class Edx
    {
        public const uint FPU = 1u << 0, VME = 1u << 1, DE = 1u << 2, PSE = 1u << 3, TSC = 1u << 4, MSR = 1u << 5,
            PAE = 1u << 6, MCE = 1u << 7, CX8 = 1u << 8, APIC = 1u << 9, SEP = 1u << 11, MTRR = 1u << 12,
            PGE = 1u << 13, MCA = 1u << 14, CMOV = 1u << 15, PAT = 1u << 16, PSE36 = 1u << 17,
            MMX = 1u << 23, FXSR = 1u << 24;
    }

    /// <summary>The features implemented so far.</summary>
    public const uint Features = Edx.FPU | Edx.PSE | Edx.TSC | Edx.MSR | Edx.PAE | Edx.CX8 | Edx.SEP | Edx.MTRR | Edx.PGE |
        Edx.CMOV | Edx.MMX | Edx.FXSR;

    /// <summary>CPUID.80000001h:EDX feature bits.</summary>
    public static class ExtendedEdx
    {
        /// <summary>Execute-disable (IA32_EFER.NXE, XD in PAE paging entries).</summary>
        public const uint NX = 1u << 20;
    }

    /// <summary>Highest basic leaf.</summary>
    public const uint MaxLeaf = 2;

    /// <summary>Highest extended leaf: 80000001h for the NX bit, 80000008h for the address sizes.</summary>
    public const uint MaxExtendedLeaf = 0x8000_0008;

    /// <summary>Returns EAX, EBX, ECX, EDX for a leaf.</summary>
    public static (uint Eax, uint Ebx, uint Ecx, uint Edx) Leaf(uint leaf)
    {
        // Any leaf above the highest basic one and below the extended range, or above the
        // highest extended one, returns the highest basic leaf's data (Intel SDM Vol. 2, CPUID).
        if (leaf >= 0x8000_0000 && leaf <= MaxExtendedLeaf)
        {
            return leaf switch
            {
                0x8000_0000 => (MaxExtendedLeaf, 0, 0, 0),
                0x8000_0001 => (0, 0, 0, ExtendedEdx.NX),
                // Physical and linear address sizes: guest memory lies below 4 GiB, so PAE
                // entries address 32 bits (Mmu.PhysicalAddressBits); bits above are reserved.
                0x8000_0008 => ((32u << 8) | (uint)Emu.Memory.Mmu.PhysicalAddressBits, 0, 0, 0),
                // No brand string yet, and no extended cache leaves (Intel returns zeros for 5 and 7).
                _ => (0, 0, 0, 0),
            };
        }
        if (leaf > MaxLeaf) leaf = MaxLeaf;
        return leaf switch
        {
            0 => (MaxLeaf, 0x756E_6547, 0x6C65_746E, 0x4965_6E69), // "GenuineIntel"
            1 => (Signature, 0, 0, Features),
            // Cache and TLB descriptors of a Pentium II: 32-entry ITLB (4K), 4-entry ITLB (4M),
            // 64-entry DTLB (4K), 8-entry DTLB (4M), 16K L1 I/D, 512K L2.
            _ => (0x0302_0101, 0, 0, 0x0C04_0843),
        };
    }
}
