#!/usr/bin/env bash
# The Kubernetes binaries the test cluster runs (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kubectl), built from the Go
# module proxy at a pinned version, plus the Debian packages the cluster uses
# (etcd, containerd, runc, CNI plugins, a registry), and the cluster's
# NetworkPolicy enforcer (test/netpol). Cached per machine: the first build
# takes about 8 minutes, later runs nothing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

need_packages=()
command -v etcd >/dev/null 2>&1 || need_packages+=(etcd-server)
command -v docker-registry >/dev/null 2>&1 || need_packages+=(docker-registry)
[[ -x /usr/lib/cni/bridge ]] || need_packages+=(containernetworking-plugins)
command -v containerd >/dev/null 2>&1 || need_packages+=(containerd)
command -v openssl >/dev/null 2>&1 || need_packages+=(openssl)
command -v conntrack >/dev/null 2>&1 || need_packages+=(conntrack)
if ((${#need_packages[@]})); then
  say "installing ${need_packages[*]} for the test cluster"
  apt_install "${need_packages[@]}"
  # Debian starts these as services; the harness runs its own instances.
  for service in etcd docker-registry; do
    systemctl disable --now "$service" >/dev/null 2>&1 || true
    pkill -x "$service" >/dev/null 2>&1 || true
  done
fi

# The NetworkPolicy enforcer: small (nftables and the standard library), rebuilt when a source is newer.
netpol_src="$ROOT/test/netpol"
if [[ ! -x "$TEST_NETPOL_BIN" ]] || [[ -n "$(find "$netpol_src" -newer "$TEST_NETPOL_BIN" -print -quit)" ]]; then
  require_cmd go "Go is needed to build the test cluster's NetworkPolicy enforcer; install Debian's golang-go or put go on PATH"
  mkdir -p "$(dirname "$TEST_NETPOL_BIN")"
  (cd "$netpol_src" && CGO_ENABLED=0 quiet go build -trimpath -ldflags "-s -w" -o "$TEST_NETPOL_BIN.tmp" . &&
    mv "$TEST_NETPOL_BIN.tmp" "$TEST_NETPOL_BIN")
  say "the test cluster's NetworkPolicy enforcer built"
fi

bin="$KUBERNETES_BIN"
binaries=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)
missing=0
for name in "${binaries[@]}"; do [[ -x "$bin/$name" ]] || missing=1; done
((missing)) || exit 0
require_cmd go "Go is needed to build Kubernetes from Go modules; install Debian's golang-go (>= 1.26) or put go on PATH"

say "building Kubernetes $KUBERNETES_VERSION from Go modules (first time: about 8 minutes)"
started=$(date +%s)
work="$SANDFLEET_CACHE/build/kubernetes"
rm -rf "$work"
mkdir -p "$work" "$bin.tmp"
staging_version="v0${KUBERNETES_VERSION#v1}"
go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" >/dev/null
mod_file="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$KUBERNETES_VERSION.mod"
# k8s.io/kubernetes points its staging modules at relative paths; a consumer
# module replaces each with the same module's published version.
{
  echo "module sandfleet.local/build/kubernetes"
  echo
  echo "go 1.26"
  echo
  echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
  echo
  grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$mod_file" |
    awk -v v="$staging_version" '{ printf "replace %s => %s %s\n", $1, $1, v }'
} >"$work/go.mod"
{
  echo '//go:build tools'
  echo
  echo 'package tools'
  echo
  echo 'import ('
  for cmd in "${binaries[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$cmd"; done
  echo ')'
} >"$work/tools.go"
(cd "$work" && quiet go mod tidy)
minor="${KUBERNETES_VERSION#v1.}"
minor="${minor%%.*}"
stamp=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  stamp+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  stamp+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
# One at a time: the first carries the shared dependencies, and two links at
# once would need more memory than a small machine has.
for name in "${binaries[@]}"; do
  (cd "$work" && CGO_ENABLED=0 quiet go build -trimpath -ldflags "-s -w$stamp" -o "$bin.tmp/$name" "k8s.io/kubernetes/cmd/$name")
  say "$name built ($(($(date +%s) - started))s)"
done
"$bin.tmp/kubectl" version --client >/dev/null || die "the freshly built kubectl does not run"
rm -rf "$bin"
mv "$bin.tmp" "$bin"
say "Kubernetes $KUBERNETES_VERSION ready in $bin ($(($(date +%s) - started))s)"
