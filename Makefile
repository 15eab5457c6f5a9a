# dnssec-autopilot. `make demo` and `make test` are the whole set-up on a fresh machine.
SHELL := /bin/bash
GO ?= go
FUNCTIONS := $(notdir $(wildcard functions/*))
BOOTSTRAPS := $(addsuffix /bootstrap,$(addprefix build/,$(FUNCTIONS)))
STATICCHECK_VERSION := v0.8.2

.PHONY: all build cli test test-short lint bench bench-fleet demo clean synth deploy
all: build

## build: every functions/<step> as an arm64 bootstrap for provided.al2023, plus the CLI
build: $(BOOTSTRAPS) cli

build/%/bootstrap: FORCE
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $@ ./functions/$*

cli:
	$(GO) build -trimpath -o build/dnssecctl ./cmd/dnssecctl

## test: every test, with the race detector (tests start their own loopback servers)
# The CDK app (infra/) is tested without -race: jsii's bridge gains nothing
# from it and the race build of the CDK modules doubles CI time.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m $$($(GO) list ./... | grep -v '/infra')
	$(GO) test -count=1 -timeout 15m ./infra/...

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

## bench-fleet: fleet-rotate of FLEET_ZONES zones (10,000) on the virtual clock with Route 53's 5 requests/s
FLEET_ZONES ?= 10000
bench-fleet:
	DNSSEC_FLEET_ZONES=$(FLEET_ZONES) $(GO) test -run '^$$' -bench FleetRotate -benchtime 1x -timeout 4h ./internal/local/workflows/

## demo: the life cycle on the local stack
demo: cli
	./build/dnssecctl demo

clean:
	rm -rf build

## synth: the CloudFormation template into cdk.out/, offline, no credentials (installs the CDK CLI into infra/_cdkcli)
CDK := infra/_cdkcli/node_modules/.bin/cdk
CDK_ENV := CDK_DISABLE_CLI_TELEMETRY=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=1
$(CDK): infra/_cdkcli/package.json infra/_cdkcli/package-lock.json
	cd infra/_cdkcli && npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: build $(CDK)
	$(CDK_ENV) $(CDK) synth --no-notices --quiet $(CDK_ARGS)
	@echo "template: cdk.out/DnssecAutopilot.template.json"

## deploy: cdk deploy to us-east-1 with config/zones.json (once per account: cdk bootstrap aws://ACCOUNT/us-east-1)
deploy: build $(CDK)
	@test -f config/zones.json || { echo "deploy: config/zones.json is missing: copy config/zones.example.json and edit it"; exit 1; }
	$(CDK_ENV) $(CDK) deploy --no-notices -c config=config/zones.json $(CDK_ARGS)

FORCE:
