#!/usr/bin/env python3
"""Which side is right where the emulator's transcendental results differ from the host's.

Reads the fpu-transcendental-differences-*.txt file the differential tests write (one
differing case per line), recomputes each result with mpmath (300 bits, more for tiny arguments) and rounds it to
the 64-bit significand by the case's rounding control, and counts, per instruction, the
cases where the emulator, the host, both or neither return the correctly rounded result.
The trigonometric instructions are judged against the x87's definition: the argument is
reduced with the 66-bit pi (Intel SDM Vol. 1, 8.3.10), not the true one.

    python3 tests/Emu.Fpu.Tests/tools/judge_transcendentals.py FILE
"""
import sys
from collections import defaultdict

import mpmath as mp

mp.mp.prec = 300
PI66 = mp.mpf(0x3243F6A8885A308D3) / mp.mpf(2) ** 64  # pi to 66 significant bits, as the x87 uses


def decode(t):
    se, sig = t.split(':')
    se, sig = int(se, 16), int(sig, 16)
    e = se & 0x7FFF
    if e == 0x7FFF:
        return None
    v = mp.mpf(sig) * mp.mpf(2) ** ((e if e else 1) - 16383 - 63)
    return -v if se & 0x8000 else v


def round64(v, rc):
    """v rounded to a 64-bit significand (exponent unbounded) by rounding control rc."""
    if v == 0:
        return v
    sign = -1 if v < 0 else 1
    a = abs(v)
    e = int(mp.floor(mp.log(a, 2)))
    scale = mp.mpf(2) ** (63 - e)
    m = a * scale
    if m >= mp.mpf(2) ** 64:
        scale /= 2
        m = a * scale
    lo = mp.floor(m)
    frac = m - lo
    if rc == 0:
        up = frac > 0.5 or (frac == 0.5 and int(lo) % 2 == 1)
    elif rc == 1:
        up = sign < 0 and frac > 0
    elif rc == 2:
        up = sign > 0 and frac > 0
    else:
        up = False
    return sign * (lo + (1 if up else 0)) / scale


def reduce66(x):
    q = mp.floor(abs(x) / (PI66 / 2))
    r = abs(x) - q * (PI66 / 2)
    if r > PI66 / 4:
        r -= PI66 / 2
        q += 1
    return r, int(q) % 4


def sin66(x):
    r, q = reduce66(x)
    v = [mp.sin(r), mp.cos(r), -mp.sin(r), -mp.cos(r)][q]
    return -v if x < 0 else v


def cos66(x):
    r, q = reduce66(x)
    return [mp.cos(r), -mp.sin(r), -mp.cos(r), mp.sin(r)][q]


def reference(m, x, y):
    """The results the instruction leaves in ST(0) (and ST(1)), in that order; None = not judged."""
    if m == 'Fsin':
        return [sin66(x)]
    if m == 'Fcos':
        return [cos66(x)]
    if m == 'Fptan':
        return [mp.mpf(1), sin66(x) / cos66(x)]
    if m == 'Fsincos':
        return [cos66(x), sin66(x)]
    if m == 'F2xm1':
        return [mp.power(2, x) - 1]
    if m == 'Fyl2x':
        return [y * mp.log(x, 2)] if x > 0 else None
    if m == 'Fyl2xp1':
        return [y * mp.log(1 + x, 2)] if x > -1 else None
    if m == 'Fpatan':
        return [mp.atan2(y, x)]
    return None


def main(path):
    tally = defaultdict(lambda: defaultdict(int))
    flags = defaultdict(lambda: defaultdict(int))
    for line in open(path):
        f = dict(p.split('=', 1) for p in line.split()[1:])
        m = line.split()[0]
        rc = int(f['rc'])
        # Enough precision that even for a tiny argument the first correction term (x^3
        # next to x, x^2 next to 1) stays visible: the result may sit right next to x.
        e = int(f['st0'].split(':')[0], 16) & 0x7FFF
        mp.mp.prec = 300 + 3 * max(0, 16383 - e)
        x = decode(f['st0'])
        y = decode(f['st1']) if m in ('Fyl2x', 'Fyl2xp1', 'Fpatan') else mp.mpf(0)
        if x is None or y is None:
            tally[m]['not judged'] += 1
            continue
        ref = reference(m, x, y)
        if ref is None:
            tally[m]['not judged'] += 1
            continue
        host = [decode(t) for t in f['host'].split(',')]
        emu = [decode(t) for t in f['emu'].split(',')]
        # A tiny result with the underflow exception unmasked comes back scaled by 2^24576.
        tiny = mp.mpf(2) ** -16382
        ref = [v * mp.mpf(2) ** 24576 if 0 < abs(v) < tiny and emu[i] is not None and abs(emu[i]) > 1 else v
               for i, v in enumerate(ref)]
        want = [round64(v, rc) for v in ref]
        e_ok = all(emu[i] == want[i] for i in range(len(want)))
        h_ok = all(host[i] == want[i] for i in range(len(want)))
        if e_ok and h_ok:
            flags[m][(int(f['hostsw'], 16) ^ int(f['emusw'], 16)) & 0x7FFF] += 1
        key = 'both correct (flags differ)' if e_ok and h_ok else 'emulator correct' if e_ok else 'host correct' if h_ok else 'neither'
        tally[m][key] += 1
    names = {0x200: 'C1', 0x20: 'PE', 0x10: 'UE'}
    for m in sorted(tally):
        line = f'{m}: ' + ', '.join(f'{k} {v}' for k, v in sorted(tally[m].items()))
        if flags[m]:
            line += ' [status bits that differ where both values are right: ' + ', '.join(
                f"{'+'.join(n for b, n in names.items() if d & b) or hex(d)} {c}" for d, c in sorted(flags[m].items())) + ']'
        print(line)


if __name__ == '__main__':
    main(sys.argv[1])
