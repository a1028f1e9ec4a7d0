/*
 * Reading plan records and decoding their operands.
 *
 * Record: u32le op, u32le argc, argc × (u32le len, len bytes); arg 0 is the
 * label. Records are read through a buffer; why that never takes bytes meant
 * for the other process is explained at read_exact.
 *
 * Records live until the final execve, and any failure here ends the process,
 * so nothing read is ever freed.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "init.h"

/* Sanity bounds: the plan comes from our own runtime, but a corrupt stream
 * must give a clear error, not an attempt to allocate gigabytes. */
#define MAX_ARGS    (1u << 16)
#define MAX_ARG_LEN (64u << 20)

/*
 * Buffered reading. A plan is a few hundred small fields; one read(2) per
 * field cost more than the rest of the set-up. So the container process reads
 * phase 2 ahead through a buffer; that is safe because an ACK/ABORT comes
 * only after a SYNC report, which follows its read of all of phase 2.
 *
 * The first process reads phase 1 exactly, never a byte past it: phase 2
 * may follow phase 1 in the same write (when it does not depend on the
 * pid), and phase 1 may come in parts with the container process cloned
 * between them (MORE); what follows phase 1 in the socket is the container
 * process's, which reads it after its release. Phase 1 is a few records.
 * (The container process starts with a copy of this buffer, empty then.)
 */
static char rbuf[64 * 1024];
static size_t rpos, rend;
static int exactly;

void read_exactly(int on)
{
	exactly = on;
}

/* Read exactly len bytes; 0 on success, -1 with errno (EPIPE on early EOF). */
static int read_exact(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		if (rpos == rend) {
			ssize_t n =
				read(fd, rbuf, exactly && len < sizeof(rbuf) ? len : sizeof(rbuf));

			if (n < 0) {
				if (errno == EINTR)
					continue;
				return -1;
			}
			if (n == 0) {
				errno = EPIPE;
				return -1;
			}
			rpos = 0;
			rend = (size_t)n;
		}
		size_t take = rend - rpos < len ? rend - rpos : len;

		memcpy(p, rbuf + rpos, take);
		rpos += take;
		p += take;
		len -= take;
	}
	return 0;
}

static int read_u32(int fd, uint32_t *out)
{
	uint32_t v;

	if (read_exact(fd, &v, sizeof(v)) < 0)
		return -1;
	*out = le32toh(v);
	return 0;
}

int read_record(int fd, struct op *out)
{
	uint32_t code, argc;

	if (read_u32(fd, &code) < 0 || read_u32(fd, &argc) < 0)
		return -1;
	if (argc == 0 || argc > MAX_ARGS) {
		op_msg("plan record (op %" PRIu32 ") has %" PRIu32 " operands", code, argc);
		errno = EINVAL;
		return -1;
	}

	char **argv = calloc(argc + 1, sizeof(*argv));
	size_t *lens = calloc(argc + 1, sizeof(*lens));

	if (!argv || !lens)
		return -1;
	for (uint32_t i = 0; i < argc; i++) {
		uint32_t len;

		if (read_u32(fd, &len) < 0)
			return -1;
		if (len > MAX_ARG_LEN) {
			op_msg("plan record (op %" PRIu32 ") has an operand of %" PRIu32 " bytes",
			       code, len);
			errno = EINVAL;
			return -1;
		}
		argv[i] = malloc((size_t)len + 1);
		if (!argv[i])
			return -1;
		if (read_exact(fd, argv[i], len) < 0)
			return -1;
		argv[i][len] = '\0';
		lens[i] = len;
	}
	out->code = code;
	out->argc = argc - 1;
	out->label = argv[0];
	out->arg = argv + 1;
	out->len = lens + 1;
	return 0;
}

int read_phase(int fd, struct phase *out)
{
	size_t cap = 32;

	out->n = 0;
	out->ops = malloc(cap * sizeof(*out->ops));
	if (!out->ops)
		return -1;
	for (;;) {
		struct op op;

		if (read_record(fd, &op) < 0) {
			if (errno == EPIPE)
				op_msg("plan error: the plan stream ended before END");
			return -1;
		}
		if (op.code == OP_END)
			return 0;
		if (out->n == cap) {
			struct op *more = realloc(out->ops, 2 * cap * sizeof(*more));

			if (!more)
				return -1;
			out->ops = more;
			cap *= 2;
		}
		out->ops[out->n++] = op;
	}
}

int need_args(const struct op *op, uint32_t n)
{
	if (op->argc >= n)
		return 0;
	op_msg("plan error: op %" PRIu32 " needs %" PRIu32 " operands, got %" PRIu32, op->code, n,
	       op->argc);
	errno = EINVAL;
	return -1;
}

static int bad_int(const struct op *op, uint32_t i, const char *what)
{
	op_msg("plan error: operand %" PRIu32 " (\"%.64s\") is not %s", i + 1,
	       i < op->argc ? op->arg[i] : "", what);
	errno = EINVAL;
	return -1;
}

/* Strict decimal: no blanks, no sign, no trailing bytes, no overflow. */
int arg_u64(const struct op *op, uint32_t i, uint64_t *out)
{
	if (need_args(op, i + 1) < 0)
		return -1;

	const char *s = op->arg[i];
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return bad_int(op, i, "an unsigned integer");
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || (size_t)(end - s) != op->len[i])
		return bad_int(op, i, "an unsigned integer");
	*out = v;
	return 0;
}

int arg_i64(const struct op *op, uint32_t i, int64_t *out)
{
	if (need_args(op, i + 1) < 0)
		return -1;

	const char *s = op->arg[i];
	const char *digits = s[0] == '-' ? s + 1 : s;
	char *end;

	if (digits[0] < '0' || digits[0] > '9')
		return bad_int(op, i, "an integer");
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || (size_t)(end - s) != op->len[i])
		return bad_int(op, i, "an integer");
	*out = v;
	return 0;
}

/* A count at operand i of the operands that follow it: at most as many as
 * the record has left, so that no arithmetic on it can wrap. */
int arg_count(const struct op *op, uint32_t i, uint32_t *out)
{
	uint32_t n;

	if (arg_u32(op, i, &n) < 0)
		return -1;
	if (n > op->argc - i - 1) {
		op_msg("plan error: operand %" PRIu32 " counts %" PRIu32 " operands, %" PRIu32
		       " follow",
		       i + 1, n, op->argc - i - 1);
		errno = EINVAL;
		return -1;
	}
	*out = n;
	return 0;
}

char **arg_vector(const struct op *op, uint32_t first, uint32_t n)
{
	char **v = calloc((size_t)n + 1, sizeof(*v));

	if (!v)
		return NULL;
	for (uint32_t i = 0; i < n; i++)
		v[i] = op->arg[first + i];
	return v;
}

int arg_int(const struct op *op, uint32_t i, int *out)
{
	int64_t v;

	if (arg_i64(op, i, &v) < 0)
		return -1;
	if (v < INT_MIN || v > INT_MAX)
		return bad_int(op, i, "a 32-bit integer");
	*out = (int)v;
	return 0;
}

int arg_u32(const struct op *op, uint32_t i, uint32_t *out)
{
	uint64_t v;

	if (arg_u64(op, i, &v) < 0)
		return -1;
	if (v > UINT32_MAX)
		return bad_int(op, i, "a 32-bit unsigned integer");
	*out = (uint32_t)v;
	return 0;
}

const char *arg_or_null(const struct op *op, uint32_t i)
{
	return op->arg[i][0] == '\0' ? NULL : op->arg[i];
}

/* Operand counts (label excluded) of the fixed-arity operations; -1 for
 * those whose count depends on an operand (they check it themselves with
 * exact_args). A record with more operands than its op takes is as wrong as
 * one with fewer: it means the two sides disagree on the format. */
static int arity(uint32_t code)
{
	switch (code) {
	case OP_SETSID:
	case OP_ACK:
	case OP_NO_NEW_PRIVS:
	case OP_WAIT_START:
	case OP_RELEASE:
	case OP_MORE:
	case OP_WAIT_CGROUPS:
		return 0;
	case OP_PARENT_MODE:
	case OP_OPEN_CONSOLE_SOCKET:
	case OP_OPEN_EXEC_FIFO:
	case OP_SESSION_KEYRING:
	case OP_OPEN_SECCOMP_LISTENER:
	case OP_TIMENS_OFFSETS:
	case OP_CLONE:
	case OP_CGROUP_ADD_CHILD:
	case OP_UNSHARE:
	case OP_SETRESUID:
	case OP_SETRESGID:
	case OP_SETHOSTNAME:
	case OP_SETDOMAINNAME:
	case OP_SET_ROOT:
	case OP_MASK_IN_ROOT:
	case OP_READONLY_IN_ROOT:
	case OP_PIVOT_ROOT:
	case OP_MOVE_ROOT:
	case OP_SYNC:
	case OP_ABORT:
	case OP_PERSONALITY:
	case OP_IOPRIO:
	case OP_CAPS_BOUNDING:
	case OP_SECCOMP_INIT:
	case OP_SECCOMP_ARCH:
	case OP_SECCOMP_LOAD:
	case OP_CHDIR:
	case OP_UMASK:
	case OP_EXPECT_PROCFS_IN_ROOT:
	case OP_CHROOT:
	case OP_CHROOT_PROCESS_ROOT:
	case OP_NULL_FD:
		return 1;
	case OP_SETNS:
	case OP_WRITE_CHILD_FILE:
	case OP_SYMLINK_IN_ROOT:
	case OP_MKDIR_IN_ROOT:
	case OP_WRITE_PROC:
	case OP_CONSOLE:
	case OP_SECCOMP_ATTR:
	case OP_BIND_DEV_IN_ROOT:
	case OP_FIND_EXEC:
		return 2;
	case OP_RLIMIT:
	case OP_TAKE_FD:
	case OP_MOUNT_SETATTR_IN_ROOT:
		return 3;
	case OP_CAPS:
		return 4;
	case OP_MOUNT:
		return 5;
	case OP_MKNOD_IN_ROOT:
	case OP_MOUNT_COPYUP_IN_ROOT:
		return 6;
	case OP_SCHED:
		return 7;
	case OP_MOUNT_IN_ROOT:
		return 8;
	default:
		return -1;
	}
}

int exact_args(const struct op *op, uint32_t n)
{
	if (op->argc == n)
		return 0;
	op_msg("plan error: op %" PRIu32 " takes %" PRIu32 " operands, got %" PRIu32, op->code, n,
	       op->argc);
	errno = EINVAL;
	return -1;
}

int check_arity(const struct op *op)
{
	int n = arity(op->code);

	return n < 0 ? 0 : exact_args(op, (uint32_t)n);
}
