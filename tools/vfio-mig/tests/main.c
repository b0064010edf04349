// SPDX-License-Identifier: GPL-2.0
/*
 * The host tests under the kselftest harness: every test forks, so a crash,
 * an abort or a sanitizer report costs that test only, and the run prints
 * KTAP and exits non-zero if any test failed.  A leak fails the test that
 * leaked: the child runs LeakSanitizer before it exits (the harness leaves
 * the child with _exit(), which skips LSan's own check at exit).
 */
#include <signal.h>
#include <stdio.h>

#include "kselftest_harness.h"

#include "tap.h"

#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 120

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define leak_check()	__lsan_do_recoverable_leak_check()
#else
#define leak_check()	0
#endif

static void run_one(struct __test_metadata *_metadata, void (*fn)(void))
{
	signal(SIGPIPE, SIG_IGN);
	tap_passed = tap_failed = 0;
	fn();
	EXPECT_EQ(0, tap_failed)
		TH_LOG("%u of %u checks failed", tap_failed,
		       tap_passed + tap_failed);
	EXPECT_EQ(0, leak_check())
		TH_LOG("LeakSanitizer found a leak");
}

#define T(group, name) \
	TEST(group##__##name) { run_one(_metadata, group##_##name); }
#include "list.h"
#undef T

TEST_HARNESS_MAIN
