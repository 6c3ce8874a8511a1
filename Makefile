# Two commands on a fresh Debian machine:
#   make run    install everything, build, and serve the embedded default on http://127.0.0.1:8080/
#   make test   install what is missing, then run every test
.PHONY: run setup build models test vet bench clean

DATA ?= glasshouse-data
ADDR ?= 127.0.0.1:8080

run: setup
	./bin/glasshouse serve --data $(DATA) --addr $(ADDR)

setup:
	bash scripts/setup.sh

build:
	go build -o bin/glasshouse ./cmd/glasshouse

models:
	bash models/provision.sh .models

vet:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)
	go vet ./...

test: setup vet
	go test -count=1 -timeout 45m ./...

bench: setup
	go run ./bench/ingestbench -size 1GiB
	go run ./bench/searchbench -n 1000000

clean:
	rm -rf bin .models
