#!/usr/bin/env bash
# Provision the vision models glasshouse uses, reproducibly, from packages.
#
#   models/provision.sh [OUTDIR]      (default: .models at the repository root)
#
# What it does (see models/README.md):
#   1. npm pack @vladmandic/human@3.3.6 (MIT) into a temp dir and check the
#      tarball against the pinned sha512 integrity of the npm registry;
#   2. extract ONLY the CenterNet (object labels) and BlazeFace (face
#      detection, for blurring and counting) model files and the licence:
#      never the face recognition, age/gender, emotion or embedding models
#      the package also holds;
#   3. convert both TFJS graph models to ONNX with models/tfjs2onnx.py
#      (Debian python3-onnx + python3-numpy), writing a NumPy reference
#      check next to each model;
#   4. copy libonnxruntime.so (ONNX Runtime 1.28.2) out of the Go module
#      github.com/k2-fsa/sherpa-onnx-go-linux@v1.13.8;
#   5. write OUTDIR/manifest.json: every file with its source, sha256, size.
#
# Every input and output is checked against the checksums pinned below.
# Re-running with everything in place only re-checks checksums (well under
# a second). Needs: bash, npm, go, tar, sha256sum, and /usr/bin/python3 with
# python3-onnx and python3-numpy (Debian).
set -euo pipefail

HUMAN_PKG="@vladmandic/human"
HUMAN_VERSION="3.3.6"
HUMAN_INTEGRITY="sha512-Nr5mPfq1gQ+uKeXY5uM3Fj8UxvF5CEh2s6txM5wRThqaW0mF9huooOuZSrT8hhGho0hGaXLFdAwfD/2+teCv6A=="
ORT_MODULE="github.com/k2-fsa/sherpa-onnx-go-linux"
ORT_MODULE_VERSION="v1.13.8"
ORT_LIB_PATH="lib/x86_64-unknown-linux-gnu/libonnxruntime.so"
PYTHON="${PYTHON:-/usr/bin/python3}"

# Source files inside the npm tarball (path  sha256).
declare -A SRC_SHA=(
	[package/models/centernet.json]=bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05
	[package/models/centernet.bin]=1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef
	[package/models/blazeface.json]=cd7bbfc078270572beb39f9e5ae67aadbd50b5e67cff37e6d4f6b3ea39312e5f
	[package/models/blazeface.bin]=dc9a97fdc50bc43216554bdd69aa3e7b9361a519ee7bdd996a2f69a98a6f9b72
	[package/LICENSE]=9a3442b79acaf4fbc7c2e07b7e2d8f84af9bb3871bf08a69d80304ab00640e9a
)

# Files written to OUTDIR (name  sha256). The ONNX files and checks are
# deterministic for Debian 12's python3-onnx 1.12 / python3-numpy 1.24; with
# other versions set GLASSHOUSE_ALLOW_UNPINNED=1 to accept different bytes
# (the Go tests in analyze/vision still compare them numerically).
declare -A OUT_SHA=(
	[centernet.onnx]=99524ff0bda7349ed7871e864bcb72d1067c721e80cec44b94ae6eb016aa70ec
	[centernet.check.json]=3705147a7b6139645943038557a3ee546d162c5f50e6c7be0ee94bb76b245a16
	[blazeface.onnx]=fb0784667d626ad939e726d4d3c9eee74f69ab6c2357a7da5861dc39b5ca8d82
	[blazeface.check.json]=a7b8d861a9442fef155d609679043dc737b589e6e90af87b4e1621eff2e07cb2
	[libonnxruntime.so]=4b3607aebd1784b26b6f9b20e4bd974c7ab8287043e4d095cb7d2cb40b5e566e
	[LICENSE.human]=9a3442b79acaf4fbc7c2e07b7e2d8f84af9bb3871bf08a69d80304ab00640e9a
)
ORDER=(centernet.onnx centernet.check.json blazeface.onnx blazeface.check.json libonnxruntime.so LICENSE.human)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="${1:-$root/.models}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

log() { printf 'provision: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# check NAME: true when OUTDIR/NAME exists with its pinned checksum.
check() {
	local f="$out/$1"
	[[ -f "$f" ]] || return 1
	[[ "$(sha "$f")" == "${OUT_SHA[$1]}" ]] && return 0
	[[ "${GLASSHOUSE_ALLOW_UNPINNED:-}" == 1 && "$1" != libonnxruntime.so && "$1" != LICENSE.human ]]
}

all_ok=1
for name in "${ORDER[@]}"; do
	check "$name" || { all_ok=0; break; }
done
if [[ $all_ok == 1 && -f "$out/manifest.json" ]]; then
	log "all files present in $out, checksums match"
	exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

need_models=0
for name in centernet.onnx centernet.check.json blazeface.onnx blazeface.check.json LICENSE.human; do
	check "$name" || need_models=1
done

if [[ $need_models == 1 ]]; then
	command -v npm >/dev/null || die "npm not found (Debian: apt-get install -y npm)"
	"$PYTHON" -c 'import onnx, numpy' 2>/dev/null ||
		die "$PYTHON lacks onnx/numpy (Debian: apt-get install -y python3-onnx python3-numpy)"
	log "npm pack $HUMAN_PKG@$HUMAN_VERSION"
	tgz="$(cd "$tmp" && npm pack --silent "$HUMAN_PKG@$HUMAN_VERSION" 2>/dev/null | tail -n1)"
	[[ -f "$tmp/$tgz" ]] || die "npm pack produced no tarball"
	got="sha512-$(openssl dgst -sha512 -binary "$tmp/$tgz" | base64 -w0)"
	[[ "$got" == "$HUMAN_INTEGRITY" ]] || die "$tgz integrity $got, want $HUMAN_INTEGRITY"
	log "tarball integrity ok ($HUMAN_INTEGRITY)"
	tar -xzf "$tmp/$tgz" -C "$tmp" "${!SRC_SHA[@]}"
	for f in "${!SRC_SHA[@]}"; do
		[[ "$(sha "$tmp/$f")" == "${SRC_SHA[$f]}" ]] || die "$f: checksum mismatch"
	done
	m="$tmp/package/models"
	log "converting centernet (TFJS graph -> ONNX, cut at heatmap/size outputs)"
	"$PYTHON" "$here/tfjs2onnx.py" "$m/centernet.json" "$tmp/centernet.onnx" \
		--outputs tower_0/keypoints=heatmap,tower_0/wh=wh \
		--check "$tmp/centernet.check.json" \
		--doc "CenterNet MobileNetV3 (80 COCO classes) from npm $HUMAN_PKG@$HUMAN_VERSION models/centernet.json; NCHW input, preprocessing in analyze/labels"
	log "converting blazeface (TFJS graph -> ONNX)"
	"$PYTHON" "$here/tfjs2onnx.py" "$m/blazeface.json" "$tmp/blazeface.onnx" \
		--outputs Identity=scores16,Identity_2=boxes16,Identity_1=scores8,Identity_3=boxes8 \
		--check "$tmp/blazeface.check.json" \
		--doc "BlazeFace (face detection only) from npm $HUMAN_PKG@$HUMAN_VERSION models/blazeface.json; NCHW input, preprocessing in analyze/faces"
	cp "$tmp/package/LICENSE" "$tmp/LICENSE.human"
	for name in centernet.onnx centernet.check.json blazeface.onnx blazeface.check.json LICENSE.human; do
		got="$(sha "$tmp/$name")"
		if [[ "$got" != "${OUT_SHA[$name]}" ]]; then
			if [[ "${GLASSHOUSE_ALLOW_UNPINNED:-}" == 1 && "$name" != LICENSE.human ]]; then
				log "warning: $name sha256 $got differs from the pinned ${OUT_SHA[$name]} (accepted: GLASSHOUSE_ALLOW_UNPINNED=1)"
			else
				die "$name sha256 $got, want ${OUT_SHA[$name]} (different python3-onnx/numpy? set GLASSHOUSE_ALLOW_UNPINNED=1 to accept)"
			fi
		fi
		mv -f "$tmp/$name" "$out/$name"
	done
fi

if ! check libonnxruntime.so; then
	command -v go >/dev/null || die "go not found"
	log "go mod download $ORT_MODULE@$ORT_MODULE_VERSION"
	dir="$(cd "$root" && go mod download -json "$ORT_MODULE@$ORT_MODULE_VERSION" |
		"$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
	src="$dir/$ORT_LIB_PATH"
	[[ -f "$src" ]] || die "$src not found"
	[[ "$(sha "$src")" == "${OUT_SHA[libonnxruntime.so]}" ]] || die "$src: checksum mismatch"
	install -m 0644 "$src" "$out/libonnxruntime.so.tmp"
	mv -f "$out/libonnxruntime.so.tmp" "$out/libonnxruntime.so"
fi

log "writing $out/manifest.json"
"$PYTHON" - "$out" "${ORDER[@]}" <<EOF
import hashlib, json, os, sys
out, names = sys.argv[1], sys.argv[2:]
human = {"package": "npm:$HUMAN_PKG", "version": "$HUMAN_VERSION", "integrity": "$HUMAN_INTEGRITY", "license": "MIT"}
src = {
    "centernet.onnx": dict(human, file="models/centernet.json+centernet.bin", converted_by="models/tfjs2onnx.py"),
    "centernet.check.json": dict(human, file="models/centernet.json+centernet.bin", converted_by="models/tfjs2onnx.py --check"),
    "blazeface.onnx": dict(human, file="models/blazeface.json+blazeface.bin", converted_by="models/tfjs2onnx.py"),
    "blazeface.check.json": dict(human, file="models/blazeface.json+blazeface.bin", converted_by="models/tfjs2onnx.py --check"),
    "LICENSE.human": dict(human, file="LICENSE"),
    "libonnxruntime.so": {"package": "go:$ORT_MODULE", "version": "$ORT_MODULE_VERSION", "file": "$ORT_LIB_PATH",
                          "note": "ONNX Runtime 1.28.2", "license": "MIT"},
}
files = []
for n in names:
    p = os.path.join(out, n)
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    files.append(dict(name=n, sha256=h.hexdigest(), size=os.path.getsize(p), source=src[n]))
tmp = os.path.join(out, "manifest.json.tmp")
with open(tmp, "w") as f:
    json.dump({"files": files}, f, indent=1, sort_keys=True)
    f.write("\n")
os.replace(tmp, os.path.join(out, "manifest.json"))
EOF
log "done: $out"
