#include "pretty.h"
#include "json.h"

#include <inttypes.h>
#include <string.h>

/* The message without its trailing newlines, as a shell's $(...) shows it. */
static size_t message_len(const struct snapshot *s)
{
	size_t n = s->message ? strlen(s->message) : 0;

	while (n && s->message[n - 1] == '\n')
		n--;
	return n;
}

static size_t subject_len(const struct snapshot *s)
{
	size_t n = message_len(s);
	const char *nl = n ? memchr(s->message, '\n', n) : NULL;

	return nl ? (size_t)(nl - s->message) : n;
}

static void add_zone(struct strbuf *out, int tz)
{
	int a = tz < 0 ? -tz : tz;

	strbuf_addf(out, "%c%02d%02d", tz < 0 ? '-' : '+', a / 60, a % 60);
}

static void add_parents(struct strbuf *out, const struct snapshot *s)
{
	size_t i;

	for (i = 0; i < s->nr_parents; i++) {
		if (i)
			strbuf_addch(out, ' ');
		strbuf_addstr(out, oid_to_hex(&s->parents[i]));
	}
}

void pretty_medium(struct strbuf *out, const struct snap_oid *id,
		   const struct snapshot *s, const struct snap_oid *pruned)
{
	size_t len = message_len(s), i;
	const char *p, *end;

	strbuf_addf(out, "snapshot %s\nDate:   ", oid_to_hex(id));
	format_time(out, s->time, s->tz);
	strbuf_addf(out, "\nHost:   %s\n", s->host);
	if (s->nr_bundles)
		strbuf_addf(out, "Bundles: %zu\n", s->nr_bundles);
	if (s->incomplete) {
		strbuf_addf(out, "Incomplete: %" PRIu64 " problem%s", s->incomplete,
			    s->incomplete == 1 ? "" : "s");
		if (s->incomplete > s->nr_problems)
			strbuf_addf(out, ", %" PRIu64 " not listed",
				    s->incomplete - (uint64_t)s->nr_problems);
		strbuf_addch(out, '\n');
	}
	for (i = 0; i < s->nr_problems; i++)
		strbuf_addf(out, "Problem: %s %s\n", s->problems[i].reason, s->problems[i].path);
	for (i = 0; i < s->nr_meta; i++)
		strbuf_addf(out, "Meta:   %s\n", s->meta[i]);
	if (pruned)
		strbuf_addf(out, "Pruned: %s\n", oid_to_hex(pruned));
	if (!len)
		return;
	strbuf_addch(out, '\n');
	for (p = s->message; p < s->message + len; p = end + 1) {
		end = memchr(p, '\n', (size_t)(s->message + len - p));
		if (!end)
			end = s->message + len;
		strbuf_addstr(out, "    ");
		strbuf_add(out, p, (size_t)(end - p));
		strbuf_addch(out, '\n');
	}
}

void pretty_format(struct strbuf *out, const char *format,
		   const struct snap_oid *id, const struct snapshot *s)
{
	const char *p;

	for (p = format; *p; p++) {
		if (*p != '%' || !p[1]) {
			strbuf_addch(out, *p);
			continue;
		}
		switch (*++p) {
		case 'H': strbuf_addstr(out, oid_to_hex(id)); break;
		case 'h': strbuf_add(out, oid_to_hex(id), 12); break;
		case 'T':
			if (!s->nr_bundles)
				strbuf_addstr(out, oid_to_hex(&s->tree));
			break;
		case 'P': add_parents(out, s); break;
		case 't': strbuf_addf(out, "%" PRId64, s->time); break;
		case 'd': format_time(out, s->time, s->tz); break;
		case 'z': add_zone(out, s->tz); break;
		case 'a': strbuf_addstr(out, s->host); break;
		case 'I': strbuf_addf(out, "%" PRIu64, s->incomplete); break;
		case 's': strbuf_add(out, s->message, subject_len(s)); break;
		case 'b': strbuf_add(out, s->message, message_len(s)); break;
		case 'n': strbuf_addch(out, '\n'); break;
		case '%': strbuf_addch(out, '%'); break;
		default:
			strbuf_addch(out, '%');
			strbuf_addch(out, *p);
		}
	}
}

static void add_key(struct strbuf *out, const char *key)
{
	if (out->len && out->buf[out->len - 1] != '{' && out->buf[out->len - 1] != '[')
		strbuf_addch(out, ',');
	json_add_bytes(out, key, strlen(key));
	strbuf_addch(out, ':');
}

void pretty_json(struct strbuf *out, const struct snap_oid *id,
		 const struct snapshot *s, const struct snap_oid *pruned)
{
	size_t i;

	strbuf_addch(out, '{');
	add_key(out, "id");
	json_add_bytes(out, oid_to_hex(id), 64);
	add_key(out, "type");
	strbuf_addstr(out, s->nr_bundles ? "\"bundles\"" : "\"tree\"");
	if (s->nr_bundles) {
		add_key(out, "bundles");
		strbuf_addf(out, "%zu", s->nr_bundles);
	} else {
		add_key(out, "tree");
		json_add_bytes(out, oid_to_hex(&s->tree), 64);
	}
	add_key(out, "parents");
	strbuf_addch(out, '[');
	for (i = 0; i < s->nr_parents; i++) {
		if (i)
			strbuf_addch(out, ',');
		json_add_bytes(out, oid_to_hex(&s->parents[i]), 64);
	}
	strbuf_addch(out, ']');
	if (pruned) {
		add_key(out, "pruned");
		json_add_bytes(out, oid_to_hex(pruned), 64);
	}
	add_key(out, "time");
	strbuf_addf(out, "%" PRId64, s->time);
	add_key(out, "zone");
	strbuf_addch(out, '"');
	add_zone(out, s->tz);
	strbuf_addch(out, '"');
	add_key(out, "host");
	json_add_bytes(out, s->host, strlen(s->host));
	add_key(out, "incomplete");
	strbuf_addf(out, "%" PRIu64, s->incomplete);
	add_key(out, "problems");
	strbuf_addch(out, '[');
	for (i = 0; i < s->nr_problems; i++) {
		if (i)
			strbuf_addch(out, ',');
		strbuf_addch(out, '{');
		add_key(out, "reason");
		json_add_bytes(out, s->problems[i].reason, strlen(s->problems[i].reason));
		add_key(out, "path");
		json_add_bytes(out, s->problems[i].path, strlen(s->problems[i].path));
		strbuf_addch(out, '}');
	}
	strbuf_addch(out, ']');
	add_key(out, "meta");
	strbuf_addch(out, '[');
	for (i = 0; i < s->nr_meta; i++) {
		if (i)
			strbuf_addch(out, ',');
		json_add_bytes(out, s->meta[i], strlen(s->meta[i]));
	}
	strbuf_addch(out, ']');
	add_key(out, "message");
	json_add_bytes(out, s->message ? s->message : "", message_len(s));
	strbuf_addch(out, '}');
}
