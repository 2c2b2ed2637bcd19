using Iced.Intel;

namespace Emu.X86;

/// <summary>
/// The one list of what the Intel SDM (Vol. 2, each instruction's "Flags Affected") leaves
/// undefined, per instruction. The emulator still gives these flags a fixed value (stated
/// below, the same on both engines); comparisons against a real CPU ignore them.
/// </summary>
/// <remarks>
/// <list type="table">
/// <listheader><term>Instruction</term><description>Undefined (our value)</description></listheader>
/// <item><term>AND, OR, XOR, TEST</term><description>AF (0)</description></item>
/// <item><term>MUL, IMUL</term><description>SF, ZF, PF (from the low half of the product), AF (0)</description></item>
/// <item><term>DIV, IDIV</term><description>CF, OF, SF, ZF, AF, PF (unchanged)</description></item>
/// <item><term>DAA, DAS</term><description>OF (0)</description></item>
/// <item><term>AAA, AAS</term><description>OF (0), SF, ZF, PF (from AL)</description></item>
/// <item><term>AAM, AAD</term><description>OF, AF, CF (0)</description></item>
/// <item><term>BT, BTS, BTR, BTC</term><description>OF, SF, AF, PF (unchanged)</description></item>
/// <item><term>BSF, BSR</term><description>CF, OF, SF, AF, PF (unchanged)</description></item>
/// <item><term>SHL/SAL, SHR, SAR (count &#8800; 0)</term><description>AF (0); OF when count &gt; 1 (SHL: MSB(result) XOR CF, SHR: MSB(dest), SAR: 0); CF for SHL/SHR when count &#8805; operand bits (the bit shifted out of a wide register)</description></item>
/// <item><term>ROL, ROR</term><description>OF when the masked count is not 1 (computed as for a 1-bit rotate when the count is not 0)</description></item>
/// <item><term>RCL, RCR (count &#8800; 0)</term><description>OF when the count is not 1 (computed as for a 1-bit rotate)</description></item>
/// <item><term>SHLD, SHRD (count &#8800; 0)</term><description>AF (0); OF when count &gt; 1 (sign change); 16-bit with count &gt; 16: result and all flags</description></item>
/// <item><term>BSWAP r16</term><description>the result (the register reads as 0)</description></item>
/// <item><term>BSF, BSR with a zero source</term><description>the destination (left unchanged)</description></item>
/// <item><term>PUSH Sreg (32-bit operand size)</term><description>the upper two bytes of the stack slot (left unmodified: a 16-bit store)</description></item>
/// </list>
/// Counts are the operand count masked to 5 bits, as the CPU masks it.
/// </remarks>
public static class UndefinedFlags
{
    private const uint All = Flags.Arith;

    /// <summary>The arithmetic flags the SDM leaves undefined after this instruction.</summary>
    /// <param name="mnemonic">The instruction.</param>
    /// <param name="operandBits">Operand size in bits (8, 16 or 32).</param>
    /// <param name="count">For shifts and rotates, the count operand (it is masked to 5 bits here).</param>
    public static uint Mask(Mnemonic mnemonic, int operandBits, uint count = 0)
    {
        count &= 0x1F;
        switch (mnemonic)
        {
            case Mnemonic.And:
            case Mnemonic.Or:
            case Mnemonic.Xor:
            case Mnemonic.Test:
                return Flags.AF;
            case Mnemonic.Mul:
            case Mnemonic.Imul:
                return Flags.SF | Flags.ZF | Flags.AF | Flags.PF;
            case Mnemonic.Div:
            case Mnemonic.Idiv:
                return All;
            case Mnemonic.Daa:
            case Mnemonic.Das:
                return Flags.OF;
            case Mnemonic.Aaa:
            case Mnemonic.Aas:
                return Flags.OF | Flags.SF | Flags.ZF | Flags.PF;
            case Mnemonic.Aam:
            case Mnemonic.Aad:
                return Flags.OF | Flags.AF | Flags.CF;
            case Mnemonic.Bt:
            case Mnemonic.Bts:
            case Mnemonic.Btr:
            case Mnemonic.Btc:
                return Flags.OF | Flags.SF | Flags.AF | Flags.PF;
            case Mnemonic.Bsf:
            case Mnemonic.Bsr:
                return Flags.CF | Flags.OF | Flags.SF | Flags.AF | Flags.PF;
            case Mnemonic.Shl:
            case Mnemonic.Sal:
            case Mnemonic.Shr:
            case Mnemonic.Sar:
            {
                if (count == 0) return 0;
                uint m = Flags.AF;
                if (count > 1) m |= Flags.OF;
                if (mnemonic != Mnemonic.Sar && count >= operandBits) m |= Flags.CF;
                return m;
            }
            case Mnemonic.Rol:
            case Mnemonic.Ror:
                return count == 1 ? 0 : Flags.OF;
            case Mnemonic.Rcl:
            case Mnemonic.Rcr:
                return count is 0 or 1 ? 0 : Flags.OF;
            case Mnemonic.Shld:
            case Mnemonic.Shrd:
            {
                if (count == 0) return 0;
                if (count > operandBits) return All;
                return count > 1 ? Flags.AF | Flags.OF : Flags.AF;
            }
            default:
                return 0;
        }
    }

    /// <summary>
    /// PUSH of a segment register with a 32-bit operand size: "either a zero-extended value is
    /// pushed on the stack or the segment selector is written on the stack using a 16-bit
    /// move" (Intel SDM Vol. 2, PUSH). Returns how many high bytes of the pushed slot are
    /// therefore implementation-specific (2 for a 32-bit push; we do the 16-bit move).
    /// </summary>
    public static int SegmentPushUndefinedBytes(int operandBits) => operandBits == 32 ? 2 : 0;

    /// <summary>
    /// BSF/BSR: "If the content of the source operand is 0, the content of the destination
    /// operand is undefined" (Intel SDM Vol. 2, BSF and BSR). We leave it unchanged.
    /// </summary>
    public static bool BitScanResultUndefined(uint source) => source == 0;

    /// <summary>Whether the SDM leaves the destination itself undefined (so a comparison must ignore it).</summary>
    public static bool ResultUndefined(Mnemonic mnemonic, int operandBits, uint count = 0)
    {
        count &= 0x1F;
        return mnemonic switch
        {
            Mnemonic.Shld or Mnemonic.Shrd => count > operandBits,
            Mnemonic.Bswap => operandBits == 16,
            _ => false,
        };
    }
}
