using Emu.Memory;
using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// Monitor routines for system registers: LGDT, LIDT, SGDT, SIDT, SLDT, STR, LLDT, LTR,
/// SMSW, LMSW, MOV to/from CRn and DRn, CLTS, INVD, WBINVD, INVLPG.
/// </summary>
public static unsafe class ControlRegisters
{
    private static GuestFault GP0 => GuestFault.Create(ExceptionVectors.GP, 0);

    /// <summary>Privileged instructions need CPL 0 (and are #GP(0) in virtual-8086 mode).</summary>
    public static void RequireCpl0(Cpu c)
    {
        if (c.ProtectedMode && c.Cpl != 0) throw GP0;
    }

    /// <summary>SLDT, STR, LLDT, LTR, LAR, LSL, VERR, VERW exist only in protected mode (#UD otherwise).</summary>
    public static void RequireProtectedMode(Cpu c)
    {
        if (!c.ProtectedMode || c.V86Mode) throw GuestFault.Create(ExceptionVectors.UD);
    }

    /// <summary>LGDT/LIDT m16&amp;32: a 16-bit operand size loads 24 bits of base.</summary>
    private static void LoadTableRegister(Cpu c, ref Instruction i, bool idt)
    {
        RequireCpl0(c);
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        ushort limit = c.Read16(seg, ea);
        uint baseAddr = c.Read32(seg, Cpu.AddressSize16(ref i) ? (ea + 2) & 0xFFFF : ea + 2);
        bool o16 = i.Code is Code.Lgdt_m1632_16 or Code.Lidt_m1632_16;
        if (o16) baseAddr &= 0x00FF_FFFF;
        var t = new TableRegister { Base = baseAddr, Limit = limit };
        if (idt) c.Idtr = t; else c.Gdtr = t;
    }

    private static void Lgdt(Cpu c, ref Instruction i) => LoadTableRegister(c, ref i, false);
    private static void Lidt(Cpu c, ref Instruction i) => LoadTableRegister(c, ref i, true);

    /// <summary>SGDT/SIDT: limit then the 32-bit base (not privileged on a P6).</summary>
    private static void StoreTableRegister(Cpu c, ref Instruction i, TableRegister t)
    {
        int seg = Cpu.MemSeg(ref i);
        uint ea = c.EffectiveAddress(ref i);
        uint baseAt = Cpu.AddressSize16(ref i) ? (ea + 2) & 0xFFFF : ea + 2;
        c.LinearWrite(seg, baseAt, 4);
        c.Write16(seg, ea, t.Limit);
        c.Write32(seg, baseAt, t.Base);
    }

    private static void Sgdt(Cpu c, ref Instruction i) => StoreTableRegister(c, ref i, c.Gdtr);
    private static void Sidt(Cpu c, ref Instruction i) => StoreTableRegister(c, ref i, c.Idtr);

    /// <summary>Stores a selector: zero-extended into a 32-bit register, 16 bits to memory.</summary>
    private static void StoreSelector(Cpu c, ref Instruction i, ushort sel)
    {
        if (i.Op0Kind == OpKind.Register)
        {
            int r = Cpu.RegNum(i.Op0Register);
            if (Shapes.SizeOfRegister(i.Op0Register) == 2) c.Gpr[r] = sel;
            else c.SetReg16(r, sel);
        }
        else
        {
            c.Write16(Cpu.MemSeg(ref i), c.EffectiveAddress(ref i), sel);
        }
    }

    private static void Sldt(Cpu c, ref Instruction i)
    {
        RequireProtectedMode(c);
        StoreSelector(c, ref i, c.Ldtr.Selector);
    }

    private static void Str(Cpu c, ref Instruction i)
    {
        RequireProtectedMode(c);
        StoreSelector(c, ref i, c.Tr.Selector);
    }

    /// <summary>SMSW: the low word of CR0 (the whole of CR0 into a 32-bit register).</summary>
    private static void Smsw(Cpu c, ref Instruction i)
    {
        if (i.Op0Kind == OpKind.Register && Shapes.SizeOfRegister(i.Op0Register) == 2) c.Gpr[Cpu.RegNum(i.Op0Register)] = c.Cr0;
        else c.WriteOperand(ref i, 0, 1, c.Cr0 & 0xFFFF);
    }

    /// <summary>LMSW: loads PE, MP, EM, TS; it can set PE but never clear it.</summary>
    private static void Lmsw(Cpu c, ref Instruction i)
    {
        RequireCpl0(c);
        uint v = c.ReadOperand(ref i, 0, 1) & 0xF;
        uint cr0 = (c.Cr0 & ~0xEu) | (v & 0xE) | (c.Cr0 & Cr0Bits.PE) | (v & Cr0Bits.PE);
        c.WriteCr0(cr0);
    }

    private static void Lldt(Cpu c, ref Instruction i)
    {
        RequireProtectedMode(c);
        RequireCpl0(c);
        ushort sel = (ushort)c.ReadOperand(ref i, 0, 1);
        if ((sel & 0xFFFC) == 0)
        {
            c.Ldtr.LoadNull(sel);
            return;
        }
        uint err = sel & 0xFFFCu;
        if ((sel & 4) != 0) throw GuestFault.Create(ExceptionVectors.GP, err);
        Descriptor d = c.ReadDescriptor(sel);
        if (!d.IsSystem || d.Type != 2) throw GuestFault.Create(ExceptionVectors.GP, err);
        if (!d.Present) throw GuestFault.Create(ExceptionVectors.NP, err);
        c.Ldtr.Load(sel, d.Base, d.Limit, d.Rights);
    }

    /// <summary>LTR: an available TSS in the GDT; it is marked busy in memory and in TR.</summary>
    private static void Ltr(Cpu c, ref Instruction i)
    {
        RequireProtectedMode(c);
        RequireCpl0(c);
        ushort sel = (ushort)c.ReadOperand(ref i, 0, 1);
        if ((sel & 0xFFFC) == 0) throw GP0;
        uint err = sel & 0xFFFCu;
        if ((sel & 4) != 0) throw GuestFault.Create(ExceptionVectors.GP, err);
        Descriptor d = c.ReadDescriptor(sel);
        if (!d.IsSystem || d.Type is not (1 or 9)) throw GuestFault.Create(ExceptionVectors.GP, err);
        if (!d.Present) throw GuestFault.Create(ExceptionVectors.NP, err);
        c.SystemWrite(c.DescriptorAddress(sel) + 5, 1, (uint)(d.Raw >> 40) | 2);
        c.Tr.Load(sel, d.Base, d.Limit, d.Rights | 2);
    }

    private static void MovToCr(Cpu c, ref Instruction i)
    {
        RequireCpl0(c);
        int cr = Cpu.RegNum(i.Op0Register);
        uint v = c.Gpr[Cpu.RegNum(i.Op1Register)];
        switch (cr)
        {
            case 0: c.WriteCr0(v); break;
            case 2: c.Cr2 = v; break;
            case 3: c.WriteCr3(v); break;
            case 4: c.WriteCr4(v); break;
            default: throw GuestFault.Create(ExceptionVectors.UD);
        }
    }

    private static void MovFromCr(Cpu c, ref Instruction i)
    {
        RequireCpl0(c);
        int cr = Cpu.RegNum(i.Op1Register);
        c.Gpr[Cpu.RegNum(i.Op0Register)] = cr switch
        {
            0 => c.Cr0,
            2 => c.Cr2,
            3 => c.Cr3,
            4 => c.Cr4,
            _ => throw GuestFault.Create(ExceptionVectors.UD),
        };
    }

    /// <summary>DR4/DR5 alias DR6/DR7 unless CR4.DE=1, when they are #UD.</summary>
    private static int DebugRegisterIndex(Cpu c, int dr)
    {
        if (dr is 4 or 5)
        {
            if ((c.Cr4 & Cr4Bits.DE) != 0) throw GuestFault.Create(ExceptionVectors.UD);
            return dr + 2;
        }
        return dr;
    }

    /// <summary>DR7.GD: a MOV to or from a debug register is a #DB fault, with DR6.BD set and GD cleared (Intel SDM Vol. 3, 17.2.4).</summary>
    private static void CheckGeneralDetect(Cpu c)
    {
        if ((c.Dr[7] & (1u << 13)) == 0) return;
        c.Dr[6] |= 1u << 13;
        c.Dr[7] &= ~(1u << 13);
        // A fault: the EFLAGS image pushed for it has RF = 1, as for every fault but an
        // instruction breakpoint (Intel SDM Vol. 3, 17.3.1.1); delivery clears RF again.
        c.Eflags |= Flags.RF;
        throw GuestFault.Create(ExceptionVectors.DB);
    }

    private static void MovToDr(Cpu c, ref Instruction i)
    {
        RequireCpl0(c);
        int dr = DebugRegisterIndex(c, Cpu.RegNum(i.Op0Register));
        CheckGeneralDetect(c);
        uint v = c.Gpr[Cpu.RegNum(i.Op1Register)];
        c.Dr[dr] = dr switch
        {
            6 => (v & 0x0000_E00F) | 0xFFFF_0FF0,
            7 => (v & 0xFFFF_2BFF) | 0x400,
            _ => v,
        };
        c.UpdateBreakpoints();
    }

    private static void MovFromDr(Cpu c, ref Instruction i)
    {
        RequireCpl0(c);
        int dr = DebugRegisterIndex(c, Cpu.RegNum(i.Op1Register));
        CheckGeneralDetect(c);
        c.Gpr[Cpu.RegNum(i.Op0Register)] = c.Dr[dr];
    }

    private static void Clts(Cpu c, ref Instruction i)
    {
        RequireCpl0(c);
        c.Cr0 &= ~Cr0Bits.TS;
    }

    private static void CacheControl(Cpu c, ref Instruction i) => RequireCpl0(c);

    private static void Invlpg(Cpu c, ref Instruction i)
    {
        RequireCpl0(c);
        uint linear = c.Seg[Cpu.MemSeg(ref i)].Base + c.EffectiveAddress(ref i);
        c.Mmu.FlushPage(linear);
        c.Blocks.InvalidatePage(linear);
    }

    internal static void Register()
    {
        InstructionTable.AddSensitive(Code.Lgdt_m1632_16, &Lgdt);
        InstructionTable.AddSensitive(Code.Lgdt_m1632, &Lgdt);
        InstructionTable.AddSensitive(Code.Lidt_m1632_16, &Lidt);
        InstructionTable.AddSensitive(Code.Lidt_m1632, &Lidt);
        InstructionTable.AddSensitive(Code.Sgdt_m1632_16, &Sgdt);
        InstructionTable.AddSensitive(Code.Sgdt_m1632, &Sgdt);
        InstructionTable.AddSensitive(Code.Sidt_m1632_16, &Sidt);
        InstructionTable.AddSensitive(Code.Sidt_m1632, &Sidt);
        InstructionTable.AddSensitive(Code.Sldt_rm16, &Sldt);
        InstructionTable.AddSensitive(Code.Sldt_r32m16, &Sldt);
        InstructionTable.AddSensitive(Code.Str_rm16, &Str);
        InstructionTable.AddSensitive(Code.Str_r32m16, &Str);
        InstructionTable.AddSensitive(Code.Lldt_rm16, &Lldt);
        InstructionTable.AddSensitive(Code.Lldt_r32m16, &Lldt);
        InstructionTable.AddSensitive(Code.Ltr_rm16, &Ltr);
        InstructionTable.AddSensitive(Code.Ltr_r32m16, &Ltr);
        InstructionTable.AddSensitive(Code.Smsw_rm16, &Smsw);
        InstructionTable.AddSensitive(Code.Smsw_r32m16, &Smsw);
        InstructionTable.AddSensitive(Code.Lmsw_rm16, &Lmsw, endsBlock: true);
        InstructionTable.AddSensitive(Code.Lmsw_r32m16, &Lmsw, endsBlock: true);
        InstructionTable.AddSensitive(Code.Mov_cr_r32, &MovToCr, endsBlock: true);
        InstructionTable.AddSensitive(Code.Mov_r32_cr, &MovFromCr);
        InstructionTable.AddSensitive(Code.Mov_dr_r32, &MovToDr, endsBlock: true);
        InstructionTable.AddSensitive(Code.Mov_r32_dr, &MovFromDr);
        InstructionTable.AddSensitive(Code.Clts, &Clts);
        InstructionTable.AddSensitive(Code.Invd, &CacheControl);
        InstructionTable.AddSensitive(Code.Wbinvd, &CacheControl);
        InstructionTable.AddSensitive(Code.Invlpg_m, &Invlpg, endsBlock: true);
    }
}
