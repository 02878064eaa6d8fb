#include "object.h"
#include "banned.h"

#include <stdio.h>
#include <string.h>

static const char *const names[] = {
	[OBJ_BLOB] = "blob",
	[OBJ_TREE] = "tree",
	[OBJ_SNAPSHOT] = "snapshot",
	[OBJ_BUNDLE] = "bundle",
};

const char *type_name(enum object_type type)
{
	if ((unsigned)type >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[type];
}

enum object_type type_from_name(const char *name, size_t len)
{
	size_t i;

	for (i = 1; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && !memcmp(names[i], name, len))
			return (enum object_type)i;
	return OBJ_NONE;
}

size_t object_header_format(char *hdr, enum object_type type, uint64_t size)
{
	int n = snprintf(hdr, SNAP_HDR_MAX, "%s %llu", type_name(type),
			 (unsigned long long)size);
	return (size_t)n + 1;
}

int object_header_parse(const char *buf, size_t len, enum object_type *type,
			uint64_t *size)
{
	size_t i, sp;
	uint64_t v = 0;

	for (sp = 0; sp < len && buf[sp] != ' '; sp++)
		if (sp >= 8 || buf[sp] < 'a' || buf[sp] > 'z')
			return -1;
	if (sp == len)
		return 0;
	*type = type_from_name(buf, sp);
	if (*type == OBJ_NONE)
		return -1;
	for (i = sp + 1; i < len && buf[i]; i++) {
		unsigned d;
		if (buf[i] < '0' || buf[i] > '9' || i - sp > 20)
			return -1;
		if (i == sp + 2 && buf[sp + 1] == '0')
			return -1;	/* leading zero */
		d = (unsigned)(buf[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (i == len)
		return 0;
	if (i == sp + 1)
		return -1;	/* no digits */
	*size = v;
	return (int)(i + 1);
}
