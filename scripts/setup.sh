#!/usr/bin/env bash
# Installs what jpegrestore needs on a Debian/Ubuntu x86-64 machine, idempotently: each step checks
# first and does nothing when its part is already there. Run from anywhere; needs root or sudo for
# apt. Called by `make setup` (and so by `make demo` and `make test`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# ONNX Runtime for linux-x64, CPU only, from the npm package onnxruntime-node (its
# bin/napi-v6/linux/x64/libonnxruntime.so.1 needs only libc and libstdc++). 1.24.1 matches the
# headers of github.com/yalue/onnxruntime_go v1.27.0.
ORT_VERSION=1.24.1
ORT_SHA256=53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4
ORT_DIR="$ROOT/.deps/onnxruntime"
ORT_LIB="$ORT_DIR/libonnxruntime.so.1"

# libjpeg-turbo (the decoder, djpeg/cjpeg for the parity tests), Pillow and NumPy (the challenge's
# encoder; the demo archive), scikit-image (ships the public-domain/CC0 demo photos), PyTorch,
# ONNX, PyYAML and pytest (training/ and its tests; CPU-only PyTorch from Debian), Chromium and a
# font (the report's browser test opens report.html headless).
APT_PACKAGES=(gcc make ca-certificates libjpeg62-turbo-dev libturbojpeg0-dev libjpeg-turbo-progs
	python3 python3-pil python3-numpy python3-skimage python3-torch python3-onnx python3-yaml
	python3-pytest chromium fonts-dejavu-core)

log() { printf 'setup: %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

apt_install() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		$SUDO apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

apt_install "${APT_PACKAGES[@]}"

# Go: the module asks for go 1.26; an older go (Debian's golang-go) downloads that toolchain from
# the module proxy by itself (GOTOOLCHAIN=auto).
if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then
		export PATH="/usr/local/go/bin:$PATH"
	else
		apt_install golang-go
	fi
fi

sha_ok() { [ -f "$1" ] && echo "$2  $1" | sha256sum -c --status -; }

if ! sha_ok "$ORT_LIB" "$ORT_SHA256"; then
	command -v npm >/dev/null 2>&1 || apt_install nodejs npm
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	log "fetching ONNX Runtime $ORT_VERSION (npm package onnxruntime-node)"
	(cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
	tar -xzf "$tmp/onnxruntime-node-$ORT_VERSION.tgz" -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
	mkdir -p "$ORT_DIR"
	install -m 0644 "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$ORT_LIB.tmp"
	if ! sha_ok "$ORT_LIB.tmp" "$ORT_SHA256"; then
		rm -f "$ORT_LIB.tmp"
		log "ERROR: libonnxruntime.so.1 from onnxruntime-node@$ORT_VERSION does not have sha256 $ORT_SHA256"
		exit 1
	fi
	mv "$ORT_LIB.tmp" "$ORT_LIB"
	log "ONNX Runtime $ORT_VERSION at $ORT_LIB"
fi

go mod download
