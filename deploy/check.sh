#!/usr/bin/env bash
# Exercises what deploy/build.sh built, as a user would, and fails on the first surprise:
#
#   deploy/check.sh static    the musl binary is static, names version and commit, and gives
#                             the same events as the native build over the sample blobs
#   deploy/check.sh deb       dpkg -i, files, user, permissions, systemd-analyze verify,
#                             a checkpoint written by the nsgflow user, dpkg -r keeps it and a
#                             reinstall resumes from it, dpkg -P removes it (root; changes the
#                             machine: CI only, or a throwaway one)
#   deploy/check.sh image     podman runs the image over the sample blobs (same events as
#                             native), through a named pipe as in the Kubernetes manifests,
#                             and the image holds the licences and CA certificates
#   deploy/check.sh k8s       the manifests validate against Kubernetes' schemas
#                             (.ci/venv/bin/kubernetes-validate), and their nsgflow configs load
#   deploy/check.sh all       all of them
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=x86_64-unknown-linux-musl
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
STATIC=target/deploy/nsgflow-$VERSION-x86_64-linux-musl
IMAGE=localhost/nsgflow:$VERSION
FIXTURES=tests/fixtures
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

fail() {
    echo "deploy/check.sh: FAILED: $*" >&2
    exit 1
}
ok() { echo "ok: $*"; }

# The reference: the native (glibc) build's events over the sample blobs.
native_events() {
    local native=target/debug/nsgflow
    [ -x "$native" ] || cargo build -p nsgflow --bin nsgflow
    "$native" process "$FIXTURES/azure-layout" "$FIXTURES/vnet-blob.json" --format ecs --quiet >"$WORK/native.ndjson"
    [ -s "$WORK/native.ndjson" ] || fail "the native build printed no events over $FIXTURES"
}

check_version() { # BINARY
    local out
    out=$("$1" --version)
    echo "$1 --version: $out"
    case "$out" in
    "nsgflow $VERSION ("*")") ;;
    *) fail "$1 --version does not name version $VERSION: $out" ;;
    esac
    if git rev-parse HEAD >/dev/null 2>&1; then
        local head
        head=$(git rev-parse --short=12 HEAD)
        [[ $out == *"commit $head"* ]] || fail "$1 --version names no commit $head (the source tree's HEAD): $out"
    fi
}

check_static() {
    [ -x "$STATIC" ] || fail "$STATIC missing: run deploy/build.sh static"
    file "$STATIC"
    file "$STATIC" | grep -Eq 'statically linked|static-pie linked' || fail "$STATIC is not statically linked"
    # No program interpreter (ld.so) and no shared library: nothing to find on the target.
    if readelf -l "$STATIC" | grep -q 'INTERP' || readelf -d "$STATIC" | grep -q 'NEEDED'; then
        fail "$STATIC needs a loader or shared libraries: $(readelf -d "$STATIC" | grep NEEDED)"
    fi
    ldd "$STATIC" 2>&1 | grep -q '=>' && fail "ldd lists shared libraries for $STATIC: $(ldd "$STATIC")"
    ok "static: $(stat -c %s "$STATIC") bytes, no interpreter, no shared library (ldd: $(ldd "$STATIC" 2>&1 | xargs))"
    check_version "$STATIC"
    native_events
    "$STATIC" process "$FIXTURES/azure-layout" "$FIXTURES/vnet-blob.json" --format ecs --quiet >"$WORK/static.ndjson"
    cmp "$WORK/native.ndjson" "$WORK/static.ndjson" || fail "the static binary's events differ from the native build's"
    ok "static: the same $(wc -l <"$WORK/native.ndjson") events as the native build over $FIXTURES"
    # Completions and man pages come out of it (the package build relies on them).
    "$STATIC" completions bash | grep -q 'complete -F _nsgflow' || fail "no bash completion"
    "$STATIC" man | grep -q '^\.TH nsgflow 1' || fail "no man page"
}

check_deb() {
    [ "$(id -u)" = 0 ] || fail "the package check installs a package: run it as root"
    local deb
    deb=$(ls target/deploy/nsgflow_"$VERSION"-*_amd64.deb 2>/dev/null | head -n1)
    [ -n "$deb" ] || fail "no target/deploy/nsgflow_${VERSION}-*_amd64.deb: run deploy/build.sh deb"
    dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
    if dpkg -s nsgflow >/dev/null 2>&1; then
        # A CI run stopped half-way leaves it behind; elsewhere it may be someone's install.
        [ "${CI:-}" = true ] || fail "a nsgflow package is already installed here; this check installs and purges its own"
        echo "a nsgflow package is installed (an earlier run stopped?): purging it first"
        dpkg -P nsgflow
    fi
    dpkg -i "$deb"
    check_version /usr/bin/nsgflow
    for f in /usr/share/nsgflow/pipelines/vector/native-elasticsearch.yaml \
        /usr/share/nsgflow/pipelines/fluent-bit/azure-blob.yaml \
        /usr/share/nsgflow/examples/config.example.yaml \
        /usr/share/nsgflow/vrl/explode.vrl \
        /usr/share/nsgflow/queries/manifest.yaml \
        /usr/share/nsgflow/k8s/nsgflow-vector.yaml \
        /usr/share/nsgflow/wasm/nsgflow-wasi.wasm \
        /usr/share/bash-completion/completions/nsgflow \
        /usr/share/zsh/vendor-completions/_nsgflow \
        /usr/share/fish/vendor_completions.d/nsgflow.fish \
        /usr/share/man/man1/nsgflow.1.gz /usr/share/man/man1/nsgflow-tail.1.gz \
        /usr/share/doc/nsgflow/THIRD-PARTY-LICENSES.html /usr/share/doc/nsgflow/copyright \
        /lib/systemd/system/nsgflow-tail@.service /etc/nsgflow/config.yaml /etc/logrotate.d/nsgflow; do
        [ -s "$f" ] || fail "the package installed no $f"
    done
    ok "deb: binary, pipelines, examples, VRL, queries, manifests, WASM, completions, man pages, licences, unit"
    [ "$(stat -c '%U:%G %a' /etc/nsgflow/tail.env)" = "root:root 600" ] ||
        fail "/etc/nsgflow/tail.env is $(stat -c '%U:%G %a' /etc/nsgflow/tail.env), not root:root 600"
    getent passwd nsgflow >/dev/null || fail "no nsgflow system user"
    [ "$(stat -c '%U:%G %a' /var/lib/nsgflow)" = "nsgflow:nsgflow 750" ] ||
        fail "/var/lib/nsgflow is $(stat -c '%U:%G %a' /var/lib/nsgflow), not nsgflow:nsgflow 750"
    ok "deb: tail.env root:root 600, system user nsgflow, /var/lib/nsgflow nsgflow:nsgflow 750"
    zcat /usr/share/man/man1/nsgflow-tail.1.gz | grep -q 'checkpoint' || fail "nsgflow-tail.1 does not document --checkpoint-dir"
    bash -c 'source /usr/share/bash-completion/completions/nsgflow && complete -p nsgflow' | grep -q _nsgflow ||
        fail "the bash completion does not register"
    systemd-analyze verify /lib/systemd/system/nsgflow-tail@.service ||
        fail "systemd-analyze verify nsgflow-tail@.service"
    ok "deb: systemd-analyze verify nsgflow-tail@.service"

    # A checkpoint written by the installed binary as the nsgflow user, as the unit runs it.
    local cp=/var/lib/nsgflow/checkpoints/package-check.json
    cp -r "$FIXTURES/azure-layout" "$WORK/blobs"
    chmod -R a+rX "$WORK"
    runuser -u nsgflow -- /usr/bin/nsgflow process "$WORK/blobs" --checkpoint "$cp" --quiet >"$WORK/first.ndjson"
    [ -s "$WORK/first.ndjson" ] && [ -s "$cp" ] || fail "the nsgflow user's run wrote no events or no checkpoint"
    local sum
    sum=$(sha256sum "$cp")
    dpkg -r nsgflow
    [ ! -e /usr/bin/nsgflow ] || fail "dpkg -r left /usr/bin/nsgflow"
    [ "$(sha256sum "$cp" 2>/dev/null)" = "$sum" ] || fail "dpkg -r changed or removed the checkpoint $cp"
    [ -f /etc/nsgflow/tail.env ] || fail "dpkg -r removed /etc/nsgflow/tail.env (a conffile: only purge may)"
    ok "deb: dpkg -r removed the binary and kept the checkpoints, the credentials file and the user"
    dpkg -i "$deb" >/dev/null
    runuser -u nsgflow -- /usr/bin/nsgflow process "$WORK/blobs" --checkpoint "$cp" --quiet >"$WORK/again.ndjson"
    [ ! -s "$WORK/again.ndjson" ] || fail "after reinstalling, the run re-read $(wc -l <"$WORK/again.ndjson") events its checkpoint covered"
    ok "deb: reinstalled, the next run resumed from the kept checkpoint (0 events re-read)"
    dpkg -P nsgflow
    [ ! -e /var/lib/nsgflow ] || fail "dpkg -P left /var/lib/nsgflow"
    [ ! -e /etc/nsgflow ] || fail "dpkg -P left /etc/nsgflow"
    ok "deb: dpkg -P removed the checkpoints and /etc/nsgflow"
}

# podman in a nested container (CI's machine) may not set its default rlimits or cgroups:
# then run with runc and limits it can set, and say so.
podman_run() {
    if podman run --rm "$IMAGE" --version >/dev/null 2>"$WORK/podman.err"; then
        podman run --rm "$@"
    else
        echo "podman run failed with its defaults ($(tail -n1 "$WORK/podman.err")); retrying with --runtime runc and lower rlimits" >&2
        podman --runtime runc run --rm --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 "$@"
    fi
}

check_image() {
    podman image exists "$IMAGE" || fail "no image $IMAGE: run deploy/build.sh image"
    local out
    out=$(podman_run "$IMAGE" --version)
    [[ $out == "nsgflow $VERSION ("* ]] || fail "the image's nsgflow --version: $out"
    ok "image: $out"
    native_events
    podman_run -v "$PWD/$FIXTURES:/data:ro" "$IMAGE" \
        process /data/azure-layout /data/vnet-blob.json --format ecs --quiet >"$WORK/image.ndjson"
    cmp "$WORK/native.ndjson" "$WORK/image.ndjson" || fail "the image's events differ from the native build's"
    ok "image: the same $(wc -l <"$WORK/native.ndjson") events as the native build over the sample blobs"
    # The hand-over of the Kubernetes manifests: nsgflow writes into a named pipe on a shared
    # volume, the sidecar reads it.
    mkdir -p "$WORK/pipe"
    mkfifo -m 0666 "$WORK/pipe/events"
    chmod 0777 "$WORK/pipe"
    cat "$WORK/pipe/events" >"$WORK/piped.ndjson" &
    local reader=$!
    podman_run -v "$PWD/$FIXTURES:/data:ro" -v "$WORK/pipe:/run/nsgflow" "$IMAGE" \
        process /data/azure-layout /data/vnet-blob.json --format ecs --quiet --output /run/nsgflow/events
    wait "$reader"
    cmp "$WORK/native.ndjson" "$WORK/piped.ndjson" || fail "the events through the named pipe differ"
    ok "image: the same events through a named pipe on a shared volume (the Kubernetes sidecar hand-over)"
    # Checkpoints on a volume (podman copies the image's /var/lib/nsgflow, owned by 65532,
    # into a new one): a second container resumes where the first stopped.
    local vol=nsgflow-check-$$
    podman volume rm -f "$vol" >/dev/null 2>&1 || true
    podman_run -v "$PWD/$FIXTURES:/data:ro" -v "$vol:/var/lib/nsgflow" "$IMAGE" \
        process /data/azure-layout --checkpoint /var/lib/nsgflow/checkpoints/local.json --quiet >"$WORK/vol1.ndjson"
    podman_run -v "$PWD/$FIXTURES:/data:ro" -v "$vol:/var/lib/nsgflow" "$IMAGE" \
        process /data/azure-layout --checkpoint /var/lib/nsgflow/checkpoints/local.json --quiet >"$WORK/vol2.ndjson"
    podman volume rm -f "$vol" >/dev/null
    [ -s "$WORK/vol1.ndjson" ] && [ ! -s "$WORK/vol2.ndjson" ] ||
        fail "checkpoints on a volume: first run $(wc -l <"$WORK/vol1.ndjson") events, second $(wc -l <"$WORK/vol2.ndjson") (want some, then none)"
    ok "image: as uid 65532, checkpoints on a volume: $(wc -l <"$WORK/vol1.ndjson") events, then 0 from a new container"
    local ctr mnt
    ctr=$(buildah from "$IMAGE")
    mnt=$(buildah mount "$ctr")
    for f in usr/bin/nsgflow etc/ssl/certs/ca-certificates.crt usr/share/doc/nsgflow/LICENSE \
        usr/share/doc/nsgflow/THIRD-PARTY-LICENSES.html; do
        [ -s "$mnt/$f" ] || { buildah rm "$ctr" >/dev/null; fail "the image has no /$f"; }
    done
    echo "image contents: $(cd "$mnt" && find . -type f | sort | tr '\n' ' ')"
    buildah umount "$ctr" >/dev/null
    buildah rm "$ctr" >/dev/null
    [ "$(podman image inspect --format '{{.Config.User}}' "$IMAGE")" = "65532:65532" ] || fail "the image does not run as 65532"
    ok "image: binary, CA certificates, licences; runs as 65532:65532"
}

check_k8s() {
    local validate=.ci/venv/bin/kubernetes-validate
    [ -x "$validate" ] || fail "$validate missing: .ci/venv/bin/pip install kubernetes-validate==1.37.0"
    # The oldest Kubernetes still commonly run, and the newest the schemas know.
    for k in 1.30.0 1.37.0; do
        "$validate" --strict --quiet -k "$k" deploy/k8s/*.yaml || fail "the manifests do not validate against Kubernetes $k"
    done
    ok "k8s: $(ls deploy/k8s/*.yaml | wc -l) manifests valid (strict) against Kubernetes 1.30 and 1.37"
    # The nsgflow configs the ConfigMaps carry load in nsgflow itself.
    local native=target/debug/nsgflow
    [ -x "$native" ] || cargo build -p nsgflow --bin nsgflow
    for f in deploy/k8s/nsgflow-*.yaml; do
        .ci/venv/bin/python - "$f" "$WORK/cfg.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d.get("kind") == "ConfigMap"]
open(sys.argv[2], "w").write(docs[0]["data"]["nsgflow.yaml"])
PY
        "$native" process --config "$WORK/cfg.yaml" "$FIXTURES/vnet-blob.json" --dead-letter "$WORK/dead.ndjson" --quiet >/dev/null ||
            fail "the nsgflow config in $f does not load"
    done
    "$native" process --config deploy/systemd/config.yaml "$FIXTURES/vnet-blob.json" --dead-letter "$WORK/dead.ndjson" --quiet >/dev/null ||
        fail "deploy/systemd/config.yaml does not load"
    ok "k8s: the nsgflow configs of the manifests and of the systemd unit load"
}

case "${1:-all}" in
static) check_static ;;
deb) check_deb ;;
image) check_image ;;
k8s) check_k8s ;;
all) check_static; check_deb; check_image; check_k8s ;;
*) echo "usage: deploy/check.sh [static|deb|image|k8s|all]" >&2; exit 2 ;;
esac
