#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scan-log.sh LOG: print and fail on any kernel report in a guest console log.
log=$1
pattern='WARNING:|BUG:|Oops|kernel BUG|general protection fault|'
pattern+='possible circular locking|possible recursive locking|'
pattern+='inconsistent lock state|possible irq lock inversion|'
pattern+='suspicious RCU usage|INFO: task .* blocked for more than|'
pattern+='UBSAN:|KASAN:|kmemleak:.*new suspected|'
pattern+='Kernel panic|stack-protector|refcount_t:|list_(add|del) corruption'
[ -f "$log" ] || exit 0
if grep -E -n "$pattern" "$log" >&2; then
	exit 1
fi
exit 0
