#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel's ynl CLI as a second client of the mlx5c family, driven by
# its spec (Documentation/netlink/specs/mlx5c.yaml): see
# tools/testing/netlink/ynl-client.py.  KTAP on stdout.
top=$(cd "$(dirname "$(readlink -f "$0")")/../../../.." && pwd)
exec python3 "$top/tools/testing/netlink/ynl-client.py" "$@"
