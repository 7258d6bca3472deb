#!/bin/sh
# deb.sh VERSION OUTDIR — build vipd_VERSION_ARCH.deb into OUTDIR with dpkg-deb.
#
# Builds vipd and vipctl from this checkout (stamped with VERSION), then
# stages the files of deploy/ (see deploy/README.md for the layout). The
# package never starts or enables the service: the operator configures the
# arbiter in /etc/vipd/vipd.conf first.
#
# Environment: ARCH (default amd64; the Go toolchain cross-compiles with
# CGO_ENABLED=0 when ARCH differs from the host), GO (default go),
# VIPD_BIN_DIR (package prebuilt vipd and vipctl from this directory
# instead of building them), MAINTAINER.
set -eu

usage() { echo "usage: $0 VERSION OUTDIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
VERSION=$1
OUTDIR=$2
# Debian upstream version syntax (deb-version(5)), no epoch.
case $VERSION in
[0-9]*) ;;
*) echo "deb.sh: version $VERSION must start with a digit" >&2; exit 2 ;;
esac
if printf '%s' "$VERSION" | grep -q '[^A-Za-z0-9.+~-]'; then
	echo "deb.sh: version $VERSION: only A-Za-z0-9 . + ~ - are allowed" >&2
	exit 2
fi

ARCH=${ARCH:-amd64}
GO=${GO:-go}
MAINTAINER=${MAINTAINER:-vipd maintainers <vipd@localhost>}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

command -v dpkg-deb >/dev/null || { echo "deb.sh: dpkg-deb not found (apt-get install dpkg)" >&2; exit 1; }

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vipd-deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
PKG=$WORK/pkg

install -d -m 0755 "$PKG/DEBIAN" "$PKG/usr/sbin" "$PKG/usr/bin" "$PKG/lib/systemd/system" \
	"$PKG/usr/share/doc/vipd/examples" "$PKG/usr/share/doc/vipd/prometheus" "$PKG/usr/share/doc/vipd/grafana"
install -d -m 0700 "$PKG/etc/vipd"

# --- binaries
if [ -n "${VIPD_BIN_DIR:-}" ]; then
	install -m 0755 "$VIPD_BIN_DIR/vipd" "$PKG/usr/sbin/vipd"
	install -m 0755 "$VIPD_BIN_DIR/vipctl" "$PKG/usr/bin/vipctl"
else
	goarch=$ARCH
	case $ARCH in i386) goarch=386 ;; armhf) goarch=arm ;; esac
	cgo=$("$GO" env CGO_ENABLED)
	[ "$goarch" = "$("$GO" env GOARCH)" ] || cgo=0
	(cd "$ROOT" && CGO_ENABLED=$cgo GOARCH=$goarch "$GO" build \
		-ldflags "-s -w -X main.version=$VERSION" -o "$WORK/bin/" ./cmd/vipd ./cmd/vipctl)
	install -m 0755 "$WORK/bin/vipd" "$PKG/usr/sbin/vipd"
	install -m 0755 "$WORK/bin/vipctl" "$PKG/usr/bin/vipctl"
fi

# --- unit, configuration, documentation
install -m 0644 "$ROOT/deploy/systemd/vipd.service" "$PKG/lib/systemd/system/vipd.service"
# 0600: the file may hold the etcd password.
install -m 0600 "$ROOT/deploy/etc/vipd/vipd.conf" "$PKG/etc/vipd/vipd.conf"
install -m 0644 "$ROOT/deploy/examples/"*.conf "$PKG/usr/share/doc/vipd/examples/"
install -m 0644 "$ROOT/deploy/prometheus/vipd-alerts.yml" "$PKG/usr/share/doc/vipd/prometheus/"
install -m 0644 "$ROOT/deploy/grafana/vipd.json" "$PKG/usr/share/doc/vipd/grafana/"
install -m 0644 "$ROOT/deploy/README.md" "$PKG/usr/share/doc/vipd/deploy.md"
install -m 0644 "$ROOT/README.md" "$PKG/usr/share/doc/vipd/README.md"
for f in "$ROOT"/docs/*.md; do
	[ -e "$f" ] && install -m 0644 "$f" "$PKG/usr/share/doc/vipd/"
done

# --- control
depends="iproute2, nftables"
# A cgo build links glibc dynamically; say so.
if command -v readelf >/dev/null && readelf -d "$PKG/usr/sbin/vipd" 2>/dev/null | grep -q 'NEEDED.*libc\.so'; then
	depends="libc6, $depends"
elif file "$PKG/usr/sbin/vipd" 2>/dev/null | grep -q 'dynamically linked'; then
	depends="libc6, $depends"
fi
size=$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)
cat >"$PKG/DEBIAN/control" <<EOF
Package: vipd
Version: $VERSION
Architecture: $ARCH
Maintainer: $MAINTAINER
Installed-Size: $size
Depends: $depends
Recommends: etcd-client
Section: net
Priority: optional
Description: keepalived-compatible VRRP daemon with fenced VIPs and an etcd arbiter
 vipd moves virtual IP addresses between Linux hosts with standard VRRP,
 reads keepalived.conf and interoperates with keepalived on the wire. VIPs
 carry kernel lifetimes, so a killed or frozen master loses them on its own,
 and an optional etcd lease (the arbiter) must agree before any node becomes
 master, so two nodes never hold the same VIP.
 .
 The service is installed but neither enabled nor started: configure
 /etc/vipd/vipd.conf (the arbiter's etcd endpoints first), then run
 systemctl enable --now vipd.
EOF
echo /etc/vipd/vipd.conf >"$PKG/DEBIAN/conffiles"

# Maintainer scripts honour DPKG_ROOT (dpkg --root ... --force-script-chrootless)
# and never touch the host's systemd then.
cat >"$PKG/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
# vipd is deliberately neither enabled nor started here: the example
# configuration's arbiter points at placeholder etcd endpoints (vipd would
# wait in BACKUP for a grant that never comes) and its interface, VRID and
# VIP are placeholders too. The operator configures the arbiter and the
# instances first, then: systemctl enable --now vipd
if [ "$1" = configure ]; then
	if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
		systemctl daemon-reload >/dev/null 2>&1 || true
	fi
	if [ -z "$2" ]; then
		echo "vipd: installed, not started. Edit /etc/vipd/vipd.conf (arbiter, interfaces, VIPs)," >&2
		echo "vipd: check it with 'vipd -t -f /etc/vipd/vipd.conf', then 'systemctl enable --now vipd'." >&2
	else
		echo "vipd: upgraded; the running vipd (if any) keeps running the old binary until you" >&2
		echo "vipd: restart it ('systemctl restart vipd' moves the VIPs to the peer meanwhile)." >&2
	fi
fi
exit 0
EOF
cat >"$PKG/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
# On removal stop vipd (a graceful step-down: the peer takes the VIPs) before
# its binary disappears. Upgrades leave it running: the operator chooses when
# to restart and so when the VIPs move.
if [ "$1" = remove ] && [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	systemctl stop vipd.service || true
fi
exit 0
EOF
cat >"$PKG/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
# Forget the enablement symlinks on purge (dpkg removes the conffile). The
# state directory /var/lib/vipd (embedded etcd data) is left for the operator.
if [ "$1" = purge ] && [ -z "${DPKG_ROOT:-}" ]; then
	if command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper purge vipd.service >/dev/null || true
	fi
fi
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
EOF
chmod 0755 "$PKG/DEBIAN/postinst" "$PKG/DEBIAN/prerm" "$PKG/DEBIAN/postrm"

DEB=$OUTDIR/vipd_${VERSION}_${ARCH}.deb
dpkg-deb --root-owner-group -Zxz --build "$PKG" "$DEB" >/dev/null
echo "$DEB"
