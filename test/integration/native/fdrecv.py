# Receives one descriptor over a unix socket, the way containerd's console
# socket and a seccomp agent do (Node.js cannot receive SCM_RIGHTS).
#   python3 fdrecv.py SOCKET_PATH console|seccomp
# Prints "listening", then, once a descriptor arrived, one JSON line:
#   console: {"body": <pty name>, "kind": <what the fd is>, "output": <all read from the master>}
#   seccomp: {"body": <state>, "kind": <what the fd is>}
import json
import os
import socket
import sys

path, mode = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
print("listening", flush=True)
conn, _ = srv.accept()
body, fds, _, _ = socket.recv_fds(conn, 1 << 16, 1)
if len(fds) != 1:
    print(json.dumps({"error": "no descriptor", "body": body.decode()}), flush=True)
    sys.exit(1)
fd = fds[0]
out = {"body": body.decode(), "kind": os.readlink("/proc/self/fd/%d" % fd)}
if mode == "console":
    data = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the last slave closed
            break
        if not chunk:
            break
        data += chunk
    out["output"] = data.decode(errors="replace")
os.close(fd)
print(json.dumps(out), flush=True)
