#!/usr/bin/env bash
# Build the container image of dbvend itself (deploy/Dockerfile) without a registry.
#
# The base is built here, like the engine images' (scripts/ensure-images.sh): debootstrap a
# bookworm minbase with python3 and what Ansible needs on the controller (ssh client, tini),
# `docker import` it. The Python dependencies are the locked versions, turned into wheels
# on this machine (pip reaches PyPI or its local mirror; a build container may not) and
# installed in the image without an index. Elsewhere the same Dockerfile builds from
# python:3.11-slim-bookworm and PyPI:
#   docker build -f deploy/Dockerfile --build-arg BASE=python:3.11-slim-bookworm -t dbvend/service .
#
# A label holds a hash of every input (Dockerfile, code, playbooks, roles, lock, this
# script): a re-run with nothing changed builds nothing and prints the image name.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/common.sh
. "$here/common.sh"

IMAGE=${DBVEND_SERVICE_IMAGE:-dbvend/service:latest}
BASE_IMAGE=dbvend/service-base:bookworm
BASE_PACKAGES=python3,python3-venv,openssh-client,ca-certificates,tini
PYTHON=${DBVEND_BUILD_PYTHON:-$DBVEND_ROOT/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3

# The files the image is made of, in a stable order.
inputs() {
  cd "$DBVEND_ROOT"
  find deploy/Dockerfile deploy/Dockerfile.dockerignore service playbooks roles inventory console/dist ansible.cfg pyproject.toml \
    requirements.lock scripts/build-service-image.sh -type f ! -name '*.pyc' ! -path '*/__pycache__/*' \
    -print0 | sort -z
}
recipe_hash=$( (inputs | xargs -0 sha256sum; echo "$BASE_PACKAGES") | sha256sum | cut -c1-16)
base_hash=$(echo "$BASE_PACKAGES" | sha256sum | cut -c1-16)

label_of() { docker image inspect -f '{{ index .Config.Labels "dbvend.recipe" }}' "$1" 2>/dev/null || true; }

build_base() {
  [ "$(label_of "$BASE_IMAGE")" = "$base_hash" ] && return 0
  apt_install debootstrap
  local work mirror=""
  work=$(mktemp -d /var/tmp/dbvend-service-base.XXXXXX)
  # shellcheck disable=SC2064 # expand now: the trap must remove this run's directory
  trap "rm -rf '$work'" RETURN EXIT  # EXIT too: set -e leaves without RETURN
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  log "debootstrap bookworm with $BASE_PACKAGES (about 60 s)"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$work/rootfs" ${mirror:+"$mirror"} \
    >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; return 1; }
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/* \
    "$work"/rootfs/usr/share/doc/* "$work"/rootfs/usr/share/man/* "$work"/rootfs/usr/share/locale/*
  tar -C "$work/rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change "LABEL dbvend.recipe=$base_hash" - "$BASE_IMAGE" >/dev/null
}

build_service() {
  local ctx
  ctx=$(mktemp -d /var/tmp/dbvend-service-image.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$ctx'" RETURN EXIT
  (inputs | xargs -0 cp --parents -t "$ctx")
  cp "$ctx/deploy/Dockerfile.dockerignore" "$ctx/.dockerignore"  # the legacy builder reads only this
  # The runtime dependencies (pyproject's, at the lock's versions) as wheels, resolved by the
  # image's own Python (its version decides markers such as redis' async-timeout), in a
  # throwaway container of the base. PyPI is reached from there with this machine's CA
  # bundle (mounted for this step only, never part of the image).
  "$PYTHON" - "$ctx/deploy/requirements.txt" <<'PY'
import sys, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
open(sys.argv[1], "w").write("\n".join(deps) + "\n")
PY
  local cert=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
  log "collecting wheels of the locked runtime dependencies for the image's Python"
  docker run --rm --network host --user "$(id -u):$(id -g)" -e HOME=/tmp -e PIP_DISABLE_PIP_VERSION_CHECK=1 \
    -e PIP_DEFAULT_TIMEOUT=180 -e PIP_CERT=/run/ca.crt -v "$cert:/run/ca.crt:ro" -v "$ctx:/ctx" -w /ctx \
    "$BASE_IMAGE" sh -c 'python3 -m venv /tmp/venv && /tmp/venv/bin/pip wheel -q -c requirements.lock \
      -r deploy/requirements.txt -w deploy/wheels' >"$ctx/pip.log" 2>&1 \
    || { tail -n 30 "$ctx/pip.log" >&2; return 1; }
  log "building $IMAGE"
  docker build -q --label "dbvend.recipe=$recipe_hash" --build-arg "BASE=$BASE_IMAGE" \
    --build-arg PIP_NO_INDEX=1 -f "$ctx/deploy/Dockerfile" -t "$IMAGE" "$ctx" >/dev/null
}

cd "$DBVEND_ROOT"
# One build at a time (make test starts one in the background while the linters run; the
# test that needs the image then waits here and finds it current).
mkdir -p "$DBVEND_STATE_DIR"
exec 8>"$DBVEND_STATE_DIR/service-image.lock"
flock 8
if [ "$(label_of "$IMAGE")" != "$recipe_hash" ]; then
  build_base
  build_service
fi
echo "$IMAGE"
