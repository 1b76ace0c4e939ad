#!/usr/bin/env bash
# Builds the Pulumi CLI (github.com/pulumi/pulumi/pkg/v3, main package cmd/pulumi), this project's
# Node.js language host (engine/go/languagehost) and the dynamic provider's plugin wrapper into a
# cache directory keyed by the CLI's version, once per machine:
#
#   ${XDG_CACHE_HOME:-~/.cache}/preloaded-cos-image/pulumi-<version>/bin/
#
# The Go module and build caches live beside it (.../preloaded-cos-image/go/{mod,build}), so a CI
# run on the same machine reuses them. A finished build is reused while engine/ is unchanged (a
# hash of it is stamped into the directory). The last line of standard output is the bin directory.
#
# Usage: bash engine/build-pulumi.sh [--check]
#   --check  builds nothing: prints the bin directory if it is built and current, else exits 3.
set -euo pipefail

engine_dir=$(cd "$(dirname "$0")" && pwd)
module_dir="$engine_dir/go"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/preloaded-cos-image"

say() { printf '[pulumi-engine] %s\n' "$*" >&2; }
fail() {
  printf '[pulumi-engine] error: %s\n' "$*" >&2
  exit 1
}

# The CLI's version is the one pkg/v3 is required at in our go.mod.
version=$(sed -n 's#^[[:space:]]*github.com/pulumi/pulumi/pkg/v3 \(v[0-9][^ ]*\).*#\1#p' "$module_dir/go.mod" | head -n 1)
[ -n "$version" ] || fail "cannot read the github.com/pulumi/pulumi/pkg/v3 version from $module_dir/go.mod"
target="$cache_root/pulumi-$version"
bin_dir="$target/bin"

# What the build is made from: our module, the language host, the wrapper and this script.
source_hash=$(cd "$engine_dir" && find . -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \
  -o -name 'pulumi-resource-pulumi-nodejs' -o -name 'build-pulumi.sh' \) -print0 |
  LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)

current() {
  [ -x "$bin_dir/pulumi" ] && [ -x "$bin_dir/pulumi-language-nodejs" ] &&
    [ -x "$bin_dir/pulumi-resource-pulumi-nodejs" ] &&
    [ "$(cat "$target/source-hash" 2>/dev/null)" = "$source_hash" ]
}

if [ "${1:-}" = "--check" ]; then
  if current; then
    printf '%s\n' "$bin_dir"
    exit 0
  fi
  exit 3
fi

if current; then
  say "Pulumi CLI $version already built in $bin_dir"
  printf '%s\n' "$bin_dir"
  exit 0
fi

command -v go >/dev/null 2>&1 ||
  fail "the Go toolchain is not on the PATH: install Go 1.26.6 or later (https://go.dev/doc/install, or Debian's golang-go if it is recent enough), then run this again"
# A Go older than the go.mod's line would try to download a newer toolchain, which cannot work
# offline; say so plainly instead.
go_version=$(go env GOVERSION)
required=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$module_dir/go.mod")
if [ "$(printf '%s\n%s\n' "go$required" "$go_version" | sort -V | head -n 1)" != "go$required" ]; then
  fail "$go_version is too old: the Pulumi CLI $version needs Go $required or later"
fi
command -v node >/dev/null 2>&1 || fail "node is not on the PATH: the language host and the dynamic provider run Node.js 22 or later"

mkdir -p "$cache_root/go/mod" "$cache_root/go/build" "$target"
export GOMODCACHE="$cache_root/go/mod" GOCACHE="$cache_root/go/build" GOTOOLCHAIN=local GOFLAGS=-mod=readonly

# One build at a time per machine (CI and a test tier may start it together).
exec 9>"$target.lock"
flock 9
if current; then
  say "Pulumi CLI $version was built meanwhile in $bin_dir"
  printf '%s\n' "$bin_dir"
  exit 0
fi

started=$(date +%s)
say "building the Pulumi CLI $version and its Node.js language host into $bin_dir"
say "first build on a machine: downloads about 1.6 GB of modules and compiles for many minutes on 2 cores; later runs reuse $cache_root/go"

say "downloading modules (GOPROXY=$(go env GOPROXY))..."
if ! (cd "$module_dir" && go mod download) 2>"$target/download.log"; then
  tail -n 20 "$target/download.log" >&2
  fail "cannot download the Go modules: is the Go module proxy reachable (GOPROXY=$(go env GOPROXY))? The full log is $target/download.log"
fi
say "modules ready after $(($(date +%s) - started)) s"

staging=$(mktemp -d "$target/staging.XXXXXX")
trap 'rm -rf "$staging"' EXIT
build() {
  local what=$1 out=$2 package=$3 ldflags=$4
  say "compiling $what..."
  if ! (cd "$module_dir" && nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$staging/$out" "$package") 2>"$target/build-$out.log"; then
    tail -n 30 "$target/build-$out.log" >&2
    fail "go build of $package failed; the full log is $target/build-$out.log"
  fi
  say "$what compiled after $(($(date +%s) - started)) s"
}
build "the Pulumi CLI" pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
  "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version"
build "the Node.js language host" pulumi-language-nodejs ./languagehost "-X main.version=$version"
install -m 0755 "$engine_dir/pulumi-resource-pulumi-nodejs" "$staging/pulumi-resource-pulumi-nodejs"

rm -rf "$bin_dir"
mv "$staging" "$bin_dir"
trap - EXIT
printf '%s\n' "$source_hash" >"$target/source-hash"
"$bin_dir/pulumi" version >/dev/null 2>&1 || fail "the built CLI does not run: $bin_dir/pulumi version failed"
say "built in $(($(date +%s) - started)) s: $("$bin_dir/pulumi" version 2>/dev/null)"
printf '%s\n' "$bin_dir"
