#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Judge a (K)TAP document as make check needs it.

  ktap.py [--expected-skips FILE] [--name NAME] [--tally] DOC
  ktap.py --wrap DOC

Nested documents are the kselftest runner's: a child document is the
"# "-prefixed block that starts with "# TAP version" (or "# KTAP version")
and ends at its parent's next result line, which is the child's result.

A document fails when any of these holds, each counted as one failure and
printed as a "# ktap: ..." diagnostic:
  - a "not ok" result (a "not ok" parent whose children all passed counts
    once for itself: a program that exited non-zero, timed out or crashed);
  - no plan, two plans, a plan that does not match the results, results
    out of order, a second document where one was expected, "Bail out!";
  - an "ok" parent whose child document failed;
  - a skip (a "# SKIP" result, a "1..0 # SKIP" plan) that no line of the
    expected-skips FILE matches (glob over the result's path, its names
    from the root joined by " / ").
A failed result is printed with the diagnostic lines that came before it
in its document (at most the last DETAIL_LINES), so that the end of a long
log tells why.
With --tally, the last line is "N passed, N failed, N skipped" over the
leaves (results without a child document).  Exit status 0 only when nothing
failed and something passed (or, without --tally, nothing failed).

--wrap prints DOC as one document: a header is added if it has none, and
several concatenated documents become the children of one.
"""
import fnmatch
import re
import sys

RESULT = re.compile(r'^(not ok|ok)\b\s*(\d+)?\s*(?:- )?(.*?)\s*$')
DIRECTIVE = re.compile(r'^(.*?)\s*(?<!\\)#\s*(SKIP|TODO|TIMEOUT|XFAIL)\b\s*(.*)$', re.I)
PLAN = re.compile(r'^1\.\.(\d+)\s*(?:#\s*(SKIP)\b\s*(.*))?$', re.I)
VERSION = re.compile(r'^K?TAP version \d+')
DETAIL_LINES = 40


def unprefix(line):
    if line.startswith('# '):
        return line[2:]
    if line.startswith('#'):
        return line[1:]
    return line


class Count:
    def __init__(self, expected):
        self.passed = self.failed = self.skipped = 0
        self.expected = expected
        self.notes = []
        self.tail = []      # the last judged document's lines after its last result

    def fail(self, path, why, detail=()):
        self.failed += 1
        self.notes.append('%s: %s' % (' / '.join(path) or '(root)', why))
        self.notes.extend('  ' + x for x in detail[-DETAIL_LINES:])

    def skip(self, path, why):
        name = ' / '.join(path)
        if any(fnmatch.fnmatchcase(name, p) for p in self.expected):
            self.skipped += 1
        else:
            self.fail(path, 'unexpected skip (%s)' % (why or 'no reason'))


def judge(lines, path, count):
    """Count one document's results; return the number of failures."""
    before = count.failed
    plan = None
    version = 0
    results = 0
    child = None
    pending = None
    detail = []

    def close_child():
        nonlocal child, pending
        pending, child = child, None

    for line in lines:
        if child is not None:
            if line.startswith('#'):
                child.append(unprefix(line))
                continue
            close_child()
        if line.startswith('#'):
            if VERSION.match(unprefix(line)):
                if pending is not None:
                    count.fail(path, 'a child document without its result')
                child = [unprefix(line)]
            else:
                detail.append(line)
            continue
        if VERSION.match(line):
            version += 1
            if version > 1:
                count.fail(path, 'a second document in one')
            continue
        m = PLAN.match(line)
        if m:
            if plan is not None:
                count.fail(path, 'a second plan')
            plan = int(m.group(1))
            if plan == 0 and m.group(2):
                count.skip(path, m.group(3))
            continue
        if line.startswith('Bail out!'):
            count.fail(path, line)
            continue
        m = RESULT.match(line)
        if not m:
            if line.strip():
                detail.append(line)
            continue
        results += 1
        ok = m.group(1) == 'ok'
        desc, kind, why = m.group(3), None, ''
        d = DIRECTIVE.match(desc)
        if d:
            desc, kind, why = d.group(1), d.group(2).upper(), d.group(3)
        elif ' # ' in desc:
            desc, why = desc.split(' # ', 1)
        num = int(m.group(2)) if m.group(2) else results
        if num != results:
            count.fail(path, 'result %d numbered %d' % (results, num))
        me = path + [desc or str(num)]
        before_result, detail = detail, []
        if pending is not None:
            sub_lines, pending = pending, None
            sub = judge(sub_lines, me, count)
            if ok and sub and kind != 'SKIP':
                count.fail(me, 'ok, but its own results failed')
            elif not ok and not sub:
                count.fail(me, 'not ok # %s %s' % (kind or '', why),
                           count.tail)
            elif ok and kind == 'SKIP':
                count.skip(me, why)
            continue
        if not ok:
            count.fail(me, 'not ok # %s %s' % (kind or '', why), before_result)
        elif kind == 'SKIP':
            count.skip(me, why)
        else:
            count.passed += 1
    if child is not None:
        close_child()
    if pending is not None:
        count.fail(path, 'a child document without its result')
    if plan is None:
        count.fail(path, 'no plan (%d results)' % results, detail)
    elif plan != results:
        count.fail(path, 'planned %d, ran %d' % (plan, results), detail)
    count.tail = detail
    return count.failed - before


def wrap(lines):
    docs = [[]]
    for line in lines:
        if VERSION.match(line) and any(RESULT.match(x) or PLAN.match(x) for x in docs[-1]):
            docs.append([])
        docs[-1].append(line)
    if len(docs) == 1:
        if not any(VERSION.match(x) for x in lines):
            print('TAP version 13')
        print('\n'.join(lines))
        return
    print('TAP version 13')
    print('1..%d' % len(docs))
    for i, doc in enumerate(docs, 1):
        if not any(VERSION.match(x) for x in doc):
            doc.insert(0, 'TAP version 13')
        for x in doc:
            print('# ' + x if x else '#')
        c = Count([])
        bad = judge(doc, [], c)
        print('%s %d document %d' % ('not ok' if bad else 'ok', i, i))


def main(argv):
    expected, name, tally, do_wrap = [], None, False, False
    args = argv[1:]
    while args and args[0].startswith('--'):
        opt = args.pop(0)
        if opt == '--expected-skips':
            for x in open(args.pop(0)):
                x = x.strip()
                if x and not x.startswith('#'):
                    expected.append(x)
        elif opt == '--name':
            name = args.pop(0)
        elif opt == '--tally':
            tally = True
        elif opt == '--wrap':
            do_wrap = True
        else:
            sys.exit('ktap.py: unknown option ' + opt)
    if len(args) != 1:
        sys.exit(__doc__)
    with open(args[0], errors='replace') as f:
        lines = f.read().splitlines()
    if do_wrap:
        wrap(lines)
        return 0
    count = Count(expected)
    judge(lines, [name] if name else [], count)
    for n in count.notes:
        print('# ktap: ' + n)
    if tally:
        print('%d passed, %d failed, %d skipped' %
              (count.passed, count.failed, count.skipped))
        return 0 if count.failed == 0 and count.passed > 0 else 1
    return 0 if count.failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
