#ifndef SNAP_PRETTY_H
#define SNAP_PRETTY_H

/*
 * pretty: a snapshot shown to people and scripts, the way snap-log(1) and
 * snap-rev-list(1) print it.  Three shapes:
 *
 *   pretty_medium()  the log layout: "snapshot <id>", Date, Host, Bundles
 *                    (bundle snapshots only), Incomplete and a Problem line
 *                    each (incomplete snapshots only), one Meta line each,
 *                    a Pruned line when the first parent was pruned, then the
 *                    message indented by four spaces after a blank line;
 *   pretty_format()  a user's FORMAT with the atoms %H %h %T %P %t %d %z
 *                    %a %I %s %b %n %% (docs/snap-rev-list.md); any other %x
 *                    stands for itself;
 *   pretty_json()    one JSON object on one line (fields in
 *                    docs/snap-rev-list.md), strings escaped so that any
 *                    byte survives (json_add_bytes()).
 *
 * Each appends to out and cannot fail: the snapshot was parsed already.
 * pruned, when not NULL, is the snapshot's first parent, which the store's
 * pruned record lists (pruned.h): shown as "Pruned: <id>" and as the JSON
 * member "pruned".
 * A message's trailing newlines are not shown (%b, the layout, "message").
 */

#include "oid.h"
#include "snapshot.h"
#include "strbuf.h"

void pretty_medium(struct strbuf *out, const struct snap_oid *id,
		   const struct snapshot *s, const struct snap_oid *pruned);
void pretty_format(struct strbuf *out, const char *format,
		   const struct snap_oid *id, const struct snapshot *s);
void pretty_json(struct strbuf *out, const struct snap_oid *id,
		 const struct snapshot *s, const struct snap_oid *pruned);

#endif
