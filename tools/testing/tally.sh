#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tally.sh TAPFILE: print "N passed, N failed, N skipped" for the TAP result
# lines in TAPFILE; fail unless something passed and nothing failed.
tap=$1
skipped=$(grep -cE '^ok .*# *SKIP' "$tap")
passed=$(( $(grep -cE '^ok ' "$tap") - skipped ))
failed=$(grep -cE '^not ok ' "$tap")
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
