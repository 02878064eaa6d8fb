/*
 * The checks that keep a restore inside its target (lib/tree.c, used by
 * lib/checkout.c): every name a parsed tree holds, and every hard link
 * target, must be one restore can write safely.  Checked against a
 * second, independent statement of the rule: a name is not empty, "." or
 * "..", and holds no '/' or NUL; a link target is names joined by '/'
 * (so neither absolute nor climbing).  The input is a tree payload; the
 * name checks also get the raw input, as a name and as a path.
 */
#include "harness.h"
#include "tree.h"

#include <string.h>

static int name_safe(const char *s, size_t len)
{
	size_t i;

	if (!len || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] == '/' || s[i] == '\0')
			return 0;
	return 1;
}

static int path_safe(const char *s, size_t len)
{
	size_t start = 0, i;

	for (i = 0; i < len; i++) {
		if (s[i] != '/')
			continue;
		if (!name_safe(s + start, i - start))
			return 0;
		start = i + 1;
	}
	return name_safe(s + start, len - start);
}

/* Byte order, a name before any longer one it begins. */
static int name_cmp(const struct tree_entry *a, const struct tree_entry *b)
{
	size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
	int c = memcmp(a->name, b->name, n);

	if (c)
		return c;
	return a->name_len < b->name_len ? -1 : a->name_len > b->name_len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct strbuf err = STRBUF_INIT;
	struct tree t = TREE_INIT;
	size_t i;

	if (tree_name_ok(s, size) != name_safe(s, size))
		fuzz_fail("tree_name_ok disagrees on a name of %zu bytes", size);
	if (tree_path_ok(s, size) != path_safe(s, size))
		fuzz_fail("tree_path_ok disagrees on a path of %zu bytes", size);

	if (tree_parse(&t, s, size, &err) == 0) {
		for (i = 0; i < t.nr; i++) {
			const struct tree_entry *e = &t.entries[i];

			if (!name_safe(e->name, e->name_len) || e->name[e->name_len])
				fuzz_fail("entry %zu has an unsafe name", i);
			if (e->link && (e->type != TREE_FILE ||
					!path_safe(e->link, e->link_len)))
				fuzz_fail("entry %zu has an unsafe hard link", i);
			if (i && name_cmp(e - 1, e) >= 0)
				fuzz_fail("entries %zu and %zu are not in strict order", i - 1, i);
		}
	}
	tree_release(&t);
	strbuf_release(&err);
	return 0;
}
