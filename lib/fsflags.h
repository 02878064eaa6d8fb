#ifndef SNAP_FSFLAGS_H
#define SNAP_FSFLAGS_H

/*
 * Inode flags (chattr(1)'s attributes; docs/FORMAT.md, "Inode flags"):
 * read with FS_IOC_GETFLAGS and set with FS_IOC_SETFLAGS on a descriptor
 * of a regular file or a directory, never of a symlink, fifo or device
 * (opening those has effects or blocks).  Only the flags a tree keeps
 * (TREE_FLAG_* of lib/tree.h: S D i a d A) are ever returned or changed;
 * the filesystem's own (ext4's extents, an indexed directory, ...) are
 * never stored and stay as the filesystem has them.
 */

/*
 * The kept flags of the inode open on fd, as TREE_FLAG_* bits, into *out.
 * 0 on success; a filesystem without inode flags (ENOTTY, EOPNOTSUPP,
 * EINVAL, ENOSYS) is success with no flags.  -1 with errno set on any
 * other failure.
 */
int fsflags_get(int fd, unsigned *out);

/*
 * Gives the inode open on fd exactly the kept flags flags (TREE_FLAG_*),
 * keeping every other flag it has; nothing is called when it already has
 * them.  -1 with errno set on failure: EPERM for i or a without
 * CAP_LINUX_IMMUTABLE, EOPNOTSUPP or ENOTTY for a filesystem that has no
 * such flags.
 */
int fsflags_set(int fd, unsigned flags);

#endif
