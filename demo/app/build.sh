#!/bin/sh
# Builds bin/hello in the sandbox: the library from the greet layer first
# (its own build script), then the program against its header.
set -e
sh scripts/build.sh
mkdir -p bin
${CC:-cc} -Iinclude -o bin/hello hello.c lib/libgreet.a
rm -f lib/.keep
echo "built bin/hello"
