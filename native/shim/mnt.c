/* `mount` and `umount` (README): a task's rootfs mounted on its bundle for
 * the engine, by a process it already talks to, instead of a mount(8) or
 * umount(8) process per task (a fork of the engine and libmount's start-up:
 * 1.5-4 ms each on this host, on the create and delete paths). The engine
 * decides what is mounted where; the shim only makes the system call. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

#include "shim.h"

static const char *or_null(const char *s)
{
	return s[0] ? s : NULL;
}

/* mount SOURCE TARGET FSTYPE FLAGS DATA: mount(2); an empty operand is NULL */
void mnt_mount(struct conn *c, const char *source, const char *target, const char *fstype,
	       long flags, const char *data)
{
	if (target[0] != '/') {
		conn_error(c, EINVAL, "mount: the target must be an absolute path");
		return;
	}
	if (mount(or_null(source), target, or_null(fstype), (unsigned long)flags, or_null(data)) <
	    0) {
		int e = errno;

		conn_error(c, e, "mount %.40s on %.300s: %s", fstype, target, strerror(e));
		return;
	}
	conn_reply(c, "{\"ok\":true}");
}

/* umount TARGET: every mount stacked on TARGET, the last one first, without
 * following a symbolic link in its last component, and how many there were
 * (0: nothing was mounted there); EBUSY (and nothing more done) when one has
 * mounts below it or is in use: the engine then decides (a recursive or
 * lazy unmount). An error's EINVAL is never "not mounted": an older shim
 * answers an unknown request so. */
void mnt_umount(struct conn *c, const char *target)
{
	char reply[64];
	int n = 0;

	if (target[0] != '/') {
		conn_error(c, EINVAL, "umount: the target must be an absolute path");
		return;
	}
	while (umount2(target, UMOUNT_NOFOLLOW) == 0)
		n++;
	if (errno != EINVAL) {
		int e = errno;

		conn_error(c, e, "umount %.300s: %s", target, strerror(e));
		return;
	}
	snprintf(reply, sizeof reply, "{\"ok\":true,\"unmounted\":%d}", n);
	conn_reply(c, reply);
}
