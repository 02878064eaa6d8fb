#include "revision.h"
#include "error.h"
#include "odb.h"

#include <string.h>

int resolve_name(struct odb *odb, const char *name, struct snap_oid *oid,
		 struct strbuf *err)
{
	size_t len = strlen(name);

	if (len >= SNAP_OID_MINPREFIX && len <= SNAP_OID_HEXSZ && is_hex(name, len))
		return odb_resolve_prefix(odb, name, len, oid, err);
	return snap_error(err, SNAP_EINVAL, "'%s' is not a valid object name", name);
}
