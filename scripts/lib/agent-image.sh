#!/usr/bin/env bash
# The image of `sandfleet agent` for running it inside a cluster, built
# offline from what this machine has: the offline busybox base
# (scripts/lib/images.sh), this machine's Node binary with the shared
# libraries it links, and the package as `npm pack` makes it, installed from
# npm's cache. It runs as nobody (65534) and
# writes nothing outside /tmp and its state directory, so it runs with a
# read-only root filesystem.
#
#   scripts/lib/agent-image.sh     prints the image's name (sandfleet/agent:<recipe>)
#
# Push it where the cluster's nodes pull from:
#   docker tag "$(scripts/lib/agent-image.sh)" registry.internal:5000/sandfleet/agent:1
#   docker push registry.internal:5000/sandfleet/agent:1
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
export PATH="$ROOT/node_modules/.bin:$(sandfleet_path)"

bash "$ROOT/scripts/lib/supervisor.sh"
bash "$ROOT/scripts/lib/build.sh"
docker image inspect sandfleet/busybox:latest >/dev/null 2>&1 || bash "$ROOT/scripts/lib/images.sh"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$ROOT" && npm pack --ignore-scripts --silent --pack-destination "$work" >/dev/null)
tarball="$(ls "$work"/sandfleet-*.tgz)"
node_bin="$(command -v node)"
recipe="$({
  sha256sum "$tarball" "$node_bin" | cut -d' ' -f1
  sed -n '/^# recipe:start/,/^# recipe:end/p' "${BASH_SOURCE[0]}"
} | sha256sum | cut -c1-16)"
image="sandfleet/agent:$recipe"
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

# recipe:start
say "building $image (node $(node --version))"
# Two layers: Node (which changes seldom) and the package (which changes with every build).
runtime="$work/node"
mkdir -p "$runtime/usr/local/bin"
cp "$node_bin" "$runtime/usr/local/bin/node"
# The dynamic loader and each library Node links, at the paths it looks them up by.
for lib in $(ldd "$node_bin" | grep -o '/[^ ]*'); do
  mkdir -p "$runtime$(dirname "$lib")"
  cp -L "$lib" "$runtime$lib"
done
root="$work/app"
mkdir -p "$root/opt/sandfleet"
printf '{"name":"sandfleet-agent-image","private":true}\n' >"$root/opt/sandfleet/package.json"
(cd "$root/opt/sandfleet" && npm install --offline --omit=dev --omit=peer --no-audit --no-fund --loglevel error \
  "$tarball" >/dev/null)
rm -f "$root/opt/sandfleet/package-lock.json"
chmod -R a+rX,go-w "$runtime" "$root"
cat >"$work/Dockerfile" <<DOCKERFILE
FROM sandfleet/busybox:latest
COPY node/ /
COPY app/ /
ENV PATH=/usr/local/bin:/bin:/usr/bin HOME=/tmp NODE_ENV=production
WORKDIR /opt/sandfleet
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/node", "/opt/sandfleet/node_modules/sandfleet/dist/bin/sandfleet.cjs"]
CMD ["agent", "--json"]
LABEL sandfleet.image="agent" sandfleet.recipe="$recipe"
DOCKERFILE
quiet docker build --network none -t "$image" "$work"
# recipe:end
echo "$image"
