#!/usr/bin/env bash
# Builds the aispool container image from Containerfile (docs/container.md).
#
#   scripts/image.sh        (make image runs it)
#
# Settings from the environment:
#   VERSION           the version stamped into the binary and the image tag (default: git describe)
#   IMAGE             the repository name the manifests and the Helm chart use (default ghcr.io/aispool/aispool)
#   CONTAINER_ENGINE  podman (default) or docker
#   GOARCH            the architecture to build for (default: this machine's)
#
# The binary is built here, on the host (CGO_ENABLED=0, static), then copied into an image on the
# empty base with the CA bundle and the non-root user: building needs neither a running container
# nor a registry. The image is tagged aispool:$VERSION and $IMAGE:$VERSION.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
IMAGE=${IMAGE:-ghcr.io/aispool/aispool}
CONTAINER_ENGINE=${CONTAINER_ENGINE:-podman}
GOARCH=${GOARCH:-$(go env GOARCH)}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

if ! [[ $VERSION =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
	echo "image: VERSION=$VERSION is not a valid image tag (letters, digits, _ . -; at most 128)" >&2
	exit 2
fi
if ! command -v "$CONTAINER_ENGINE" >/dev/null; then
	echo "image: $CONTAINER_ENGINE not found; on Debian: apt-get install -y podman (or CONTAINER_ENGINE=docker)" >&2
	exit 1
fi
if [ ! -s "$CA_BUNDLE" ]; then
	echo "image: no CA bundle at $CA_BUNDLE; on Debian: apt-get install -y ca-certificates (or set CA_BUNDLE)" >&2
	exit 1
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT

root=$ctx/rootfs
mkdir -p "$root/usr/bin" "$root/etc/ssl/certs" "$root/var/lib" "$ctx/state/aispool"
echo "== go build (linux/$GOARCH, CGO_ENABLED=0, version $VERSION)"
CGO_ENABLED=0 GOOS=linux GOARCH=$GOARCH go build -trimpath \
	-ldflags "-s -w -X main.stampedVersion=$VERSION" -o "$root/usr/bin/aispool" ./cmd/aispool
cp "$CA_BUNDLE" "$root/etc/ssl/certs/ca-certificates.crt"
cp deploy/container/passwd deploy/container/group "$root/etc/"
# Exact modes, whatever the umask and the checkout's modes.
find "$root" -type d -exec chmod 0755 {} +
find "$root" -type f -exec chmod 0644 {} +
chmod 0755 "$root/usr/bin/aispool" "$ctx/state"
chmod 0700 "$ctx/state/aispool"

revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# The image's timestamps are the commit's, so that the same commit gives the same image.
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)

echo "== $CONTAINER_ENGINE build aispool:$VERSION, $IMAGE:$VERSION"
opts=()
if [ "$CONTAINER_ENGINE" = podman ]; then
	opts+=(--timestamp "$epoch" --layers=false) # no intermediate images left behind
fi
if [ "$GOARCH" != "$(go env GOHOSTARCH)" ]; then
	opts+=(--platform "linux/$GOARCH") # the image's architecture is the build machine's otherwise
fi
previous=$("$CONTAINER_ENGINE" image inspect --format '{{.Id}}' "aispool:$VERSION" 2>/dev/null || true)
"$CONTAINER_ENGINE" build --file Containerfile "${opts[@]}" \
	--build-arg "VERSION=$VERSION" --build-arg "REVISION=$revision" \
	--tag "aispool:$VERSION" --tag "$IMAGE:$VERSION" "$ctx"
# A rebuild under the same tag leaves the previous image without a name: remove it.
if [ -n "$previous" ] && [ "$previous" != "$("$CONTAINER_ENGINE" image inspect --format '{{.Id}}' "aispool:$VERSION")" ]; then
	"$CONTAINER_ENGINE" rmi "$previous" >/dev/null 2>&1 || true
fi
