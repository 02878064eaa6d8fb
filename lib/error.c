/*
 * Error reporting into a caller's buffer (error.h).
 */
#include "error.h"
#include "strbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

int snap_error(struct strbuf *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		strbuf_vaddf(err, fmt, ap);
		va_end(ap);
	}
	return code;
}

int snap_error_errno(struct strbuf *err, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		strbuf_vaddf(err, fmt, ap);
		va_end(ap);
		strbuf_addf(err, ": %s", strerror(saved));
	}
	errno = saved;
	return SNAP_EIO;
}
