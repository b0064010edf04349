#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# man-help.sh VFIO_MIG MAN_PAGE: the long options of "vfio-mig --help" and of
# the man page agree.
#
# Per command (the commands listed by "vfio-mig --help"): the options of
# "vfio-mig CMD --help" equal those of CMD's SYNOPSIS line in the man page,
# plus those of the OPTIONS section's option list when that line ends in
# [OPTIONS]; --help, which every command takes, is left out of the
# per-command comparison, not out of the overall one.  Overall: every long option named
# anywhere in the man page is in some --help output, and every long option of
# every --help output is in the man page.
set -uo pipefail
bin=${1:?usage: man-help.sh VFIO_MIG MAN_PAGE}
man=${2:?usage: man-help.sh VFIO_MIG MAN_PAGE}
bad=0

# The man page as plain text: troff escapes and font changes removed.
text=$(sed -e '/^\.\\"/d' -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(aq/'"'"'/g' \
	-e 's/\\&//g' "$man")
longopts() { grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
section() { # the lines of section $1 (a .SH title) of the man page
	awk -v s="$1" '/^\.SH /{ on = ($0 == ".SH " s) ; next } on' <<<"$text"
}
synopsis=$(section SYNOPSIS | grep '^vfio-mig ')
# The option list: the first literal (.nf ... .fi) block of OPTIONS.
optlist=$(section OPTIONS | awk '/^\.nf/{ on = 1; next } /^\.fi/{ if (on) exit } on')
[ -n "$synopsis" ] || { echo "no SYNOPSIS lines in $man" >&2; exit 1; }
[ -n "$optlist" ] || { echo "no option list in the OPTIONS section of $man" >&2; exit 1; }

compare() { # compare NAME HELP_OPTS MAN_OPTS
	local only_help only_man
	only_help=$(comm -23 <(echo "$2") <(echo "$3") | grep .)
	only_man=$(comm -13 <(echo "$2") <(echo "$3") | grep .)
	if [ -n "$only_help" ] || [ -n "$only_man" ]; then
		echo "not ok $1:" \
			"${only_help:+only in --help: $(echo $only_help)}" \
			"${only_man:+only in the man page: $(echo $only_man)}"
		bad=1
	else
		echo "ok $1: $(echo ${2:-(none)})"
	fi
}

all_help=$("$bin" --help | longopts)
# The commands: the "commands:" list of vfio-mig --help.
cmds=$("$bin" --help | awk '/^commands:/ { on = 1; next } on && /^$/ { exit }
	on && /^  [a-z]/ { print $1 }')
[ -n "$cmds" ] || { echo "no commands in vfio-mig --help" >&2; exit 1; }
for cmd in $cmds; do
	help=$("$bin" "$cmd" --help) || { echo "not ok $cmd: --help failed"; bad=1; continue; }
	help_opts=$(longopts <<<"$help" | grep -vx -- --help)
	all_help=$(printf '%s\n%s\n' "$all_help" "$help_opts" | grep . | sort -u)
	line=$(grep -m 1 -E "^vfio-mig $cmd( |\$)" <<<"$synopsis")
	[ -n "$line" ] || { echo "not ok $cmd: not in the SYNOPSIS"; bad=1; continue; }
	man_opts=$(longopts <<<"$line")
	case $line in
	*"[OPTIONS]") man_opts=$(printf '%s\n%s\n' "$man_opts" "$(longopts <<<"$optlist")" | grep . | sort -u) ;;
	esac
	man_opts=$(grep -vx -- --help <<<"$man_opts")
	compare "$cmd" "$help_opts" "$man_opts"
done
compare "all options" "$all_help" "$(longopts <<<"$text")"
exit $bad
