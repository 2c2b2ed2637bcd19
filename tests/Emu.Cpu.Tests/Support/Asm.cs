using System;
using System.IO;
using Iced.Intel;

namespace Emu.Cpu.Tests.Support;

/// <summary>Assembling guest code with Iced's Assembler, for any bitness and start address.</summary>
public static class Asm
{
    public static byte[] Assemble(int bitness, ulong ip, Action<Assembler> build)
    {
        var a = new Assembler(bitness);
        build(a);
        var w = new MemoryStream();
        a.Assemble(new StreamCodeWriter(w), ip);
        return w.ToArray();
    }

    /// <summary>Decodes the first instruction of <paramref name="code"/>.</summary>
    public static Instruction First(int bitness, ulong ip, byte[] code)
    {
        var d = Decoder.Create(bitness, new ByteArrayCodeReader(code), ip);
        d.Decode(out Instruction i);
        return i;
    }

    /// <summary>The length of each instruction in <paramref name="code"/>, in order.</summary>
    public static int Length(int bitness, Action<Assembler> build) => Assemble(bitness, 0, build).Length;
}
