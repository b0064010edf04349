#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# modinfo.sh MODULE: check what modinfo shows for mlx5c-vfio-pci (a .ko
# path or, once installed, the module's name): description, the version of
# main.c, the latency_ms parameter, the license, the dependency on
# vfio-pci-core and the one override-only alias (vfio_pci:..., never a
# plain pci: alias, so that udev never loads or binds it on its own).
set -uo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
mod=${1:?usage: modinfo.sh MODULE}
main=$top/drivers/vfio/pci/mlx5c/main.c
bad=0
fail() { echo "modinfo $mod: $*" >&2; bad=1; }

info=$(modinfo "$mod") || { echo "modinfo $mod failed" >&2; exit 1; }
echo "$info"
field() { modinfo -F "$1" "$mod"; }

want_desc=$(sed -n 's/^MODULE_DESCRIPTION("\(.*\)");/\1/p' "$main")
want_ver=$(sed -n 's/^MODULE_VERSION("\(.*\)");/\1/p' "$main")
[ -n "$(field description)" ] || fail "no description"
[ "$(field description)" = "$want_desc" ] || fail "description is not '$want_desc'"
[ -n "$want_ver" ] && [ "$(field version)" = "$want_ver" ] ||
	fail "version '$(field version)' is not '$want_ver'"
[ "$(field license)" = GPL ] || fail "license '$(field license)' is not GPL"
field parm | grep -q '^latency_ms:.*(uint)$' || fail "no parameter latency_ms (uint)"
[ "$(field name)" = mlx5c_vfio_pci ] || fail "name '$(field name)' is not mlx5c_vfio_pci"
field depends | tr , '\n' | grep -qx vfio-pci-core || fail "does not depend on vfio-pci-core"
[ "$(field alias)" = 'vfio_pci:v00001AF4d00001110sv*sd*bc*sc*i*' ] ||
	fail "aliases are not exactly the override-only vfio_pci:v00001AF4d00001110sv*sd*bc*sc*i*: $(field alias | tr '\n' ' ')"
[ -n "$(field srcversion)" ] || fail "no srcversion"
exit $bad
