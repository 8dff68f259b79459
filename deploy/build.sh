#!/usr/bin/env bash
# Builds what nsgflow ships, from a source tree, into target/deploy/:
#
#   deploy/build.sh static   the static binary: target/deploy/nsgflow-<version>-x86_64-linux-musl
#   deploy/build.sh deb      + the Debian package: target/deploy/nsgflow_<version>-1_amd64.deb
#   deploy/build.sh image    + the OCI image localhost/nsgflow:<version> (buildah), also saved as
#                              target/deploy/nsgflow-<version>-oci.tar (podman load -i ...)
#   deploy/build.sh all      all three
#
# Needs: rustup (adds the x86_64-unknown-linux-musl target), musl-tools (musl-gcc, for ring's C
# code), cargo-about (licence notices), and for `deb` cargo-deb and the wasm32-wasip1 target
# (the Fluent Bit WASM modules the package ships), for `image` buildah and ca-certificates.
# .ci/run installs them all; deploy/check.sh then exercises what this built.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=x86_64-unknown-linux-musl
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
REVISION=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
RELEASE=target/$TARGET/release
ASSETS=$RELEASE/assets
OUT=target/deploy
STATIC=$OUT/nsgflow-$VERSION-x86_64-linux-musl

need() {
    command -v "$1" >/dev/null 2>&1 || {
        echo "deploy/build.sh: $1 not found: $2" >&2
        exit 1
    }
}

build_static() {
    need musl-gcc "apt-get install musl-tools (ring's C code is compiled with it)"
    if command -v rustup >/dev/null 2>&1; then
        rustup target add "$TARGET" >/dev/null
    fi
    cargo build --release --locked -p nsgflow --bin nsgflow --target "$TARGET"
    mkdir -p "$OUT"
    # The release profile keeps line tables for backtraces; the shipped binary drops them.
    strip -o "$STATIC" "$RELEASE/nsgflow"
    echo "static binary: $STATIC ($(stat -c %s "$STATIC") bytes, $(du -h "$STATIC" | cut -f1))"
    "$STATIC" --version
}

# Completions, man pages and licence notices, from the binary and the lock file.
build_assets() {
    need cargo-about "cargo install --locked cargo-about --version 0.9.3"
    local bin=$RELEASE/nsgflow
    rm -rf "$ASSETS"
    mkdir -p "$ASSETS/completions" "$ASSETS/man"
    "$bin" completions bash >"$ASSETS/completions/nsgflow.bash"
    "$bin" completions zsh >"$ASSETS/completions/_nsgflow"
    "$bin" completions fish >"$ASSETS/completions/nsgflow.fish"
    "$bin" man --dir "$ASSETS/man"
    gzip -9n "$ASSETS"/man/*.1
    cargo about generate --locked --fail \
        -c deploy/licenses/about.toml -m plugin/Cargo.toml \
        -o "$ASSETS/THIRD-PARTY-LICENSES.html" deploy/licenses/about.hbs
    echo "assets: $(ls "$ASSETS/man" | wc -l) man pages, 3 completion scripts, THIRD-PARTY-LICENSES.html ($(grep -c '<h3' "$ASSETS/THIRD-PARTY-LICENSES.html") licence texts)"
}

build_deb() {
    need cargo-deb "cargo install --locked cargo-deb --version 3.8.0"
    # The Fluent Bit WASM modules (/usr/share/nsgflow/wasm), as the tests build them.
    rustup target add wasm32-wasip1 >/dev/null
    cargo build --locked -p nsgflow-wasm --target wasm32-wasip1 --profile wasm --target-dir target/wasm-harness
    cargo deb -p nsgflow --no-build --strip --target "$TARGET" --output "$OUT/"
    ls -l "$OUT"/*.deb
}

build_image() {
    need buildah "apt-get install buildah"
    local ctx=$OUT/image
    rm -rf "$ctx"
    mkdir -p "$ctx/state/checkpoints"
    cp "$STATIC" "$ctx/nsgflow"
    cp /etc/ssl/certs/ca-certificates.crt "$ctx/" ||
        { echo "deploy/build.sh: no /etc/ssl/certs/ca-certificates.crt: apt-get install ca-certificates" >&2; exit 1; }
    cp LICENSE "$ASSETS/THIRD-PARTY-LICENSES.html" "$ctx/"
    buildah bud --quiet --layers=false -f deploy/Containerfile \
        --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" \
        -t "localhost/nsgflow:$VERSION" "$ctx"
    rm -f "$OUT/nsgflow-$VERSION-oci.tar"
    buildah push --quiet "localhost/nsgflow:$VERSION" "oci-archive:$OUT/nsgflow-$VERSION-oci.tar:nsgflow:$VERSION"
    echo "image: localhost/nsgflow:$VERSION ($(stat -c %s "$OUT/nsgflow-$VERSION-oci.tar") bytes as an OCI archive)"
}

case "${1:-all}" in
static) build_static ;;
deb) build_static; build_assets; build_deb ;;
image) build_static; build_assets; build_image ;;
all) build_static; build_assets; build_deb; build_image ;;
*) echo "usage: deploy/build.sh [static|deb|image|all]" >&2; exit 2 ;;
esac
