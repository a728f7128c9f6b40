#!/usr/bin/env bash
# Builds the EE image with no network access inside the build.
#
#   images/build.sh                    # base: python:3.12-slim if present, else bootstrap
#   BASE_IMAGE=python:3.12-slim images/build.sh   # a registry user's choice of base
#   PDEE_IMAGE=my/ee:dev images/build.sh          # another tag
#
# The bootstrapped base (pdee-base:<codename>) is made by mmdebstrap from this
# machine's own apt sources (PDEE_APT_SOURCES: the files to use instead) and runs
# Debian's Python, not 3.12: pdee says so in every report.
# Idempotent: wheels, base and layers are reused when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=${PDEE_IMAGE:-pdee-ee:latest}
BASE=${BASE_IMAGE:-}
PYTHON=${PYTHON:-python3}

say() { printf 'image: %s\n' "$*" >&2; }

download_wheels() {
    if cmp -s images/requirements.txt images/wheels/requirements.txt; then
        return
    fi
    say "downloading wheels on the host (pip download)"
    rm -rf images/wheels images/wheels.part
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps \
        --only-binary=:all: --implementation py --abi none --platform any \
        --python-version 3.11 --dest images/wheels.part -r images/requirements.txt
    cp images/requirements.txt images/wheels.part/
    mv images/wheels.part images/wheels
}

apt_source_files() {
    if [ -n "${PDEE_APT_SOURCES:-}" ]; then
        echo "$PDEE_APT_SOURCES"
        return
    fi
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -s "$f" ] && grep -qiE '^[^#]*(debian|ubuntu)' "$f" && echo "$f"
    done
    return 0
}

bootstrap_base() {
    local image=$1 suite=$2
    if ! command -v mmdebstrap >/dev/null; then
        say "installing mmdebstrap (Debian package)"
        apt-get update -qq && apt-get install -y -qq mmdebstrap >/dev/null
    fi
    local sources
    sources=$(apt_source_files | tr '\n' ' ')
    [ -n "$sources" ] || { say "no apt sources found; set PDEE_APT_SOURCES or BASE_IMAGE"; exit 1; }
    say "bootstrapping $image from Debian packages ($suite; sources: $sources)"
    # shellcheck disable=SC2086
    mmdebstrap --quiet --variant=minbase --include=python3,python3-pip \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        "$suite" - $sources | docker import -m "pdee offline base ($suite)" - "$image" >/dev/null
}

choose_base() {
    if [ -n "$BASE" ]; then
        echo "$BASE"
    elif docker image inspect python:3.12-slim >/dev/null 2>&1; then
        echo python:3.12-slim
    else
        local suite
        suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
        docker image inspect "pdee-base:$suite" >/dev/null 2>&1 || bootstrap_base "pdee-base:$suite" "$suite"
        echo "pdee-base:$suite"
    fi
}

download_wheels
BASE=$(choose_base)
FINGERPRINT=$("$PYTHON" -c 'import sys; sys.path.insert(0, "harness"); from pdee.runtime import fingerprint; print(fingerprint())')
say "building $TAG from $BASE (runtime $FINGERPRINT)"
docker build --quiet --network none -f images/Dockerfile \
    --build-arg "BASE_IMAGE=$BASE" --build-arg "RUNTIME_FINGERPRINT=$FINGERPRINT" \
    -t "$TAG" . >/dev/null
docker run --rm --entrypoint python3 "$TAG" -c \
    'import platform, requests, requests_toolbelt; print("image: ready, Python " + platform.python_version())' >&2
