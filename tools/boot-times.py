#!/usr/bin/env python3
"""Boots the project's Linux guest and prints how long each phase of its workload took, in
wall-clock seconds of the host: start to BOOT-OK, each MARK step (<step>-start to <step>-done),
and start to ALL-DONE.

    tools/boot-times.py                     # the translator and QEMU (TCG), side by side
    tools/boot-times.py --engines translator,interpreter --runs 3
    tools/boot-times.py --disk              # the same, booting the disk image through SeaBIOS
    tools/boot-times.py CMD ARGS...         # one command of your own (prints its phases)

With --runs N each column is the median of N runs. Columns run one after the other, never at
the same time (the machine has two cores). The guest is built by guest/build-guest.sh (tools/test.sh
runs it); ./emu builds the emulator when needed.
"""
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUEST = os.path.join(ROOT, "guest", "out")
APPEND = "console=ttyS0 quiet panic=-1"


def ours(engine, disk):
    cmd = [os.path.join(ROOT, "emu"), "run", "--engine", engine, "--memory", "256"]
    if disk:
        return cmd + ["--hda", os.path.join(GUEST, "disk.img")]
    return cmd + ["--kernel", os.path.join(GUEST, "vmlinuz"), "--initrd", os.path.join(GUEST, "initrd.gz"), "--append", APPEND]


def qemu(disk):
    cmd = ["qemu-system-i386", "-accel", "tcg", "-m", "256", "-nographic", "-no-reboot"]
    if disk:
        return cmd + ["-drive", f"file={os.path.join(GUEST, 'disk.img')},format=raw,snapshot=on"]
    return cmd + ["-kernel", os.path.join(GUEST, "vmlinuz"), "-initrd", os.path.join(GUEST, "initrd.gz"), "-append", APPEND]


def run(cmd):
    """The phases of one run: an ordered dict of name -> seconds, and the exit status."""
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    phases, started = {}, {}
    for raw in p.stdout:
        now = time.monotonic() - start
        line = raw.decode(errors="replace").strip()
        words = line.split()
        if not words:
            continue
        if words[0] == "BOOT-OK" and "boot" not in phases:
            phases["boot"] = now
        elif words[0] == "MARK" and len(words) > 1:
            step, _, edge = words[1].rpartition("-")
            if edge == "start":
                started[step] = now
            elif edge == "done" and step in started:
                phases[step] = now - started[step]
        elif words[0] == "ALL-DONE" and "total" not in phases:
            phases["total"] = now
    p.wait()
    return phases, p.returncode


def median_phases(cmd, runs):
    results = []
    for _ in range(runs):
        phases, status = run(cmd)
        if "total" not in phases:
            sys.exit(f"{' '.join(cmd)}: no ALL-DONE (exit status {status}); phases seen: {phases}")
        results.append(phases)
    names = [n for n in results[0] if all(n in r for r in results)]
    return {n: statistics.median(r[n] for r in results) for n in names}


def main(argv):
    if argv and argv[0] in ("-h", "--help"):
        sys.exit(__doc__)
    if argv and not argv[0].startswith("--"):
        phases, status = run(argv)
        print(f"{argv[0]}: " + ", ".join(f"{n} {s:.1f} s" for n, s in phases.items()) + f"; exit status {status}")
        return
    engines, runs, disk = ["translator"], 1, False
    i = 0
    while i < len(argv):
        if argv[i] == "--engines":
            engines = argv[i + 1].split(",")
            i += 2
        elif argv[i] == "--runs":
            runs = int(argv[i + 1])
            i += 2
        elif argv[i] == "--disk":
            disk = True
            i += 1
        else:
            sys.exit(f"boot-times.py: unknown option {argv[i]}\n{__doc__}")
    columns = [("qemu", median_phases(qemu(disk), runs))]
    for e in engines:
        columns.append((e, median_phases(ours(e, disk), runs)))
    q = columns[0][1]
    names = list(q)
    head = f"{'phase':<8}" + "".join(f"{c:>13}" for c, _ in columns) + "".join(f"{c + '/qemu':>18}" for c, _ in columns[1:])
    print(f"Linux guest ({'disk through SeaBIOS' if disk else 'direct boot'}), host seconds, median of {runs}:")
    print(head)
    for n in names:
        row = f"{n:<8}" + "".join(f"{(col[n] if n in col else float('nan')):>13.2f}" for _, col in columns)
        row += "".join(f"{(col[n] / q[n] if n in col and q[n] > 0 else float('nan')):>17.2f}x" for _, col in columns[1:])
        print(row)


if __name__ == "__main__":
    main(sys.argv[1:])
