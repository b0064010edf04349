#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check-spec.sh: Documentation/netlink/specs/mlx5c.yaml against the kernel's
# ynl tools (linux-source-6.12 tools/net/ynl) and our uAPI header.
#
#  - the spec validates against ynl's genetlink-legacy JSON schema;
#  - ynl-gen-c renders the uAPI header from it (build/ynl/mlx5c_genl.h), and
#    include/uapi/linux/mlx5c_genl.h defines the same names with the same
#    values (compiled and printed by the C compiler, so expressions count,
#    not their spelling); ours may add *_UNSPEC placeholders, nothing else;
#  - the check itself can fail: a spec with two attributes swapped and one
#    with an unknown key must be caught.
# TAP on stdout.
set -uo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
ksrc=${KSRC:-/usr/src/linux-source-6.12}
ynl=$ksrc/tools/net/ynl
schema=$ksrc/Documentation/netlink/genetlink-legacy.yaml
# Debian's python3, which has python3-yaml and python3-jsonschema.
py=${PYTHON:-/usr/bin/python3}
spec=$top/Documentation/netlink/specs/mlx5c.yaml
ours=$top/include/uapi/linux/mlx5c_genl.h
work=$top/build/ynl
status=0
n=0
echo "TAP version 13"
echo "1..5"
tap() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n ynl_spec.$2"
	else
		echo "not ok $n ynl_spec.$2"
		status=1
	fi
}

for f in "$ynl/ynl-gen-c.py" "$schema"; do
	[ -f "$f" ] || { echo "$f is missing: scripts/install-deps.sh (linux-source-6.12)" >&2; exit 1; }
done
"$py" -c 'import yaml, jsonschema' ||
	{ echo "$py lacks yaml or jsonschema: scripts/install-deps.sh" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"

validate() { # validate SPEC: against ynl's schema, errors on stderr
	"$py" - "$1" "$schema" <<-'EOF'
	import sys, yaml, jsonschema
	spec = yaml.safe_load(open(sys.argv[1]))
	schema = yaml.safe_load(open(sys.argv[2]))
	try:
	    jsonschema.validate(spec, schema)
	except jsonschema.ValidationError as e:
	    print(f"{sys.argv[1]}: {e.message} at {'/'.join(map(str, e.absolute_path))}",
	          file=sys.stderr)
	    sys.exit(1)
	EOF
}

# ynl-gen-c finds the schema next to the spec's directory and the root of
# the tree by its MAINTAINERS file: give it a tree of its own.
gen() { # gen SPEC OUT: the uAPI header ynl-gen-c renders from SPEC
	local tree=$work/tree-$(basename "$2" .h)
	mkdir -p "$tree/Documentation/netlink/specs"
	touch "$tree/MAINTAINERS"
	ln -sf "$schema" "$tree/Documentation/netlink/"
	cp "$1" "$tree/Documentation/netlink/specs/mlx5c.yaml"
	"$py" "$ynl/ynl-gen-c.py" --mode uapi --header \
		--spec "$tree/Documentation/netlink/specs/mlx5c.yaml" -o "$2"
}

# values HEADER OUT: "NAME VALUE" for every enumerator and #define of
# HEADER but its include guard, as the C compiler sees them.
values() {
	local names
	names=$("$py" - "$1" <<-'EOF'
	import re, sys
	text = re.sub(r'/\*.*?\*/', '', open(sys.argv[1]).read(), flags=re.S)
	names = re.findall(r'^#define[ \t]+([A-Za-z_]\w*)[ \t]+\S', text, flags=re.M)
	for body in re.findall(r'\benum\b[^{;]*\{(.*?)\}', text, flags=re.S):
	    names += re.findall(r'([A-Za-z_]\w*)\s*(?:=[^,]*)?(?:,|$)', body.strip())
	print('\n'.join(sorted(set(names))))
	EOF
	) || return 1
	{
		echo "#include <stdio.h>"
		echo "#include \"$1\""
		echo '#define P(x) printf(_Generic((x), char *: "%s %s\n", default: "%s %lld\n"), #x, _Generic((x), char *: (x), default: (long long)(x)))'
		echo "int main(void) {"
		for v in $names; do echo "P($v);"; done
		echo "return 0; }"
	} > "$2.c" && cc -std=c11 -Wall -o "$2.bin" "$2.c" && "$2.bin" | sort > "$2"
}

# compare GENERATED OURS: same names and values; OURS may add *_UNSPEC.
compare() {
	local extra missing diffv
	extra=$(join -v 2 <(cut -d' ' -f1 "$1") <(cut -d' ' -f1 "$2") | grep -v '_UNSPEC$')
	missing=$(join -v 1 <(cut -d' ' -f1 "$1") <(cut -d' ' -f1 "$2"))
	diffv=$(join "$1" "$2" | awk '$2 != $3')
	[ -z "$missing" ] || echo "# not in $ours: $(echo $missing)"
	[ -z "$extra" ] || echo "# only in $ours: $(echo $extra)"
	[ -z "$diffv" ] || echo "# different values (name spec ours): $(echo $diffv)"
	[ -z "$missing$extra$diffv" ]
}

validate "$spec"
tap $? "validates_against_genetlink_legacy_schema"

gen "$spec" "$work/mlx5c_genl.h" 2> "$work/gen.err"
rc=$?
sed 's/^/# /' "$work/gen.err"
[ $rc -eq 0 ] && [ -s "$work/mlx5c_genl.h" ]
tap $? "ynl_gen_c_renders_uapi_header"

values "$work/mlx5c_genl.h" "$work/spec.values" &&
	values "$ours" "$work/ours.values" &&
	echo "# $(wc -l < "$work/spec.values") names from the spec, $(wc -l < "$work/ours.values") in $ours" &&
	compare "$work/spec.values" "$work/ours.values"
tap $? "uapi_header_matches_spec"

# The check catches a spec that disagrees with the header: bdf and
# dev-name swapped.
"$py" - "$spec" "$work/swapped.yaml" <<-'EOF'
import sys, yaml
spec = yaml.safe_load(open(sys.argv[1]))
attrs = spec['attribute-sets'][0]['attributes']
i = [a['name'] for a in attrs].index('dev-name')
attrs[i], attrs[i + 1] = attrs[i + 1], attrs[i]
with open(sys.argv[2], 'w') as f:
    f.write('# SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)\n')
    yaml.safe_dump(spec, f, sort_keys=False)
EOF
gen "$work/swapped.yaml" "$work/swapped.h" 2>/dev/null &&
	values "$work/swapped.h" "$work/swapped.values" &&
	! compare "$work/swapped.values" "$work/ours.values" > "$work/swapped.out" &&
	grep -q 'MLX5C_GENL_A_BDF' "$work/swapped.out"
tap $? "swapped_attributes_caught"

sed 's/^kernel-policy: global$/kernel-policy: global\nunknown-key: 1/' "$spec" > "$work/unknown.yaml"
! validate "$work/unknown.yaml" 2> /dev/null
tap $? "unknown_key_refused_by_schema"
exit $status
