#!/usr/bin/env bash
# Builds the emulator's default Linux test guest from Debian's i386 packages.
#
#   guest/build-guest.sh [--out DIR] [--cache DIR] [--no-disk] [--force] [--update-pins]
#
# Products, in --out (default guest/out/, or $GUEST_OUT):
#   vmlinuz        the kernel of the pinned linux-image-*-686 package (a bzImage)
#   vmlinuz-pae    the kernel of the pinned linux-image-*-686-pae package (PAE paging and NX),
#                  of the same version: the same initrd runs on it
#   kernel-config  its configuration (the package's System.map is a stub: symbols are in -dbg)
#   initrd.gz      a busybox-static initramfs whose /init is guest/init (the workload)
#   disk.img       a raw disk: MBR with syslinux's boot code, one active FAT16 partition holding
#                  syslinux, vmlinuz, initrd.gz and guest/syslinux.cfg; boots through a PC BIOS
#   build-info.txt what was built from which package versions, with the products' sha256
#
# The package versions and the sha256 of their .deb files are pinned in guest/guest.lock; a
# download that does not match the lock is refused. --update-pins resolves the newest
# linux-image-686:i386, linux-image-686-pae:i386 and busybox-static:i386 instead and rewrites
# the lock (see guest/README.md).
# Downloaded packages are kept in --cache (default ~/.cache/emu-guest/debs, or $GUEST_CACHE).
#
# Incremental: each product remembers (in OUT/.stamps) a key made of its inputs (the pins, the
# files of guest/ it is made from, this script, the tools' versions); a run whose keys all match
# does nothing but print the paths. --force rebuilds everything.
#
# The last lines on standard output are the products, KEY=VALUE, one a line (split at the first
# "="), and nothing else goes to standard output:
#   GUEST_DIR=... GUEST_KERNEL=... GUEST_KERNEL_PAE=... GUEST_INITRD=... GUEST_DISK=... GUEST_CMDLINE=...
# (GUEST_DISK is absent with --no-disk). Progress and errors go to standard error.
#
# Needs Debian's apt with the i386 architecture enabled (done here when run as root), and
# cpio, dosfstools, mtools, syslinux, syslinux-common and fdisk (installed here as root when
# missing). No root and no loop devices are needed once those are there.
set -euo pipefail
umask 022

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
self="$here/$(basename "${BASH_SOURCE[0]}")"
lock="$here/guest.lock"
out="${GUEST_OUT:-$here/out}"
cache="${GUEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/emu-guest/debs}"
want_disk=1
force=0
update_pins=0

# The kernel command line of the workload, as the reference lines were measured with it.
CMDLINE="console=ttyS0 quiet panic=-1"
# The disk's layout: 32 MiB, one partition from sector 2048 (1 MiB) to the end.
DISK_MIB=32
PART_START=2048
DISK_ID=0x454d5547    # the MBR's disk signature, "GUME": fixed, so the image is reproducible
VOLUME_ID=454d5547    # the FAT volume serial number, fixed for the same reason
# The time stamp of every file in the initramfs and on the FAT partition (2000-01-01 00:00 UTC:
# FAT cannot store dates before 1980).
EPOCH=946684800
MBR_BIN=/usr/lib/syslinux/mbr/mbr.bin
# busybox applets the workload runs; mode=shell installs all the others at boot
APPLETS="sh ash awk cat cttyhack dd echo grep gzip gunzip ls md5sum mkdir mount poweroff
         reboot rm setsid sleep sync true umount uname wc"

say() { echo "build-guest: $*" >&2; }
die() { echo "build-guest: error: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --out) [[ $# -ge 2 ]] || die "--out needs a folder"; out=$2; shift 2 ;;
        --cache) [[ $# -ge 2 ]] || die "--cache needs a folder"; cache=$2; shift 2 ;;
        --no-disk) want_disk=0; shift ;;
        --force) force=1; shift ;;
        --update-pins) update_pins=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$self" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
        *) die "unknown argument '$1' (try --help)" ;;
    esac
done

mkdir -p "$out" "$cache" "$out/.stamps"
out="$(cd "$out" && pwd)"
cache="$(cd "$cache" && pwd)"
exec 9> "$out/.lock"
flock 9 # two runs at once (parallel test runs) must not write the same files

# --- tools ---------------------------------------------------------------------------------

is_root() { [[ $(id -u) -eq 0 ]]; }

# need PACKAGE:COMMAND... : installs the packages as root when a command is missing, else says
# exactly which package to install.
need() {
    local missing=() pair pkg cmd
    for pair in "$@"; do
        pkg=${pair%%:*}
        cmd=${pair#*:}
        if [[ $cmd == /* ]]; then [[ -e $cmd ]] && continue; else command -v "$cmd" > /dev/null && continue; fi
        [[ " ${missing[*]:-} " == *" $pkg "* ]] || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if is_root && command -v apt-get > /dev/null; then
        say "installing ${missing[*]}"
        apt_update
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
            die "apt-get install ${missing[*]} failed"
    else
        die "missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
    fi
    for pair in "$@"; do
        cmd=${pair#*:}
        if [[ $cmd == /* ]]; then [[ -e $cmd ]]; else command -v "$cmd" > /dev/null; fi ||
            die "still missing after installing: $cmd (package ${pair%%:*})"
    done
}

need_debian() {
    for c in apt-get apt-cache dpkg dpkg-deb; do
        command -v "$c" > /dev/null || die "missing $c: this script fetches the guest from Debian's packages and needs apt"
    done
}

apt_updated=0
apt_update() {
    [[ $apt_updated -eq 1 ]] && return 0
    apt_updated=1
    is_root || return 1
    say "apt-get update"
    apt-get update -qq >&2 || say "apt-get update reported errors (going on: a broken secondary index is not fatal)"
}

ensure_i386() {
    dpkg --print-foreign-architectures | grep -qx i386 && return 0
    is_root || die "Debian's i386 architecture is not enabled; run once as root:" \
        "dpkg --add-architecture i386 && apt-get update"
    say "enabling the i386 architecture (dpkg --add-architecture i386; apt-get update)"
    dpkg --add-architecture i386
    apt_update
}

pkg_version() { dpkg-query -W -f='${Version}' "$1" 2> /dev/null || echo unknown; }

# --- the lock ------------------------------------------------------------------------------

declare -A pin=()
read_lock() {
    [[ -f $lock ]] || die "no $lock: run with --update-pins to create it"
    local line k v
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line%%#*}
        line=${line//[[:space:]]/}
        [[ -z $line ]] && continue
        [[ $line == *=* ]] || die "$lock: not KEY=VALUE: $line"
        k=${line%%=*}
        v=${line#*=}
        pin[$k]=$v
    done < "$lock"
    for k in KERNEL_PKG KERNEL_VER KERNEL_SHA256 PAE_KERNEL_PKG PAE_KERNEL_VER PAE_KERNEL_SHA256 \
        BUSYBOX_PKG BUSYBOX_VER BUSYBOX_SHA256; do
        [[ -n ${pin[$k]:-} ]] || die "$lock: $k is missing"
    done
    for k in KERNEL_SHA256 PAE_KERNEL_SHA256 BUSYBOX_SHA256; do
        [[ ${pin[$k]} =~ ^[0-9a-f]{64}$ ]] || die "$lock: $k is not a sha256"
    done
}

write_lock() { # kpkg kver ksha ppkg pver psha bpkg bver bsha
    cat > "$lock.tmp" << EOF
# The Debian i386 packages the test guest is built from (guest/build-guest.sh).
# Exact versions and the sha256 of their .deb files: a download that differs is refused.
# To move to newer packages: guest/build-guest.sh --update-pins (see guest/README.md),
# then check the guest's output against the reference lines again.
# Pinned on $(date -u +%Y-%m-%d).
KERNEL_PKG=$1
KERNEL_VER=$2
KERNEL_SHA256=$3
PAE_KERNEL_PKG=$4
PAE_KERNEL_VER=$5
PAE_KERNEL_SHA256=$6
BUSYBOX_PKG=$7
BUSYBOX_VER=$8
BUSYBOX_SHA256=$9
EOF
    mv "$lock.tmp" "$lock"
    say "wrote $lock"
}

# --- packages ------------------------------------------------------------------------------

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# download PKG VER: sets $downloaded to the path of the .deb, in a fresh folder of the cache.
# (Run in this shell, not in $( ): it remembers that apt-get update is done.)
downloaded=""
download() {
    local pkg=$1 ver=$2 dir tries=0
    dir="$(mktemp -d "$cache/dl.XXXXXX")"
    chmod 755 "$dir" # apt's _apt user downloads into it when run as root
    local sandbox=()
    is_root && sandbox=(-o APT::Sandbox::User=root) # else apt warns that _apt cannot write here
    while ! (cd "$dir" && apt-get download -q "${sandbox[@]}" "$pkg:i386=$ver" >&2); do
        tries=$((tries + 1))
        if [[ $tries -eq 1 && $apt_updated -eq 0 ]] && is_root; then
            apt_update # the package lists may be old, or lack i386
            continue
        fi
        rm -rf "$dir"
        die "cannot download $pkg:i386 version $ver (gone from the mirror? then move the pins:" \
            "guest/build-guest.sh --update-pins; see guest/README.md)"
    done
    local debs=("$dir"/*.deb)
    [[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || die "apt-get download of $pkg left no single .deb in $dir"
    downloaded=${debs[0]}
}

# fetch PKG VER SHA256: sets $deb to the path of the verified .deb in the cache, downloading it once
deb=""
fetch() {
    local pkg=$1 ver=$2 want=$3 f got
    f="$cache/$pkg-$want.deb"
    deb=$f
    if [[ -f $f ]]; then
        got="$(sha256 "$f")"
        [[ $got == "$want" ]] && { check_control "$f" "$pkg" "$ver"; return; }
        say "cached $f is damaged (sha256 $got), downloading it again"
        rm -f "$f"
    fi
    need_debian
    ensure_i386
    say "downloading $pkg:i386 $ver"
    local d
    download "$pkg" "$ver"
    d=$downloaded
    got="$(sha256 "$d")"
    if [[ $got != "$want" ]]; then
        rm -rf "$(dirname "$d")"
        die "$pkg:i386 $ver downloaded with sha256 $got, but guest/guest.lock pins $want; refusing it"
    fi
    check_control "$d" "$pkg" "$ver"
    mv "$d" "$f"
    rmdir "$(dirname "$d")"
}

# check_control DEB PKG VER: the package says it is PKG version VER for i386 (the lock agrees with itself)
check_control() {
    local is
    is="$(dpkg-deb -f "$1" Package Version Architecture | tr '\n' ' ')"
    [[ $is == "Package: $2 Version: $3 Architecture: i386 " ]] ||
        die "$(basename "$1") is '$is', but guest/guest.lock pins $2 $3 (i386) with its sha256"
}

update_pins() {
    need_debian
    ensure_i386
    apt_update || true
    local kpkg kver ppkg pver bver kdeb pdeb bdeb
    # the metapackage depends on the kernel package of the current ABI
    kpkg="$(apt-cache depends linux-image-686:i386 2> /dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { sub(/:i386$/, "", $2); print $2; exit }')"
    [[ -n $kpkg ]] || die "cannot resolve linux-image-686:i386 (is i386 enabled and 'apt-get update' done?)"
    kver="$(apt-cache policy "$kpkg:i386" | awk '$1 == "Candidate:" { print $2; exit }')"
    # the PAE flavour of the same ABI and version
    ppkg="$kpkg-pae"
    pver="$(apt-cache policy "$ppkg:i386" | awk '$1 == "Candidate:" { print $2; exit }')"
    [[ $pver == "$kver" ]] || die "$ppkg:i386 is at version '$pver', not $kver as $kpkg"
    bver="$(apt-cache policy busybox-static:i386 | awk '$1 == "Candidate:" { print $2; exit }')"
    [[ -n $kver && $kver != "(none)" ]] || die "no candidate version of $kpkg:i386"
    [[ -n $bver && $bver != "(none)" ]] || die "no candidate version of busybox-static:i386"
    say "newest: $kpkg $kver, busybox-static $bver"
    download "$kpkg" "$kver"
    kdeb=$downloaded
    download "$ppkg" "$pver"
    pdeb=$downloaded
    download busybox-static "$bver"
    bdeb=$downloaded
    write_lock "$kpkg" "$kver" "$(sha256 "$kdeb")" "$ppkg" "$pver" "$(sha256 "$pdeb")" \
        busybox-static "$bver" "$(sha256 "$bdeb")"
    mv "$kdeb" "$cache/$kpkg-$(sha256 "$kdeb").deb"
    mv "$pdeb" "$cache/$ppkg-$(sha256 "$pdeb").deb"
    mv "$bdeb" "$cache/busybox-static-$(sha256 "$bdeb").deb"
    rmdir "$(dirname "$kdeb")" "$(dirname "$pdeb")" "$(dirname "$bdeb")"
}

# --- products ------------------------------------------------------------------------------

key() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }
up_to_date() { # up_to_date KEY FILE... : every file exists and the product's stamp holds KEY
    local k=$1 name=$2
    shift
    [[ $force -eq 0 ]] || return 1
    for f in "$@"; do [[ -f $out/$f ]] || return 1; done
    [[ -f $out/.stamps/$name && "$(cat "$out/.stamps/$name")" == "$k" ]]
}
stamp() { echo "$1" > "$out/.stamps/$2"; }

work=""
workdir() {
    if [[ -z $work ]]; then
        work="$(mktemp -d -t emu-guest.XXXXXX)"
        trap 'rm -rf "$work"' EXIT
    fi
}

build_kernel() { # the kernel, its symbols and configuration, out of the package
    local deb=$1 kver
    kver=${pin[KERNEL_PKG]#linux-image-}
    workdir
    rm -rf "$work/k"
    mkdir -p "$work/k"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/k" "./boot/vmlinuz-$kver" "./boot/config-$kver" ||
        die "${pin[KERNEL_PKG]} has no /boot/vmlinuz-$kver"
    for f in vmlinuz config; do
        local to=$f
        [[ $f == config ]] && to=kernel-config
        cp "$work/k/boot/$f-$kver" "$out/$to.tmp"
        touch -d "@$EPOCH" "$out/$to.tmp"
        mv "$out/$to.tmp" "$out/$to"
    done
}

build_initrd() { # busybox, its applet links and our /init, as a reproducible newc cpio
    local deb=$1 root a
    workdir
    root="$work/initramfs"
    rm -rf "$root"
    mkdir -p "$root"/{bin,dev,etc,proc,root,sys,tmp}
    dpkg-deb --fsys-tarfile "$deb" | tar -x -O ./bin/busybox > "$root/bin/busybox" ||
        die "${pin[BUSYBOX_PKG]} has no /bin/busybox"
    chmod 755 "$root/bin/busybox"
    for a in $APPLETS; do ln -s busybox "$root/bin/$a"; done
    install -m 755 "$here/init" "$root/init"
    echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
    echo "root:x:0:" > "$root/etc/group"
    printf '%s\n' 'PS1="guest:\w# "' 'export PS1' > "$root/etc/profile"
    chmod 1777 "$root/tmp"
    chmod 700 "$root/root"
    # fixed times, owners and order: the same inputs give the same bytes
    find "$root" -exec touch -h -d "@$EPOCH" {} +
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
        cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -n -9 > "$out/initrd.gz.tmp"
    touch -d "@$EPOCH" "$out/initrd.gz.tmp"
    mv "$out/initrd.gz.tmp" "$out/initrd.gz"
}

build_disk() { # MBR + one FAT16 partition with syslinux, written into the image file directly
    local img="$out/disk.img.tmp" total size offset f
    total=$((DISK_MIB * 2048))
    size=$((total - PART_START))
    offset=$((PART_START * 512))
    rm -f "$img"
    truncate -s "${DISK_MIB}M" "$img"
    # the partition table: type 0x0e (FAT16, LBA), active
    sfdisk --quiet --no-reread --no-tell-kernel "$img" >&2 << EOF ||
label: dos
label-id: $DISK_ID
unit: sectors

start=$PART_START, size=$size, type=e, bootable
EOF
        die "sfdisk could not write the partition table"
    # the file system, at the partition's offset (its hidden sectors = the partition's start)
    # (--invariant fixes the label's time stamp; the -i after it still sets the serial number)
    mkfs.fat -F 16 --invariant -i "$VOLUME_ID" -n EMU-GUEST \
        -h "$PART_START" --offset "$PART_START" "$img" $((size / 2)) > /dev/null ||
        die "mkfs.fat failed"
    # the files, with fixed time stamps (mcopy -m keeps them)
    workdir
    rm -rf "$work/fat"
    mkdir -p "$work/fat"
    cp "$out/vmlinuz" "$out/initrd.gz" "$here/syslinux.cfg" "$work/fat/"
    touch -d "@$EPOCH" "$work/fat"/*
    export MTOOLS_SKIP_CHECK=1 SOURCE_DATE_EPOCH=$EPOCH
    for f in vmlinuz initrd.gz syslinux.cfg; do
        mcopy -m -i "$img@@$offset" "$work/fat/$f" "::$f" || die "mcopy of $f failed"
    done
    # syslinux's boot sector and ldlinux.sys/ldlinux.c32 (the mtools installer: no mount, no root)
    syslinux --offset "$offset" --install "$img" || die "syslinux --install failed"
    # the MBR's boot code (it loads the active partition's boot sector); the table stays
    dd if="$MBR_BIN" of="$img" bs=440 count=1 conv=notrunc status=none
    mv "$img" "$out/disk.img"
}

build_pae_kernel() { # only the bzImage of the PAE flavour
    local deb=$1 kver
    kver=${pin[PAE_KERNEL_PKG]#linux-image-}
    workdir
    rm -rf "$work/p"
    mkdir -p "$work/p"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/p" "./boot/vmlinuz-$kver" ||
        die "${pin[PAE_KERNEL_PKG]} has no /boot/vmlinuz-$kver"
    cp "$work/p/boot/vmlinuz-$kver" "$out/vmlinuz-pae.tmp"
    touch -d "@$EPOCH" "$out/vmlinuz-pae.tmp"
    mv "$out/vmlinuz-pae.tmp" "$out/vmlinuz-pae"
}

write_info() {
    {
        echo "# guest/build-guest.sh built these on $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo "kernel   ${pin[KERNEL_PKG]}:i386 ${pin[KERNEL_VER]} (.deb sha256 ${pin[KERNEL_SHA256]})"
        echo "kernel   ${pin[PAE_KERNEL_PKG]}:i386 ${pin[PAE_KERNEL_VER]} (.deb sha256 ${pin[PAE_KERNEL_SHA256]})"
        echo "busybox  ${pin[BUSYBOX_PKG]}:i386 ${pin[BUSYBOX_VER]} (.deb sha256 ${pin[BUSYBOX_SHA256]})"
        if [[ $want_disk -eq 1 ]]; then
            echo "syslinux $(pkg_version syslinux), syslinux-common $(pkg_version syslinux-common)," \
                "mtools $(pkg_version mtools), dosfstools $(pkg_version dosfstools), fdisk $(pkg_version fdisk)"
        fi
        echo "cmdline  $CMDLINE"
        echo "# sha256 of the products"
        (cd "$out" && sha256sum vmlinuz vmlinuz-pae initrd.gz $([[ $want_disk -eq 1 ]] && echo disk.img))
    } > "$out/build-info.txt"
}

# --- main ----------------------------------------------------------------------------------

if [[ $update_pins -eq 1 ]]; then
    update_pins
fi
read_lock

script_sha="$(sha256 "$self")"
kernel_key="$(key kernel "$script_sha" "${pin[KERNEL_PKG]}" "${pin[KERNEL_VER]}" "${pin[KERNEL_SHA256]}")"
pae_kernel_key="$(key pae-kernel "$script_sha" "${pin[PAE_KERNEL_PKG]}" "${pin[PAE_KERNEL_VER]}" "${pin[PAE_KERNEL_SHA256]}")"
initrd_key="$(key initrd "$script_sha" "${pin[BUSYBOX_PKG]}" "${pin[BUSYBOX_VER]}" "${pin[BUSYBOX_SHA256]}" \
    "$(sha256 "$here/init")")"
built=0

if ! up_to_date "$kernel_key" vmlinuz kernel-config; then
    command -v dpkg-deb > /dev/null || die "missing dpkg-deb (Debian's dpkg): it unpacks the kernel package"
    fetch "${pin[KERNEL_PKG]}" "${pin[KERNEL_VER]}" "${pin[KERNEL_SHA256]}"
    say "extracting the kernel of ${pin[KERNEL_PKG]} ${pin[KERNEL_VER]}"
    build_kernel "$deb"
    stamp "$kernel_key" vmlinuz
    built=1
fi

if ! up_to_date "$pae_kernel_key" vmlinuz-pae; then
    command -v dpkg-deb > /dev/null || die "missing dpkg-deb (Debian's dpkg): it unpacks the kernel package"
    fetch "${pin[PAE_KERNEL_PKG]}" "${pin[PAE_KERNEL_VER]}" "${pin[PAE_KERNEL_SHA256]}"
    say "extracting the kernel of ${pin[PAE_KERNEL_PKG]} ${pin[PAE_KERNEL_VER]}"
    build_pae_kernel "$deb"
    stamp "$pae_kernel_key" vmlinuz-pae
    built=1
fi

if ! up_to_date "$initrd_key" initrd.gz; then
    command -v dpkg-deb > /dev/null || die "missing dpkg-deb (Debian's dpkg): it unpacks the busybox package"
    need cpio:cpio
    fetch "${pin[BUSYBOX_PKG]}" "${pin[BUSYBOX_VER]}" "${pin[BUSYBOX_SHA256]}"
    say "building initrd.gz (busybox ${pin[BUSYBOX_VER]}, guest/init)"
    build_initrd "$deb"
    stamp "$initrd_key" initrd.gz
    built=1
fi

if [[ $want_disk -eq 1 ]]; then
    need dosfstools:mkfs.fat mtools:mcopy syslinux:syslinux "syslinux-common:$MBR_BIN" fdisk:sfdisk
    disk_key="$(key disk "$script_sha" "$kernel_key" "$initrd_key" "$(sha256 "$here/syslinux.cfg")" \
        "$(pkg_version syslinux)" "$(pkg_version syslinux-common)" "$(pkg_version mtools)" \
        "$(pkg_version dosfstools)" "$(pkg_version fdisk)")"
    if ! up_to_date "$disk_key" disk.img; then
        say "building disk.img (${DISK_MIB} MiB: MBR, FAT16 partition at sector $PART_START, syslinux)"
        build_disk
        stamp "$disk_key" disk.img
        built=1
    fi
fi

if [[ $built -eq 1 || ! -f $out/build-info.txt ]]; then
    write_info
    say "built in $out (see build-info.txt)"
else
    say "up to date in $out"
fi

echo "GUEST_DIR=$out"
echo "GUEST_KERNEL=$out/vmlinuz"
echo "GUEST_KERNEL_PAE=$out/vmlinuz-pae"
echo "GUEST_INITRD=$out/initrd.gz"
[[ $want_disk -eq 1 ]] && echo "GUEST_DISK=$out/disk.img"
echo "GUEST_CMDLINE=$CMDLINE"
