using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using Emu.X86;
using Xunit;

namespace Emu.Fpu.Tests.Unit;

/// <summary>
/// The arithmetic core (fast path first, then the general path, as the instructions run
/// them) against the host's x87 through a 64-bit helper, <c>native/x87_oracle64.c</c>:
/// add, subtract, multiply, divide, square root, the m64/m32/integer stores and FCOMI, at
/// every precision and rounding control with the exceptions masked. It needs only gcc, so
/// it also runs where 32-bit programs cannot (the differential suite needs them).
/// EMU_FPU_CASES scales it (cases per operation).
/// </summary>
public sealed class FastPathHostTests
{
    private static string BuildOracle()
    {
        string src = Path.Combine(AppContext.BaseDirectory, "native", "x87_oracle64.c");
        string outDir = Path.Combine(AppContext.BaseDirectory, "native-bin");
        string exe = Path.Combine(outDir, "x87_oracle64");
        Directory.CreateDirectory(outDir);
        if (File.Exists(exe) && File.GetLastWriteTimeUtc(exe) >= File.GetLastWriteTimeUtc(src)) return exe;
        var psi = new ProcessStartInfo("gcc") { RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "-O1", "-o", exe + ".tmp", src }) psi.ArgumentList.Add(a);
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start gcc");
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException("gcc failed: " + err);
        File.Move(exe + ".tmp", exe, true);
        return exe;
    }

    [Fact]
    public void ArithmeticCoreMatchesTheHost()
    {
        int perOp = int.TryParse(Environment.GetEnvironmentVariable("EMU_FPU_CASES"), out int n) && n > 0 ? n * 100 : 20_000;
        const int Ops = 11;
        int cases = perOp * Ops;
        var g = new FastPathTests.Gen(4242);
        var inputs = new (int Op, ushort Cw, Float80 A, Float80 B)[cases];
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        for (int k = 0; k < cases; k++)
        {
            int op = k % Ops;
            Float80 a = g.Value(), b = g.Partner(a);
            if (op == 4 && g.Next(4) != 0) a = a.WithSign(false);
            if (op is >= 7 and <= 9 && g.Coin())
                a = new Float80((ushort)((a.SignExponent & 0x8000) | (Float80.Bias - 2 + g.Next(68))), a.Significand);
            ushort cw = (ushort)(0x007F | (g.Next(4) << 8) | (g.Next(4) << 10));
            inputs[k] = (op, cw, a, b);
            w.Write((byte)op);
            w.Write(cw);
            w.Write(a.Significand);
            w.Write(a.SignExponent);
            w.Write(b.Significand);
            w.Write(b.SignExponent);
        }
        w.Flush();

        var psi = new ProcessStartInfo(BuildOracle()) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start the oracle");
        // Fed from another thread: the helper's answers must be read while it still reads.
        var feed = new Thread(() =>
        {
            ms.Position = 0;
            ms.CopyTo(p.StandardInput.BaseStream);
            p.StandardInput.Close();
        });
        feed.Start();
        var rd = new BinaryReader(p.StandardOutput.BaseStream);
        int bad = 0;
        string first = "";
        for (int k = 0; k < cases; k++)
        {
            ulong hostLo = rd.ReadUInt64();
            ushort hostHi = rd.ReadUInt16(), sw = rd.ReadUInt16();
            var (op, cw, a, b) = inputs[k];
            Emulate(op, cw, a, b, out ulong lo, out ushort hi, out uint flags);
            uint hostFlags = sw & 0x27Fu;
            if (op == 10) hostFlags &= ~(uint)FpuStatus.C1;
            if (lo != hostLo || hi != hostHi || (flags & 0x27Fu) != hostFlags)
            {
                if (bad++ == 0)
                    first = $"op {op} cw {cw:X4} a {a} b {b}: host {hostHi:X4}:{hostLo:X16} sw {hostFlags:X3}, emulator {hi:X4}:{lo:X16} flags {flags & 0x27F:X3}";
            }
        }
        feed.Join();
        p.WaitForExit();
        Assert.True(bad == 0, $"{bad} of {cases} cases differ from the host; the first: {first}");
    }

    /// <summary>What the instructions compute: the fast path, else the general one.</summary>
    private static void Emulate(int op, ushort cw, Float80 a, Float80 b, out ulong lo, out ushort hi, out uint flags)
    {
        int p = Rounding.PrecisionBits((cw >> 8) & 3), rc = (cw >> 10) & 3;
        flags = 0;
        hi = 0;
        switch (op)
        {
            case <= 4:
            {
                bool done = op switch
                {
                    0 => X87Fast.TryAdd(a, b, false, p, rc, ref flags, out Float80 r0) && Keep(r0, out a),
                    1 => X87Fast.TryAdd(a, b, true, p, rc, ref flags, out Float80 r1) && Keep(r1, out a),
                    2 => X87Fast.TryMultiply(a, b, p, rc, ref flags, out Float80 r2) && Keep(r2, out a),
                    3 => X87Fast.TryDivide(a, b, p, rc, ref flags, out Float80 r3) && Keep(r3, out a),
                    _ => X87Fast.TrySqrt(a, p, rc, ref flags, out Float80 r4) && Keep(r4, out a),
                };
                if (!done)
                {
                    Unpacked ua = Unpacked.From(a), ub = Unpacked.From(b);
                    a = op switch
                    {
                        0 => X87Math.Add(ua, ub, false, p, rc, cw, ref flags),
                        1 => X87Math.Add(ua, ub, true, p, rc, cw, ref flags),
                        2 => X87Math.Multiply(ua, ub, p, rc, cw, ref flags),
                        3 => X87Math.Divide(ua, ub, p, rc, cw, ref flags),
                        _ => X87Math.Sqrt(ua, p, rc, cw, ref flags),
                    };
                }
                lo = a.Significand;
                hi = a.SignExponent;
                return;
            }
            case 5:
                if (!X87Fast.TryToDouble(a, rc, ref flags, out lo)) lo = Conversions.ToDouble(a, rc, cw, ref flags);
                return;
            case 6:
                if (!X87Fast.TryToSingle(a, rc, ref flags, out uint s)) s = Conversions.ToSingle(a, rc, cw, ref flags);
                lo = s;
                return;
            case 7:
            case 8:
            case 9:
                int bits = op == 7 ? 64 : op == 8 ? 32 : 16;
                if (!X87Fast.TryToInteger(a, bits, rc, ref flags, out long v)) v = Conversions.ToInteger(a, bits, rc, ref flags);
                lo = bits == 64 ? (ulong)v : bits == 32 ? (uint)v : (ushort)v;
                return;
            default:
                if (!X87Fast.TryCompare(a, b, out int result)) result = X87Math.Compare(Unpacked.From(a), Unpacked.From(b), false, ref flags);
                lo = result switch { X87Math.Greater => 0u, X87Math.Less => 1u, X87Math.Equal => 2u, _ => 7u };
                flags &= ~(uint)FpuStatus.C1;
                return;
        }
    }

    private static bool Keep(Float80 r, out Float80 into)
    {
        into = r;
        return true;
    }
}
