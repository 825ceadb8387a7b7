/* term_safe.c — see term_safe.h. */
#include "app/term_safe.h"

int term_write_visible(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char b = (unsigned char)s[i];
		int rc;
		if ((b < 0x20 && b != '\n' && b != '\t') || b == 0x7f) {
			rc = fprintf(f, "^%c", b == 0x7f ? '?' : b + 0x40);
		} else if (b == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
			   (unsigned char)s[i + 1] < 0xa0) {
			rc = fprintf(f, "<U+%04X>", (unsigned char)s[++i]);
		} else {
			rc = putc(b, f) == EOF ? -1 : 1;
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}
