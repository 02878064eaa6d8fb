#ifndef SNAP_STOREFS_H
#define SNAP_STOREFS_H

/*
 * storefs: the file calls on paths inside a store, made so that no
 * directory below the store's root is followed if it is a symbolic link
 * (docs/FORMAT.md, "Store layout").  Whoever can write a store can plant
 * such a link; a process with more rights (a backup run by root) must
 * then not create, rename or delete files where it points.
 *
 * store_open() registers its root (absolute, symbolic links already
 * resolved: the root itself may be a link, the user's choice) with
 * storefs_add_root(), which keeps a descriptor of it.  For a path that
 * begins with a registered root and '/', every call below opens the
 * components between the root and the last one with
 * openat(O_NOFOLLOW | O_DIRECTORY), one by one from the root's
 * descriptor, and makes its *at() call on the last directory; a
 * component that is a symbolic link fails the call with ELOOP (one that
 * is not a directory with ENOTDIR), and nothing is done.  Any other path
 * is passed to the plain system call unchanged.
 *
 * Root (euid 0) writing below a root another user owns hands what it
 * creates (storefs_open with O_CREAT, storefs_mkdir, storefs_symlink) to
 * that user and the root's group, if it is root's, has one link and is
 * the name itself (docs/FORMAT.md, "Store layout").
 *
 * Each function behaves as the system call it is named after (-1 with
 * errno on failure).  They count no fault and log nothing: fsio makes its
 * calls through them, and cleanups that fsio must not count call them
 * directly.  Safe to call from several threads.
 */

#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>

/*
 * Registers root (an absolute path without a trailing '/') as a store
 * root; registering one twice counts twice.  -1 with errno if it cannot
 * be opened as a directory.
 */
int storefs_add_root(const char *root);
/* Undoes one storefs_add_root(root); unknown roots are ignored. */
void storefs_remove_root(const char *root);

/* Whether path lies below a registered root (1) or not (0). */
int storefs_below_root(const char *path);

int storefs_open(const char *path, int flags, mode_t mode);
int storefs_unlink(const char *path);
int storefs_rmdir(const char *path);
int storefs_mkdir(const char *path, mode_t mode);
int storefs_rename(const char *from, const char *to);
int storefs_link(const char *from, const char *to);
int storefs_symlink(const char *target, const char *path);
int storefs_lstat(const char *path, struct stat *st);
/* utimensat(path, NULL): the path's times set to now. */
int storefs_touch(const char *path);

/*
 * Opens the directory path itself, its last component not followed
 * either: a descriptor for fsync, or for storefs_opendir.
 */
int storefs_open_dir(const char *path);
/* opendir(3) through storefs_open_dir(). */
DIR *storefs_opendir(const char *path);

#endif
