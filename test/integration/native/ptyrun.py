# Runs berth-init with a terminal as its stdin/stdout (Node.js cannot open a
# pty pair), types a line once the container asks for it, and reports what
# the terminal saw.
#   python3 ptyrun.py BERTH_INIT PLAN_FILE ROWS COLS
# PLAN_FILE holds both encoded phases. Prints one JSON line:
#   {"code", "output", "raw_during", "restored", "reports"}
import fcntl
import json
import os
import pty
import select
import socket
import struct
import subprocess
import sys
import termios
import time

init, plan_file, rows, cols = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(plan_file, "rb") as f:
    plan = f.read()

master, slave = pty.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
before = termios.tcgetattr(slave)
ours, theirs = socket.socketpair()
# A new session: the terminal is not its controlling one, so changing its
# modes cannot stop it with SIGTTOU.
proc = subprocess.Popen(
    [init, str(theirs.fileno())],
    stdin=slave, stdout=slave, stderr=slave,
    pass_fds=[theirs.fileno()], start_new_session=True,
)
theirs.close()
ours.sendall(plan)

output, reports, raw_during, typed = b"", b"", None, False
deadline = time.time() + 15
sock_open = True
while time.time() < deadline:
    rfds = [master] + ([ours] if sock_open else [])
    ready, _, _ = select.select(rfds, [], [], 0.05)
    if ours in ready:
        data = ours.recv(4096)
        if data:
            reports += data
        else:
            sock_open = False
    if master in ready:
        try:
            output += os.read(master, 4096)
        except OSError:
            pass
    if not typed and b"ready-for-input" in output:
        raw_during = not (termios.tcgetattr(slave)[3] & termios.ICANON)
        os.write(master, b"hello\r")
        typed = True
    if proc.poll() is not None and not ready:
        break

code = proc.wait(timeout=5)
print(json.dumps({
    "code": code,
    "output": output.decode(errors="replace"),
    "raw_during": raw_during,
    "restored": termios.tcgetattr(slave) == before,
    "reports": reports.decode(errors="replace"),
}), flush=True)
