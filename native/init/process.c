/*
 * Attributes of the container process: ids, names, limits, scheduling,
 * capabilities, the controlling terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "init.h"

int op_unshare(const struct op *op)
{
	uint64_t flags;

	if (arg_u64(op, 0, &flags) < 0)
		return -1;
	return unshare((int)flags);
}

/* The host's /dev/null as descriptor fd (open read-write, as a spawn's
 * missing stream is): for a process cloned ahead of need whose stdin was a
 * pipe and whose task has none. Before the root switch, so the node is the
 * runtime's own, not one the image provides. */
int op_null_fd(const struct op *op)
{
	uint32_t fd;
	int n;

	if (arg_u32(op, 0, &fd) < 0)
		return -1;
	if (fd > 2) {
		errno = EINVAL;
		return -1;
	}
	n = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (n < 0)
		return -1;
	if (dup2(n, (int)fd) < 0) {
		int e = errno;

		close(n);
		errno = e;
		return -1;
	}
	close(n);
	return 0;
}

int op_setresuid(const struct op *op)
{
	uint32_t uid;

	if (arg_u32(op, 0, &uid) < 0)
		return -1;
	return setresuid(uid, uid, uid);
}

int op_setresgid(const struct op *op)
{
	uint32_t gid;

	if (arg_u32(op, 0, &gid) < 0)
		return -1;
	return setresgid(gid, gid, gid);
}

void note_start_uts(void)
{
	struct stat st;

	if (stat("/proc/self/ns/uts", &st) == 0) {
		g.start_uts_dev = st.st_dev;
		g.start_uts_ino = st.st_ino;
		g.start_uts_known = 1;
	}
}

/* The names are the UTS namespace's: set in the one berth-init started in,
 * they would be the host's. A plan that does so is refused (EPERM), as is
 * any when that namespace could not be identified. */
static int in_own_uts(const char *what)
{
	struct stat st;

	if (!g.start_uts_known || stat("/proc/self/ns/uts", &st) < 0) {
		op_msg("cannot tell this UTS namespace from the runtime's: refusing to set the %s",
		       what);
		errno = EPERM;
		return -1;
	}
	if (st.st_dev == g.start_uts_dev && st.st_ino == g.start_uts_ino) {
		op_msg("refusing to set the %s of the runtime's own UTS namespace (the plan made "
		       "no new one)",
		       what);
		errno = EPERM;
		return -1;
	}
	return 0;
}

int op_sethostname(const struct op *op)
{
	if (need_args(op, 1) < 0 || in_own_uts("hostname") < 0)
		return -1;
	return sethostname(op->arg[0], op->len[0]);
}

int op_setdomainname(const struct op *op)
{
	if (need_args(op, 1) < 0 || in_own_uts("domainname") < 0)
		return -1;
	return setdomainname(op->arg[0], op->len[0]);
}

int op_setsid(const struct op *op)
{
	(void)op;
	return setsid() < 0 ? -1 : 0;
}

int op_rlimit(const struct op *op)
{
	int resource;
	uint64_t soft, hard;

	if (arg_int(op, 0, &resource) < 0 || arg_u64(op, 1, &soft) < 0 || arg_u64(op, 2, &hard) < 0)
		return -1;

	/* 18446744073709551615 is RLIM_INFINITY as it stands. */
	struct rlimit rl = { .rlim_cur = (rlim_t)soft, .rlim_max = (rlim_t)hard };

	return prlimit(0, (__rlimit_resource_t)resource, &rl, NULL);
}

int op_personality(const struct op *op)
{
	uint64_t persona;

	if (arg_u64(op, 0, &persona) < 0)
		return -1;
	return personality((unsigned long)persona) < 0 ? -1 : 0;
}

#define IOPRIO_WHO_PROCESS 1

int op_ioprio(const struct op *op)
{
	int value;

	if (arg_int(op, 0, &value) < 0)
		return -1;
	return (int)syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value);
}

/* glibc 2.36 has neither sched_setattr nor struct sched_attr. This is the
 * kernel's SCHED_ATTR_SIZE_VER0 layout. */
struct berth_sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
};

int op_sched(const struct op *op)
{
	uint32_t policy, priority;
	uint64_t flags, runtime, deadline, period;
	int nice;

	if (arg_u32(op, 0, &policy) < 0 || arg_u64(op, 1, &flags) < 0 ||
	    arg_int(op, 2, &nice) < 0 || arg_u32(op, 3, &priority) < 0 ||
	    arg_u64(op, 4, &runtime) < 0 || arg_u64(op, 5, &deadline) < 0 ||
	    arg_u64(op, 6, &period) < 0)
		return -1;

	struct berth_sched_attr attr = {
		.size = sizeof(attr),
		.sched_policy = policy,
		.sched_flags = flags,
		.sched_nice = nice,
		.sched_priority = priority,
		.sched_runtime = runtime,
		.sched_deadline = deadline,
		.sched_period = period,
	};

	return (int)syscall(SYS_sched_setattr, 0, &attr, 0);
}

int op_no_new_privs(const struct op *op)
{
	(void)op;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

/* The kernel's last capability is found by asking: PR_CAPBSET_READ answers
 * EINVAL past it. That needs no /proc, which may already be the container's
 * (or absent) at this point. */
int op_caps_bounding(const struct op *op)
{
	uint64_t keep;

	if (arg_u64(op, 0, &keep) < 0)
		return -1;
	for (unsigned long cap = 0; cap < 64; cap++) {
		int in = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

		if (in < 0) {
			if (errno == EINVAL)
				break;
			return -1;
		}
		if (in && !(keep & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			op_msg("drop capability %lu from the bounding set: %s", cap,
			       strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Supplementary groups, then gid, then uid, keeping the permitted
 * capabilities across the uid change (CAPS sets them right after). */
int op_user(const struct op *op)
{
	uint32_t uid, gid;
	int64_t ngroups;

	if (arg_u32(op, 0, &uid) < 0 || arg_u32(op, 1, &gid) < 0 || arg_i64(op, 2, &ngroups) < 0)
		return -1;
	if (ngroups < -1 || ngroups > 65536) {
		op_msg("plan error: %" PRId64 " supplementary groups", ngroups);
		errno = EINVAL;
		return -1;
	}
	if (exact_args(op, 3 + (ngroups > 0 ? (uint32_t)ngroups : 0)) < 0)
		return -1;
	if (ngroups >= 0) {

		gid_t *groups = calloc((size_t)ngroups + 1, sizeof(*groups));

		if (!groups)
			return -1;
		for (uint32_t i = 0; i < (uint32_t)ngroups; i++) {
			uint32_t v;

			if (arg_u32(op, 3 + i, &v) < 0) {
				free(groups);
				return -1;
			}
			groups[i] = v;
		}

		int rc = setgroups((size_t)ngroups, groups);
		int err = errno;

		free(groups);
		if (rc < 0) {
			op_msg("setgroups: %s", strerror(err));
			errno = err;
			return -1;
		}
	}
	if (setresgid(gid, gid, gid) < 0) {
		op_msg("setresgid: %s", strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -1;
	if (setresuid(uid, uid, uid) < 0) {
		op_msg("setresuid: %s", strerror(errno));
		return -1;
	}
	return prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

int op_caps(const struct op *op)
{
	uint64_t eff, perm, inh, amb;

	if (arg_u64(op, 0, &eff) < 0 || arg_u64(op, 1, &perm) < 0 || arg_u64(op, 2, &inh) < 0 ||
	    arg_u64(op, 3, &amb) < 0)
		return -1;

	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = {
		{ (uint32_t)eff, (uint32_t)perm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32) },
	};

	if (syscall(SYS_capset, &hdr, data) < 0) {
		op_msg("capset: %s", strerror(errno));
		return -1;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return -1;
	for (unsigned long cap = 0; cap < 64; cap++) {
		if (!(amb & (1ULL << cap)))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) {
			op_msg("raise ambient capability %lu: %s", cap, strerror(errno));
			return -1;
		}
	}
	return 0;
}

int op_chdir(const struct op *op)
{
	if (need_args(op, 1) < 0)
		return -1;
	return chdir(op->arg[0]);
}

int op_umask(const struct op *op)
{
	uint32_t mask;

	if (arg_u32(op, 0, &mask) < 0)
		return -1;
	if (mask > 0777) {
		op_msg("plan error: umask %" PRIu32 " is out of range", mask);
		errno = EINVAL;
		return -1;
	}
	umask((mode_t)mask);
	return 0;
}

/*
 * A pty made inside the container (its /dev/ptmx, its devpts), the master
 * sent out, the slave made our controlling terminal and stdio. The slave is
 * opened with TIOCGPTPEER, from the master itself, so no path is looked up
 * that the rootfs could have redirected.
 */
int op_console(const struct op *op)
{
	uint32_t rows, cols;
	unsigned int ptn;
	char name[64];

	if (arg_u32(op, 0, &rows) < 0 || arg_u32(op, 1, &cols) < 0)
		return -1;
	if (rows > 0xffff || cols > 0xffff) {
		op_msg("plan error: console size %" PRIu32 "x%" PRIu32 " is out of range", rows,
		       cols);
		errno = EINVAL;
		return -1;
	}

	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (master < 0) {
		op_msg("open /dev/ptmx: %s", strerror(errno));
		return -1;
	}
	if (unlockpt(master) < 0 || ioctl(master, TIOCGPTN, &ptn) < 0)
		goto fail_master;

	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (slave < 0)
		goto fail_master;
	if (rows > 0) {
		struct winsize ws = { .ws_row = (unsigned short)rows,
				      .ws_col = (unsigned short)cols };

		if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
			goto fail_both;
	}

	/* runc's console-socket protocol: the master, with the pty's name as
	 * the message. Without a console socket the first process relays. */
	snprintf(name, sizeof(name), "/dev/pts/%u", ptn);
	if (send_fd(g.console_sock >= 0 ? g.console_sock : g.sync_fd, master, name, strlen(name)) <
	    0) {
		op_msg("send the pty master: %s", strerror(errno));
		goto fail_both;
	}
	close(master);
	if (g.console_sock >= 0) {
		close(g.console_sock);
		g.console_sock = -1;
	}

	/* A SETSID earlier in the plan already made us a session leader. */
	if (setsid() < 0 && !(errno == EPERM && getsid(0) == getpid()))
		goto fail_slave;
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		goto fail_slave;
	for (int fd = 0; fd < 3; fd++) {
		/* dup2 onto itself would keep close-on-exec. */
		if (slave == fd ? set_cloexec(fd, 0) < 0 : dup2(slave, fd) < 0)
			goto fail_slave;
	}
	if (slave > 2)
		close(slave);
	return 0;

fail_both : {
	int err = errno;

	close(slave);
	errno = err;
}
fail_master : {
	int err = errno;

	close(master);
	errno = err;
}
	return -1;
fail_slave : {
	int err = errno;

	close(slave);
	errno = err;
}
	return -1;
}
