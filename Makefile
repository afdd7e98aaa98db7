# Dokja: `make demo` runs the main job, `make test` runs the tests.
# Both fetch what they need; run as root they install missing Debian
# packages with apt-get, otherwise they say exactly what to install.

GO      ?= go
BIN     := bin/dokja
HFREF   := tokenizer/testdata/hfref
LLAMAREF := model/testdata/llamaref
OPENAIJS := serve/testdata/openaijs
LOHELP  := .cache/libreoffice-help
SUDO    := $(if $(filter 0,$(shell id -u)),,sudo )
ROOT    := $(filter 0,$(shell id -u))

.PHONY: all build build-openblas build-beam test demo vet fuzz bench clean deps-test deps-demo deps-openblas

all: build

# The default build carries the AVX2+FMA kernels (Go's simd/archsimd
# experiment), without the symbol table and DWARF (-s -w: 60 MB smaller;
# panics and profiles still name functions); `make build-openblas` adds
# the OpenBLAS path (libopenblas-dev), `make build-beam` the Apache Beam
# runners of `dokja data run --runner` (120 MB more).
LDFLAGS := -s -w
build:
	GOEXPERIMENT=simd $(GO) build -ldflags="$(LDFLAGS)" -o $(BIN) ./cmd/dokja

build-openblas: deps-openblas
	GOEXPERIMENT=simd $(GO) build -ldflags="$(LDFLAGS)" -tags openblas -o $(BIN) ./cmd/dokja

build-beam:
	GOEXPERIMENT=simd $(GO) build -ldflags="$(LDFLAGS)" -tags beam -o $(BIN) ./cmd/dokja

vet: deps-openblas
	$(GO) vet ./...
	GOEXPERIMENT=simd $(GO) vet -tags openblas ./tensor/
	$(GO) vet -tags beam ./cmd/dokja/
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed on:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# The full suite, then the race detector on the packages that run
# goroutines (short mode keeps the race run within minutes on 2 cores).
test: deps-test deps-demo deps-openblas build vet
	$(GO) test ./...
	GOEXPERIMENT=simd $(GO) test -tags openblas ./tensor/ ./model/ ./encoder/ ./infer/ ./pii/ ./train/ ./serve/ ./quant/
	$(GO) test -race -short ./tokenizer/ ./grammar/ ./agent/ ./mcpserver/ ./index/ ./corpus/ ./progress/ ./demo/ ./cmd/dokja/ ./tensor/ ./model/ ./infer/ ./pii/ ./shards/ ./train/ ./serve/ ./quant/ ./gguf/ ./eval/ ./data/ ./quality/ ./dedup/ ./redteam/

# KoBEST's dev split is scored when ../shared/data/kobest is there.
demo: deps-demo build
	$(BIN) demo --out runs/demo $$( [ -d ../shared/data/kobest ] && echo --kobest ../shared/data/kobest ) $(if $(YOUR_MODEL),--your-model $(YOUR_MODEL)) $(if $(YOUR_ENCODER),--your-encoder $(YOUR_ENCODER))

# Short runs of every fuzz target; the seed corpora also run in `make test`.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./grammar/
	$(GO) test -run='^$$' -fuzz=FuzzSchemaGBNF -fuzztime=$(FUZZTIME) ./grammar/
	$(GO) test -run='^$$' -fuzz=FuzzCallStream -fuzztime=$(FUZZTIME) ./serve/
	$(GO) test -run='^$$' -fuzz=FuzzEncode -fuzztime=$(FUZZTIME) ./tokenizer/wordpiece/
	$(GO) test -run='^$$' -fuzz=FuzzEncode -fuzztime=$(FUZZTIME) ./tokenizer/unigram/
	$(GO) test -run='^$$' -fuzz=FuzzReadVectors -fuzztime=$(FUZZTIME) ./index/
	$(GO) test -run='^$$' -fuzz=FuzzSplitter -fuzztime=$(FUZZTIME) ./tokenizer/
	$(GO) test -run='^$$' -fuzz=FuzzReadJSON -fuzztime=$(FUZZTIME) ./tokenizer/
	$(GO) test -run='^$$' -fuzz=FuzzRoundTrip -fuzztime=$(FUZZTIME) ./tokenizer/
	$(GO) test -run='^$$' -fuzz=FuzzReadTiktoken -fuzztime=$(FUZZTIME) ./tokenizer/
	$(GO) test -run='^$$' -fuzz=FuzzJSONL -fuzztime=$(FUZZTIME) ./corpus/
	$(GO) test -run='^$$' -fuzz=FuzzParquet -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./corpus/
	$(GO) test -run='^$$' -fuzz=FuzzWARC -fuzztime=$(FUZZTIME) ./corpus/
	$(GO) test -run='^$$' -fuzz=FuzzHTMLText -fuzztime=$(FUZZTIME) ./corpus/
	$(GO) test -run='^$$' -fuzz=FuzzCheck -fuzztime=$(FUZZTIME) ./quality/
	$(GO) test -run='^$$' -fuzz=FuzzSignature -fuzztime=$(FUZZTIME) ./dedup/
	$(GO) test -run='^$$' -fuzz=FuzzConfig -fuzztime=$(FUZZTIME) ./data/
	$(GO) test -run='^$$' -fuzz=FuzzLoadTaskFile -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s ./eval/
	$(GO) test -run='^$$' -fuzz=FuzzOpen -fuzztime=$(FUZZTIME) ./safetensors/
	$(GO) test -run='^$$' -fuzz=FuzzReadConfig -fuzztime=$(FUZZTIME) ./model/
	$(GO) test -run='^$$' -fuzz=FuzzGGUFConfig -fuzztime=$(FUZZTIME) ./model/
	$(GO) test -run='^$$' -fuzz=FuzzRedact -fuzztime=$(FUZZTIME) ./pii/
	$(GO) test -run='^$$' -fuzz=FuzzOpen -fuzztime=$(FUZZTIME) ./shards/
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./gguf/

bench: build deps-openblas
	$(GO) test -run='^$$' -bench=. -benchtime=3x -count=5 ./tokenizer/
	GOEXPERIMENT=simd $(GO) test -tags openblas -run='^$$' -bench=Gemm -benchtime=10x -count=3 ./tensor/
	bench/tokenizer.sh
	GOEXPERIMENT=simd $(GO) test -tags openblas -run='^$$' -bench=TrainStep -benchtime=3x -count=3 ./train/
	$(GO) test -run='^$$' -bench=Stages -benchtime=5x -count=3 ./data/
	$(GO) test -run='^$$' -bench=. -count=3 ./dedup/ ./quality/

# Tests compare our tokenizer.json handling with Tokenizers.js, Hugging
# Face's JavaScript implementation, run by Node.js. The Beam test runs
# Prism in a private network namespace (unshare from util-linux, ip from
# iproute2).
deps-test:
	@command -v ip >/dev/null && command -v unshare >/dev/null || { \
	  if [ -n "$(ROOT)" ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y iproute2 util-linux; \
	  else echo "missing ip or unshare: run 'sudo apt-get install iproute2 util-linux', then make test again"; exit 1; fi; }
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  if [ -n "$(ROOT)" ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm; \
	  else echo "missing Node.js: run 'sudo apt-get install nodejs npm', then make test again"; exit 1; fi; }
	@# The harnesses need Node.js 20 or newer; Debian 12 ships 18. npm brings
	@# a newer one from its registry (the node package) into /usr/local/bin.
	@v=$$(node -p 'process.versions.node.split(".")[0]'); if [ "$$v" -lt 20 ]; then \
	  if [ -n "$(ROOT)" ]; then echo "Node.js $$v is older than the test harnesses need (20): installing node@20 from npm"; \
	    npm install -g node@20 --no-audit --no-fund && hash -r && \
	    v=$$(node -p 'process.versions.node.split(".")[0]') && [ "$$v" -ge 20 ] || { echo "Node.js is still $$v: put /usr/local/bin first on PATH, then make test again"; exit 1; }; \
	  else echo "Node.js $$v is older than the test harnesses need (20; Debian 12 ships 18): run 'sudo npm install -g node@20', then make test again"; exit 1; fi; fi
	@if [ ! -f $(HFREF)/node_modules/.package-lock.json ] || [ $(HFREF)/package-lock.json -nt $(HFREF)/node_modules/.package-lock.json ]; then \
	  npm ci --prefix $(HFREF) --no-audit --no-fund; fi
	@# The official OpenAI JavaScript client checks tool calls and JSON schemas against dokja serve.
	@if [ ! -f $(OPENAIJS)/node_modules/.package-lock.json ] || [ $(OPENAIJS)/package-lock.json -nt $(OPENAIJS)/node_modules/.package-lock.json ]; then \
	  npm ci --prefix $(OPENAIJS) --no-audit --no-fund; fi
	@# llama.cpp's prebuilt binaries (node-llama-cpp) check GGUF logits. npm ci would reject the lock
	@# file: npm 11 leaves other platforms' optional binaries out of it.
	@if [ ! -f $(LLAMAREF)/node_modules/.package-lock.json ] || [ $(LLAMAREF)/package-lock.json -nt $(LLAMAREF)/node_modules/.package-lock.json ]; then \
	  npm install --prefix $(LLAMAREF) --omit=optional --ignore-scripts --no-audit --no-fund; fi

# The OpenBLAS kernel path links libopenblas (Debian: libopenblas-dev).
deps-openblas:
	@test -f /usr/include/x86_64-linux-gnu/cblas.h -o -f /usr/include/cblas.h -o -f /usr/include/openblas/cblas.h || { \
	  if [ -n "$(ROOT)" ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y libopenblas-dev; \
	  else echo "missing OpenBLAS: run 'sudo apt-get install libopenblas-dev', then make again"; exit 1; fi; }

# The demo corpus: the Debian packages libreoffice-help-ko and
# libreoffice-help-en-us. Installing them would pull in LibreOffice itself,
# so their pages are unpacked into .cache instead when not installed.
deps-demo:
	@if [ -d /usr/share/libreoffice/help/ko ] && [ -d /usr/share/libreoffice/help/en-US ]; then exit 0; fi; \
	if [ -d $(LOHELP)/usr/share/libreoffice/help/ko ] && [ -d $(LOHELP)/usr/share/libreoffice/help/en-US ]; then exit 0; fi; \
	mkdir -p .cache/debs && cd .cache/debs && \
	if ! apt-get download libreoffice-help-ko libreoffice-help-en-us; then \
	  if [ -n "$(ROOT)" ]; then apt-get update && apt-get download libreoffice-help-ko libreoffice-help-en-us; \
	  else echo "cannot download the demo corpus: run 'sudo apt-get update' (or 'sudo apt-get install libreoffice-help-ko libreoffice-help-en-us'), then make demo again"; exit 1; fi; \
	fi && cd ../.. && for f in .cache/debs/libreoffice-help-*.deb; do dpkg-deb -x $$f $(LOHELP); done

clean:
	rm -rf bin runs
