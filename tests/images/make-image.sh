#!/bin/sh
# make-image.sh HELPER OUTDIR
# Builds the test images from Debian's busybox-static and the static
# nucleo-test-helper, with nothing from outside:
#   OUTDIR/busybox-oci/      OCI layout, ref.name "latest", three layers:
#                            1 busybox rootfs (tar+gzip), 2 the helper and
#                            /opt files (tar+zstd), 3 whiteouts (plain tar):
#                            /etc/motd deleted, /opt made opaque with /opt/new
#   OUTDIR/busybox-oci.tar   the same layout as a tar
#   OUTDIR/busybox-docker.tar  a `docker save` archive of the same layers
#                            (uncompressed, RepoTags busybox-docker:latest)
set -eu

helper=$(realpath "$1")
out=$(realpath -m "$2")
busybox=${BUSYBOX:-/bin/busybox}
"$busybox" --list >/dev/null

tmp=$out.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp/l1/bin" "$tmp/l2/bin" "$tmp/l2/opt" "$tmp/l3/etc" "$tmp/l3/opt" \
  "$tmp/busybox-oci/blobs/sha256" "$tmp/docker"

cd "$tmp/l1"
mkdir -p proc sys dev tmp etc root home/user usr/bin sbin usr/sbin
chmod 1777 tmp
chmod 0700 root
cp "$busybox" bin/busybox
for applet in $("$busybox" --list); do
  [ -e "bin/$applet" ] || ln -s busybox "bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:100:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > etc/passwd
printf 'root:x:0:\nusers:x:100:user\nextra:x:2000:user\nnogroup:x:65534:\n' > etc/group
echo "welcome from layer 1" > etc/motd
chown 1000:100 home/user
cd "$tmp/l2"
cp "$helper" bin/nucleo-test-helper
echo old > opt/old
cd "$tmp/l3"
: > etc/.wh.motd
: > opt/.wh..wh..opq
echo new > opt/new

for i in 1 2 3; do
  tar --sort=name --mtime=@1700000000 --numeric-owner -C "$tmp/l$i" -cf "$tmp/l$i.tar" .
done
gzip -n -c "$tmp/l1.tar" > "$tmp/l1.tar.gz"
zstd -q -c "$tmp/l2.tar" > "$tmp/l2.tar.zst"

blobs="$tmp/busybox-oci/blobs/sha256"
put() { # put FILE -> prints "sha256:<hex> <size>" and stores the blob
  sum=$(sha256sum "$1" | cut -d' ' -f1)
  cp "$1" "$blobs/$sum"
  echo "sha256:$sum $(stat -c %s "$1")"
}
diffid() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }

cat > "$tmp/config.json" <<CONFIG
{"created":"2023-11-14T22:13:20Z","architecture":"amd64","os":"linux",
 "config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","IMAGE_VAR=from-image"],
  "Cmd":["sh"],"WorkingDir":"/home/user","StopSignal":"SIGQUIT","Labels":{"org.nucleo.test":"busybox"}},
 "rootfs":{"type":"layers","diff_ids":["$(diffid "$tmp/l1.tar")","$(diffid "$tmp/l2.tar")","$(diffid "$tmp/l3.tar")"]}}
CONFIG
set -- $(put "$tmp/config.json"); cd_=$1; cs=$2
set -- $(put "$tmp/l1.tar.gz"); d1=$1; s1=$2
set -- $(put "$tmp/l2.tar.zst"); d2=$1; s2=$2
set -- $(put "$tmp/l3.tar"); d3=$1; s3=$2
L=application/vnd.oci.image.layer.v1.tar
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"%s+gzip","digest":"%s","size":%s},{"mediaType":"%s+zstd","digest":"%s","size":%s},{"mediaType":"%s","digest":"%s","size":%s}]}' \
  "$cd_" "$cs" "$L" "$d1" "$s1" "$L" "$d2" "$s2" "$L" "$d3" "$s3" > "$tmp/manifest.json"
set -- $(put "$tmp/manifest.json"); md=$1; ms=$2
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
  "$md" "$ms" > "$tmp/busybox-oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$tmp/busybox-oci/oci-layout"
tar --sort=name --mtime=@1700000000 -C "$tmp/busybox-oci" -cf "$tmp/busybox-oci.tar" .

cd "$tmp/docker"
chex=${cd_#sha256:}
cp "$tmp/config.json" "$chex.json"
for i in 1 2 3; do mkdir "layer$i"; cp "$tmp/l$i.tar" "layer$i/layer.tar"; done
printf '[{"Config":"%s.json","RepoTags":["busybox-docker:latest"],"Layers":["layer1/layer.tar","layer2/layer.tar","layer3/layer.tar"]}]\n' "$chex" > manifest.json
tar -cf "$tmp/busybox-docker.tar" .

mkdir -p "$out.new"
mv "$tmp/busybox-oci" "$tmp/busybox-oci.tar" "$tmp/busybox-docker.tar" "$out.new/"
cp "$tmp/l1.tar.gz" "$tmp/l2.tar.zst" "$tmp/l3.tar" "$out.new/"
rm -rf "$out" "$tmp"
mv "$out.new" "$out"
