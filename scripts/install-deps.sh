#!/usr/bin/env bash
# Installs everything `make test`, `make demo` and `make bench` use on a fresh
# Debian 12 machine (run as root). Idempotent: skips apt when all is present.
set -euo pipefail

pkgs=(keepalived nftables etcd-server etcd-client iproute2 iputils-ping curl tcpdump arping procps)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: need root to install: ${missing[*]}" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# Debian starts packaged daemons on install; keep keepalived and etcd off:
	# tests and the lab start their own copies inside network namespaces.
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v go >/dev/null || { echo "install-deps: Go 1.26 is required (https://go.dev/dl/)" >&2; exit 1; }
go mod download
