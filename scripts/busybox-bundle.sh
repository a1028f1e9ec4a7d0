#!/bin/sh
# Makes an OCI bundle with a busybox root filesystem (Debian's busybox-static,
# no network, no image) and prints its path:
#   sudo ./bin/berth-runc run --bundle "$(./scripts/busybox-bundle.sh)" demo
# Optional: a directory (default: a new one under /tmp) and a command
# (default: an interactive shell when stdin is a terminal, else `sh -c 'uname -a; ps'`).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$(mktemp -d /tmp/berth-bundle.XXXXXX)}
[ $# -gt 0 ] && shift
mkdir -p "$dir/rootfs"
cd "$dir/rootfs"
mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root var run
chmod 1777 tmp
cp /bin/busybox bin/busybox
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || [ -e "bin/$a" ] || ln -s busybox "bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > etc/passwd
echo 'root:x:0:' > etc/group
cd "$dir"
rm -f config.json
node "$here/bin/berth-runc.js" spec
if [ $# -gt 0 ]; then args=$(node -e 'console.log(JSON.stringify(process.argv.slice(1)))' "$@"); tty=false
elif [ -t 0 ]; then args='["sh"]'; tty=true
else args='["sh","-c","uname -a; ps"]'; tty=false; fi
node -e '
const fs = require("fs");
const c = JSON.parse(fs.readFileSync("config.json", "utf8"));
c.process.args = JSON.parse(process.argv[1]);
c.process.terminal = process.argv[2] === "true";
fs.writeFileSync("config.json", JSON.stringify(c, null, 2));
' "$args" "$tty"
echo "$dir"
