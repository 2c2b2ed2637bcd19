#!/usr/bin/env bash
# Installs the Debian packages named as arguments when they are missing.
#
#   tools/ensure-packages.sh gcc-multilib nasm
#
# Quiet and quick when everything is there. Runs apt-get update only when something must be
# installed. Not root: says what is missing and how to install it, and fails.
set -euo pipefail

if ! command -v dpkg-query >/dev/null 2>&1; then
    exit 0 # not Debian: the caller's own checks say what is missing
fi

missing=()
for p in "$@"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
        missing+=("$p")
    fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
    echo "missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi

echo "installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
