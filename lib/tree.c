/*
 * Tree objects; the format is in docs/FORMAT.md ("Trees").
 */
#include "tree.h"
#include "error.h"
#include "json.h"
#include "odb.h"
#include "util.h"

#include <inttypes.h>

#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
	[TREE_FILE] = "file", [TREE_DIR] = "dir", [TREE_SYMLINK] = "symlink",
	[TREE_FIFO] = "fifo", [TREE_CHR] = "chr", [TREE_BLK] = "blk",
};

const char *tree_type_name(enum tree_type type)
{
	if ((unsigned)type < 1 || (unsigned)type >= ARRAY_SIZE(type_names))
		return NULL;
	return type_names[type];
}

void tree_entry_json(struct strbuf *out, const struct tree_entry *e)
{
	strbuf_addf(out, ",\"type\":\"%s\",\"mode\":\"%04o\",\"uid\":%" PRIu32
		    ",\"gid\":%" PRIu32 ",\"size\":%" PRIu64 ",\"mtime\":%" PRId64
		    ",\"mtime_ns\":%" PRIu32,
		    tree_type_name(e->type), e->perm, e->uid, e->gid, e->size,
		    e->mtime_sec, e->mtime_nsec);
	if (e->type == TREE_FILE || e->type == TREE_DIR || e->type == TREE_SYMLINK)
		strbuf_addf(out, ",\"id\":\"%s\"", oid_to_hex(&e->oid));
	if (e->type == TREE_CHR || e->type == TREE_BLK)
		strbuf_addf(out, ",\"rdev\":[%" PRIu32 ",%" PRIu32 "]", e->rdev_major, e->rdev_minor);
	if (e->sparse)
		strbuf_addstr(out, ",\"sparse\":true");
	if (e->has_xattrs)
		strbuf_addf(out, ",\"xattrs\":\"%s\"", oid_to_hex(&e->xattrs));
	if (e->flags) {
		strbuf_addstr(out, ",\"flags\":\"");
		tree_flags_letters(out, e->flags);
		strbuf_addch(out, '"');
	}
	if (e->link) {
		strbuf_addstr(out, ",\"link\":");
		json_add_bytes(out, e->link, e->link_len);
	}
}

void tree_flags_letters(struct strbuf *out, unsigned flags)
{
	size_t i;

	for (i = 0; TREE_FLAG_LETTERS[i]; i++)
		if (flags & (1u << i))
			strbuf_addch(out, TREE_FLAG_LETTERS[i]);
}

void tree_release(struct tree *t)
{
	size_t i;

	for (i = 0; i < t->nr; i++) {
		free(t->entries[i].name);
		free(t->entries[i].link);
	}
	free(t->entries);
	t->entries = NULL;
	t->nr = t->alloc = 0;
}

struct tree_entry *tree_add(struct tree *t, const struct tree_entry *e)
{
	struct tree_entry *n;

	ALLOC_GROW(t->entries, t->nr + 1, t->alloc);
	n = &t->entries[t->nr++];
	*n = *e;
	n->name = xstrndup(e->name, e->name_len);
	n->link = e->link ? xstrndup(e->link, e->link_len) : NULL;
	return n;
}

static int name_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

static int entry_cmp(const void *va, const void *vb)
{
	const struct tree_entry *a = va, *b = vb;
	return name_cmp(a->name, a->name_len, b->name, b->name_len);
}

void tree_sort(struct tree *t)
{
	QSORT(t->entries, t->nr, entry_cmp);
}

int tree_name_ok(const char *name, size_t len)
{
	if (len == 0 || (len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	return !memchr(name, '/', len) && !memchr(name, '\0', len);
}

int tree_path_ok(const char *path, size_t len)
{
	size_t start = 0, i;

	for (i = 0; i <= len; i++) {
		if (i == len || path[i] == '/') {
			if (!tree_name_ok(path + start, i - start))
				return 0;
			start = i + 1;
		}
	}
	return 1;
}

static int literal(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '\\';
}

void tree_escape(struct strbuf *out, const char *name, size_t len)
{
	size_t i = 0, run;

	while (i < len) {
		for (run = i; run < len && literal((unsigned char)name[run]); run++)
			;
		strbuf_add(out, name + i, run - i);
		if (run < len) {
			unsigned char c = (unsigned char)name[run];
			char esc[4] = { '\\', (char)('0' + (c >> 6)),
					(char)('0' + ((c >> 3) & 7)), (char)('0' + (c & 7)) };
			strbuf_add(out, esc, sizeof(esc));
		}
		i = run + 1;
	}
}

/* Checks the fields of one entry that the encoding cannot express wrongly. */
static int entry_check(const struct tree_entry *e, struct strbuf *err)
{
	const char *what = NULL;

	if (!tree_type_name(e->type))
		what = "unknown type";
	else if (e->perm > 07777)
		what = "bad permission bits";
	else if (e->mtime_nsec >= 1000000000u)
		what = "nanoseconds out of range";
	else if (!tree_name_ok(e->name, e->name_len))
		what = "invalid name";
	else if (e->link && (e->type != TREE_FILE || !tree_path_ok(e->link, e->link_len)))
		what = "invalid hard link";
	else if (e->sparse && e->type != TREE_FILE)
		what = "sparse on an entry that is not a file";
	else if (e->flags & ~TREE_FLAGS_ALL)
		what = "unknown flags";
	else if (e->flags && e->type != TREE_FILE && e->type != TREE_DIR)
		what = "flags on an entry that is not a file or directory";
	else if (e->type != TREE_FILE && e->type != TREE_SYMLINK && e->size)
		what = "size on an entry that has none";
	else if (e->type == TREE_SYMLINK && !e->size)
		what = "empty symlink target";
	else if (e->type != TREE_CHR && e->type != TREE_BLK &&
		 (e->rdev_major || e->rdev_minor))
		what = "device number on a non-device";
	if (!what)
		return 0;
	strbuf_addstr(err, what);
	strbuf_addstr(err, " for entry '");
	strbuf_addquoted(err, e->name, e->name_len);
	strbuf_addch(err, '\'');
	return SNAP_EINVAL;
}

static int has_id(enum tree_type type)
{
	return type == TREE_FILE || type == TREE_DIR || type == TREE_SYMLINK;
}

/* Writes v in decimal ending just before end; returns where it starts. */
static char *dec_before(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static void add_dec(struct strbuf *out, uint64_t v)
{
	char buf[24];
	char *p = dec_before(buf + sizeof(buf), v);

	strbuf_add(out, p, (size_t)(buf + sizeof(buf) - p));
}

/*
 * One line of docs/FORMAT.md, "Trees".  Written by hand rather than with
 * a printf: write-tree encodes a line for every file it stores.
 */
static void encode_entry(struct strbuf *out, const struct tree_entry *e)
{
	char perm[6] = { ' ', (char)('0' + ((e->perm >> 9) & 7)),
			 (char)('0' + ((e->perm >> 6) & 7)), (char)('0' + ((e->perm >> 3) & 7)),
			 (char)('0' + (e->perm & 7)), ' ' };
	char nsec[11];
	char hex[SNAP_OID_HEXSZ + 1];
	int i;
	uint32_t ns = e->mtime_nsec;

	strbuf_addstr(out, tree_type_name(e->type));
	strbuf_add(out, perm, sizeof(perm));
	add_dec(out, e->uid);
	strbuf_addch(out, ' ');
	add_dec(out, e->gid);
	strbuf_addch(out, ' ');
	if (e->mtime_sec < 0) {
		strbuf_addch(out, '-');
		add_dec(out, 0 - (uint64_t)e->mtime_sec);
	} else {
		add_dec(out, (uint64_t)e->mtime_sec);
	}
	nsec[0] = '.';
	for (i = 9; i >= 1; i--, ns /= 10)
		nsec[i] = (char)('0' + ns % 10);
	nsec[10] = ' ';
	strbuf_add(out, nsec, sizeof(nsec));
	add_dec(out, e->size);
	strbuf_addch(out, ' ');
	if (has_id(e->type))
		strbuf_add(out, oid_to_hex_r(hex, &e->oid), SNAP_OID_HEXSZ);
	else
		strbuf_addch(out, '-');
	strbuf_addch(out, ' ');
	if (e->link) {
		strbuf_addstr(out, "link=");
		tree_escape(out, e->link, e->link_len);
	} else if (e->type == TREE_CHR || e->type == TREE_BLK) {
		strbuf_addf(out, "rdev=%u:%u", e->rdev_major, e->rdev_minor);
	} else {
		strbuf_addch(out, '-');
	}
	strbuf_addch(out, ' ');
	if (e->sparse)
		strbuf_addstr(out, "sparse ");
	if (e->has_xattrs) {
		strbuf_addstr(out, "xattrs=");
		strbuf_add(out, oid_to_hex_r(hex, &e->xattrs), SNAP_OID_HEXSZ);
		strbuf_addch(out, ' ');
	}
	if (e->flags) {
		strbuf_addstr(out, "flags=");
		tree_flags_letters(out, e->flags);
		strbuf_addch(out, ' ');
	}
	tree_escape(out, e->name, e->name_len);
	strbuf_addch(out, '\n');
}

int tree_encode(const struct tree *t, struct strbuf *out, struct strbuf *err)
{
	size_t i;

	strbuf_reset(out);
	for (i = 0; i < t->nr; i++) {
		const struct tree_entry *e = &t->entries[i];
		int ret = entry_check(e, err);

		if (ret < 0)
			return ret;
		if (i && entry_cmp(&t->entries[i - 1], e) >= 0) {
			strbuf_addstr(err, "tree entries not sorted or duplicated at '");
			strbuf_addquoted(err, e->name, e->name_len);
			strbuf_addch(err, '\'');
			return SNAP_EINVAL;
		}
		encode_entry(out, e);
	}
	return 0;
}

/* ---- parsing ---- */

struct cursor {
	const char *p, *end;
};

/* The next space- or newline-terminated field; NULL if none. */
static const char *field(struct cursor *c, size_t *len, char stop)
{
	const char *s = c->p;
	const char *e = memchr(s, stop, (size_t)(c->end - s));

	if (!e || e == s)
		return NULL;
	if (stop == ' ' && memchr(s, '\n', (size_t)(e - s)))
		return NULL;
	*len = (size_t)(e - s);
	c->p = e + 1;
	return s;
}

/* Parses a canonical unsigned decimal (no leading zeros) of len bytes. */
static int canon_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	char buf[24];

	if (!len || len > 20 || (len > 1 && s[0] == '0') || memchr(s, '\0', len))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (parse_u64(buf, out) < 0 || *out > max)
		return -1;
	return 0;
}

static int unescape(const char *s, size_t len, struct strbuf *out)
{
	size_t i;

	strbuf_reset(out);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned v;

		if (c == '\\') {
			if (len - i < 4)
				return -1;
			if (s[i + 1] < '0' || s[i + 1] > '3' ||
			    s[i + 2] < '0' || s[i + 2] > '7' ||
			    s[i + 3] < '0' || s[i + 3] > '7')
				return -1;
			v = (unsigned)(s[i + 1] - '0') * 64 +
			    (unsigned)(s[i + 2] - '0') * 8 + (unsigned)(s[i + 3] - '0');
			if (literal((unsigned char)v))
				return -1;	/* not canonical */
			strbuf_addch(out, (int)v);
			i += 3;
		} else if (literal(c)) {
			strbuf_addch(out, c);
		} else {
			return -1;
		}
	}
	return 0;
}

int tree_unescape(const char *s, size_t len, struct strbuf *out)
{
	return unescape(s, len, out);
}

/*
 * The letters of a flags field: each known, each once, in canonical order
 * (TREE_FLAG_LETTERS), at least one.
 */
static int parse_flags(const char *s, size_t len, unsigned *out)
{
	size_t i, at = 0;

	*out = 0;
	if (!len)
		return -1;
	for (i = 0; i < len; i++) {
		const char *l = memchr(TREE_FLAG_LETTERS + at, s[i],
				       sizeof(TREE_FLAG_LETTERS) - 1 - at);

		if (!l || !s[i])
			return -1;
		at = (size_t)(l - TREE_FLAG_LETTERS) + 1;
		*out |= 1u << (at - 1);
	}
	return 0;
}

static int parse_entry(struct cursor *c, struct tree_entry *e,
		       struct strbuf *name, struct strbuf *link, const char **why)
{
	const char *f;
	size_t len, i;
	uint64_t v;

	memset(e, 0, sizeof(*e));
	*why = "bad type";
	if (!(f = field(c, &len, ' ')))
		return -1;
	for (i = 1; i < ARRAY_SIZE(type_names); i++)
		if (strlen(type_names[i]) == len && !memcmp(type_names[i], f, len))
			e->type = (enum tree_type)i;
	if (!e->type)
		return -1;

	*why = "bad permission bits";
	if (!(f = field(c, &len, ' ')) || len != 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if (f[i] < '0' || f[i] > '7')
			return -1;
		e->perm = e->perm * 8 + (unsigned)(f[i] - '0');
	}

	*why = "bad uid";
	if (!(f = field(c, &len, ' ')) || canon_u64(f, len, UINT32_MAX, &v) < 0)
		return -1;
	e->uid = (uint32_t)v;
	*why = "bad gid";
	if (!(f = field(c, &len, ' ')) || canon_u64(f, len, UINT32_MAX, &v) < 0)
		return -1;
	e->gid = (uint32_t)v;

	*why = "bad mtime";
	if (!(f = field(c, &len, ' ')) || len < 11 || f[len - 10] != '.')
		return -1;
	{
		int neg = f[0] == '-';
		size_t secl = len - 10 - (size_t)neg;

		if (canon_u64(f + neg, secl, (uint64_t)1 << 62, &v) < 0 || (neg && v == 0))
			return -1;
		e->mtime_sec = neg ? -(int64_t)v : (int64_t)v;
		for (i = len - 9; i < len; i++) {
			if (f[i] < '0' || f[i] > '9')
				return -1;
			e->mtime_nsec = e->mtime_nsec * 10 + (uint32_t)(f[i] - '0');
		}
	}

	*why = "bad size";
	if (!(f = field(c, &len, ' ')) || canon_u64(f, len, UINT64_MAX, &e->size) < 0)
		return -1;

	*why = "bad object id";
	if (!(f = field(c, &len, ' ')))
		return -1;
	if (has_id(e->type)) {
		if (len != SNAP_OID_HEXSZ || oid_from_hexn(&e->oid, f, len) < 0)
			return -1;
		for (i = 0; i < len; i++)
			if (f[i] >= 'A' && f[i] <= 'F')
				return -1;
	} else if (len != 1 || f[0] != '-') {
		return -1;
	}

	*why = "bad extra field";
	if (!(f = field(c, &len, ' ')))
		return -1;
	if (len > 5 && !memcmp(f, "link=", 5)) {
		if (unescape(f + 5, len - 5, link) < 0)
			return -1;
		e->link = link->buf;
		e->link_len = link->len;
	} else if (len > 5 && !memcmp(f, "rdev=", 5)) {
		const char *colon = memchr(f + 5, ':', len - 5);
		uint64_t mj, mn;

		if (!colon || canon_u64(f + 5, (size_t)(colon - f - 5), UINT32_MAX, &mj) < 0 ||
		    canon_u64(colon + 1, (size_t)(f + len - colon - 1), UINT32_MAX, &mn) < 0 ||
		    (e->type != TREE_CHR && e->type != TREE_BLK))
			return -1;
		e->rdev_major = (uint32_t)mj;
		e->rdev_minor = (uint32_t)mn;
	} else if (len != 1 || f[0] != '-') {
		return -1;
	} else if (e->type == TREE_CHR || e->type == TREE_BLK) {
		return -1;
	}

	/*
	 * Tree formats 2 and 3: optional fields before the name, in this
	 * order.  A name holds no raw space, so a space left on the line
	 * means another field is there.
	 */
	f = memchr(c->p, '\n', (size_t)(c->end - c->p));
	if (f && (size_t)(f - c->p) > 7 && !memcmp(c->p, "sparse ", 7)) {
		e->sparse = 1;
		c->p += 7;
	}
	*why = "bad field before the name";
	if (f && memchr(c->p, ' ', (size_t)(f - c->p)) && (size_t)(f - c->p) > 7 &&
	    !memcmp(c->p, "xattrs=", 7)) {
		if (!(f = field(c, &len, ' ')) || len != 7 + SNAP_OID_HEXSZ ||
		    oid_from_hexn(&e->xattrs, f + 7, SNAP_OID_HEXSZ) < 0)
			return -1;
		for (i = 7; i < len; i++)
			if (f[i] >= 'A' && f[i] <= 'F')
				return -1;
		e->has_xattrs = 1;
		f = memchr(c->p, '\n', (size_t)(c->end - c->p));
	}
	if (f && memchr(c->p, ' ', (size_t)(f - c->p))) {
		if (!(f = field(c, &len, ' ')) || len < 7 || memcmp(f, "flags=", 6) ||
		    parse_flags(f + 6, len - 6, &e->flags) < 0)
			return -1;
	}

	*why = "bad name";
	if (!(f = field(c, &len, '\n')) || unescape(f, len, name) < 0)
		return -1;
	e->name = name->buf;
	e->name_len = name->len;
	return 0;
}

int tree_parse(struct tree *t, const char *buf, size_t len, struct strbuf *err)
{
	struct cursor c = { buf, buf + len };
	struct strbuf name = STRBUF_INIT, link = STRBUF_INIT, check = STRBUF_INIT;
	size_t lineno = 0;
	int ret = 0;

	while (c.p < c.end) {
		struct tree_entry e;
		const char *why;

		lineno++;
		if (parse_entry(&c, &e, &name, &link, &why) < 0) {
			ret = snap_error(err, SNAP_EINVAL, "malformed tree: line %zu: %s",
					 lineno, why);
			break;
		}
		strbuf_reset(&check);
		if (entry_check(&e, &check) < 0) {
			ret = snap_error(err, SNAP_EINVAL, "malformed tree: line %zu: %s",
					 lineno, check.buf);
			break;
		}
		if (t->nr && entry_cmp(&t->entries[t->nr - 1], &e) >= 0) {
			ret = snap_error(err, SNAP_EINVAL,
					 "malformed tree: line %zu: entries not sorted or duplicated",
					 lineno);
			break;
		}
		tree_add(t, &e);
	}
	strbuf_release(&name);
	strbuf_release(&link);
	strbuf_release(&check);
	if (ret < 0)
		tree_release(t);
	return ret;
}

int tree_read(struct odb *odb, const struct snap_oid *oid, struct tree *t,
	      struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT;
	enum object_type type;
	int ret = odb_read(odb, oid, &type, &buf, TREE_MAX_SIZE, err);

	if (ret == 0 && type != OBJ_TREE)
		ret = snap_error(err, SNAP_EINVAL, "object '%s' is a %s, not a tree",
				 oid_to_hex(oid), type_name(type));
	if (ret == 0 && (ret = tree_parse(t, buf.buf, buf.len, err)) < 0)
		strbuf_addf(err, " (tree '%s')", oid_to_hex(oid));
	strbuf_release(&buf);
	return ret;
}
