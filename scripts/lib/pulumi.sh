#!/usr/bin/env bash
# The Pulumi CLI and its Node.js language host, built from Go modules (the
# vendor's installer cannot be reached), plus the dynamic-provider plugin shim
# that ships inside the @pulumi/pulumi npm package. Cached per machine and
# rebuilt only when a pinned version changes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

bin="$PULUMI_HOME_BIN"
launcher_src="$ROOT/scripts/pulumi-nodejs-launcher"
launcher_stamp="launcher-$(cat "$launcher_src"/go.mod "$launcher_src"/*.go | sha256sum | cut -c1-16)"

# The language host reads its options only from flags, which the current CLI no longer passes:
# `pulumi-language-nodejs` is a launcher that gives it the project's (scripts/pulumi-nodejs-launcher).
install_launcher() {
  [[ -e "$bin/.$launcher_stamp" ]] && return 0
  (cd "$launcher_src" && quiet go build -trimpath -ldflags "-s -w" -o "$bin/pulumi-language-nodejs.tmp" .)
  mv "$bin/pulumi-language-nodejs.tmp" "$bin/pulumi-language-nodejs"
  rm -f "$bin"/.launcher-*
  touch "$bin/.$launcher_stamp"
}

built() { [[ -x "$bin/pulumi" && -x "$bin/pulumi-language-nodejs-host" ]]; }

# `pulumi.sh --check`: whether the CLI is built, without building anything.
if [[ "${1:-}" == --check ]]; then
  built
  exit
fi
# One build at a time on a machine: a second bootstrap (another clone, or the
# quickstart's foreground after its background build) waits for the first and
# then finds the CLI built.
one_at_a_time pulumi-build "the Pulumi CLI build" "$@"
if built; then
  install_launcher
  exit 0
fi
# A cache made before the launcher holds the host under the launcher's name.
if [[ -x "$bin/pulumi" && -x "$bin/pulumi-language-nodejs" ]] && ! compgen -G "$bin/.launcher-*" >/dev/null; then
  mv "$bin/pulumi-language-nodejs" "$bin/pulumi-language-nodejs-host"
  install_launcher
  exit 0
fi
require_cmd go "Go is needed to build the Pulumi CLI from Go modules; install Debian's golang-go (>= 1.26) or put go on PATH"

# Builds one main package from a throwaway wrapper module. `go install` refuses
# modules with replace directives, and `go mod tidy` would drop the mains.
build_main() { # <name> <version stamp> <main package> <require lines...>
  local name="$1" stamp="$2" pkg="$3"
  shift 3
  local work="$SANDFLEET_CACHE/build/$name"
  rm -rf "$work"
  mkdir -p "$work"
  {
    echo "module sandfleet.local/build/$name"
    echo
    echo "go 1.26"
    echo
    echo "require ("
    printf '\t%s\n' "$@"
    echo ")"
  } >"$work/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >"$work/tools.go"
  (cd "$work" && GOFLAGS=-mod=mod quiet go build -trimpath -o "$bin.tmp/$name" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$stamp" "$pkg")
}

say "building the Pulumi CLI $PULUMI_VERSION and language host from Go modules (first time: about 5 minutes)"
started=$(date +%s)
rm -rf "$bin.tmp"
mkdir -p "$bin.tmp"
build_main pulumi "$PULUMI_VERSION" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
  "github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3 $PULUMI_VERSION"
say "pulumi built in $(($(date +%s) - started))s"
build_main pulumi-language-nodejs-host "$PULUMI_LANGUAGE_SDK_VERSION" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs \
  "github.com/pulumi/pulumi/sdk/v3 $PULUMI_LANGUAGE_SDK_VERSION"
"$bin.tmp/pulumi" version >/dev/null || die "the freshly built pulumi does not run"
rm -rf "$bin"
mv "$bin.tmp" "$bin"
install_launcher
say "Pulumi CLI $("$bin/pulumi" version) ready in $bin ($(($(date +%s) - started))s)"
