# The two commands of README.md:
#   make demo   set everything up, bring up the local virtual Slurm cluster, run the example job on it
#   make test   set everything up, run unit tests, then integration tests on a fresh virtual cluster
.PHONY: setup build demo test unit down

setup:
	scripts/setup

build:
	swift build

demo: setup build
	scripts/demo

test: setup build
	scripts/test

unit: build
	swift test --skip IntegrationTests

down:
	scripts/vcluster down
