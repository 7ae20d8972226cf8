#!/usr/bin/env bash
# Local base images for machines where no registry can be reached (CI here):
#   $DEBIAN_IMAGE    a Debian minbase root filesystem: debootstrap, then `docker import`
#   $POSTGRES_IMAGE  Debian's postgresql package on it (docker/postgres/), speaking the official
#                    image's POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB
# Each image carries a label with the hash of its inputs and is rebuilt only when they change.
# Needs root (debootstrap) and a Docker engine (DOCKER_HOST). Prints one line per image.
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE=${DEBIAN_SUITE:-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_IMAGE=${DEBIAN_IMAGE:-futurisys/debian:$SUITE}
POSTGRES_IMAGE=${POSTGRES_IMAGE:-futurisys/postgres:15}
LABEL=futurisys.inputs

inputs_of() { docker image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true; }

debian_inputs=$(printf 'minbase %s %s\n' "$SUITE" "$MIRROR" | sha256sum | cut -c1-16)
if [ "$(inputs_of "$DEBIAN_IMAGE")" = "$debian_inputs" ]; then
  echo "base image $DEBIAN_IMAGE: reused (inputs $debian_inputs unchanged)"
else
  started=$SECONDS
  rootfs=$(mktemp -d /tmp/futurisys-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 \
    || { tail -20 "$rootfs.log"; exit 1; }
  rm -f "$rootfs.log"
  cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR%/debian}/debian-security $SUITE-security main
SOURCES
  # Keep images small: no docs, no caches (what the official Debian images do).
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$rootfs/etc/apt/apt.conf.d/90futurisys"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/*
  tar -C "$rootfs" -c . | docker import \
    --change "LABEL $LABEL=$debian_inputs" --change 'ENV LANG=C.UTF-8' --change 'CMD ["bash"]' \
    - "$DEBIAN_IMAGE" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
  echo "base image $DEBIAN_IMAGE: built in $((SECONDS - started)) s (debootstrap $SUITE minbase, docker import)"
fi

debian_id=$(docker image inspect --format '{{ .Id }}' "$DEBIAN_IMAGE")
postgres_inputs=$( (echo "$debian_id"; cat docker/postgres/*) | sha256sum | cut -c1-16)
if [ "$(inputs_of "$POSTGRES_IMAGE")" = "$postgres_inputs" ]; then
  echo "base image $POSTGRES_IMAGE: reused (inputs $postgres_inputs unchanged)"
else
  started=$SECONDS
  docker build -q --build-arg "BASE_IMAGE=$DEBIAN_IMAGE" --label "$LABEL=$postgres_inputs" \
    -t "$POSTGRES_IMAGE" docker/postgres >/dev/null
  echo "base image $POSTGRES_IMAGE: built in $((SECONDS - started)) s (Debian's postgresql on $DEBIAN_IMAGE)"
fi
