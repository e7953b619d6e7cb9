#!/bin/sh
# Download the hash-pinned wheels of requirements.txt for the image's interpreter
# (Debian trixie: CPython 3.13, glibc 2.41, x86_64) into <out> (default: wheels/).
# Runs on any host with pip; every file is checked against requirements.txt's sha256s (--require-hashes),
# so a changed or substituted file on the index fails the download.
set -eu
cd "$(dirname "$0")"
OUT=${1:-wheels}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
"$PY" -m pip download --disable-pip-version-check --no-deps --require-hashes \
  --only-binary=:all: --implementation cp --python-version 3.13 --abi cp313 --abi abi3 --abi none \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform any \
  -r requirements.txt -d "$OUT"
ls -1 "$OUT"
