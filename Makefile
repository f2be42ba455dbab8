# The two commands of README.md:
#   make demo   set everything up, bring up the local virtual Slurm cluster, run the example job on it
#   make test   set everything up, run unit tests, then integration tests on a fresh virtual cluster
#   make release                   dist/slurm-distil-VERSION-linux-x86_64.tar.gz (+ .sha256), see scripts/release
#   make install PREFIX=/usr/local the release's binary, manual and completions
.PHONY: setup build demo test unit bench-quick down release install

PREFIX ?= /usr/local

setup:
	scripts/setup

build:
	swift build

demo: setup release
	scripts/demo

test: setup build
	scripts/test

unit: build
	swift test --skip IntegrationTests

# Every benchmark once in its quick mode (needs root and the virtual cluster, like make test).
bench-quick: setup release
	scripts/bench-quick

down:
	scripts/vcluster down

# What users install (README "Install"), and what the demo and the benchmarks run.
release:
	scripts/release

install: release
	$(MAKE) -C dist/slurm-distil-$$(sed -n 's/.*static let current = "\(.*\)".*/\1/p' Sources/SlurmDistil/Support/Version.swift)-linux-$$(uname -m) install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)
