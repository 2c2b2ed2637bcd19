#!/usr/bin/env bash
# The main job: builds the project's Linux guest on first use (guest/build-guest.sh: Debian's
# i386 kernel and busybox) and boots it on the emulator, directly, to an interactive shell on
# the serial console. Ctrl-A x quits; `exit` in the guest powers it off.
#
#   tools/run-guest.sh                 # the shell
#   tools/run-guest.sh --workload      # the fixed workload instead (prints its results, powers off)
#   tools/run-guest.sh --disk          # boot the disk image through SeaBIOS instead (workload)
#
# Other arguments go to `./emu run` (for example --engine interpreter, --deterministic).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

mode="mode=shell"
disk=0
args=()
for a in "$@"; do
    case "$a" in
        --workload) mode="" ;;
        --disk) disk=1 ;;
        *) args+=("$a") ;;
    esac
done
engine=(--engine translator)
for a in "${args[@]}"; do [[ $a == --engine* ]] && engine=(); done

tools/ensure-packages.sh seabios
guest_env="$(guest/build-guest.sh)"
# KEY=VALUE lines; values may hold spaces (GUEST_CMDLINE), so no eval.
while IFS='=' read -r key value; do
    case "$key" in GUEST_*) printf -v "$key" '%s' "$value" ;; esac
done <<<"$guest_env"
if [[ $disk == 1 ]]; then
    exec ./emu run --hda "$GUEST_DISK" --memory 256 "${engine[@]}" "${args[@]}"
fi
exec ./emu run --kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" --append "$GUEST_CMDLINE${mode:+ $mode}" \
    --memory 256 "${engine[@]}" "${args[@]}"
