#ifndef SNAP_XATTR_H
#define SNAP_XATTR_H

/*
 * Extended attributes of tree entries (docs/FORMAT.md, "Extended
 * attribute sets"): every attribute the process can read — user.*,
 * trusted.* (as root), security.* (capabilities, SELinux labels) and the
 * POSIX ACLs, which Linux shows as the attributes system.posix_acl_access
 * and system.posix_acl_default and which are stored and set back as such,
 * raw — is kept in one blob per entry, encoded canonically (sorted by
 * name, length-prefixed), so that equal sets are one object.
 *
 * The set of a file is read and set through its descriptor where there is
 * one, else by name with the l* calls (never following a symlink).
 */

#include <stddef.h>
#include <sys/stat.h>
#include "odb.h"
#include "oid.h"
#include "strbuf.h"

struct xattr {
	char *name;		/* NUL-terminated, no NUL inside */
	size_t name_len;
	char *value;
	size_t value_len;
};

struct xattr_set {
	struct xattr *v;
	size_t nr, alloc;
};

#define XATTR_SET_INIT { NULL, 0, 0 }

/* Limits of the encoding (those of Linux) and of a set a reader takes. */
#define XATTR_NAME_MAXLEN 255
#define XATTR_VALUE_MAXLEN 65536
#define XATTR_SET_MAXSIZE (16u << 20)

/* Which attributes to read or set: both by default. */
#define XATTR_NO_ACLS 1		/* leave out system.posix_acl_access/default */
#define XATTR_NO_OTHERS 2	/* leave out every other attribute */

void xattr_set_release(struct xattr_set *s);

/* 1 if name is one of the two POSIX ACL attributes. */
int xattr_is_acl(const char *name);

/* 1 if flags let name be read or set. */
int xattr_wanted(const char *name, unsigned flags);

/*
 * Encodes s (sorted here) into out.  SNAP_EINVAL when a name is empty,
 * too long or given twice, or a value too long; SNAP_ETOOBIG past
 * XATTR_SET_MAXSIZE.
 */
int xattr_encode(struct xattr_set *s, struct strbuf *out, struct strbuf *err);

/*
 * Parses a set's blob; SNAP_EINVAL naming the problem on anything not
 * exactly as xattr_encode() writes it (so the same set, the same id).
 */
int xattr_parse(struct xattr_set *s, const char *buf, size_t len, struct strbuf *err);

/*
 * What xattr_read() does with an attribute that is listed but whose value
 * cannot be read (EACCES, EIO, E2BIG, ...; never ENODATA: that one was
 * removed since it was listed and is left out, nothing said).  Without
 * one (NULL), it is an error ("cannot read extended attribute 'NAME' of
 * 'WHAT'", the code of snap_error_errno()).  Else fn(name, errnum, data)
 * is called: 0 leaves the attribute out and the read goes on; a negative
 * code (err set by fn) ends the read with that code.  When the list
 * itself cannot be read (any failure but ENOTSUP, which is an empty set),
 * fn is called with name NULL: 0 gives an empty set.
 */
struct xattr_unreadable {
	int (*fn)(const char *name, int errnum, void *data);
	void *data;
};

/*
 * Reads the attributes of an entry: through fd when it is >= 0, else of
 * name in the directory dfd (never following a symlink), through a handle
 * checked to be the inode st describes (when st is not NULL; SNAP_EINVAL
 * "changed while it was read" otherwise).  what names the entry in
 * messages.  An entry whose filesystem has no attributes has an empty
 * set; an attribute removed between listing and reading is left out, one
 * whose value cannot be read is dealt with by on_unreadable (may be
 * NULL: an error).  SNAP_ENOTFOUND when the entry itself is gone.
 */
int xattr_read(int fd, int dfd, const char *name, const struct stat *st, unsigned flags,
	       const struct xattr_unreadable *on_unreadable, struct xattr_set *s,
	       const char *what, struct strbuf *err);

/*
 * Reads the attributes as xattr_read() does and, when there are any,
 * stores their blob and sets *oid and *has to 1 (else *has = 0).
 */
int xattr_store(struct odb *odb, int fd, int dfd, const char *name, const struct stat *st,
		unsigned flags, const struct xattr_unreadable *on_unreadable,
		struct snap_oid *oid, int *has, const char *what, struct strbuf *err);

/*
 * Reads and parses the set of blob oid (SNAP_ECORRUPT if it is not a blob
 * that parses).
 */
int xattr_load(struct odb *odb, const struct snap_oid *oid, struct xattr_set *s,
	       struct strbuf *err);

/*
 * Sets each attribute of s that flags let through on the file open as fd
 * (follow: fd may be an O_PATH handle of a symlink or node, then the
 * attribute is set through /proc/self/fd, on the inode itself).  Calls
 * failed(name, errno, data) for each one that the kernel refuses and goes
 * on; returns how many failed.
 */
size_t xattr_apply(int fd, int is_path_handle, const struct xattr_set *s, unsigned flags,
		   void (*failed)(const char *name, int errnum, void *data), void *data);

#endif
