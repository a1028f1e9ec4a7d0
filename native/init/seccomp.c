/*
 * seccomp through libseccomp. The runtime has already turned the OCI profile
 * into final libseccomp values (actions such as SCMP_ACT_ERRNO(1), attribute
 * numbers, comparison operators), so each op is one library call.
 */
#include <errno.h>
#include <inttypes.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "init.h"

static int need_ctx(void)
{
	if (g.seccomp)
		return 0;
	op_msg("plan error: seccomp operation before SECCOMP_INIT");
	errno = EINVAL;
	return -1;
}

/* libseccomp returns -errno. */
static int lib(int rc)
{
	if (rc >= 0)
		return 0;
	errno = -rc;
	return -1;
}

int op_seccomp_init(const struct op *op)
{
	uint32_t action;

	if (arg_u32(op, 0, &action) < 0)
		return -1;
	if (g.seccomp)
		seccomp_release(g.seccomp);
	g.seccomp = seccomp_init(action);
	if (!g.seccomp) {
		op_msg("seccomp_init: invalid default action %#" PRIx32, action);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int op_seccomp_attr(const struct op *op)
{
	uint32_t attr, value;

	if (arg_u32(op, 0, &attr) < 0 || arg_u32(op, 1, &value) < 0 || need_ctx() < 0)
		return -1;
	return lib(seccomp_attr_set(g.seccomp, (enum scmp_filter_attr)attr, value));
}

int op_seccomp_arch(const struct op *op)
{
	if (need_args(op, 1) < 0 || need_ctx() < 0)
		return -1;

	uint32_t arch = seccomp_arch_resolve_name(op->arg[0]);

	if (arch == 0) {
		op_msg("unknown architecture \"%.64s\"", op->arg[0]);
		errno = EINVAL;
		return -1;
	}

	int rc = seccomp_arch_add(g.seccomp, arch);

	return rc == -EEXIST ? 0 : lib(rc);
}

/* One condition: "arg op a b", all decimal; op is enum scmp_compare. */
static int parse_cond(const struct op *op, const char *s, struct scmp_arg_cmp *c)
{
	unsigned int arg, cmp;
	unsigned long long a, b;
	int used = 0;

	if (sscanf(s, "%u %u %llu %llu%n", &arg, &cmp, &a, &b, &used) != 4 || s[used] != '\0' ||
	    arg > 5 || cmp < SCMP_CMP_NE || cmp > SCMP_CMP_MASKED_EQ) {
		op_msg("plan error: bad seccomp condition \"%.64s\" (op %" PRIu32 ")", s, op->code);
		errno = EINVAL;
		return -1;
	}
	c->arg = arg;
	c->op = (enum scmp_compare)cmp;
	c->datum_a = a;
	c->datum_b = b;
	return 0;
}

/* Operands: syscall, action, ncond, cond... */
int op_seccomp_rule(const struct op *op)
{
	uint32_t action, ncond;

	if (need_args(op, 3) < 0 || arg_u32(op, 1, &action) < 0 || arg_count(op, 2, &ncond) < 0 ||
	    exact_args(op, 3 + ncond) < 0 || need_ctx() < 0)
		return -1;
	if (ncond > 6) {
		op_msg("plan error: %" PRIu32 " conditions on one rule (at most 6)", ncond);
		errno = EINVAL;
		return -1;
	}

	int nr = seccomp_syscall_resolve_name(op->arg[0]);

	/* A profile names syscalls of every kernel and architecture; one this
	 * kernel's libseccomp does not know is skipped, as runc does. */
	if (nr == __NR_SCMP_ERROR) {
		char msg[160];

		snprintf(msg, sizeof(msg), "unknown syscall \"%.64s\", rule skipped", op->arg[0]);
		report_warn(op->label, msg);
		return 0;
	}

	struct scmp_arg_cmp conds[6];

	for (uint32_t i = 0; i < ncond; i++)
		if (parse_cond(op, op->arg[3 + i], &conds[i]) < 0)
			return -1;
	return lib(seccomp_rule_add_array(g.seccomp, action, nr, ncond, conds));
}

/* With a listener, the notify fd goes to it with the container state as the
 * message, the way runc hands it to a seccomp agent. Note that from here on
 * our own syscalls are filtered too: the profile must allow what remains of
 * the plan (close_range, rt_sigaction, execve). */
int op_seccomp_load(const struct op *op)
{
	if (need_args(op, 1) < 0 || need_ctx() < 0)
		return -1;
	if (lib(seccomp_load(g.seccomp)) < 0) {
		op_msg("seccomp_load: %s", strerror(errno));
		return -1;
	}
	if (g.listener_sock >= 0) {
		int nfd = seccomp_notify_fd(g.seccomp);

		if (nfd < 0) {
			errno = -nfd;
			op_msg("seccomp_notify_fd: %s (does the profile use SCMP_ACT_NOTIFY?)",
			       strerror(errno));
			return -1;
		}
		if (send_fd(g.listener_sock, nfd, op->arg[0], op->len[0]) < 0) {
			op_msg("send the seccomp notify fd: %s", strerror(errno));
			return -1;
		}
		/* Only the agent may hold it: the container would otherwise
		 * keep a handle on its own filter's decisions. */
		close(nfd);
		close(g.listener_sock);
		g.listener_sock = -1;
	}
	return 0;
}
