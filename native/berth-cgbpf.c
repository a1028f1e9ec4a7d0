/*
 * berth-cgbpf: attach a cgroup v2 device filter.
 *
 *   berth-cgbpf <cgroup-dir>          read a BPF_PROG_TYPE_CGROUP_DEVICE program
 *                                     (struct bpf_insn[]) on stdin, load it, attach
 *                                     it to <cgroup-dir> with BPF_F_ALLOW_MULTI,
 *                                     then detach the device programs that were
 *                                     attached there before (so an update replaces
 *                                     the filter without a moment with none)
 *   berth-cgbpf --query <cgroup-dir>  print the ids of the device programs attached
 *                                     to <cgroup-dir>, one per line
 *
 * The program is generated in TypeScript (src/runtime/cgroups/devices/ebpf.ts);
 * this helper decides nothing about it. Errors: "berth-cgbpf: <step>: <strerror>"
 * on stderr, exit status 3 when the kernel refused with EPERM or ENOSYS (this
 * host cannot attach a device filter for us), 1 for any other failure, 2 for
 * a usage error. Node.js has no bpf(2), hence this file.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_PROG_BYTES (1 << 20)
#define MAX_ATTACHED   64

#define EXIT_REFUSED 3

static int fail(const char *step)
{
	int refused = errno == EPERM || errno == ENOSYS;

	fprintf(stderr, "berth-cgbpf: %s: %s\n", step, strerror(errno));
	return refused ? EXIT_REFUSED : 1;
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int query(int cgfd, uint32_t *ids, uint32_t *count)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.query.target_fd = (uint32_t)cgfd;
	attr.query.attach_type = BPF_CGROUP_DEVICE;
	attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
	attr.query.prog_cnt = *count;
	if (sys_bpf(BPF_PROG_QUERY, &attr) < 0)
		return -1;
	*count = attr.query.prog_cnt;
	return 0;
}

static int read_all(int fd, unsigned char *buf, size_t cap, size_t *len)
{
	*len = 0;
	for (;;) {
		ssize_t n;

		if (*len == cap) {
			errno = EFBIG;
			return -1;
		}
		n = read(fd, buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		*len += (size_t)n;
	}
}

int main(int argc, char **argv)
{
	static unsigned char prog[MAX_PROG_BYTES];
	static char log[65536];
	uint32_t old_ids[MAX_ATTACHED];
	uint32_t old_count = MAX_ATTACHED;
	union bpf_attr attr;
	size_t len;
	int cgfd, progfd;
	uint32_t i;

	if (argc == 3 && strcmp(argv[1], "--query") == 0) {
		cgfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cgfd < 0)
			return fail("open cgroup");
		if (query(cgfd, old_ids, &old_count) < 0)
			return fail("query attached programs");
		for (i = 0; i < old_count && i < MAX_ATTACHED; i++)
			printf("%u\n", old_ids[i]);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: berth-cgbpf <cgroup-dir> < program\n       berth-cgbpf "
				"--query <cgroup-dir>\n");
		return 2;
	}

	if (read_all(0, prog, sizeof(prog), &len) < 0)
		return fail("read program");
	if (len == 0 || len % sizeof(struct bpf_insn) != 0) {
		errno = EINVAL;
		return fail("read program");
	}

	cgfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0)
		return fail("open cgroup");
	if (query(cgfd, old_ids, &old_count) < 0)
		return fail("query attached programs");
	if (old_count > MAX_ATTACHED) {
		errno = E2BIG;
		return fail("query attached programs");
	}

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)prog;
	attr.insn_cnt = (uint32_t)(len / sizeof(struct bpf_insn));
	attr.license = (uint64_t)(uintptr_t) "Apache";
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	progfd = (int)sys_bpf(BPF_PROG_LOAD, &attr);
	if (progfd < 0) {
		int saved = errno;

		if (log[0])
			fprintf(stderr, "berth-cgbpf: verifier log:\n%s\n", log);
		errno = saved;
		return fail("load program");
	}

	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgfd;
	attr.attach_bpf_fd = (uint32_t)progfd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0)
		return fail("attach program");

	for (i = 0; i < old_count; i++) {
		int oldfd;

		memset(&attr, 0, sizeof(attr));
		attr.prog_id = old_ids[i];
		oldfd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
		if (oldfd < 0) {
			if (errno == ENOENT)
				continue; /* gone meanwhile */
			return fail("get previous program");
		}
		memset(&attr, 0, sizeof(attr));
		attr.target_fd = (uint32_t)cgfd;
		attr.attach_bpf_fd = (uint32_t)oldfd;
		attr.attach_type = BPF_CGROUP_DEVICE;
		if (sys_bpf(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
			return fail("detach previous program");
		close(oldfd);
	}
	return 0;
}
