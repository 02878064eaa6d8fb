/*
 * Inode flags (fsflags.h); the letters and what is kept are in
 * docs/FORMAT.md, "Inode flags".
 */
#include "fsflags.h"
#include "tree.h"
#include "util.h"

#include <errno.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

/* The kernel's flag of each TREE_FLAG_* bit, in bit order. */
static const unsigned long kernel_flags[] = {
	FS_SYNC_FL, FS_DIRSYNC_FL, FS_IMMUTABLE_FL, FS_APPEND_FL, FS_NODUMP_FL, FS_NOATIME_FL,
};

static unsigned to_tree(unsigned long k)
{
	unsigned out = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kernel_flags); i++)
		if (k & kernel_flags[i])
			out |= 1u << i;
	return out;
}

static unsigned long to_kernel(unsigned flags)
{
	unsigned long out = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kernel_flags); i++)
		if (flags & (1u << i))
			out |= kernel_flags[i];
	return out;
}

static unsigned long kept_mask(void)
{
	return to_kernel(TREE_FLAGS_ALL);
}

/* The ioctl takes an int-sized value (whatever its name says). */
static int get_raw(int fd, unsigned long *out)
{
	int v = 0;

	if (ioctl(fd, FS_IOC_GETFLAGS, &v) < 0)
		return -1;
	*out = (unsigned long)(unsigned)v;
	return 0;
}

int fsflags_get(int fd, unsigned *out)
{
	unsigned long k;

	*out = 0;
	if (get_raw(fd, &k) < 0) {
		if (errno == ENOTTY || errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS)
			return 0;
		return -1;
	}
	*out = to_tree(k);
	return 0;
}

int fsflags_set(int fd, unsigned flags)
{
	unsigned long k;
	int v;

	if (get_raw(fd, &k) < 0) {
		if (errno == EINVAL || errno == ENOSYS)
			errno = EOPNOTSUPP;
		return -1;
	}
	if ((k & kept_mask()) == to_kernel(flags))
		return 0;
	v = (int)(unsigned)((k & ~kept_mask()) | to_kernel(flags));
	return ioctl(fd, FS_IOC_SETFLAGS, &v);
}
