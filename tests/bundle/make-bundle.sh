#!/bin/sh
# make-bundle.sh HELPER TEMPLATE OUTDIR
# Lays out OUTDIR/{config.json,rootfs/}: a busybox rootfs (Debian's static
# busybox plus applet symlinks), the static nucleo-test-helper at
# /bin/nucleo-test-helper, root/user accounts, and config.json as `runc spec`
# writes it (terminal false). Rebuilds the rootfs from scratch so that files a
# previous run left behind never leak into tests.
set -eu

helper=$(realpath "$1")
template=$(realpath "$2")
out=$(realpath -m "$3")
busybox=${BUSYBOX:-/bin/busybox}

if ! "$busybox" --list >/dev/null 2>&1; then
  echo "make-bundle.sh: $busybox is not a working busybox (install busybox-static)" >&2
  exit 1
fi
if ldd "$busybox" >/dev/null 2>&1; then
  echo "make-bundle.sh: $busybox is dynamically linked; need busybox-static" >&2
  exit 1
fi

tmp=$out.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp/rootfs/bin"
cd "$tmp/rootfs"
mkdir -p proc sys dev tmp etc root home/user usr/bin sbin usr/sbin
chmod 1777 tmp
chmod 0700 root
cp "$busybox" bin/busybox
for applet in $("$busybox" --list); do
  [ -e "bin/$applet" ] || ln -s busybox "bin/$applet"
done
cp "$helper" bin/nucleo-test-helper
chmod 0755 bin/busybox bin/nucleo-test-helper

cat > etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
user:x:1000:100:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > etc/group <<'GROUP'
root:x:0:
users:x:100:user
extra:x:2000:user
nogroup:x:65534:
GROUP
chown 1000:100 home/user
echo nucleo-test > etc/hostname
cd - >/dev/null

cp "$template" "$tmp/config.json"
rm -rf "$out"
mv "$tmp" "$out"
