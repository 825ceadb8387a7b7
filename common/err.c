/* err.c — formatting for struct err (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(struct err *e, int code, const char *fmt, ...)
{
	if (!e)
		return code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->code = code;
	return code;
}

int err_prefix(struct err *e, const char *fmt, ...)
{
	if (!e)
		return ERR_OK;
	char head[512], old[sizeof e->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof head, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	snprintf(e->msg, sizeof e->msg, "%s: %s", head, old);
	return e->code;
}

void err_clear(struct err *e)
{
	if (!e)
		return;
	e->code = ERR_OK;
	e->msg[0] = '\0';
}

const char *err_code_name(int code)
{
	switch (code) {
	case ERR_OK: return "ok";
	case ERR_USAGE: return "usage error";
	case ERR_IO: return "i/o error";
	case ERR_FORMAT: return "format error";
	case ERR_NOMEM: return "out of memory";
	case ERR_UNSUPPORTED: return "unsupported";
	case ERR_RANGE: return "out of range";
	case ERR_CONTEXT: return "context overflow";
	case ERR_DB: return "database error";
	case ERR_INTERRUPTED: return "interrupted";
	case ERR_MODEL: return "model load error";
	case ERR_REMOTE: return "remote server error";
	}
	return "error";
}
