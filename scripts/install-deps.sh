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
	busybox-static kmod cpio xz-utils zstd
	libnl-3-dev libnl-genl-3-dev pkg-config iproute2 sparse
	linux-source-6.12 clang libclang-rt-14-dev perl python3 pciutils
	libxxhash-dev python3-docutils dkms udev python3-yaml python3-jsonschema openssl
	gnuplot-nox rsync
)

missing() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$' || echo "$p"
	done
}

# QEMU comes from bookworm-backports: bookworm's own 7.2 has no VFIO
# migration v2, and the VMM under test is the 10.0 that Debian ships there.
# The suite is added only if missing and pinned so that nothing but what is
# asked for with -t comes from it.
backports_src=/etc/apt/sources.list.d/mlx5c-bookworm-backports.sources
backports_pin=/etc/apt/preferences.d/mlx5c-bookworm-backports
has_backports() {
	grep -rqsE '(^|[[:space:]])bookworm-backports([[:space:]]|$)' \
		/etc/apt/sources.list /etc/apt/sources.list.d/
}
if ! has_backports; then
	echo "install-deps: adding Debian's bookworm-backports suite" >&2
	printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' \
		'Suites: bookworm-backports' 'Components: main' \
		'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
		"${sudo_cmd[@]}" tee "$backports_src" >/dev/null
	printf '%s\n' 'Package: *' 'Pin: release n=bookworm-backports' 'Pin-Priority: 100' |
		"${sudo_cmd[@]}" tee "$backports_pin" >/dev/null
	"${sudo_cmd[@]}" apt-get update -qq >&2
fi

qemu_version() {
	dpkg-query -W -f='${Status} ${Version}\n' qemu-system-x86 2>/dev/null |
		sed -n 's/^install ok installed //p'
}
case "$(qemu_version)" in
*:10.0.*) ;;
*)
	echo "install-deps: installing qemu-system-x86 10.0 from bookworm-backports" >&2
	if ! "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends -t bookworm-backports qemu-system-x86 >&2; then
		"${sudo_cmd[@]}" apt-get update -qq >&2
		"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends -t bookworm-backports qemu-system-x86 >&2
	fi
	case "$(qemu_version)" in
	*:10.0.*) ;;
	*) echo "install-deps: qemu-system-x86 is '$(qemu_version)', not 10.0.x from bookworm-backports" >&2
	   exit 1 ;;
	esac
	;;
esac

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
