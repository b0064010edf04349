#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Run inside the test VM with mlx5c-vfio-pci loaded and two functions
# (tools/testing/vm/run -- tools/testing/netlink/ynl-client.py): the kernel's
# ynl CLI (linux-source-6.12 tools/net/ynl/cli.py), driven by nothing but
# Documentation/netlink/specs/mlx5c.yaml, as a second client of the mlx5c
# family next to vfio-mig (libnl).  The functions are the BDFs among the
# arguments, or MLX5C_BDFS, bound beforehand (mlx5c_setup.sh bind; the
# test skips, saying why, without two).  Migrates with
# vfio-mig, then: the ynl dump and do of GET equal "vfio-mig stats --json"
# field by field; ynl's RESET_STATS zeroes what vfio-mig then reads; the
# kernel's policy and operations (read with ynl and nlctrl.yaml) are those
# of the spec; the bdf length limit of the spec is the kernel's.  TAP.
import json
import re
import os
import subprocess
import sys
import yaml

top = os.path.realpath(os.path.join(os.path.dirname(__file__), '../../..'))
ksrc = os.environ.get('KSRC', '/usr/src/linux-source-6.12')
cli = os.path.join(ksrc, 'tools/net/ynl/cli.py')
schema = os.path.join(ksrc, 'Documentation/netlink/genetlink-legacy.yaml')
nlctrl = os.path.join(ksrc, 'Documentation/netlink/specs/nlctrl.yaml')
spec_path = os.environ.get('MLX5C_YNL_SPEC',
                           os.path.join(top, 'Documentation/netlink/specs/mlx5c.yaml'))
vfio_mig = os.path.join(top, 'build/vfio-mig/vfio-mig')
bar2ctl = os.path.join(top, 'build/kselftest/mlx5c/bar2ctl')
drv = 'mlx5c-vfio-pci'

n = 0
failed = False


def tap(ok, name, why=''):
    global n, failed
    n += 1
    if ok:
        print(f'ok {n} ynl.{name}')
    else:
        failed = True
        print(f'not ok {n} ynl.{name}' + (f' # {why}' if why else ''))
    sys.stdout.flush()


def ynl(*args, spec=spec_path):
    """Run the ynl CLI; (exit status, parsed JSON or None, stdout+stderr)."""
    cmd = [sys.executable, cli, '--spec', spec, '--output-json'] + list(args)
    if spec == spec_path:
        cmd += ['--schema', schema]
    p = subprocess.run(cmd, capture_output=True, text=True)
    out = p.stdout.strip()
    try:
        val = json.loads(out) if p.returncode == 0 and out else None
    except json.JSONDecodeError:
        val = None
    return p.returncode, val, p.stdout + p.stderr


def vfio_mig_stats():
    p = subprocess.run([vfio_mig, 'stats', '--json'], capture_output=True,
                       text=True, check=True)
    return {d['bdf']: d for d in json.loads(p.stdout)}


def comment(text):
    for line in str(text).splitlines():
        print('# ' + line)


def as_vfio_mig(r):
    """A ynl GET reply in vfio-mig stats --json's form."""
    s = r.get('stats', {})
    flags = r.get('mig-flags', [])
    return {
        'bdf': r['bdf'], 'dev': r['dev-name'],
        'state': r['mig-state'].replace('-', '_'),
        'flags': [f for f in ('stop_copy', 'p2p', 'pre_copy')
                  if f.replace('_', '-') in flags],
        'mem_size': r['mem-size'],
        'stats': {
            'saved': {k: s[f'saved-{k}'] for k in ('initial', 'middle', 'final')}
            | {'bytes': s['bytes-saved']},
            'loaded': {k: s[f'loaded-{k}'] for k in ('initial', 'middle', 'final')}
            | {'bytes': s['bytes-loaded']},
            'precopy_info': s['precopy-info'], 'reinits': s['reinits'],
            'fallbacks': s['fallbacks'], 'resets': s['resets'],
            'fw_failures': s['fw-failures'], 'last_error': s['last-error'],
        },
    }


def main():
    spec = yaml.safe_load(open(spec_path))
    bdf = re.compile(r'^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$')
    funcs = [a for a in sys.argv[1:] if bdf.match(a)] or \
        os.environ.get('MLX5C_BDFS', '').replace(',', ' ').split()
    why = None
    if len(funcs) < 2:
        why = (f'needs 2 mlx5c functions, given {len(funcs)}: pass their '
               'BDFs as arguments or in MLX5C_BDFS, bound by '
               'mlx5c_setup.sh bind')
    for f in funcs[:2]:
        link = f'/sys/bus/pci/devices/{f}/driver'
        cur = os.path.basename(os.readlink(link)) \
            if os.path.islink(link) else 'no driver'
        if not why and cur != drv:
            why = f'{f} is bound to {cur}, not {drv}: run mlx5c_setup.sh bind {f}'
    print('TAP version 13')
    if why:
        print(f'1..0 # SKIP {why}')
        return 4
    print('1..9')

    # Migrate once, so that the counters are not all zero.
    ok = True
    src, dst = funcs[0], funcs[1]
    # Counters from zero, whatever ran before (the checks below are exact).
    p = subprocess.run([vfio_mig, 'stats', '--reset'], capture_output=True)
    ok &= p.returncode == 0
    p = subprocess.run([bar2ctl, 'fill', src, '31'], capture_output=True)
    ok &= p.returncode == 0
    p = subprocess.run([vfio_mig, 'migrate', src, dst, '--channels', '2'],
                       capture_output=True, text=True)
    comment(p.stdout + p.stderr)
    tap(ok and p.returncode == 0, 'setup_bind_and_migrate')

    rc, dump, out = ynl('--dump', 'get')
    theirs = vfio_mig_stats()
    ok = rc == 0 and isinstance(dump, list) and len(dump) == len(theirs) >= 2
    if ok:
        for r in dump:
            mine = as_vfio_mig(r)
            if mine != theirs.get(r['bdf']):
                comment(f'ynl:      {json.dumps(mine)}')
                comment(f'vfio-mig: {json.dumps(theirs.get(r["bdf"]))}')
                ok = False
        # The migration shows: the source saved, the destination loaded.
        ok &= theirs[src]['stats']['saved']['bytes'] > 0
        ok &= theirs[dst]['stats']['loaded']['final'] == 1
    else:
        comment(out)
    tap(ok, 'dump_get_equals_vfio_mig_stats')

    rc, one, out = ynl('--do', 'get', '--json', json.dumps({'bdf': dst}))
    ok = rc == 0 and one is not None and as_vfio_mig(one) == vfio_mig_stats()[dst]
    if not ok:
        comment(out)
    tap(ok, 'do_get_equals_vfio_mig_stats')

    rc, _, out = ynl('--do', 'reset-stats', '--json', json.dumps({'bdf': src}))
    theirs = vfio_mig_stats()
    s = theirs[src]['stats']
    ok = (rc == 0 and s['saved']['bytes'] == 0 and s['saved']['final'] == 0 and
          theirs[dst]['stats']['loaded']['final'] == 1)
    if not ok:
        comment(out)
        comment(json.dumps(theirs))
    tap(ok, 'ynl_reset_stats_seen_by_vfio_mig')

    # The spec's limit on bdf is the kernel's: 31 characters get as far as
    # the lookup (ENODEV), 32 are refused by the policy (EINVAL).
    maxlen = next(d['value'] for d in spec['definitions']
                  if d['name'] == 'genl-bdf-maxlen')
    rc31, _, out31 = ynl('--do', 'get', '--json', json.dumps({'bdf': 'x' * maxlen}))
    rc32, _, out32 = ynl('--do', 'get', '--json', json.dumps({'bdf': 'x' * (maxlen + 1)}))
    comment(out31.strip())
    comment(out32.strip())
    ok = (rc31 != 0 and 'No such device' in out31 and
          rc32 != 0 and 'Invalid argument' in out32)
    tap(ok, 'bdf_max_len_is_the_kernels')

    # A reply-only attribute of the spec is refused in a request.
    rc, _, out = ynl('--do', 'get', '--json', json.dumps({'bdf': src, 'dev-name': 'vfio0'}))
    comment(out.strip())
    tap(rc != 0 and 'reply-only' in out, 'reply_only_attribute_refused')

    # The family as the kernel registered it, read through nlctrl's spec.
    rc, fam, out = ynl('--do', 'getfamily', '--json',
                       json.dumps({'family-name': spec['name']}), spec=nlctrl)
    if rc != 0 or fam is None:
        comment(out)
        tap(False, 'family_version_and_ops')
        tap(False, 'admin_perm_ops_as_in_spec')
        tap(False, 'policy_is_the_specs')
        return 1
    comment(f'getfamily: {json.dumps(fam)}')
    # ynl 6.12 decodes an indexed-array as a list of one-entry dicts (the
    # array index, the nest) or, later versions, as a list of the nests.
    ops = [next(iter(o.values())) if 'id' not in o else o for o in fam.get('ops', [])]
    kops = {o['id']: set(o.get('flags', [])) for o in ops}
    comment(f'kernel ops: {kops}')
    values = {}
    v = 0
    for op in spec['operations']['list']:
        v = op.get('value', v + 1)
        values[op['name']] = v
    requested = {op['name'] for op in spec['operations']['list']
                 if 'do' in op or 'dump' in op}
    ok = fam['version'] == spec.get('version', 1)
    ok &= fam['maxattr'] == len(spec['attribute-sets'][0]['attributes'])
    ok &= set(kops) == {values[name] for name in requested}
    for name in requested:
        op = next(o for o in spec['operations']['list'] if o['name'] == name)
        want = {'cmd-cap-' + m for m in ('do', 'dump') if m in op}
        ok &= want <= kops.get(values[name], set())
    tap(ok, 'family_version_and_ops')

    # admin-perm as the spec says (per-device data is for CAP_NET_ADMIN).
    ok = True
    for name in requested:
        op = next(o for o in spec['operations']['list'] if o['name'] == name)
        want = 'admin-perm' in op.get('flags', [])
        have = 'admin-perm' in kops.get(values[name], set())
        if want != have:
            comment(f'{name}: admin-perm in spec {want}, in kernel {have}')
            ok = False
    tap(ok, 'admin_perm_ops_as_in_spec')

    # The kernel's policy: bdf a NUL-terminated string of at most maxlen,
    # every other attribute of the spec rejected in requests (the kernel
    # dumps no entry for a rejected attribute).
    rc, pol, out = ynl('--dump', 'getpolicy', '--json',
                       json.dumps({'family-name': spec['name']}), spec=nlctrl)
    ok = rc == 0 and isinstance(pol, list)
    if ok:
        attrs = {}
        # One message per policy entry: policy-id, attr-id and the entry.
        for msg in pol:
            p = msg.get('policy')
            if p:
                attrs[p['attr-id']] = p
        comment(f'kernel policy: {attrs}')
        bdf = next(i for i, a in enumerate(spec['attribute-sets'][0]['attributes'], 1)
                   if a['name'] == 'bdf')
        ok = (set(attrs) == {bdf} and attrs[bdf].get('type') == 'nul-string' and
              attrs[bdf].get('max-length') == maxlen)
    else:
        comment(out)
    tap(ok, 'policy_is_the_specs')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
