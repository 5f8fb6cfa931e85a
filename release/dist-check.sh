#!/usr/bin/env bash
# make dist-check: inspect what `make dist` left in dist/ — checksums, archives, the binaries' build
# settings and version stamp, the deb and rpm packages' metadata, files, configuration files and
# scripts — and run the linux/amd64 binary (from its archive and from the deb) to see the stamp.
# Needs dpkg-deb (dpkg) and rpm (Debian's package: apt-get install -y rpm).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
dist=dist
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
check() { # check DESCRIPTION COMMAND...: ok when COMMAND succeeds
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi
}
has() { grep -qE -- "$2" <<<"$1"; }   # has TEXT REGEXP
re() { sed 's/[][\.*^$+?(){}|/]/\\&/g' <<<"$1"; } # re STRING: STRING as a literal regexp

for tool in dpkg-deb rpm tar sha256sum; do
	command -v "$tool" >/dev/null || { echo "dist-check: $tool is missing (rpm: apt-get install -y rpm)" >&2; exit 1; }
done
[ -f "$dist/VERSION" ] || { echo "dist-check: no $dist/VERSION: run make dist first" >&2; exit 1; }
VERSION=$(cat "$dist/VERSION")
PKG_VERSION=${VERSION#v}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== dist-check $VERSION"

check "SHA256SUMS verifies" bash -c "cd $dist && sha256sum --strict -c SHA256SUMS"
listed=$(awk '{print $2}' "$dist/SHA256SUMS" | LC_ALL=C sort | tr '\n' ' ')
present=$(cd "$dist" && ls *.tar.gz *.deb *.rpm 2>/dev/null | LC_ALL=C sort | tr '\n' ' ')
if [ "$listed" = "$present" ]; then ok "SHA256SUMS lists every archive and package"; else bad "SHA256SUMS lists [$listed], dist/ holds [$present]"; fi

# Archives: one per target, each a folder with the binary, LICENSE, README.md and CHANGELOG.md, owned by
# root, holding a static binary for its platform with the version stamped.
archives=$(cd "$dist" && ls aispool_*.tar.gz 2>/dev/null || true)
[ -n "$archives" ] && ok "archives: $(echo $archives | wc -w)" || bad "no archive in $dist"
for a in $archives; do
	base=${a%.tar.gz}
	platform=${base#aispool_"$PKG_VERSION"_}
	os=${platform%_*} arch=${platform#*_}
	listing=$(tar -tvzf "$dist/$a")
	for f in aispool LICENSE README.md CHANGELOG.md; do
		if has "$listing" " $(re "$base/$f")\$"; then ok "$a holds $f"; else bad "$a lacks $base/$f"; fi
	done
	if ! has "$listing" '^[^ ]+ [^0]' && has "$listing" ' 0/0 '; then ok "$a: entries owned by 0/0"; else bad "$a: entries not owned by 0/0"; fi
	mkdir -p "$tmp/$base"
	tar -xzf "$dist/$a" -C "$tmp"
	info=$($GO version -m "$tmp/$base/aispool")
	for want in "GOOS=$os" "GOARCH=$arch" "CGO_ENABLED=0" "-trimpath=true"; do
		if has "$info" "^	build	$(re "$want")\$"; then ok "$a: binary built with $want"; else bad "$a: binary not built with $want"; fi
	done
	# -trimpath keeps -ldflags out of the build information: look for the stamp itself.
	check "$a: binary stamped $VERSION" grep -qaF "$VERSION" "$tmp/$base/aispool"
done

linux=$tmp/aispool_${PKG_VERSION}_linux_amd64/aispool
if [ -x "$linux" ]; then
	if readelf -lW "$linux" | grep -q INTERP; then bad "linux/amd64 binary is dynamically linked"; else ok "linux/amd64 binary is static (no ELF interpreter)"; fi
	got=$("$linux" --version)
	# "aispool <version> (<go version>, <os>/<arch>)": the stamp is the second word.
	if [ "${got%% (*}" = "aispool $VERSION" ]; then ok "aispool --version: $got"; else bad "aispool --version: \"$got\", want \"aispool $VERSION (…)\""; fi
else
	bad "no linux/amd64 archive to run"
fi

# Packages: the binary, the systemd unit pointing at it, the default configuration file (a conffile,
# 0600), the license; scripts that create the aispool user; metadata naming the version and
# architecture.
# The packages of every linux archive's architecture (make dist makes both for each).
arches=$(cd "$dist" && ls aispool_*_linux_*.tar.gz 2>/dev/null | sed 's/.*_linux_\(.*\)\.tar\.gz$/\1/' || true)
[ -n "$arches" ] || bad "no linux archive, so no package to expect"
for arch in $arches; do
	deb=$(cd "$dist" && ls aispool_*_"$arch".deb 2>/dev/null || true)
	if [ -z "$deb" ]; then bad "no $arch deb"; continue; fi
	info=$(dpkg-deb -I "$dist/$deb")
	for want in '^ Package: aispool$' "^ Architecture: $arch\$" "^ Version: $(re "${PKG_VERSION/-/\~}")-1\$" ' postinst ' ' prerm ' ' postrm '; do
		if has "$info" "$want"; then ok "$deb -I: $want"; else bad "$deb -I lacks $want"; fi
	done
	files=$(dpkg-deb -c "$dist/$deb")
	for want in '^-rwxr-xr-x root/root .* \./usr/bin/aispool$' '^-rw-r--r-- root/root .* \./usr/lib/systemd/system/aispool\.service$' \
		'^-rw------- root/root .* \./etc/aispool/env$' ' \./usr/share/doc/aispool/LICENSE$'; do
		if has "$files" "$want"; then ok "$deb -c: $want"; else bad "$deb -c lacks $want"; fi
	done
	x=$tmp/deb-$arch
	dpkg-deb -x "$dist/$deb" "$x"
	dpkg-deb -e "$dist/$deb" "$x/DEBIAN"
	check "$deb: /etc/aispool/env is a conffile" grep -qx /etc/aispool/env "$x/DEBIAN/conffiles"
	check "$deb: postinst creates the aispool user" grep -q 'useradd --system' "$x/DEBIAN/postinst"
	check "$deb: the unit runs /usr/bin/aispool" grep -q '^ExecStart=/usr/bin/aispool run' "$x/usr/lib/systemd/system/aispool.service"
	check "$deb: the unit reads /etc/aispool/env" grep -qx 'EnvironmentFile=/etc/aispool/env' "$x/usr/lib/systemd/system/aispool.service"
	check "$deb: the configuration file names the connection string" grep -q 'APPLICATIONINSIGHTS_CONNECTION_STRING' "$x/etc/aispool/env"
	if [ "$arch" = amd64 ]; then
		got=$("$x/usr/bin/aispool" --version)
		if [ "${got%% (*}" = "aispool $VERSION" ]; then ok "$deb: usr/bin/aispool --version: $got"; else bad "$deb: usr/bin/aispool --version: \"$got\""; fi
	fi

	rarch=x86_64
	[ "$arch" = arm64 ] && rarch=aarch64
	rpmf=$(cd "$dist" && ls aispool-*."$rarch".rpm 2>/dev/null || true)
	if [ -z "$rpmf" ]; then bad "no $rarch rpm"; continue; fi
	q=$(rpm -qp --queryformat '%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE}\n' "$dist/$rpmf" 2>/dev/null)
	if [ "$q" = "aispool ${PKG_VERSION/-/\~} 1 $rarch Apache-2.0" ]; then ok "$rpmf: $q"; else bad "$rpmf: \"$q\""; fi
	list=$(rpm -qlp "$dist/$rpmf" 2>/dev/null)
	for want in /usr/bin/aispool /usr/lib/systemd/system/aispool.service /etc/aispool/env /usr/share/doc/aispool/LICENSE; do
		if has "$list" "^$want\$"; then ok "$rpmf -qlp: $want"; else bad "$rpmf -qlp lacks $want"; fi
	done
	check "$rpmf: /etc/aispool/env is a configuration file" bash -c "rpm -qcp '$dist/$rpmf' 2>/dev/null | grep -qx /etc/aispool/env"
	check "$rpmf: the post-install script creates the aispool user" bash -c "rpm -qp --scripts '$dist/$rpmf' 2>/dev/null | grep -q 'useradd --system'"
	check "$rpmf: /usr/bin/aispool is 0755 and /etc/aispool/env 0600" bash -c \
		"rpm -qp --queryformat '[%{FILEMODES:perms} %{FILENAMES}\n]' '$dist/$rpmf' 2>/dev/null | grep -qx -- '-rwxr-xr-x /usr/bin/aispool' &&
		 rpm -qp --queryformat '[%{FILEMODES:perms} %{FILENAMES}\n]' '$dist/$rpmf' 2>/dev/null | grep -qx -- '-rw------- /etc/aispool/env'"
done

echo "dist-check: $passed checks passed, $failed failed"
[ "$failed" -eq 0 ]
