/*
 * glyphs.c — the ASCII fallback for the UI's glyphs (see glyphs.h).
 */
#include "ui/glyphs.h"

#include <stddef.h>

static bool ascii;

void ui_glyphs_set_ascii(bool on)
{
	ascii = on;
}

bool ui_glyphs_ascii(void)
{
	return ascii;
}

uint32_t ui_glyph(uint32_t cp)
{
	static const struct {
		uint32_t cp;
		char ascii;
	} map[] = {
		{0x2502, '|'}, /* │ */
		{0x2500, '-'}, /* ─ */
		{0x250C, '+'}, /* ┌ */
		{0x2510, '+'}, /* ┐ */
		{0x2514, '+'}, /* └ */
		{0x2518, '+'}, /* ┘ */
		{0x25B8, '>'}, /* ▸ folded */
		{0x25BE, 'v'}, /* ▾ unfolded */
		{0x203A, '>'}, /* › a question */
		{0x00B7, '-'}, /* · between hints */
		{0x2026, '~'}, /* … */
		{0x2191, '^'}, /* ↑ scrolled */
		{0x25CF, '*'}, /* ● the open conversation */
		{0x258F, '|'}, /* ▏ where typing goes */
		{0x2014, '-'}, /* — */
	};
	if (!ascii)
		return cp;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (map[i].cp == cp)
			return (uint32_t)(unsigned char)map[i].ascii;
	return cp;
}
