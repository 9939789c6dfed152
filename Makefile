# Convenience entry points; the scripts do the work.
#
#   make lib                        # scripts/build-lib.sh: dist/ (header, librealtime.so, .pc)
#   make install [PREFIX=/usr/local] # scripts/install.sh PREFIX (builds dist/ if missing)
#   make test                       # scripts/test.sh
#   make run                        # scripts/run-server.sh
#   make test-c                     # build dist/, then only the C ABI tests (Tests/c/run.sh)

PREFIX ?= /usr/local

.PHONY: all lib install test test-c run

all: lib

lib:
	scripts/build-lib.sh

install:
	scripts/install.sh $(PREFIX)

test:
	scripts/test.sh

test-c: lib
	Tests/c/run.sh

run:
	scripts/run-server.sh
