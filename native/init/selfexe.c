/*
 * Run only from a sealed memfd copy of ourselves.
 *
 * A process in the container can reach the init's binary through
 * /proc/<pid>/exe while the init runs (CVE-2019-5736). If that binary is the
 * host's berth-init, a writable open of it would let the container replace a
 * host executable. So we copy the binary into an anonymous memfd, seal it
 * against any change, and re-execute from the copy: /proc/<pid>/exe then names
 * a file nobody can write, and the host binary is never our executable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init.h"

#define REQUIRED_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/* argv[2] after the re-exec. It only turns a would-be endless re-exec loop into
 * an error: the seals are checked whatever argv says. */
#define SEALED_MARK "--sealed"

extern char **environ;

static int exe_is_sealed(void)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;

	int seals = fcntl(fd, F_GET_SEALS);
	int err = errno;

	close(fd);
	if (seals < 0) {
		/* EINVAL: not a memfd (a file on a normal filesystem). */
		if (err == EINVAL)
			return 0;
		errno = err;
		return -1;
	}
	return (seals & REQUIRED_SEALS) == REQUIRED_SEALS;
}

static int copy_self(void)
{
	int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	if (src < 0)
		return -1;

	struct stat st;
	int mfd = -1;

	if (fstat(src, &st) < 0)
		goto fail;
	mfd = memfd_create("berth-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		goto fail;
	for (off_t done = 0; done < st.st_size;) {
		ssize_t n = sendfile(mfd, src, NULL, (size_t)(st.st_size - done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0) {
			errno = EIO; /* the binary shrank under us */
			goto fail;
		}
		done += n;
	}
	if (fcntl(mfd, F_ADD_SEALS, REQUIRED_SEALS) < 0)
		goto fail;
	close(src);
	return mfd;

fail : {
	int err = errno;

	close(src);
	if (mfd >= 0)
		close(mfd);
	errno = err;
	return -1;
}
}

/* Returns 0 when already running sealed; otherwise re-executes (never returns
 * on success) or returns -1 with errno. The plan descriptor must survive the
 * re-exec, so its close-on-exec flag is cleared first (the caller sets it
 * again once sealed). */
int ensure_sealed_self(int argc, char **argv)
{
	int sealed = exe_is_sealed();

	if (sealed < 0)
		return -1;
	if (sealed)
		return 0;
	if (argc > 2 && strcmp(argv[2], SEALED_MARK) == 0) {
		op_msg("re-executed from a memfd, but /proc/self/exe is not sealed");
		errno = EPERM;
		return -1;
	}

	int mfd = copy_self();

	if (mfd < 0)
		return -1;
	if (set_cloexec(g.plan_fd, 0) < 0)
		return -1;

	char *args[] = { argv[0], argv[1], (char *)SEALED_MARK, NULL };

	/* execveat on a close-on-exec memfd works for an ELF binary: the kernel
	 * holds the file, not the descriptor. */
	syscall(SYS_execveat, mfd, "", args, environ, AT_EMPTY_PATH);
	return -1;
}
