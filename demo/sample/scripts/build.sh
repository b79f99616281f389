#!/bin/sh
# Builds lib/libgreet.a from src/greet.c.
set -e
cd "$(dirname "$0")/.."
mkdir -p lib
${CC:-cc} -Iinclude -c src/greet.c -o lib/greet.o
ar rcs lib/libgreet.a lib/greet.o
rm -f lib/greet.o
