/*
 * SESSION_KEYRING: give the container a session keyring of its own.
 *
 * A process inherits its parent's session keyring, and with it every key the
 * runtime's session holds (the host's, under a login or a service manager).
 * Joining a new named keyring ends that inheritance, as runc does unless
 * --no-new-keyring. The keyring is then made searchable by its owner, so that
 * a process exec'd into the container later, joining the same name, finds
 * this one instead of creating another.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "init.h"

#define KEYCTL_JOIN_SESSION_KEYRING 1
#define KEYCTL_SETPERM		    5
#define KEYCTL_DESCRIBE		    6
#define KEY_USR_SEARCH		    0x00080000u

/* Operands: name. */
int op_session_keyring(const struct op *op)
{
	long id = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, op->arg[0]);

	if (id < 0)
		return -1;

	/* "type;uid;gid;perm;description", perm in hex. */
	char desc[512];
	long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, id, desc, sizeof(desc) - 1);

	if (n < 0)
		return -1;
	desc[n < (long)sizeof(desc) ? n : (long)sizeof(desc) - 1] = '\0';

	char *field = desc;

	for (int i = 0; i < 3 && field; i++) {
		field = strchr(field, ';');
		if (field)
			field++;
	}

	char *end;
	unsigned long perm = field ? strtoul(field, &end, 16) : 0;

	if (!field || end == field || *end != ';') {
		op_msg("unexpected keyring description \"%s\"", desc);
		errno = EPROTO;
		return -1;
	}
	if (syscall(SYS_keyctl, KEYCTL_SETPERM, id, (uint32_t)perm | KEY_USR_SEARCH) < 0)
		return -1;
	return 0;
}
