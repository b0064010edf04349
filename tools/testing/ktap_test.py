#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""ktap.py's verdicts on small documents (make check's judge judged)."""
import os
import subprocess
import sys
import tempfile
import unittest

KTAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ktap.py')


def judge(doc, *opts):
    with tempfile.NamedTemporaryFile('w', suffix='.ktap') as f:
        f.write(doc)
        f.flush()
        r = subprocess.run([sys.executable, KTAP, *opts, '--tally', f.name],
                           capture_output=True, text=True)
    return r.returncode, r.stdout.splitlines()


NESTED = '''TAP version 13
1..2
# TAP version 13
# 1..2
# # setup done
# ok 1 first
# # save exit 3, load exit 0
# # source could not be returned to RUNNING
# not ok 2 second
not ok 1 prog
ok 2 other
'''


class Verdicts(unittest.TestCase):
    def test_clean_document_passes(self):
        rc, out = judge('TAP version 13\n1..2\nok 1 a\nok 2 b\n')
        self.assertEqual(rc, 0)
        self.assertEqual(out, ['2 passed, 0 failed, 0 skipped'])

    def test_failure_carries_its_diagnostics(self):
        rc, out = judge(NESTED)
        self.assertEqual(rc, 1)
        self.assertEqual(out, [
            '# ktap: prog / second: not ok #  ',
            '# ktap:   # save exit 3, load exit 0',
            '# ktap:   # source could not be returned to RUNNING',
            '2 passed, 1 failed, 0 skipped'])

    def test_dead_program_shows_its_last_lines(self):
        doc = ('TAP version 13\n1..1\n# TAP version 13\n# 1..2\n'
               '# ok 1 a\n# # Segmentation fault\nnot ok 1 prog\n')
        rc, out = judge(doc)
        self.assertEqual(rc, 1)
        self.assertEqual(out[:2], ['# ktap: prog: planned 2, ran 1',
                                   '# ktap:   # Segmentation fault'])

    def test_failed_step_with_clean_document_shows_its_own_lines(self):
        # check.sh: a step's document nested, then its exit status and
        # stderr tail, then "not ok"; a grandchild's lines are not why
        doc = ('TAP version 13\n1..1\n# TAP version 13\n# 1..1\n'
               '# # TAP version 13\n# # 1..1\n# # ok 1 gc\n# ok 1 prog\n'
               '# vm_suite: exit status 2, 9s\n#   qemu: terminated\n'
               'not ok 1 vm_suite # exit=2\n')
        rc, out = judge(doc)
        self.assertEqual(rc, 1)
        self.assertEqual(out, [
            '# ktap: vm_suite: not ok #  exit=2',
            '# ktap:   vm_suite: exit status 2, 9s',
            '# ktap:     qemu: terminated',
            '1 passed, 1 failed, 0 skipped'])

    def test_detail_is_bounded(self):
        lines = ''.join('# line %d\n' % i for i in range(100))
        rc, out = judge('TAP version 13\n1..1\n%snot ok 1 x\n' % lines)
        self.assertEqual(rc, 1)
        self.assertEqual(out[1], '# ktap:   # line 60')
        self.assertEqual(out[-2], '# ktap:   # line 99')

    def test_unexpected_skip_fails_expected_one_does_not(self):
        doc = 'TAP version 13\n1..1\nok 1 t # SKIP no device\n'
        self.assertEqual(judge(doc)[0], 1)
        with tempfile.NamedTemporaryFile('w') as f:
            f.write('t\n')
            f.flush()
            rc, out = judge(doc, '--expected-skips', f.name)
        # an expected skip alone is not a pass: something must pass
        self.assertEqual(out, ['0 passed, 0 failed, 1 skipped'])
        self.assertEqual(rc, 1)

    def test_missing_result_fails(self):
        rc, out = judge('TAP version 13\n1..3\nok 1 a\nok 2 b\n')
        self.assertEqual(rc, 1)
        self.assertIn('# ktap: (root): planned 3, ran 2', out)


if __name__ == '__main__':
    unittest.main()
