#!/bin/sh
# Unpack the Milvus server from the PyPI "milvus" wheel into the layout the Dockerfile COPYs:
#   <out>/bin/milvus  and  <out>/lib/*.so*   (libresolv.so.2 is left out: the image's glibc provides it)
# Usage: unpack-wheel.sh <path/to/milvus-2.3.5-py3-none-manylinux2014_x86_64.whl> [out=dist]
# Needs: python3 (zipfile), xz.
set -eu
WHEEL=$1
OUT=${2:-dist}
WHEEL_SHA256=${WHEEL_SHA256:-69515a0630ce29fd10e101fa442afea8ca1387b93a456cd9bd41fdf3deb93d04}
echo "$WHEEL_SHA256  $WHEEL" | sha256sum -c -
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m zipfile -e "$WHEEL" "$tmp"
rm -rf "$OUT"
mkdir -p "$OUT/bin" "$OUT/lib"
for f in "$tmp"/milvus/data/bin/*.lzma; do
  name=$(basename "$f" .lzma)
  case "$name" in
    milvus) xz -dc "$f" > "$OUT/bin/milvus"; chmod 0755 "$OUT/bin/milvus" ;;
    libresolv.so.2) ;;  # glibc-private ABI: use the image's own
    *) xz -dc "$f" > "$OUT/lib/$name" ;;
  esac
done
ls -l "$OUT/bin" "$OUT/lib"
