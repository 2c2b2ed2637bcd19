using System;
using System.Collections.Generic;
using System.Linq;
using Emu.X86;
using Iced.Intel;

namespace Emu.Conformance.Tests;

public enum OperandForm { None, Register, Memory }

/// <summary>
/// One instruction form: an Iced code run in 16- or 32-bit code, with its r/m operand a
/// register or memory, the address size of its memory operand, and for string instructions
/// the repeat prefix.
/// </summary>
public sealed record Form(Code Code, int Bitness, OperandForm Operand, int AddressSize, RepPrefixKind Rep)
{
    public string Key
    {
        get
        {
            string s = $"{Code}/code{Bitness}";
            if (Operand == OperandForm.Register) s += "/reg";
            else if (AddressSize != 0) s += $"/a{AddressSize}";
            if (Rep != RepPrefixKind.None) s += Rep == RepPrefixKind.Repe ? "/rep" : "/repne";
            return s;
        }
    }

    public override string ToString() => Key;
}

/// <summary>The forms under test, derived from the instruction table.</summary>
public static class FormCatalog
{
    /// <summary>
    /// Sensitive instructions whose CPL-3 behaviour a user process can observe: PUSHF/POPF
    /// with IOPL 0, INTO and INT3 as traps, and HLT, CLI, STI, IN, OUT, INS and OUTS,
    /// which raise #GP(0) at CPL 3 with IOPL 0 and no I/O permission bitmap. Not INT1
    /// (ICEBP): under this host's hypervisor its reported EIP was once the instruction's own
    /// rather than the next one's, and a flaky reference is worse than none.
    /// </summary>
    public static readonly Code[] UserLevelSensitive =
    {
        Code.Pushfw, Code.Pushfd, Code.Popfw, Code.Popfd, Code.Into, Code.Int3,
        Code.Hlt, Code.Cli, Code.Sti,
        Code.In_AL_imm8, Code.In_AX_imm8, Code.In_EAX_imm8, Code.In_AL_DX, Code.In_AX_DX, Code.In_EAX_DX,
        Code.Out_imm8_AL, Code.Out_imm8_AX, Code.Out_imm8_EAX, Code.Out_DX_AL, Code.Out_DX_AX, Code.Out_DX_EAX,
        Code.Insb_m8_DX, Code.Insw_m16_DX, Code.Insd_m32_DX, Code.Outsb_DX_m8, Code.Outsw_DX_m16, Code.Outsd_DX_m32,
    };

    /// <summary>Legacy-encoded codes that exist in 16- or 32-bit code (not 64-bit-only, not VEX/EVEX/3DNow!).</summary>
    public static bool IsLegacy1632(Code code)
    {
        if (code == Code.INVALID) return false;
        OpCodeInfo oc = code.ToOpCode();
        return oc.Encoding == EncodingKind.Legacy && (oc.Mode16 || oc.Mode32);
    }

    /// <summary>
    /// x87, MMX, FXSAVE/FXRSTOR and WAIT: the x87 differential suite (tests/Emu.Fpu.Tests)
    /// covers them, with the FPU state loaded and compared, which this suite's helper does not do.
    /// </summary>
    public static bool IsFpuOrMmx(Code code)
    {
        if (code == Code.Wait || code.Mnemonic() == Mnemonic.Emms) return true;
        if (code.CpuidFeatures().Any(f => f is CpuidFeature.FPU or CpuidFeature.FPU287 or CpuidFeature.FPU387 or CpuidFeature.FXSR)) return true;
        OpCodeInfo oc = code.ToOpCode();
        for (int i = 0; i < oc.OpCount; i++)
            if (oc.GetOpKind(i) is OpCodeOperandKind.mm_reg or OpCodeOperandKind.mm_rm or OpCodeOperandKind.mm_or_mem) return true;
        return false;
    }

    /// <summary>Every code the suite must cover: implemented and plain, plus the user-level sensitive ones.</summary>
    /// <summary>
    /// Encodings a P6 runs as older instructions and this host as newer ones: F3 0F BC/BD are
    /// BSF/BSR on a P6 (the REP prefix ignored) and TZCNT/LZCNT on a CPU with BMI1/LZCNT. The
    /// host cannot be the oracle for them; tests/Emu.Cpu.Tests/P6EncodingTests.cs checks them.
    /// </summary>
    public static readonly Code[] HostRunsDifferently =
    {
        Code.Tzcnt_r16_rm16, Code.Tzcnt_r32_rm32, Code.Lzcnt_r16_rm16, Code.Lzcnt_r32_rm32,
    };

    public static IReadOnlyList<Code> RequiredCodes()
    {
        InstructionTable.EnsureInitialized();
        var user = new HashSet<Code>(UserLevelSensitive);
        var differs = new HashSet<Code>(HostRunsDifferently);
        return Enum.GetValues<Code>()
            .Where(c => IsLegacy1632(c) && InstructionTable.IsImplemented(c) && (!InstructionTable.IsSensitive(c) || user.Contains(c)) &&
                        !IsFpuOrMmx(c) && !differs.Contains(c))
            .ToList();
    }

    private static bool IsRm(OpCodeOperandKind k) => k is OpCodeOperandKind.r8_or_mem or OpCodeOperandKind.r16_or_mem or OpCodeOperandKind.r32_or_mem;

    private static bool IsMemOnly(OpCodeOperandKind k) => k is OpCodeOperandKind.mem or OpCodeOperandKind.mem_offs or OpCodeOperandKind.seg_rBX_al;

    public static bool IsString(OpCodeOperandKind k) => k is OpCodeOperandKind.seg_rSI or OpCodeOperandKind.es_rDI or OpCodeOperandKind.seg_rDI;

    /// <summary>The forms of one code.</summary>
    public static IEnumerable<Form> FormsOf(Code code)
    {
        OpCodeInfo oc = code.ToOpCode();
        var kinds = Enumerable.Range(0, oc.OpCount).Select(oc.GetOpKind).ToArray();
        foreach (int bits in new[] { 16, 32 })
        {
            if (bits == 16 && !oc.Mode16 || bits == 32 && !oc.Mode32) continue;
            if (kinds.Any(IsRm))
            {
                yield return new Form(code, bits, OperandForm.Register, 0, RepPrefixKind.None);
                yield return new Form(code, bits, OperandForm.Memory, 16, RepPrefixKind.None);
                yield return new Form(code, bits, OperandForm.Memory, 32, RepPrefixKind.None);
            }
            else if (kinds.Any(IsMemOnly))
            {
                yield return new Form(code, bits, OperandForm.Memory, 16, RepPrefixKind.None);
                yield return new Form(code, bits, OperandForm.Memory, 32, RepPrefixKind.None);
            }
            else if (kinds.Any(IsString))
            {
                Mnemonic m = code.Mnemonic();
                bool conditional = m is Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd or Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd;
                foreach (int a in new[] { 16, 32 })
                {
                    yield return new Form(code, bits, OperandForm.None, a, RepPrefixKind.None);
                    yield return new Form(code, bits, OperandForm.None, a, RepPrefixKind.Repe);
                    if (conditional) yield return new Form(code, bits, OperandForm.None, a, RepPrefixKind.Repne);
                }
            }
            else
            {
                yield return new Form(code, bits, OperandForm.None, 0, RepPrefixKind.None);
            }
        }
    }

    public static IReadOnlyList<Form> All() => RequiredCodes().SelectMany(FormsOf).ToList();
}
