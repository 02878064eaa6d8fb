#ifndef SNAP_RCLONEPACK_H
#define SNAP_RCLONEPACK_H

/*
 * The pieces rclone's push and fetch are made of (lib/rclone.h is the
 * manual): running rclone and the remote's small files (lib/rclone.c),
 * the remote's packs, their cached indexes and the .lists files of
 * chunked blobs, and reading an object out of a downloaded pack
 * (lib/rclonepack.c).
 */

#include <stddef.h>
#include <stdint.h>
#include "object.h"
#include "oid.h"
#include "rclone.h"
#include "strbuf.h"

/*
 * Runs rclone with args (NULL-terminated, no program name, at most 14).
 * stdin reads in_fd (or /dev/null when -1); stdout goes to out (may be
 * NULL) up to max bytes (SNAP_ETOOBIG past it).  rclone's "not found"
 * exits (3, 4) are SNAP_ENOTFOUND; any other failure SNAP_EIO, err naming
 * the verb, the path and rclone's last line of complaint.
 */
int rclone_run(const char *const *args, int in_fd, struct strbuf *out, size_t max,
	       struct strbuf *err);
/* "<base>/<rel>" into path (reset first). */
void rclone_path(const struct rclone_remote *r, struct strbuf *path, const char *rel);
/* Reads the remote file rel whole (up to max).  SNAP_ENOTFOUND when absent. */
int rclone_cat(const struct rclone_remote *r, const char *rel, struct strbuf *out,
	       size_t max, struct strbuf *err);
/*
 * Writes len bytes as the remote file rel, whole or not at all: rclone
 * rcat (from a temporary file here) to a fresh tmp/ name of the remote,
 * then moveto rel; what a failure left in tmp/ is removed where it can be.
 */
int rclone_put(const struct rclone_remote *r, const char *rel, const void *buf, size_t len,
	       struct strbuf *err);
/* Moves the remote file from over to (rclone moveto: a rename where it can). */
int rclone_move(const struct rclone_remote *r, const char *from, const char *to,
		struct strbuf *err);
/* A fresh name tmp/<32 hex> for a file on its way in (reset first). */
void rclone_tmp_name(struct strbuf *rel);
/* Removes the remote file rel (rclone deletefile). */
int rclone_delete(const struct rclone_remote *r, const char *rel, struct strbuf *err);
/*
 * Lists the files of the remote directory (or file) rel: calls fn with
 * each name (relative to rel) and size.  An absent one lists nothing.
 */
int rclone_list(const struct rclone_remote *r, const char *rel, int recursive,
		void (*fn)(const char *name, uint64_t size, void *data), void *data,
		struct strbuf *err);
/* 0 while our lease is still the remote's, else SNAP_ELOCKED naming the holder. */
int rclone_lease_check(struct rclone_remote *r, struct strbuf *err);
/* Writes the remote ref name (null new_oid: deletes it). */
int rclone_ref_write(struct rclone_remote *r, const char *name, const struct snap_oid *new_oid,
		     struct strbuf *err);
/* Reads the remote ref name again: *oid null when absent. */
int rclone_ref_read(struct rclone_remote *r, const char *name, struct snap_oid *oid,
		    struct strbuf *err);

struct pruned;
/*
 * What of from's pruned record the other side takes: starting from the
 * parents the snapshots that crossed name, each one that side lacks
 * (has() says) and from lists, then its recorded parents in turn (as
 * lib/transport.c: a record never hides history the other side holds).
 * Appended to out, which is then sorted.
 */
void rclone_accept_pruned(const struct pruned *from, const struct snap_oid *parents, size_t nr,
			  int (*has)(const struct snap_oid *, void *), void *data,
			  struct pruned *out);
/* The remote's pruned record into p: empty when it has none. */
int rclone_remote_pruned(struct rclone_remote *r, struct pruned *p, struct strbuf *err);

/* Writes 2 * bytes random hex digits and a NUL to out (bytes <= 32). */
void rclone_random_hex(char *out, size_t bytes);
/* The store's cache directory of this remote: cache/rclone/<32 hex of the url's hash>. */
void rclone_cache_dir(const struct rclone_remote *r, struct strbuf *dir);
/* A fresh path objects/tmp/rclone-<random>-<name> (not created). */
void rclone_tmp_path(const struct rclone_remote *r, struct strbuf *path, const char *name);
/* Downloads the remote file rel to local, which must then hold size bytes. */
int rclone_download(const struct rclone_remote *r, const char *rel, const char *local,
		    uint64_t size, struct strbuf *err);

/* The kinds of file under packs/. */
#define RCLONE_FILE_IDX 1
#define RCLONE_FILE_PACK 2
#define RCLONE_FILE_LISTS 3
/*
 * Whether file is pack-<64 hex>.idx, .pack or .lists: that kind, the hex
 * into name (SNAP_OID_HEXSZ + 1 bytes); else 0.
 */
int rclone_pack_file(const char *file, char *name);

/*
 * Learns the remote's packs: lists packs/, and for each index there
 * (which must have its pack, of the size it gives) uses the cached copy
 * or downloads it; each is opened and checked whole (pack_open, and the
 * checksum it names is its file name), and each .lists file parsed.
 * SNAP_ECORRUPT naming the remote file when one fails after a fresh
 * download.
 */
int rclone_load_packs(struct rclone_remote *r, struct strbuf *err);
/* Links a file we uploaded (local) into the cache as file. */
int rclone_cache_add(struct rclone_remote *r, const char *local, const char *file,
		     struct strbuf *err);
/* The chunked blob oid of the remote's .lists files, or NULL. */
const struct rclone_list *rclone_list_find(const struct rclone_remote *r,
					   const struct snap_oid *oid);
/*
 * Downloads pack k into objects/tmp (once) and checks it against its
 * index (size, checksum: pack_verify); SNAP_ECORRUPT naming the remote
 * file.  From then on its objects read from there.
 */
int rclone_pack_get(struct rclone_remote *r, size_t k, struct strbuf *err);
/* Closes the indexes and removes the downloaded packs (rclone_disconnect). */
void rclone_pack_release_all(struct rclone_remote *r);

/* A chunked blob to write into a .lists file. */
struct rclone_list_in {
	struct snap_oid oid;
	uint64_t size;
	struct snap_oid *chunks;
	uint64_t *sizes;
	size_t nr;
};
/* The text of a .lists file (docs/FORMAT.md), appended to out. */
void rclone_lists_encode(const struct rclone_list_in *v, size_t nr, struct strbuf *out);

/* Reading objects from downloaded packs: the last few blocks are kept. */
#define RCLONE_BLOCK_CACHE 8
struct rclone_reader {
	struct strbuf frame, own;
	struct strbuf block[RCLONE_BLOCK_CACHE];
	size_t block_pack[RCLONE_BLOCK_CACHE];	/* pack + 1; 0 for none */
	uint64_t block_offset[RCLONE_BLOCK_CACHE];
	unsigned next;
	void *dctx;
};
void rclone_reader_init(struct rclone_reader *rd);
/*
 * The object at pos of downloaded pack k, which must be want: its payload
 * (valid until the next read) after its frame was decompressed within
 * the sizes the record gives, its header checked and its id recomputed.
 * SNAP_ECORRUPT naming the remote pack otherwise.
 */
int rclone_read_object(struct rclone_reader *rd, struct rclone_remote *r, size_t k,
		       uint32_t pos, const struct snap_oid *want, enum object_type *type,
		       const char **payload, uint64_t *size, struct strbuf *err);
void rclone_reader_release(struct rclone_reader *rd);

#endif
