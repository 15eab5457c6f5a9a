# dnssec-autopilot. `make demo` and `make test` are the whole set-up on a fresh machine.
SHELL := /bin/bash
GO ?= go
FUNCTIONS := $(notdir $(wildcard functions/*))
BOOTSTRAPS := $(addsuffix /bootstrap,$(addprefix build/,$(FUNCTIONS)))
STATICCHECK_VERSION := v0.8.2

.PHONY: all build cli test test-short lint bench demo clean
all: build

## build: every functions/<step> as an arm64 bootstrap for provided.al2023, plus the CLI
build: $(BOOTSTRAPS) cli

build/%/bootstrap: FORCE
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $@ ./functions/$*

cli:
	$(GO) build -trimpath -o build/dnssecctl ./cmd/dnssecctl

## test: every test, with the race detector (tests start their own loopback servers)
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...

test-short:
	$(GO) test -count=1 ./...

## lint: gofmt, go vet, staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

## bench: benchmarks with ratios against baselines measured in the same run
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./internal/...

## demo: the life cycle on the local stack
demo: cli
	./build/dnssecctl demo

clean:
	rm -rf build

FORCE:
