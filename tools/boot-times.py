#!/usr/bin/env python3
"""Runs a command that boots the project's guest and prints the wall-clock seconds from its
start to the first BOOT-OK and ALL-DONE lines of its output (and the guest's own uptimes).

    tools/boot-times.py ./emu run --engine translator --kernel guest/out/vmlinuz \
        --initrd guest/out/initrd.gz --append 'console=ttyS0 quiet panic=-1' --memory 256
    tools/boot-times.py qemu-system-i386 -accel tcg -m 256 -nographic -no-reboot \
        -kernel guest/out/vmlinuz -initrd guest/out/initrd.gz -append 'console=ttyS0 quiet panic=-1'
"""
import subprocess
import sys
import time

if len(sys.argv) < 2:
    sys.exit(__doc__)
start = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
seen = {}
for raw in p.stdout:
    line = raw.decode(errors="replace").strip()
    for marker in ("BOOT-OK", "ALL-DONE"):
        if line.startswith(marker) and marker not in seen:
            seen[marker] = (time.monotonic() - start, line)
p.wait()


def show(marker):
    return f"{seen[marker][0]:.1f} s ({seen[marker][1]})" if marker in seen else "never"


print(f"{sys.argv[1]}: BOOT-OK {show('BOOT-OK')}, ALL-DONE {show('ALL-DONE')}, "
      f"exit status {p.returncode} after {time.monotonic() - start:.1f} s")
