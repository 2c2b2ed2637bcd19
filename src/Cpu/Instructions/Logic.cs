using System.Runtime.CompilerServices;
using Iced.Intel;

namespace Emu.X86;

/// <summary>Logical instructions: AND, OR, XOR, TEST, NOT. CF=OF=0, SF/ZF/PF from the result, AF undefined (kept 0).</summary>
public static unsafe class Logic
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint And(Cpu c, uint a, uint b, int size)
    {
        uint r = And(a, b);
        c.SetLazy(LazyFlags.Logic | size, 0, 0, r);
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Or(Cpu c, uint a, uint b, int size)
    {
        uint r = Or(a, b);
        c.SetLazy(LazyFlags.Logic | size, 0, 0, r);
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Xor(Cpu c, uint a, uint b, int size)
    {
        uint r = Xor(a, b);
        c.SetLazy(LazyFlags.Logic | size, 0, 0, r);
        return r;
    }

    // The results (compiled code calls these on its locals); the flag record is Logic | size over the result, CF = OF = 0.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint And(uint a, uint b) => a & b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Or(uint a, uint b) => a | b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Xor(uint a, uint b) => a ^ b;

    /// <summary>NOT changes no flags.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Not(uint a, int size) => ~a & OperandSize.Mask(size);

    public struct AndOp : IBinaryOp { public static bool WritesResult => true; public static uint Apply(Cpu c, uint a, uint b, int s) => And(c, a, b, s); }
    public struct OrOp : IBinaryOp { public static bool WritesResult => true; public static uint Apply(Cpu c, uint a, uint b, int s) => Or(c, a, b, s); }
    public struct XorOp : IBinaryOp { public static bool WritesResult => true; public static uint Apply(Cpu c, uint a, uint b, int s) => Xor(c, a, b, s); }
    public struct TestOp : IBinaryOp { public static bool WritesResult => false; public static uint Apply(Cpu c, uint a, uint b, int s) => And(c, a, b, s); }
    public struct NotOp : IUnaryOp { public static uint Apply(Cpu c, uint a, int s) => Not(a, s); }

    internal static void Register()
    {
        Arithmetic.RegisterBinary<AndOp>("And");
        Arithmetic.RegisterBinary<OrOp>("Or");
        Arithmetic.RegisterBinary<XorOp>("Xor");

        foreach (Code code in new[] { Code.Test_rm8_r8, Code.Test_AL_imm8, Code.Test_rm8_imm8, Code.Test_rm8_imm8_F6r1 })
            InstructionTable.AddBinary<TestOp, Byte8>(code);
        foreach (Code code in new[] { Code.Test_rm16_r16, Code.Test_AX_imm16, Code.Test_rm16_imm16, Code.Test_rm16_imm16_F7r1 })
            InstructionTable.AddBinary<TestOp, Word16>(code);
        foreach (Code code in new[] { Code.Test_rm32_r32, Code.Test_EAX_imm32, Code.Test_rm32_imm32, Code.Test_rm32_imm32_F7r1 })
            InstructionTable.AddBinary<TestOp, Dword32>(code);

        InstructionTable.AddUnary<NotOp, Byte8>(Code.Not_rm8);
        InstructionTable.AddUnary<NotOp, Word16>(Code.Not_rm16);
        InstructionTable.AddUnary<NotOp, Dword32>(Code.Not_rm32);
    }
}
