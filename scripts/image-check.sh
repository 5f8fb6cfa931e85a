#!/usr/bin/env bash
# Checks the image `make image` built (docs/container.md), without running a container (the
# machines this project is tested on cannot): its configuration (entrypoint, user, labels), the
# exact list of files in its layers with their owners and modes, and the binary inside, which it
# runs on the host: `aispool version` must print the stamped version, and `aispool run`, started
# as the image's user on a copy of the image's file system, must become ready.
#
#   scripts/image-check.sh     (make image-check builds the image first, then runs it)
#
# VERSION and CONTAINER_ENGINE as for scripts/image.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
CONTAINER_ENGINE=${CONTAINER_ENGINE:-podman}
image="aispool:$VERSION"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
expect() { # expect WHAT GOT WANT
	if [ "$2" = "$3" ]; then pass "$1 = $2"; else fail "$1 = $2, want $3"; fi
}

tmp=$(mktemp -d)
daemon_pid=
cleanup() {
	if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "== $image: configuration"
config=$("$CONTAINER_ENGINE" image inspect "$image" | jq '.[0]')
expect entrypoint "$(jq -c '.Config.Entrypoint' <<<"$config")" '["/usr/bin/aispool"]'
expect cmd "$(jq -c '.Config.Cmd' <<<"$config")" '["run","--spool-dir=/var/lib/aispool/spool"]'
expect user "$(jq -r '.Config.User' <<<"$config")" '65532:65532'
expect workdir "$(jq -r '.Config.WorkingDir' <<<"$config")" '/var/lib/aispool'
expect os "$(jq -r '.Os' <<<"$config")" linux
expect "label version" "$(jq -r '.Config.Labels["org.opencontainers.image.version"]' <<<"$config")" "$VERSION"
expect "exposed ports" "$(jq -c '.Config.ExposedPorts | keys' <<<"$config")" '["4320/tcp","9321/tcp"]'

echo "== $image: contents"
"$CONTAINER_ENGINE" save --format docker-archive -o "$tmp/image.tar" "$image" >/dev/null 2>&1
mkdir "$tmp/archive" "$tmp/rootfs"
tar -xf "$tmp/image.tar" -C "$tmp/archive"
# Every entry of every layer, in order: mode, owner, path (directories repeated by later layers too).
: >"$tmp/entries"
for layer in $(jq -r '.[0].Layers[]' "$tmp/archive/manifest.json"); do
	tar --numeric-owner -tvf "$tmp/archive/$layer" | awk '{ print $1, $2, $6 }' >>"$tmp/entries"
	tar --numeric-owner -xpf "$tmp/archive/$layer" -C "$tmp/rootfs"
done
sort -u "$tmp/entries" -o "$tmp/entries"
want="$tmp/want"
cat >"$want" <<'LIST'
-rw-r--r-- 0/0 etc/group
-rw-r--r-- 0/0 etc/passwd
-rw-r--r-- 0/0 etc/ssl/certs/ca-certificates.crt
-rwxr-xr-x 0/0 usr/bin/aispool
drwx------ 65532/65532 var/lib/aispool/
drwxr-xr-x 0/0 etc/
drwxr-xr-x 0/0 etc/ssl/
drwxr-xr-x 0/0 etc/ssl/certs/
drwxr-xr-x 0/0 usr/
drwxr-xr-x 0/0 usr/bin/
drwxr-xr-x 0/0 var/
drwxr-xr-x 0/0 var/lib/
LIST
sort -o "$want" "$want"
if diff -u "$want" "$tmp/entries"; then pass "the layers hold exactly the binary, the CA bundle, passwd, group and the state directory"; else fail "the layers' entries differ from the list above (- wanted, + found)"; fi
if [ -e "$tmp/rootfs/bin/sh" ]; then fail "the image has a shell"; else pass "no shell"; fi
expect "user 65532 in /etc/passwd" "$(awk -F: '$3 == 65532 { print $1 ":" $4 ":" $7 }' "$tmp/rootfs/etc/passwd")" 'nonroot:65532:/sbin/nologin'
certs=$(grep -c 'BEGIN CERTIFICATE' "$tmp/rootfs/etc/ssl/certs/ca-certificates.crt" || true)
if [ "$certs" -gt 0 ]; then pass "CA bundle holds $certs certificates"; else fail "CA bundle holds no certificate"; fi

echo "== $image: the binary"
bin=$tmp/rootfs/usr/bin/aispool
if file "$bin" | grep -q 'statically linked'; then pass "statically linked"; else fail "not statically linked: $(file -b "$bin")"; fi
buildinfo=$(go version -m "$bin")
if grep -q 'CGO_ENABLED=0' <<<"$buildinfo"; then pass "built with CGO_ENABLED=0"; else fail "not built with CGO_ENABLED=0"; fi
out=$("$bin" version)
case $out in
"aispool $VERSION ("*) pass "aispool version: $out" ;;
*) fail "aispool version printed \"$out\", want aispool $VERSION (…)" ;;
esac

# The image's own user on the image's own state directory: aispool run must start and be ready.
# setpriv comes with util-linux; as another user than root this part is skipped.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	chmod 0755 "$tmp" # the daemon's user must reach the copy of the file system
	log=$tmp/run.log
	setpriv --reuid=65532 --regid=65532 --clear-groups env -i \
		APPLICATIONINSIGHTS_CONNECTION_STRING='InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/' \
		"$bin" run --spool-dir="$tmp/rootfs/var/lib/aispool/spool" --listen=127.0.0.1:0 --admin-listen=127.0.0.1:0 \
		--log-format=json >"$log" 2>&1 &
	daemon_pid=$!
	admin=
	for _ in $(seq 100); do
		admin=$(jq -r 'select(.msg == "aispool running") | .admin' "$log" 2>/dev/null || true)
		[ -n "$admin" ] && break
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$admin" ]; then
		fail "aispool run as 65532 did not start:"; cat "$log" >&2
	else
		code=$(curl -s -o /dev/null -w '%{http_code}' "$admin/readyz" || true)
		expect "aispool run as 65532 on the image's /var/lib/aispool: /readyz" "$code" 200
		expect "spool directory mode" "$(stat -c '%a %u' "$tmp/rootfs/var/lib/aispool/spool")" '700 65532'
	fi
	kill -TERM "$daemon_pid" 2>/dev/null || true
	wait "$daemon_pid" || true
	daemon_pid=
else
	echo "skip: starting aispool run as 65532 needs root and setpriv"
fi

if [ "$failures" -gt 0 ]; then
	echo "image-check: $failures check(s) failed" >&2
	exit 1
fi
echo "image-check: $image passed"
