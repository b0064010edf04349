#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run inside the test VM by `make bench`: every benchmark, JSON in build/bench/.
set -euo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
mkdir -p "$top/build/bench"
"$top/build/selftests/downtime" "$top/build/bench/downtime.json"
