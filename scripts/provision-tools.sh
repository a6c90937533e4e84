#!/usr/bin/env bash
# Provisions the real programs the test suite is judged by, into a cache outside the repository:
#   - per Kubernetes minor: kube-apiserver, kube-controller-manager and kubectl (one release),
#     built from the Go module proxy; etcd (one release for all minors);
#   - Kyverno's CLI; promtool; redis-server (Debian's binary, unpacked).
#   - the node tier: kubelet and kube-scheduler (one release), Debian's containerd, runc, CNI plugins
#     and registry (unpacked), a pause program;
#   - the cluster tier around that node: kube-proxy (the node's release), CoreDNS, kube-router (the
#     NetworkPolicy enforcer), and Debian's iptables and ipset (unpacked) that both drive;
#   - the cluster's operations add-ons: metrics-server (the HPA's resource metrics), prometheus-operator
#     with its config reloader, and Prometheus built with only Kubernetes service discovery;
#   - the image tier: Debian's buildah and debootstrap (unpacked), which build the library's
#     Dockerfile on a stand-in base image made from Debian's packages (test/support/image-build.ts).
# Built once, then reused: a binary already in the cache is never rebuilt. Prints one line per
# binary it builds and why. Prebuilt binaries are honoured (nothing is built for them):
#   KUBEBUILDER_ASSETS   controller-runtime envtest's convention: a folder with kube-apiserver,
#                        etcd and kubectl (used for the minor its kube-apiserver reports), or a
#                        folder of such folders named <X.Y.Z>-<os>-<arch> as setup-envtest fills
#                        them (~/.local/share/kubebuilder-envtest/k8s). kube-controller-manager is
#                        never in them, so it is always built here.
#   promtool / kyverno   used from PATH when there.
#   coredns / kube-router  used from PATH when they report the pinned version; kube-proxy is built
#                        with the kubelet (same module, seconds once the kubelet is built).
#   iptables and ipset   used from PATH when both are there.
#   metrics-server, prometheus, prometheus-operator, prometheus-config-reloader
#                        used from PATH when they report the pinned version.
# Environment:
#   CDK8S_PYTHON_SERVICE_CACHE   cache folder (default: $XDG_CACHE_HOME or ~/.cache, /cdk8s-python-service)
#   K8S_VERSIONS                 releases to provision (default: the two the tests run on)
# Writes $cache/tools.env: one KEY=path line per binary, read by the tests.
set -euo pipefail

cache="${CDK8S_PYTHON_SERVICE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cdk8s-python-service}"
# The oldest minor the library's defaults support and the newest Kubernetes release.
k8s_versions="${K8S_VERSIONS:-1.30.14 1.37.2}"
etcd_version=3.6.16
kyverno_version=1.19.1
prometheus_version=0.316.0
# The node tier's kubelet and kube-scheduler: the release of the oldest minor (its kubelet runs
# Debian's containerd 1.6 on the cgroup v1 hosts these machines are).
node_version="${NODE_K8S_VERSION:-1.30.14}"
# The image tier's builder: Debian's buildah with the one library this machine lacks (libgpgme
# and its libassuan), patchelf to point buildah at them, and debootstrap for the stand-in base image.
builder_debs=(buildah libgpgme11 libassuan0 patchelf debootstrap)
# The cluster tier's DNS and NetworkPolicy enforcer (see test/support/cluster.ts for why kube-router).
coredns_version=1.14.7
kube_router_version=2.1.0
# What kube-proxy and kube-router drive: iptables (its legacy backend) and ipset, with their libraries.
# The operations add-ons. Prometheus is the release promtool comes from (module v0.3XX.Y is 3.XX.Y).
metrics_server_version=0.8.0
prometheus_operator_version=0.85.0
netfilter_debs=(iptables libip4tc2 libip6tc2 libxtables12 libnftnl11 libnetfilter-conntrack3 libnfnetlink0 libmnl0 ipset libipset13 conntrack)

mkdir -p "$cache"
lock="$cache/.provision.lock"
exec 9>"$lock"
flock 9

export GOFLAGS="${GOFLAGS:--buildvcs=false} -mod=mod"
export CGO_ENABLED=0
# The modules built here are wrappers of their own: a go.work around the cache must not join them.
export GOWORK=off
started=$SECONDS
say() { echo "provision: [+$((SECONDS - started))s] $*" >&2; }

# Runs a build step with its output in a log; on failure shows the log's end and stops.
logged() {
  local log="$cache/logs/$1.log"; shift
  mkdir -p "$cache/logs"
  if ! "$@" > "$log" 2>&1; then
    say "failed: $* (see $log)"
    tail -n 30 "$log" >&2
    exit 1
  fi
}

need_go() {
  command -v go >/dev/null 2>&1 || { say "Go is needed to build $1 (install Go 1.24 or newer, or point at prebuilt binaries; see README)"; exit 1; }
}

# A Go workspace module that builds packages of one release; $1 = folder, rest = go.mod lines.
go_module() {
  local dir=$1; shift
  mkdir -p "$dir"
  printf '%s\n' "$@" > "$dir/go.mod"
}

# Version ldflags, without which a Kubernetes binary reports v0.0.0 (and kubectl warns on skew).
k8s_ldflags() {
  local v=$1 minor
  minor=$(echo "$v" | cut -d. -f2)
  local flags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags="$flags -X $pkg.gitVersion=v$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$flags"
}

prebuilt_k8s_dir() {
  # Echoes the KUBEBUILDER_ASSETS folder that holds release $1's minor, if any.
  local v=$1 minor dir
  minor=$(echo "$v" | cut -d. -f1,2)
  [ -n "${KUBEBUILDER_ASSETS:-}" ] || return 1
  for dir in "$KUBEBUILDER_ASSETS" "$KUBEBUILDER_ASSETS"/"$minor".*; do
    [ -x "$dir/kube-apiserver" ] && [ -x "$dir/etcd" ] && [ -x "$dir/kubectl" ] || continue
    if "$dir/kube-apiserver" --version 2>/dev/null | grep -q "v$minor\."; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

# The Go module that builds release $1's commands in folder $2: k8s.io/kubernetes with each of its
# ./staging modules replaced by the same path at v0.<minor>.<patch>, tidied once. A folder tidied
# before the node and cluster commands were added is tidied again.
k8s_source() {
  local v=$1 src=$2
  local commands=(kube-apiserver kube-controller-manager kubectl kubelet kube-scheduler kube-proxy)
  if [ -f "$src/go.sum" ] && grep -q 'cmd/kube-proxy' "$src/tools.go" 2>/dev/null; then return; fi
  if [ ! -f "$src/go.mod" ]; then
    say "resolving k8s.io/kubernetes v$v and its staging modules (once per release)"
    local gomod
    gomod=$(cd "$(mktemp -d)" && go mod download -json "k8s.io/kubernetes@v$v" 2>/dev/null | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
    [ -f "$gomod" ] || { say "could not download k8s.io/kubernetes@v$v from the Go module proxy"; exit 1; }
    local lines=("module cdk8s-python-service/k8s-tools" "go 1.24" "require k8s.io/kubernetes v$v")
    while read -r mod; do
      lines+=("replace $mod => $mod v0.${v#1.}")
    done < <(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9.-]*\) => \./staging/.*#\1#p' "$gomod")
    go_module "$src" "${lines[@]}"
  fi
  { printf '//go:build tools\n\npackage tools\n\nimport (\n'; printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "${commands[@]}"; printf ')\n'; } > "$src/tools.go"
  (cd "$src" && logged "k8s-$v-tidy" go mod tidy)
}

build_k8s() {
  local v=$1 out="$cache/k8s/$1" src="$cache/src/k8s-$1"
  local minor
  minor=$(echo "$v" | cut -d. -f2)
  local wanted=(kube-apiserver kube-controller-manager kubectl)
  local prebuilt=""
  if prebuilt=$(prebuilt_k8s_dir "$v"); then
    wanted=(kube-controller-manager)
  fi
  # The node tier's kubelet, kube-scheduler and kube-proxy, on one release (never in KUBEBUILDER_ASSETS either).
  [ "$v" = "$node_version" ] && wanted+=(kubelet kube-scheduler kube-proxy)
  local missing=()
  for b in "${wanted[@]}"; do [ -x "$out/$b" ] || missing+=("$b"); done
  if [ ${#missing[@]} -gt 0 ]; then
    need_go "Kubernetes v$v"
    mkdir -p "$out"
    k8s_source "$v" "$src"
    for b in "${missing[@]}"; do
      local why="not in the cache"
      [ -n "$prebuilt" ] && [ "$b" != kube-apiserver ] && why="KUBEBUILDER_ASSETS never holds it"
      say "building $b v$v ($why; a few minutes)"
      (cd "$src" && logged "$b-$v" go build -trimpath -ldflags "$(k8s_ldflags "$v")" -o "$out/$b.tmp" "k8s.io/kubernetes/cmd/$b")
      mv "$out/$b.tmp" "$out/$b"
    done
  fi
  local key="K8S_${minor}"
  local base="$out"
  [ -n "$prebuilt" ] && base="$prebuilt"
  {
    echo "${key}_VERSION=$v"
    echo "${key}_KUBE_APISERVER=$base/kube-apiserver"
    echo "${key}_KUBECTL=$base/kubectl"
    echo "${key}_KUBE_CONTROLLER_MANAGER=$out/kube-controller-manager"
    if [ -n "$prebuilt" ]; then echo "${key}_ETCD=$prebuilt/etcd"; else need_etcd=1; fi
    if [ "$v" = "$node_version" ]; then echo "NODE_VERSION=$v"; echo "NODE_KUBELET=$out/kubelet"; echo "NODE_KUBE_SCHEDULER=$out/kube-scheduler"; echo "NODE_KUBE_PROXY=$out/kube-proxy"; fi
  } >> "$env_file.tmp"
}

# Builds one Go program of a module release into the cache (once) and records it as KEY=path.
#   $1 KEY  $2 binary  $3 module  $4 version  $5 package  $6 ldflags  $7 how long  $8.. extra go.mod lines
# GO_TAGS, when set, are the build tags.
build_go_tool() {
  local key=$1 bin=$2 module=$3 version=$4 pkg=$5 ldflags=$6 duration=$7; shift 7
  local out="$cache/$bin/$version/$bin" src="$cache/src/$bin-$version"
  if [ ! -x "$out" ]; then
    need_go "$bin v$version"
    say "building $bin v$version (not in the cache; $duration)"
    go_module "$src" "module cdk8s-python-service/$bin-tools" "go 1.24" "require $module v$version" "$@"
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" > "$src/tools.go"
    (cd "$src" && logged "$bin-tidy" go mod tidy && logged "$bin" go build -trimpath -tags "${GO_TAGS:-}" -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg")
    mv "$out.tmp" "$out"
  fi
  echo "$key=$out" >> "$env_file.tmp"
}

# A prebuilt program on PATH, used when it reports the pinned version: $1 KEY, $2 name, $3 its
# version flag, $4 what that flag's output must contain.
on_path_at_version() {
  local found
  found=$(command -v "$2" 2>/dev/null) || return 1
  "$found" "$3" 2>&1 | grep -qF -- "$4" || { say "$2 on PATH is not the pinned one ($4): building it"; return 1; }
  echo "$1=$found" >> "$env_file.tmp"
}

# A program already on PATH (at the pinned version, when $3 is given) is used as it is.
from_path() {
  local found
  found=$(command -v "$2" 2>/dev/null) || return 1
  [ -z "${3:-}" ] || "$found" version 2>/dev/null | grep -q "$3" || return 1
  echo "$1=$found" >> "$env_file.tmp"
}

build_etcd() {
  [ "$need_etcd" = 1 ] || return 0
  build_go_tool ETCD etcd go.etcd.io/etcd/server/v3 "$etcd_version" go.etcd.io/etcd/server/v3 "" "about a minute"
}

build_kyverno() {
  from_path KYVERNO kyverno "$kyverno_version" && return
  local gomod
  gomod=$(cd "$(mktemp -d)" && go mod download -json "github.com/kyverno/kyverno@v$kyverno_version" 2>/dev/null | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  [ -f "$gomod" ] || { say "could not download github.com/kyverno/kyverno@v$kyverno_version from the Go module proxy"; exit 1; }
  # Kyverno's own replace lines (a forked dependency) must hold in the building module too.
  local replaces=()
  while read -r line; do replaces+=("replace $line"); done < <(sed -n 's/^replace \(.*=>.*\)$/\1/p' "$gomod")
  build_go_tool KYVERNO kyverno github.com/kyverno/kyverno "$kyverno_version" github.com/kyverno/kyverno/cmd/cli/kubectl-kyverno \
    "-X github.com/kyverno/kyverno/pkg/version.BuildVersion=v$kyverno_version" "about 6 minutes" "${replaces[@]}"
}

build_promtool() {
  from_path PROMTOOL promtool && return
  build_go_tool PROMTOOL promtool github.com/prometheus/prometheus "$prometheus_version" github.com/prometheus/prometheus/cmd/promtool "" "a few minutes"
}

# Redis, the broker the Python-runtime tests run Celery against: from PATH, or Debian's binary
# unpacked into the cache (`apt-get download` + `dpkg-deb -x`: no install scripts, nothing started).
build_redis() {
  if from_path REDIS_SERVER redis-server; then echo "REDIS_LIBRARY_PATH=" >> "$env_file.tmp"; return; fi
  local out="$cache/redis" bin
  bin="$out/root/usr/bin/redis-server"
  if [ ! -x "$bin" ]; then
    command -v apt-get >/dev/null 2>&1 || { say "redis-server is needed (install Redis, or run where Debian's apt-get can download it)"; exit 1; }
    say "unpacking Debian's redis-server (not on PATH nor in the cache; seconds)"
    rm -rf "$out" && mkdir -p "$out/debs"
    (cd "$out/debs" && { apt-get download redis-tools libjemalloc2 liblzf1 >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get download redis-tools libjemalloc2 liblzf1 >/dev/null 2>&1; }; } \
      || { say "could not download Debian's redis-tools (apt-get download)"; exit 1; })
    for deb in "$out"/debs/*.deb; do dpkg-deb -x "$deb" "$out/root"; done
    # Debian's redis-server is redis-check-rdb under another name (the binary picks its mode by argv[0]).
    ln -sf redis-check-rdb "$bin"
  fi
  echo "REDIS_SERVER=$bin" >> "$env_file.tmp"
  echo "REDIS_LIBRARY_PATH=$out/root/usr/lib/x86_64-linux-gnu" >> "$env_file.tmp"
}

# Debian packages unpacked into a folder of the cache (`apt-get download` + `dpkg-deb -x`: no install
# scripts, nothing started, nothing installed on the machine). $1 = folder, rest = packages.
unpack_debs() {
  local out=$1; shift
  rm -rf "$out" && mkdir -p "$out/debs" "$out/root"
  command -v apt-get >/dev/null 2>&1 || { say "Debian's apt-get is needed to download $* (or run on a Debian machine)"; exit 1; }
  (cd "$out/debs" && { apt-get download "$@" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get download "$@" >/dev/null 2>&1; }; } \
    || { say "could not download Debian's $* (apt-get download)"; exit 1; })
  local deb
  for deb in "$out"/debs/*.deb; do dpkg-deb --fsys-tarfile "$deb" | tar -x --keep-directory-symlink -C "$out/root"; done
}

# The node tier's runtime: Debian's containerd, runc, CNI plugins and registry (the mirror the
# kubelet pulls the apps' images from) and a pause program for pod sandboxes.
build_node_runtime() {
  local out="$cache/node"
  if [ ! -x "$out/runtime/root/usr/bin/containerd" ]; then
    say "unpacking Debian's containerd, runc, containernetworking-plugins and docker-registry (not in the cache; seconds)"
    unpack_debs "$out/runtime" containerd runc containernetworking-plugins docker-registry
  fi
  if [ ! -x "$out/pause/pause" ]; then
    need_go "the pod sandbox's pause program"
    say "building the pod sandbox's pause program (not in the cache; seconds)"
    mkdir -p "$out/pause/src"
    printf 'module cdk8s-python-service/pause\n\ngo 1.24\n' > "$out/pause/src/go.mod"
    # What registry.k8s.io/pause does: wait for a stop signal, reaping the pod's orphans meanwhile.
    cat > "$out/pause/src/main.go" <<'GO'
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for {
			var status syscall.WaitStatus
			if _, err := syscall.Wait4(-1, &status, 0, nil); err != nil {
				return
			}
		}
	}()
	<-stop
}
GO
    (cd "$out/pause/src" && logged pause go build -trimpath -ldflags "-s -w" -o "$out/pause/pause.tmp" .)
    mv "$out/pause/pause.tmp" "$out/pause/pause"
  fi
  {
    echo "NODE_RUNTIME_ROOT=$out/runtime/root"
    echo "NODE_PAUSE=$out/pause/pause"
  } >> "$env_file.tmp"
}

# The image tier's builder: buildah (from PATH, or Debian's, unpacked) and debootstrap. buildah re-executes
# itself for RUN steps with a cleaned environment, so LD_LIBRARY_PATH would not reach the copy that
# needs libgpgme: its run path names the unpacked libraries instead (absolute: $ORIGIN would resolve
# against /proc/self/exe).
build_image_builder() {
  local out="$cache/image-builder"
  if ! from_path BUILDAH buildah; then
    if [ ! -f "$out/.complete" ] || [ "$(cat "$out/.complete")" != "$out" ]; then
      say "unpacking Debian's buildah and debootstrap (not in the cache; seconds)"
      unpack_debs "$out" "${builder_debs[@]}"
      "$out/root/usr/bin/patchelf" --set-rpath "$out/root/usr/lib/x86_64-linux-gnu" "$out/root/usr/bin/buildah"
      echo "$out" > "$out/.complete"
    fi
    echo "BUILDAH=$out/root/usr/bin/buildah" >> "$env_file.tmp"
  elif [ ! -x "$out/root/usr/sbin/debootstrap" ]; then
    unpack_debs "$out" debootstrap
  fi
  echo "DEBOOTSTRAP=$out/root/usr/sbin/debootstrap" >> "$env_file.tmp"
  echo "DEBOOTSTRAP_DIR=$out/root/usr/share/debootstrap" >> "$env_file.tmp"
}

# The cluster tier's add-ons: CoreDNS and kube-router (Go modules), and the netfilter tools both use
# (from PATH when iptables and ipset are there; else Debian's, unpacked, on the legacy backend).
build_cluster_addons() {
  on_path_at_version COREDNS coredns -version "CoreDNS-$coredns_version" \
    || build_go_tool COREDNS coredns github.com/coredns/coredns "$coredns_version" github.com/coredns/coredns "" "about 2 minutes, 6 on contended cores"
  on_path_at_version KUBE_ROUTER kube-router --version "version v$kube_router_version," \
    || build_go_tool KUBE_ROUTER kube-router github.com/cloudnativelabs/kube-router/v2 "$kube_router_version" \
      github.com/cloudnativelabs/kube-router/v2/cmd/kube-router "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=v$kube_router_version" \
      "about 3 minutes, 8 on contended cores"
  if command -v iptables >/dev/null 2>&1 && command -v ipset >/dev/null 2>&1; then
    { echo "NETFILTER_BIN=$(dirname "$(command -v iptables)")"; echo "NETFILTER_LIBRARY_PATH="; echo "XTABLES_LIBDIR="; } >> "$env_file.tmp"
    return
  fi
  local out="$cache/netfilter"
  if [ ! -f "$out/.complete" ] || [ "$(cat "$out/.complete")" != "$out" ]; then
    say "unpacking Debian's iptables and ipset (not on PATH nor in the cache; seconds)"
    unpack_debs "$out" "${netfilter_debs[@]}"
    mkdir -p "$out/bin"
    local t
    for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
      ln -sf ../root/usr/sbin/xtables-legacy-multi "$out/bin/$t"
    done
    ln -sf ../root/usr/sbin/ipset "$out/bin/ipset"
    ln -sf ../root/usr/sbin/conntrack "$out/bin/conntrack"
    echo "$out" > "$out/.complete"
  fi
  {
    echo "NETFILTER_BIN=$out/bin"
    echo "NETFILTER_LIBRARY_PATH=$out/root/usr/lib/x86_64-linux-gnu"
    echo "XTABLES_LIBDIR=$out/root/usr/lib/x86_64-linux-gnu/xtables"
  } >> "$env_file.tmp"
}

# The operations add-ons the cluster tier runs (test/support/operations.ts): metrics-server and
# prometheus-operator as host processes, Prometheus and the operator's config reloader in the pod the
# operator creates. Prometheus keeps only Kubernetes service discovery: the rest is a third of its build.
build_operations_addons() {
  local common_version=github.com/prometheus/common/version
  on_path_at_version METRICS_SERVER metrics-server --version "v$metrics_server_version" \
    || build_go_tool METRICS_SERVER metrics-server sigs.k8s.io/metrics-server "$metrics_server_version" \
      sigs.k8s.io/metrics-server/cmd/metrics-server "-X k8s.io/client-go/pkg/version.gitVersion=v$metrics_server_version" \
      "about 2 minutes, 6 on contended cores"
  # Prometheus's Go module v0.MNN.P is its release M.NN.P.
  local release_minor=${prometheus_version#0.}; release_minor=${release_minor%%.*}
  local prometheus_release="${release_minor:0:1}.$((10#${release_minor:1})).${prometheus_version##*.}"
  on_path_at_version PROMETHEUS prometheus --version "version $prometheus_release " \
    || GO_TAGS=remove_all_sd,enable_kubernetes_sd build_go_tool PROMETHEUS prometheus github.com/prometheus/prometheus "$prometheus_version" \
      github.com/prometheus/prometheus/cmd/prometheus "-X $common_version.Version=$prometheus_release" "about 2 minutes, 5 on contended cores"
  # prometheus-operator's go.mod replaces its API and client modules by folders its download lacks:
  # the building module requires their published releases instead (go.mod ignores a dependency's replaces).
  local operator_module=github.com/prometheus-operator/prometheus-operator
  local operator_requires=("require $operator_module/pkg/apis/monitoring v$prometheus_operator_version" "require $operator_module/pkg/client v$prometheus_operator_version")
  on_path_at_version PROMETHEUS_OPERATOR operator --version "version $prometheus_operator_version " \
    || build_go_tool PROMETHEUS_OPERATOR operator "$operator_module" "$prometheus_operator_version" "$operator_module/cmd/operator" \
      "-X $common_version.Version=$prometheus_operator_version" "about 3 minutes, 7 on contended cores" "${operator_requires[@]}"
  on_path_at_version PROMETHEUS_CONFIG_RELOADER prometheus-config-reloader --version "version $prometheus_operator_version " \
    || build_go_tool PROMETHEUS_CONFIG_RELOADER prometheus-config-reloader "$operator_module" "$prometheus_operator_version" \
      "$operator_module/cmd/prometheus-config-reloader" "-X $common_version.Version=$prometheus_operator_version" "a minute" "${operator_requires[@]}"
  # The CRDs of the operator's release (Prometheus among them), from its module as it was downloaded.
  need_go "prometheus-operator's CRDs"
  local operator_dir
  operator_dir=$(cd "$(mktemp -d)" && go mod download -json "$operator_module@v$prometheus_operator_version" 2>/dev/null | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  [ -d "$operator_dir/example/prometheus-operator-crd" ] || { say "could not download $operator_module@v$prometheus_operator_version's CRDs from the Go module proxy"; exit 1; }
  echo "PROMETHEUS_OPERATOR_CRDS=$operator_dir/example/prometheus-operator-crd" >> "$env_file.tmp"
}

env_file="$cache/tools.env"
: > "$env_file.tmp"
need_etcd=0
for v in $k8s_versions; do build_k8s "$v"; done
echo "K8S_VERSIONS=$k8s_versions" >> "$env_file.tmp"
build_etcd
build_kyverno
build_promtool
build_redis
build_node_runtime
build_image_builder
build_cluster_addons
build_operations_addons
mv "$env_file.tmp" "$env_file"
[ $((SECONDS - started)) -lt 5 ] || say "done"
echo "$env_file"
