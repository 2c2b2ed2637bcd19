#!/usr/bin/env bash
# Assembles the bare-metal system test programs firmware/systests/NAME.asm into
# build/systests/NAME.bin (flat Multiboot images, the a.out kludge), with nasm.
#
#   firmware/systests/build.sh            every program
#   firmware/systests/build.sh paging ... the named ones
#
# Installs nasm when it is missing (as root), or says how to.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/build/systests"

"$root/tools/ensure-packages.sh" nasm
command -v nasm >/dev/null || { echo "firmware/systests/build.sh: nasm is missing (Debian package nasm)" >&2; exit 1; }

programs=("$@")
if [[ ${#programs[@]} -eq 0 ]]; then
    for f in "$here"/*.asm; do programs+=("$(basename "$f" .asm)"); done
fi

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
for name in "${programs[@]}"; do
    src="$here/$name.asm"
    [[ -f $src ]] || { echo "firmware/systests/build.sh: no program $src" >&2; exit 1; }
    nasm -f bin -I "$here/" -o "$out/$name.bin.tmp" -l "$out/$name.lst" "$src"
    mv "$out/$name.bin.tmp" "$out/$name.bin"
done
