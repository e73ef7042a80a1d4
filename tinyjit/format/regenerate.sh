#!/bin/sh
# Regenerates the FlatBuffers Python code for tjm.fbs. The code is committed so that users need
# no flatc; tests/test_format.py checks that it matches the schema.
# Usage: tinyjit/format/regenerate.sh [OUT_DIR]    (default: tinyjit/format/tjm)
# Generated with Debian's flatbuffers-compiler (flatc 2.0.8); another flatc version writes
# slightly different code, which that test then reports.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/tjm}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flatc --python -o "$tmp" "$here/tjm.fbs"
# flatc writes a folder per namespace part (tinyjit/format/tjm); only the innermost one is the
# generated code, the outer ones would shadow our own __init__.py files.
mkdir -p "$out"
rm -f "$out"/*.py
cp "$tmp"/tinyjit/format/tjm/*.py "$out"/
