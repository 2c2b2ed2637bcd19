#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run) and as the README says:
#
#   tools/test.sh
#
# Installs what the tests need when it is missing (Debian packages, as root), builds the
# solution (warnings are errors), runs every test project, checks the benchmark workloads,
# and ends with one summary line: "tests: N passed, N failed, N skipped".
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# gcc-multilib: gcc -m32 for the firmware programs (the conformance tests' native helpers are 64-bit);
# nasm and qemu-system-x86: the system test programs (firmware/systests), run on both engines and in
# qemu-system-i386; seabios: the BIOS and VGA BIOS the PC boots through; bsdutils: script(1), a
# pseudo-terminal for the console tests.
tools/ensure-packages.sh gcc-multilib nasm qemu-system-x86 seabios bsdutils

# The project's Linux guest (Debian's i386 kernel and busybox, and a disk image with syslinux):
# built once, then 0.1 s when up to date. Its folder goes to the end-to-end tests. A failure
# here (no Debian mirror) leaves EMU_GUEST_DIR unset, and those tests fail saying what is missing.
if guest_env="$(guest/build-guest.sh)"; then
    # KEY=VALUE lines; values may hold spaces (GUEST_CMDLINE), so no eval.
    GUEST_DIR="$(sed -n 's/^GUEST_DIR=//p' <<<"$guest_env")"
    export EMU_GUEST_DIR="$GUEST_DIR"
else
    echo "tools/test.sh: building the guest failed (above); the Linux guest tests will fail" >&2
fi

started=$SECONDS
dotnet build Emulator.sln -c Debug -nologo -v quiet -clp:NoSummary

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
dotnet test Emulator.sln -c Debug --no-build -nologo 2>&1 | tee "$log" || status=$?

echo "benchmark workloads (bench/Emu.Bench --check):"
dotnet run -c Debug --no-build --project bench/Emu.Bench -- --check || status=$?

# One line for the whole run, summed over the test projects' "Passed!/Failed! - ..." lines.
awk '
    /(Passed|Failed)! +- +Failed:/ {
        for (i = 1; i <= NF; i++) {
            gsub(",", "", $(i + 1))
            if ($i == "Failed:") failed += $(i + 1)
            if ($i == "Passed:") passed += $(i + 1)
            if ($i == "Skipped:") skipped += $(i + 1)
        }
        projects++
    }
    END {
        if (projects == 0) { print "tests: no test project reported results"; exit 1 }
        printf "tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped
    }' "$log" || status=1
echo "test suite took $((SECONDS - started)) s"
exit "$status"
