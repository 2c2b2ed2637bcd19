#!/usr/bin/env bash
# Builds the bare-metal programs in firmware/ into build/firmware/NAME.elf.
#
#   firmware/build.sh            every program
#   firmware/build.sh hello ...  the named ones
#
# A program is a directory of firmware/ (other than lib/, include/ and systests/, which holds
# the NASM system test programs and has its own build.sh) holding .c and .S
# files; it links with the runtime in lib/ (Multiboot header, stack, console, exit) and
# defines fw_main. Add a directory to add a program. A program may hold two more files:
# `cflags`, compiler options for its own sources in place of -mgeneral-regs-only (bench-x87:
# x87 code), and `insns`, one extended regular expression a line, each of which must match an
# instruction of its disassembly (objdump -d -M intel), else the build fails. Needs gcc able
# to build 32-bit code (Debian: gcc-multilib); when it is missing, this script installs it as
# root, or says so.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
out="$root/build/firmware"

"$root/tools/ensure-packages.sh" gcc-multilib

CC="${CC:-gcc}"
CFLAGS=(-m32 -march=i686 -std=gnu11 -O2 -g -Wall -Wextra -Werror
    -ffreestanding -fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables
    -fno-tree-loop-distribute-patterns # else GCC may turn memset's own loop into a call to memset
    -I "$here/include")
REGS=(-mgeneral-regs-only)             # no x87, MMX or SSE unless a program's cflags asks for them
LDFLAGS=(-m32 -nostdlib -static -no-pie -T "$here/lib/link.ld"
    -Wl,--fatal-warnings -Wl,--build-id=none -Wl,--no-warn-rwx-segments -Wl,-z,max-page-size=0x1000)

programs=("$@")
if [[ ${#programs[@]} -eq 0 ]]; then
    for d in "$here"/*/; do
        name="$(basename "$d")"
        [[ $name == lib || $name == include || $name == systests ]] && continue
        programs+=("$name")
    done
fi

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9 # two builds at once (parallel test runs) must not share object files
for name in "${programs[@]}"; do
    src="$here/$name"
    if [[ ! -d $src || $name == lib || $name == include || $name == systests ]]; then
        echo "firmware/build.sh: no program named '$name' (expected a directory firmware/$name)" >&2
        exit 1
    fi
    obj="$out/obj/$name"
    rm -rf "$obj"
    mkdir -p "$obj"
    own=("${REGS[@]}")
    if [[ -f $src/cflags ]]; then read -r -a own < <(tr '\n' ' ' < "$src/cflags"; echo); fi
    objects=()
    for f in "$here"/lib/*.c "$here"/lib/*.S "$src"/*.c "$src"/*.S; do
        [[ -e $f ]] || continue
        o="$obj/$(basename "$(dirname "$f")")-$(basename "$f").o"
        flags=("${REGS[@]}")
        [[ $(dirname "$f") == "$src" ]] && flags=("${own[@]}")
        "$CC" "${CFLAGS[@]}" "${flags[@]}" -c "$f" -o "$o"
        objects+=("$o")
    done
    "$CC" "${LDFLAGS[@]}" -o "$out/$name.elf.tmp" "${objects[@]}" -lgcc
    if [[ -f $src/insns ]]; then
        listing="$(objdump -d -M intel --no-show-raw-insn "$out/$name.elf.tmp")"
        while IFS= read -r m; do
            [[ -z $m ]] && continue
            if ! grep -qE "^ +[0-9a-f]+:"$'\t'"($m)" <<< "$listing"; then
                echo "firmware/build.sh: $name: no instruction matches '$m' (firmware/$name/insns asks for one)" >&2
                rm -f "$out/$name.elf.tmp"
                exit 1
            fi
        done < "$src/insns"
    fi
    mv "$out/$name.elf.tmp" "$out/$name.elf"
    echo "built build/firmware/$name.elf"
done
