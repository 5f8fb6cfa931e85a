#!/usr/bin/env bash
# make dist: static binaries of aispool for linux and darwin on amd64 and arm64, their tar.gz archives,
# deb and rpm packages (nfpm), and SHA256SUMS, all under dist/. There is no windows build: the spool is
# Unix-only (flock between processes, file ownership and inode checks; docs/release.md).
#
#   VERSION     the version to stamp (default: git describe, or v0.0.0-dev+g<commit>)
#   TARGETS     os/arch pairs to build (default: all four); packages are made for the linux ones
#   PACKAGERS   nfpm packagers (default: deb rpm); empty for none
#   NFPM        the nfpm command (default: go run github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION)
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
NFPM_VERSION=${NFPM_VERSION:-v2.48.0}
NFPM=${NFPM:-$GO run github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION}
TARGETS=${TARGETS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}
PACKAGERS=${PACKAGERS-deb rpm}

if [ -z "${VERSION:-}" ]; then
	VERSION=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || true)
	if [ -z "$VERSION" ]; then
		commit=$(git rev-parse --short=7 HEAD 2>/dev/null || echo unknown)
		VERSION="v0.0.0-dev+g$commit"
		if [ -n "$(git status --porcelain 2>/dev/null)" ]; then VERSION="$VERSION.dirty"; fi
	fi
fi
case "$VERSION" in
	v[0-9]*) ;;
	*) echo "dist: VERSION $VERSION: want v<major>.<minor>.<patch>[-pre][+meta]" >&2; exit 2 ;;
esac
PKG_VERSION=${VERSION#v}
for target in $TARGETS; do
	case "$target" in
		linux/amd64 | linux/arm64 | darwin/amd64 | darwin/arm64) ;;
		windows/*)
			echo "dist: $target: aispool does not build for windows: its spool is Unix-only (flock between processes, file ownership and inode checks); see docs/release.md" >&2
			exit 2
			;;
		*) echo "dist: $target: want linux or darwin on amd64 or arm64" >&2; exit 2 ;;
	esac
done
# Archives get the commit's time, so that the same commit gives the same archives.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

dist=dist
build=$dist/build
rm -rf "$dist"
mkdir -p "$build"
echo "$VERSION" >"$dist/VERSION"

echo "== aispool $VERSION: $TARGETS"
for target in $TARGETS; do
	os=${target%/*} arch=${target#*/}
	exe=aispool
	out=$build/${os}_$arch
	mkdir -p "$out"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch $GO build -trimpath -buildvcs=false \
		-ldflags "-s -w -X main.stampedVersion=$VERSION" -o "$out/$exe" ./cmd/aispool

	name=aispool_${PKG_VERSION}_${os}_$arch
	stage=$build/stage/$name
	mkdir -p "$stage"
	cp "$out/$exe" LICENSE README.md CHANGELOG.md "$stage/"
	tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
		-C "$build/stage" -cf - "$name" | gzip -n -9 >"$dist/$name.tar.gz"
done
rm -rf "$build/stage"

if [ -n "$PACKAGERS" ]; then
	# The unit as packaged: the binary is /usr/bin/aispool, not the /usr/local/bin of a hand install.
	sed 's#/usr/local/bin/aispool#/usr/bin/aispool#g' deploy/aispool.service >"$build/aispool.service"
	grep -q '^ExecStart=/usr/bin/aispool ' "$build/aispool.service" ||
		{ echo "dist: deploy/aispool.service: no ExecStart of aispool to point at /usr/bin" >&2; exit 1; }
	export PKG_VERSION BUILD_DIR=$build UNIT=$build/aispool.service
	export CONFIG_SRC=${CONFIG_SRC:-release/aispool.env} CONFIG_DST=${CONFIG_DST:-/etc/aispool/env}
	for target in $TARGETS; do
		[ "${target%/*}" = linux ] || continue
		export ARCH=${target#*/}
		for packager in $PACKAGERS; do
			echo "== $packager $ARCH"
			$NFPM package --config release/nfpm.yaml --packager "$packager" --target "$dist/"
		done
	done
fi

(cd "$dist" && find . -maxdepth 1 -type f \( -name '*.tar.gz' -o -name '*.deb' -o -name '*.rpm' \) \
	-printf '%f\n' | LC_ALL=C sort | xargs sha256sum >SHA256SUMS)
echo "== dist/"
(cd "$dist" && ls -l --time-style=+ $(cat SHA256SUMS | awk '{print $2}') SHA256SUMS)
