/* test_term_safe.c — model output shown on a terminal cannot carry control sequences. */
#include <stdlib.h>

#include "app/term_safe.h"
#include "check.h"

static char *visible(const char *in, size_t len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	CHECK(term_write_visible(f, in, len) == 0, "write failed");
	fclose(f);
	return buf;
}

static void test_controls_made_visible(void)
{
	const char in[] = "red\033[31mX\a\b\r\x7f ok\n\ttab";
	char *out = visible(in, sizeof in - 1);
	CHECK(!strcmp(out, "red^[[31mX^G^H^M^? ok\n\ttab"), "got '%s'", out);
	for (char *p = out; *p; p++)
		CHECK(*p == '\n' || *p == '\t' || (unsigned char)*p >= 0x20, "control byte left");
	free(out);
}

static void test_c1_and_text_kept(void)
{
	const char in[] = "\xc2\x9b" "2J caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 \xc2\xa0";
	char *out = visible(in, sizeof in - 1);
	CHECK(!strcmp(out, "<U+009B>2J caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 \xc2\xa0"),
	      "got '%s'", out);
	free(out);
}

static void test_nul_shown(void)
{
	char *out = visible("a\0b", 3);
	CHECK(!strcmp(out, "a^@b"), "got '%s'", out);
	free(out);
}

/* Found by fuzz_term_safe: a raw 0x9B (CSI in 8-bit terminals) passed unchanged. */
static void test_raw_c1_bytes_shown(void)
{
	const char in[] = "\x9b" "31m \x1b]0;t\x07\x85 \xe4\xb8\x9b \xc0\x9b \xe4\x9b \xed\xa0\x80";
	char *out = visible(in, sizeof in - 1);
	CHECK(!strcmp(out, "<9B>31m ^[]0;t^G<85> \xe4\xb8\x9b \xc0<9B> \xe4<9B> \xed\xa0<80>"),
	      "got '%s'", out);
	free(out);
}

int main(void)
{
	RUN(test_controls_made_visible);
	RUN(test_c1_and_text_kept);
	RUN(test_nul_shown);
	RUN(test_raw_c1_bytes_shown);
	return check_finish();
}
