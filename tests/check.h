/*
 * check.h — the tiny test harness every tests/test_*.c uses.
 *
 *   static void test_something(void) { CHECK(x == 1, "x was %d", x); }
 *   int main(void) { RUN(test_something); return check_finish(); }
 *
 * Each RUN prints one line: "PASS name", "FAIL name" or "SKIP name: why". tests/run.sh
 * adds the lines of all binaries into "N passed, N failed, N skipped". A test that needs
 * ../shared/fixtures calls check_fixtures() and SKIPs when it returns NULL.
 */
#ifndef PONDER_TEST_CHECK_H
#define PONDER_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int check_failed_now;   /* failures inside the running test */
static int check_total_failed; /* tests that failed */
static const char *check_skip_reason;

#define CHECK(cond, ...)                                                          \
	do {                                                                      \
		if (!(cond)) {                                                    \
			check_failed_now++;                                       \
			fprintf(stderr, "  %s:%d: check failed: %s: ", __FILE__,  \
				__LINE__, #cond);                                 \
			fprintf(stderr, __VA_ARGS__);                             \
			fputc('\n', stderr);                                      \
		}                                                                 \
	} while (0)

/* Marks the running test skipped; the caller returns right after. */
#define SKIP(why) (check_skip_reason = (why))

#define RUN(fn)                                                                   \
	do {                                                                      \
		check_failed_now = 0;                                             \
		check_skip_reason = NULL;                                         \
		fn();                                                             \
		if (check_failed_now) {                                           \
			check_total_failed++;                                     \
			printf("FAIL %s\n", #fn);                                 \
		} else if (check_skip_reason) {                                   \
			printf("SKIP %s: %s\n", #fn, check_skip_reason);          \
		} else {                                                          \
			printf("PASS %s\n", #fn);                                 \
		}                                                                 \
		fflush(stdout);                                                   \
	} while (0)

static inline int check_finish(void)
{
	return check_total_failed ? 1 : 0;
}

/* The shared fixtures folder (../shared/fixtures from the project root, or
   $PONDER_FIXTURES), or NULL when it is absent, as in a user's clone. */
static inline const char *check_fixtures(void)
{
	const char *env = getenv("PONDER_FIXTURES");
	const char *dir = env && *env ? env : "../shared/fixtures";
	struct stat st;
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? dir : NULL;
}

/* Copies file `from` to `to` (tests that assemble or damage a model folder); 0 on
   success. */
static inline int check_copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	int rc = in && out ? 0 : -1;
	char buf[1 << 16];
	size_t n;
	while (!rc && (n = fread(buf, 1, sizeof buf, in)) > 0)
		rc = fwrite(buf, 1, n, out) == n ? 0 : -1;
	if (in)
		fclose(in);
	if (out && fclose(out))
		rc = -1;
	return rc;
}

#endif
