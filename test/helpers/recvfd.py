#!/usr/bin/env python3
"""Receives one file descriptor over a unix socket (SCM_RIGHTS), as a
console-socket or seccomp-listener peer does. Node.js cannot receive
descriptors, so the tests use this small peer.

usage: recvfd.py SOCKET_PATH MODE [ARG]
  MODE console: write ARG (a command line) to the pty master, print what comes back until EOF
  MODE seccomp: print the message (the container process state), then close the fd
The first line printed is "READY" once the socket listens.
"""
import os, socket, sys, array, time

path, mode = sys.argv[1], sys.argv[2]
arg = sys.argv[3] if len(sys.argv) > 3 else ''
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
print('READY', flush=True)
srv.settimeout(30)
conn, _ = srv.accept()
msg, fds, _, _ = socket.recv_fds(conn, 65536, 1)
if not fds:
    print('NOFD', flush=True)
    sys.exit(1)
fd = fds[0]
if mode == 'seccomp':
    print('MSG ' + msg.decode(), flush=True)
    os.close(fd)
    sys.exit(0)
# console
print('GOTPTY', flush=True)
os.write(fd, arg.encode() + b'\n')
out = b''
deadline = time.time() + 20
while time.time() < deadline:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
sys.stdout.write(out.decode(errors='replace'))
sys.stdout.flush()
