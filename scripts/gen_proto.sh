#!/usr/bin/env bash
# Regenerates oip/oippb/*.pb.go from oip/oippb/grpc_predict_v2.proto. The generated code is
# committed, so building and testing need none of this; run it after changing the .proto.
# Needs: apt-get install protobuf-compiler (made with libprotoc 3.21.12, Debian 12).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:$(go env GOPATH)/bin"
go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
protoc --proto_path=oip/oippb \
  --go_out=oip/oippb --go_opt=paths=source_relative \
  --go-grpc_out=oip/oippb --go-grpc_opt=paths=source_relative \
  grpc_predict_v2.proto
