using System;
using Emu.X86;
using Xunit;

namespace Emu.Fpu.Tests.Unit;

/// <summary>
/// The fast paths of <see cref="X87Fast"/> against the general path they shortcut (which the
/// differential suite checks against the host): wherever a fast path answers, its result
/// and flags must be those of the general path, bit for bit. Operands are drawn to sit on
/// and next to the rounding points of every precision, to cancel, to carry, and to reach
/// the edges of the exponent range where the fast path must refuse.
/// </summary>
public sealed class FastPathTests
{
    private const int Cases = 400_000;

    private static readonly int[] Precisions = { 24, 53, 64 };

    internal sealed class Gen
    {
        private readonly Random r;
        public Gen(int seed) => r = new Random(seed);

        /// <summary>Exponent distances of the single and double overflow, underflow and denormal thresholds.</summary>
        private static readonly int[] Edges = { 126, 127, 149, 1022, 1023, 1074 };

        public ulong U64() => (ulong)r.NextInt64() ^ ((ulong)r.Next(2) << 63);
        public int Next(int n) => r.Next(n);

        /// <summary>A significand with its integer bit set, often with its low bits on or next to a rounding point.</summary>
        public ulong Significand()
        {
            ulong s = Float80.IntegerBit | U64();
            switch (r.Next(8))
            {
                case 0:
                case 1:
                {
                    int k = r.Next(3) switch { 0 => 40, 1 => 11, _ => 1 + r.Next(63) };
                    ulong mask = (1UL << k) - 1, half = 1UL << (k - 1);
                    ulong low = r.Next(6) switch { 0 => 0, 1 => half, 2 => half - 1, 3 => half + 1, 4 => mask, _ => 1 };
                    s = (s & ~mask) | low;
                    break;
                }
                case 2: s = r.Next(2) == 0 ? ulong.MaxValue : Float80.IntegerBit | (uint)r.Next(4); break;
                case 3: s |= ((1UL << r.Next(64)) - 1) & ~Float80.IntegerBit; break;
            }
            return s | Float80.IntegerBit;
        }

        public int Exponent() => r.Next(5) switch
        {
            0 => 1 + r.Next(0x7FFE),
            1 => 1 + r.Next(200),
            2 => 0x7FFE - r.Next(200),
            3 => Float80.Bias + (r.Next(2) == 0 ? 1 : -1) * Edges[r.Next(Edges.Length)] + r.Next(80) - 40, // the single and double ranges
            _ => Float80.Bias + r.Next(200) - 100,
        };

        /// <summary>Mostly normal values, sometimes anything (zeros, denormals, infinities, NaNs, unnormals).</summary>
        public Float80 Value()
        {
            bool sign = r.Next(2) == 0;
            if (r.Next(16) == 0)
            {
                ushort se = (ushort)r.Next(0x10000);
                ulong sig = r.Next(4) switch { 0 => 0, 1 => Float80.IntegerBit, 2 => U64() & ~Float80.IntegerBit, _ => U64() };
                if (r.Next(3) == 0) se = (ushort)((se & 0x8000) | (r.Next(2) == 0 ? 0 : 0x7FFF));
                return new Float80(se, sig);
            }
            return new Float80((ushort)((sign ? 0x8000 : 0) | Exponent()), Significand());
        }

        /// <summary>A second operand: near the first's exponent (cancellation, carries, sticky bits), or independent.</summary>
        public Float80 Partner(in Float80 a)
        {
            if (r.Next(3) == 0) return Value();
            int e = Math.Clamp(a.Exponent + r.Next(140) - 70, 1, 0x7FFE);
            ulong sig = r.Next(4) == 0 ? a.Significand ^ (ulong)r.Next(8) : Significand();
            bool sign = r.Next(2) == 0;
            return new Float80((ushort)((sign ? 0x8000 : 0) | e), sig | Float80.IntegerBit);
        }

        public bool Coin() => r.Next(2) == 0;

        public ushort ControlWord() => (ushort)(0x0040 | (r.Next(4) << 10) | (r.Next(4) << 8) | (r.Next(4) == 0 ? r.Next(0x40) : 0x3F));
    }

    private static void Same(string what, Float80 a, Float80 b, Float80 fast, uint fastFlags, Float80 slow, uint slowFlags, ushort cw)
    {
        if (fast.SignExponent != slow.SignExponent || fast.Significand != slow.Significand || fastFlags != slowFlags)
            Assert.Fail($"{what} {a} {b} cw={cw:X4}: fast {fast} flags {fastFlags:X}, general {slow} flags {slowFlags:X}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void ArithmeticMatchesTheGeneralPath(int op)
    {
        var g = new Gen(1000 + op);
        int fastCount = 0;
        for (int n = 0; n < Cases; n++)
        {
            Float80 a = g.Value(), b = g.Partner(a);
            if (op == 4) a = a.WithSign(false);
            ushort cw = g.ControlWord();
            int p = Rounding.PrecisionBits((cw >> 8) & 3), rc = (cw >> 10) & 3;
            uint ff = 0, sf = 0;
            Float80 fast, slow;
            bool done;
            Unpacked ua = Unpacked.From(a), ub = Unpacked.From(b);
            switch (op)
            {
                case 0:
                    done = X87Fast.TryAdd(a, b, false, p, rc, ref ff, out fast);
                    slow = X87Math.Add(ua, ub, false, p, rc, cw, ref sf);
                    break;
                case 1:
                    done = X87Fast.TryAdd(a, b, true, p, rc, ref ff, out fast);
                    slow = X87Math.Add(ua, ub, true, p, rc, cw, ref sf);
                    break;
                case 2:
                    done = X87Fast.TryMultiply(a, b, p, rc, ref ff, out fast);
                    slow = X87Math.Multiply(ua, ub, p, rc, cw, ref sf);
                    break;
                case 3:
                    done = X87Fast.TryDivide(a, b, p, rc, ref ff, out fast);
                    slow = X87Math.Divide(ua, ub, p, rc, cw, ref sf);
                    break;
                default:
                    done = X87Fast.TrySqrt(a, p, rc, ref ff, out fast);
                    slow = X87Math.Sqrt(ua, p, rc, cw, ref sf);
                    break;
            }
            if (!done)
            {
                Assert.Equal(0u, ff);
                continue;
            }
            fastCount++;
            Same($"op {op}", a, b, fast, ff, slow, sf, cw);
        }
        Assert.True(fastCount > Cases / 2, $"only {fastCount} of {Cases} cases took the fast path");
    }

    [Fact]
    public void ConversionsMatchTheGeneralPath()
    {
        var g = new Gen(77);
        for (int n = 0; n < Cases; n++)
        {
            Float80 v = g.Value();
            ushort cw = g.ControlWord();
            int rc = (cw >> 10) & 3;
            uint ff = 0, sf = 0;
            if (X87Fast.TryToDouble(v, rc, ref ff, out ulong d))
            {
                ulong sd = Conversions.ToDouble(v, rc, cw, ref sf);
                if (d != sd || ff != sf) Assert.Fail($"FST m64 {v} cw={cw:X4}: fast {d:X16} {ff:X}, general {sd:X16} {sf:X}");
            }
            ff = sf = 0;
            if (X87Fast.TryToSingle(v, rc, ref ff, out uint s))
            {
                uint ss = Conversions.ToSingle(v, rc, cw, ref sf);
                if (s != ss || ff != sf) Assert.Fail($"FST m32 {v} cw={cw:X4}: fast {s:X8} {ff:X}, general {ss:X8} {sf:X}");
            }
            // Integers: values of every magnitude up to 2^64.
            Float80 w = g.Next(2) == 0 ? v : new Float80((ushort)((v.SignExponent & 0x8000) | (Float80.Bias - 2 + g.Next(68))), v.Significand);
            foreach (int bits in new[] { 16, 32, 64 })
            {
                ff = sf = 0;
                if (X87Fast.TryToInteger(w, bits, rc, ref ff, out long k))
                {
                    long sk = Conversions.ToInteger(w, bits, rc, ref sf);
                    if (k != sk || ff != sf) Assert.Fail($"FIST m{bits} {w} rc={rc}: fast {k} {ff:X}, general {sk} {sf:X}");
                }
            }
            ulong raw = g.U64();
            if (X87Fast.TryFromDouble(raw, out Float80 ld))
            {
                sf = 0;
                Float80 sl = Conversions.Load(Unpacked.FromDouble(raw), ref sf);
                Same("FLD m64", ld, ld, ld, 0, sl, sf, cw);
            }
            if (X87Fast.TryFromSingle((uint)raw, out Float80 ls))
            {
                sf = 0;
                Float80 sl = Conversions.Load(Unpacked.FromSingle((uint)raw), ref sf);
                Same("FLD m32", ls, ls, ls, 0, sl, sf, cw);
            }
            long iv = (long)raw >> g.Next(64);
            Float80 fi = X87Fast.FromInt64(iv), si = Unpacked.FromInt64(iv).ToFloat80Exact();
            Same("FILD", fi, fi, fi, 0, si, 0, cw);
        }
    }

    [Fact]
    public void ComparisonsMatchTheGeneralPath()
    {
        var g = new Gen(5);
        for (int n = 0; n < Cases; n++)
        {
            Float80 a = g.Value(), b = g.Next(8) == 0 ? a.WithSign(g.Next(2) == 0) : g.Partner(a);
            if (g.Next(8) == 0) a = Float80.Zero(g.Next(2) == 0);
            if (g.Next(8) == 0) b = Float80.Zero(g.Next(2) == 0);
            if (!X87Fast.TryCompare(a, b, out int fast)) continue;
            uint flags = 0;
            int slow = X87Math.Compare(Unpacked.From(a), Unpacked.From(b), false, ref flags);
            if (fast != slow || flags != 0) Assert.Fail($"compare {a} {b}: fast {fast}, general {slow} flags {flags:X}");
        }
    }

    [Fact]
    public void DivisionAndSquareRootStepsAreExact()
    {
        var g = new Gen(9);
        for (int n = 0; n < Cases; n++)
        {
            ulong d = g.Significand(), hi = g.U64() % d, lo = g.U64();
            ulong q = X87Fast.DivRem(hi, lo, d, out ulong rem);
            UInt128 num = ((UInt128)hi << 64) | lo;
            Assert.Equal(num / d, (UInt128)q);
            Assert.Equal(num % d, (UInt128)rem);

            ulong nh = g.Significand() >> g.Next(2), nl = g.U64();
            if (nh < (1UL << 62)) nh |= 1UL << 62;
            ulong root = X87Fast.ISqrt(nh, nl, out ulong rh, out ulong rl);
            ulong expected = X87Math.ISqrt(((UInt128)nh << 64) | nl, out UInt128 er);
            Assert.Equal(expected, root);
            Assert.Equal(er, ((UInt128)rh << 64) | rl);
        }
    }
}
