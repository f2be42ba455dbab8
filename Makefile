# The two commands of README.md:
#   make demo   set everything up, bring up the local virtual Slurm cluster, run the example job on it
#   make test   set everything up, run unit tests, then integration tests on a fresh virtual cluster
.PHONY: setup build release demo test unit bench-quick down

setup:
	scripts/setup

build:
	swift build

# What users install (README "Install") and what the demo and the benchmarks run.
release:
	swift build -c release

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
