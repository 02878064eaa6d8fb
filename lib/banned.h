#ifndef SNAP_BANNED_H
#define SNAP_BANNED_H

/*
 * Functions snap does not call: each invites an overflow (no bound, or a
 * bound that leaves a string unterminated) or hides state between calls.
 * Use a strbuf (strbuf_addstr, strbuf_addf), memcpy with a known length,
 * snprintf into a sized buffer, strtok_r or strchr.  A call to one of
 * them names itself in the compiler's error ("sorry_strcpy_is_banned").
 *
 * lib/util.h and lib/strbuf.h include this at their end, which brings it
 * to every lib/ and cmd/ file (the two that include neither, oid.c and
 * object.c, include it themselves).
 * The system headers that declare these functions come first, here: a
 * later #include of them is then empty, and their declarations are never
 * rewritten.  `make check-banned` takes its list from the #defines below
 * and searches the sources, t/unit included, for any call.
 */

#include <stdio.h>
#include <string.h>

#undef strcpy
#define strcpy(x, y) sorry_strcpy_is_banned
#undef strcat
#define strcat(x, y) sorry_strcat_is_banned
#undef strncpy
#define strncpy(x, y, n) sorry_strncpy_is_banned
#undef strncat
#define strncat(x, y, n) sorry_strncat_is_banned
#undef strtok
#define strtok(x, y) sorry_strtok_is_banned
#undef gets
#define gets(x) sorry_gets_is_banned
#undef sprintf
#define sprintf(...) sorry_sprintf_is_banned
#undef vsprintf
#define vsprintf(...) sorry_vsprintf_is_banned

#endif
