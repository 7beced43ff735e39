// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit test runner. Usage: unit_runner [-l] [FILTER...]
 * A FILTER selects tests whose "test" or "test/subtest" name contains it.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"

#define DEFINE_TEST(name) void test_##name(void);
#include "tests.inc"
#undef DEFINE_TEST

struct test_def {
	const char *name;
	void (*fn)(void);
};

#define DEFINE_TEST(name) { #name, test_##name },
static const struct test_def tests[] = {
#include "tests.inc"
};
#undef DEFINE_TEST

static struct {
	const char *test;
	char sub[128];
	bool in_sub;
	bool failed;
	bool skipped;
	char skip_reason[160];
	int n_sub;
	int pass, fail, skip;
	char **filters;
	int n_filters;
} st;

static bool selected(const char *test, const char *sub)
{
	char full[256];
	int i;

	if (!st.n_filters)
		return true;
	snprintf(full, sizeof(full), "%s%s%s", test, sub ? "/" : "", sub ? sub : "");
	for (i = 0; i < st.n_filters; i++) {
		/* a filter naming a test selects all its subtests; one naming
		 * a subtest selects just it */
		if (strstr(full, st.filters[i]))
			return true;
		if (!sub && strstr(st.filters[i], test) == st.filters[i])
			return true;
	}
	return false;
}

static void report(const char *name)
{
	if (st.skipped && !st.failed) {
		printf("ok - %s # SKIP %s\n", name, st.skip_reason);
		st.skip++;
	} else if (st.failed) {
		printf("not ok - %s\n", name);
		st.fail++;
	} else {
		printf("ok - %s\n", name);
		st.pass++;
	}
	fflush(stdout);
	st.failed = st.skipped = false;
}

static void end_subtest(void)
{
	char name[300];

	if (!st.in_sub)
		return;
	snprintf(name, sizeof(name), "%s/%s", st.test, st.sub);
	report(name);
	st.in_sub = false;
}

bool test__start_subtest(const char *name)
{
	end_subtest();
	if (!selected(st.test, name))
		return false;
	snprintf(st.sub, sizeof(st.sub), "%s", name);
	st.in_sub = true;
	st.n_sub++;
	return true;
}

void test__fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("# %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	st.failed = true;
}

void test__skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st.skip_reason, sizeof(st.skip_reason), fmt, ap);
	va_end(ap);
	st.skipped = true;
}

void test__hexdump(const char *what, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	printf("#   %s (%zu bytes):", what, len);
	for (i = 0; i < len; i++)
		printf("%s%02x", i % 16 ? " " : "\n#     ", p[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	bool list = false;
	size_t i;

	if (argc > 1 && !strcmp(argv[1], "-l")) {
		list = true;
		argc--;
		argv++;
	}
	st.filters = argv + 1;
	st.n_filters = argc - 1;
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (list) {
			printf("%s\n", tests[i].name);
			continue;
		}
		if (!selected(tests[i].name, NULL)) {
			/* a filter may still name one of its subtests */
			bool any = false;
			int f;

			for (f = 0; f < st.n_filters; f++)
				if (!strncmp(st.filters[f], tests[i].name, strlen(tests[i].name)))
					any = true;
			if (!any)
				continue;
		}
		st.test = tests[i].name;
		st.n_sub = 0;
		st.failed = st.skipped = false;
		tests[i].fn();
		end_subtest();
		/* a test without subtests reports once, under its own name */
		if (!st.n_sub)
			report(st.test);
	}
	return st.fail ? 1 : 0;
}
