/* term_safe.c — see term_safe.h. */
#include "app/term_safe.h"

#include <stdbool.h>

/* Whether continuation byte s[i] belongs to a valid UTF-8 sequence (it follows its lead
   byte and the sequence is complete and well-formed). */
static bool in_sequence(const char *s, size_t len, size_t i)
{
	for (size_t back = 1; back <= 3 && back <= i; back++) {
		unsigned char lead = (unsigned char)s[i - back];
		if ((lead & 0xc0) == 0x80)
			continue;
		size_t n = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3
			 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
		if (n <= back || i - back + n > len)
			return false;
		unsigned char b1 = (unsigned char)s[i - back + 1];
		if ((lead == 0xe0 && b1 < 0xa0) || (lead == 0xed && b1 > 0x9f) ||
		    (lead == 0xf0 && b1 < 0x90) || (lead == 0xf4 && b1 > 0x8f))
			return false; /* overlong, surrogate, above U+10FFFF */
		for (size_t k = 1; k < n; k++)
			if (((unsigned char)s[i - back + k] & 0xc0) != 0x80)
				return false;
		return true;
	}
	return false;
}

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
		} else if (b >= 0x80 && b < 0xa0 && !in_sequence(s, len, i)) {
			/* a lone 0x9B is CSI to a terminal in 8-bit mode */
			rc = fprintf(f, "<%02X>", b);
		} else {
			rc = putc(b, f) == EOF ? -1 : 1;
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}
