/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A small test harness in the style of the kernel's test_progs:
 * tests/unit/<name>.c defines `void test_<name>(void)`; the runner list is
 * generated from the file names. ASSERT_* macros return a bool so a test
 * can bail out: `if (!ASSERT_OK_PTR(skel, "open_load")) goto out;`.
 *
 * Output is TAP without numbers (tests/run numbers and totals them):
 *   ok - <test>/<subtest>
 *   not ok - <test>/<subtest>
 *   ok - <test>/<subtest> # SKIP <reason>
 * Diagnostics go to stdout as "# ..." lines.
 */
#ifndef MPC_TEST_H
#define MPC_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

void test__fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Start a subtest; returns false when a name filter excludes it. */
bool test__start_subtest(const char *name);
/* Mark the current subtest (or test) skipped, with a reason. */
void test__skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Hex dump helper for failure diagnostics. */
void test__hexdump(const char *what, const void *buf, size_t len);

#define ASSERT_TRUE(cond, name)                                                      \
	({                                                                           \
		bool ___ok = !!(cond);                                               \
		if (!___ok)                                                          \
			test__fail(__FILE__, __LINE__, "%s: unexpectedly false", (name)); \
		___ok;                                                               \
	})

#define ASSERT_FALSE(cond, name) ASSERT_TRUE(!(cond), name)

#define ASSERT_EQ(actual, expected, name)                                            \
	({                                                                           \
		long long ___a = (long long)(actual), ___e = (long long)(expected);  \
		bool ___ok = ___a == ___e;                                           \
		if (!___ok)                                                          \
			test__fail(__FILE__, __LINE__, "%s: got %lld, expected %lld",   \
				   (name), ___a, ___e);                              \
		___ok;                                                               \
	})

#define ASSERT_NEQ(actual, expected, name)                                           \
	({                                                                           \
		long long ___a = (long long)(actual), ___e = (long long)(expected);  \
		bool ___ok = ___a != ___e;                                           \
		if (!___ok)                                                          \
			test__fail(__FILE__, __LINE__, "%s: got %lld, expected not that", \
				   (name), ___a);                                    \
		___ok;                                                               \
	})

#define ASSERT_GE(actual, expected, name)                                            \
	({                                                                           \
		long long ___a = (long long)(actual), ___e = (long long)(expected);  \
		bool ___ok = ___a >= ___e;                                           \
		if (!___ok)                                                          \
			test__fail(__FILE__, __LINE__, "%s: got %lld, expected >= %lld", \
				   (name), ___a, ___e);                              \
		___ok;                                                               \
	})

/* err is 0 on success, else -errno or -1 (errno then set). */
#define ASSERT_OK(err, name)                                                         \
	({                                                                           \
		long long ___e = (long long)(err);                                   \
		bool ___ok = ___e == 0;                                              \
		if (!___ok)                                                          \
			test__fail(__FILE__, __LINE__, "%s: error %lld (errno %d: %s)",  \
				   (name), ___e, errno, strerror(errno));            \
		___ok;                                                               \
	})

#define ASSERT_OK_PTR(ptr, name)                                                     \
	({                                                                           \
		const void *___p = (ptr);                                            \
		bool ___ok = ___p != NULL;                                           \
		if (!___ok)                                                          \
			test__fail(__FILE__, __LINE__, "%s: NULL (errno %d: %s)", (name), \
				   errno, strerror(errno));                          \
		___ok;                                                               \
	})

#define ASSERT_MEMEQ(actual, expected, len, name)                                    \
	({                                                                           \
		const void *___a = (actual), *___e = (expected);                     \
		size_t ___l = (len);                                                 \
		bool ___ok = memcmp(___a, ___e, ___l) == 0;                          \
		if (!___ok) {                                                        \
			test__fail(__FILE__, __LINE__, "%s: bytes differ", (name));  \
			test__hexdump("got", ___a, ___l);                            \
			test__hexdump("expected", ___e, ___l);                       \
		}                                                                    \
		___ok;                                                               \
	})

#endif /* MPC_TEST_H */
