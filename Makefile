# vipd — see README.md. Every target that needs system packages installs them
# itself (scripts/install-deps.sh), so a fresh Debian 12 machine needs no hand steps.
GO        ?= go
BIN       := bin
PKGS      := ./...
TESTFLAGS ?= -count=1 -p 2 -timeout 20m

VERSION   ?= 0.0.0+git$(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

.PHONY: all deps build test test-short lint bench demo deb clean

all: build

deps:
	./scripts/install-deps.sh

build:
	$(GO) build -o $(BIN)/ ./cmd/vipd ./cmd/vipctl ./cmd/viplab ./cmd/vipbench

# The whole suite: unit tests, namespace end-to-end tests, keepalived interop.
test: deps build lint
	$(GO) test $(TESTFLAGS) $(PKGS)

# Unit tests only (no root, no namespaces).
test-short:
	$(GO) test -short -count=1 $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# Go benchmarks (checkers, request rate through the VIP vs direct, codec...),
# then vipd against keepalived in the lab: writes docs/benchmarks.md and
# docs/benchmarks.png (about 10 minutes; root).
bench: deps build
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	./$(BIN)/vipbench --bin $(BIN)

demo: deps build
	./bin/viplab demo --bin bin

# Debian package (dist/vipd_VERSION_amd64.deb): binaries, systemd unit, example config.
deb: build
	./scripts/deb.sh $(VERSION) dist

clean:
	rm -rf $(BIN) dist
	-$(GO) run ./cmd/viplab down 2>/dev/null
