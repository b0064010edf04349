#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what building and testing mlx5c needs, from Debian's registry only.
# Idempotent: installs nothing when everything is already there.
#
# The newest 6.12 kernel build is chosen with apt-cache, because old ABI
# builds leave the registry.  Prints "KVER=<version>" on its last line.
set -euo pipefail

stamp_dir=${MLX5C_STATE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlx5c}
mkdir -p "$stamp_dir"

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

newest_kver() {
	apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' |
		sed -n 's/^linux-image-\(6\.12\.[0-9]*+deb12-amd64\)-unsigned .*/\1/p' |
		sort -V | tail -n 1
}

base_pkgs=(
	build-essential bc bison flex libelf-dev libssl-dev dwarves
	qemu-system-x86 busybox-static kmod cpio xz-utils zstd
	libnl-3-dev libnl-genl-3-dev pkg-config iproute2 sparse
	linux-source-6.12 clang libclang-rt-14-dev perl python3 pciutils
	libxxhash-dev python3-docutils dkms udev
)

missing() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$' || echo "$p"
	done
}

kver=$(newest_kver)
if [ -z "$kver" ]; then
	"${sudo_cmd[@]}" apt-get update -qq
	kver=$(newest_kver)
fi
[ -n "$kver" ] || { echo "install-deps: no linux-image-6.12.*+deb12-amd64-unsigned in apt" >&2; exit 1; }

# An already installed 6.12 image is good enough: do not chase a newer one
# on every run.
have=$(dpkg-query -W -f='${Package} ${Status}\n' 'linux-image-6.12.*+deb12-amd64-unsigned' 2>/dev/null |
	sed -n 's/^linux-image-\(6\.12\.[0-9]*+deb12-amd64\)-unsigned install ok installed$/\1/p' |
	sort -V | tail -n 1 || true)
if [ -n "$have" ] && [ -d "/usr/src/linux-headers-$have" ]; then
	kver=$have
fi

pkgs=("${base_pkgs[@]}" "linux-image-$kver-unsigned" "linux-headers-$kver")
todo=$(missing "${pkgs[@]}")
if [ -n "$todo" ]; then
	echo "install-deps: installing:" $todo >&2
	if ! "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $todo >&2; then
		"${sudo_cmd[@]}" apt-get update -qq >&2
		"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $todo >&2
	fi
fi

# The source tarball: unpacked once, outside the repository.
src=/usr/src/linux-source-6.12
if [ ! -f "$src/tools/testing/selftests/kselftest_harness.h" ]; then
	tarball=$(ls /usr/src/linux-source-6.12*.tar.* | head -n 1)
	echo "install-deps: unpacking $tarball" >&2
	"${sudo_cmd[@]}" tar -C /usr/src -xf "$tarball"
fi

echo "KVER=$kver"
