#include "revision.h"
#include "error.h"
#include "odb.h"
#include "snapshot.h"

#include <string.h>

int resolve_name(struct odb *odb, const char *name, struct snap_oid *oid,
		 struct strbuf *err)
{
	size_t len = strlen(name);

	if (len >= SNAP_OID_MINPREFIX && len <= SNAP_OID_HEXSZ && is_hex(name, len))
		return odb_resolve_prefix(odb, name, len, oid, err);
	return snap_error(err, SNAP_EINVAL, "'%s' is not a valid object name", name);
}

int peel_to_tree(struct odb *odb, const struct snap_oid *oid,
		 struct snap_oid *tree, struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT;
	struct snapshot s;
	enum object_type type;
	uint64_t size;
	int ret;

	ret = odb_read_header(odb, oid, &type, &size, err);
	if (ret < 0)
		return ret;
	if (type == OBJ_TREE) {
		*tree = *oid;
		return 0;
	}
	if (type != OBJ_SNAPSHOT)
		return snap_error(err, SNAP_EINVAL, "object '%s' is a %s, not a tree or snapshot",
				  oid_to_hex(oid), type_name(type));
	ret = odb_read(odb, oid, NULL, &buf, SNAPSHOT_MAX_SIZE, err);
	if (ret == 0)
		ret = snapshot_parse(&s, buf.buf, buf.len, err);
	if (ret == 0) {
		*tree = s.tree;
		snapshot_release(&s);
	}
	strbuf_release(&buf);
	return ret;
}
