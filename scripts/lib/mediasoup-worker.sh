#!/usr/bin/env bash
# Make sure the installed `mediasoup` npm package has a mediasoup-worker binary that
# runs on this machine. Called by scripts/setup.sh after `npm install` (which ran
# with the worker build deferred). In order:
#
#   1. a working worker built from the same inputs is in node_modules -> keep it
#   2. a worker built from the same inputs is in the local cache      -> copy it back
#   3. mediasoup's prebuilt worker can be downloaded                   -> use it
#   4. otherwise build the worker from the npm package's own sources: meson would
#      download every C/C++ dependency, so each worker/subprojects/<dir> is filled
#      before the build with either
#        - a tiny "system stub" meson project mapping mediasoup's variables onto a
#          Debian -dev package through pkg-config (OpenSSL, libuv, abseil), or
#        - a vendored source from third_party/ (libsrtp 3 with OpenSSL crypto,
#          unordered_dense, flatbuffers headers + a flatc of the same version),
#          checksum-verified first.
#      and mediasoup's own postinstall (meson + ninja from PyPI) builds it.
#
# The build needs ONE source fix (the DTLS crash, see apply_dtls_fix below); it is
# applied, checked and recorded in worker/out/Release/lectern-build.json.
#
# "Same inputs" = the cache key below: mediasoup's version, this script, the
# third_party checksums, the Debian library versions, the compiler and the arch. Any
# change rebuilds.
#
# Environment knobs:
#   LECTERN_MEDIASOUP_BUILD = auto (default) | source (skip the prebuilt attempt)
#   LECTERN_CACHE_DIR       = where built workers are cached (default ~/.cache/lectern)
#   FORCE_REBUILD=1         = ignore an existing worker and the cache
set -euo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
log() { printf '\033[1;34m[mediasoup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[mediasoup] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }

cd "$ROOT"
source "$ROOT/scripts/lib/node-env.sh"
MS_DIR="$(node scripts/lib/mediasoup-dir.mjs)" || die "mediasoup is not installed (run npm install first)"
MS_VERSION="$(node -p "require('$MS_DIR/package.json').version")"
WORKER_DIR="$MS_DIR/worker"
WORKER_BIN="$WORKER_DIR/out/Release/mediasoup-worker"
BUILD_INFO="$WORKER_DIR/out/Release/lectern-build.json"
THIRD_PARTY="$ROOT/third_party"
MODE="${LECTERN_MEDIASOUP_BUILD:-auto}"
CACHE_ROOT="${LECTERN_CACHE_DIR:-$HOME/.cache/lectern}"

worker_ok() {
  # mediasoup-worker started without MEDIASOUP_VERSION in its env exits with 41.
  [ -x "$1" ] || return 1
  local rc=0
  env -i "$1" >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 41 ]
}

(cd "$THIRD_PARTY" && sha256sum --check --quiet SHA256SUMS) \
  || die "third_party/ archives do not match third_party/SHA256SUMS"

# Everything that shapes a source-built binary.
cache_key() {
  {
    echo "mediasoup=$MS_VERSION"
    sha256sum "${BASH_SOURCE[0]}" | cut -c1-64
    cat "$THIRD_PARTY/SHA256SUMS"
    dpkg-query -W -f='${Package}=${Version}\n' libssl-dev libuv1-dev libabsl-dev 2>/dev/null || true
    c++ --version 2>/dev/null | head -n1
    uname -m
  } | sha256sum | cut -c1-16
}
KEY="$(cache_key)"
CACHE_DIR="$CACHE_ROOT/mediasoup-worker/$MS_VERSION-$KEY"

# A worker in node_modules is kept only if it was made from these inputs (or is
# mediasoup's prebuilt one for this version): a changed input rebuilds.
current_worker_matches() {
  worker_ok "$WORKER_BIN" && [ -f "$BUILD_INFO" ] || return 1
  grep -q "\"cacheKey\":\"$KEY\"" "$BUILD_INFO" \
    || grep -q "\"source\":\"prebuilt\",\"mediasoup\":\"$MS_VERSION\"" "$BUILD_INFO"
}

if [ -n "${MEDIASOUP_WORKER_BIN:-}" ] && [[ "$MEDIASOUP_WORKER_BIN" != __deferred* ]]; then
  worker_ok "$MEDIASOUP_WORKER_BIN" || die "MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN does not run"
  log "using MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN"
  exit 0
fi

if [ "${FORCE_REBUILD:-0}" != "1" ]; then
  if current_worker_matches; then
    log "mediasoup $MS_VERSION: working worker present ($(cat "$BUILD_INFO"))"
    exit 0
  fi
  if worker_ok "$CACHE_DIR/mediasoup-worker"; then
    mkdir -p "$(dirname "$WORKER_BIN")"
    cp "$CACHE_DIR/mediasoup-worker" "$WORKER_BIN"
    cp "$CACHE_DIR/lectern-build.json" "$BUILD_INFO"
    log "mediasoup $MS_VERSION: worker restored from cache $CACHE_DIR"
    exit 0
  fi
  if [ "$MODE" = "auto" ]; then
    log "mediasoup $MS_VERSION: trying the prebuilt worker download"
    if node "$ROOT/scripts/lib/fetch-prebuilt-worker.mjs" "$MS_DIR" 20000; then
      printf '{"source":"prebuilt","mediasoup":"%s"}\n' "$MS_VERSION" > "$BUILD_INFO"
      exit 0
    fi
    log "no prebuilt worker: building from the package's sources"
  fi
fi

# --- source build ------------------------------------------------------------------
for pc in libuv openssl absl_optional absl_strings; do
  pkg-config --exists "$pc" || die "pkg-config cannot find $pc (Debian build packages missing?)"
done
command -v cmake >/dev/null || die "cmake not found (needed to build flatc)"

STUB_MARK=".lectern-subproject"
SUBPROJECTS="$WORKER_DIR/subprojects"

wrap_value() { # $1 = wrap name, $2 = key
  sed -n "s/^$2 *= *//p" "$SUBPROJECTS/$1.wrap" | head -n1 | tr -d '[:space:]'
}

# A subproject directory is (re)made only if it is ours or absent.
fresh_subproject_dir() { # $1 = directory name
  local target="$SUBPROJECTS/$1"
  if [ -e "$target" ] && [ ! -f "$target/$STUB_MARK" ]; then
    die "$target exists and was not made by this script; remove it and run the setup again"
  fi
  rm -rf "$target"
  mkdir -p "$target"
  echo "made by scripts/lib/mediasoup-worker.sh" > "$target/$STUB_MARK"
  printf '%s' "$target"
}

unpack_third_party() { # $1 = archive, $2 = target directory
  tar -xzf "$THIRD_PARTY/$1" -C "$2" --strip-components=1
}

system_stub() { # $1 = wrap name: meson.build of a stub backed by a Debian package
  case "$1" in
    openssl) cat <<'EOF'
project('openssl', 'c')
libcrypto_dep = dependency('libcrypto', version: '>=3.0.0')
libssl_dep = dependency('libssl', version: '>=3.0.0')
openssl_dep = declare_dependency(dependencies: [libssl_dep, libcrypto_dep])
# mediasoup link_whole()s these; the real libraries come through openssl_dep.
libcrypto_lib = static_library('lectern_stub_crypto', 'stub.c')
libssl_lib = static_library('lectern_stub_ssl', 'stub.c')
EOF
    ;;
    libuv) cat <<'EOF'
project('libuv', 'c')
libuv_dep = dependency('libuv', version: '>=1.44.0')
libuv = static_library('lectern_stub_uv', 'stub.c')
EOF
    ;;
    abseil-cpp) cat <<'EOF'
project('abseil-cpp', 'c', 'cpp')
# Only deps/libwebrtc (bandwidth estimation) uses abseil: optional, string_view,
# make_unique, match. Debian's 20220623 has them all.
absl_container_dep = declare_dependency(dependencies: [
  dependency('absl_flat_hash_map'), dependency('absl_flat_hash_set'), dependency('absl_inlined_vector')])
absl_strings_dep = declare_dependency(dependencies: [dependency('absl_strings'), dependency('absl_str_format')])
absl_types_dep = declare_dependency(dependencies: [dependency('absl_optional'), dependency('absl_variant'), dependency('absl_span')])
absl_container_lib = static_library('lectern_stub_absl', 'stub.c')
EOF
    ;;
    *) return 1 ;;
  esac
}

stub_options() { # options mediasoup passes to these subprojects in default_options
  case "$1" in
    libuv) printf "option('build_tests', type: 'boolean', value: false)\noption('build_benchmarks', type: 'boolean', value: false)\n" ;;
  esac
}

# flatc must be the same version as the flatbuffers headers the worker compiles
# with (Debian's 2.0.8 is too old). Built once per archive checksum and cached.
build_flatc() {
  local sum dir src
  sum="$(sha256sum "$THIRD_PARTY/flatbuffers/flatbuffers-24.3.25.tar.gz" | cut -c1-16)"
  dir="$CACHE_ROOT/flatc/24.3.25-$sum"
  if [ -x "$dir/flatc" ] && "$dir/flatc" --version | grep -q '24.3.25'; then
    printf '%s' "$dir/flatc"; return
  fi
  log "building flatc 24.3.25 (cmake, ~2 min)" >&2
  src="$(mktemp -d)"
  unpack_third_party flatbuffers/flatbuffers-24.3.25.tar.gz "$src"
  if ! { cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DFLATBUFFERS_BUILD_TESTS=OFF \
           -DFLATBUFFERS_BUILD_FLATLIB=OFF -DFLATBUFFERS_BUILD_FLATHASH=OFF -DFLATBUFFERS_BUILD_FLATC=ON \
         && cmake --build "$src/build" --target flatc -j "$(nproc)"; } >"$src/cmake.log" 2>&1; then
    tail -n 40 "$src/cmake.log" >&2
    die "building flatc failed (log above)"
  fi
  mkdir -p "$dir"
  cp "$src/build/flatc" "$dir/flatc"
  rm -rf "$src"
  "$dir/flatc" --version | grep -q '24.3.25' || die "the flatc just built does not report 24.3.25"
  printf '%s' "$dir/flatc"
}

log "filling worker/subprojects (system stubs + third_party sources)"
for wrap in "$SUBPROJECTS"/*.wrap; do
  name="$(basename "$wrap" .wrap)"
  dir="$(wrap_value "$name" directory)"
  [ -n "$dir" ] || dir="$name"
  case "$name" in
    wingetopt|catch2) continue ;;  # Windows only / only the worker's own unit tests
    openssl|libuv|abseil-cpp)
      target="$(fresh_subproject_dir "$dir")"
      system_stub "$name" > "$target/meson.build"
      opts="$(stub_options "$name")"
      [ -z "$opts" ] || printf '%s\n' "$opts" > "$target/meson_options.txt"
      echo '/* empty: the real library comes from the Debian package via pkg-config */' > "$target/stub.c"
      log "  $name -> Debian package (stub in subprojects/$dir)"
      ;;
    libsrtp3)
      # libsrtp's own meson.build; mediasoup passes crypto-library=openssl.
      target="$(fresh_subproject_dir "$dir")"
      unpack_third_party libsrtp/libsrtp-11bec2b.tar.gz "$target"
      log "  libsrtp3 -> third_party/libsrtp (OpenSSL crypto) in subprojects/$dir"
      ;;
    unordered-dense)
      target="$(fresh_subproject_dir "$dir")"
      unpack_third_party unordered_dense/unordered_dense-4.8.1.tar.gz "$target"
      cp -r "$SUBPROJECTS/packagefiles/$(wrap_value "$name" patch_directory)/." "$target/"
      log "  unordered-dense -> third_party/unordered_dense in subprojects/$dir"
      ;;
    flatbuffers)
      [ "$dir" = "flatbuffers-24.3.25" ] || die "mediasoup $MS_VERSION wants $dir; third_party has flatbuffers 24.3.25"
      flatc="$(build_flatc)"
      target="$(fresh_subproject_dir "$dir")"
      unpack_third_party flatbuffers/flatbuffers-24.3.25.tar.gz "$target"
      cat > "$target/meson.build" <<EOF
project('flatbuffers', 'c', 'cpp', version: '24.3.25')
# The worker uses the header-only runtime and flatc; nothing else is built.
flatbuffers_dep = declare_dependency(include_directories: include_directories('include'))
flatbuffers_lib = static_library('lectern_stub_flatbuffers', 'lectern-stub.c')
meson.override_find_program('flatc', find_program('$flatc'))
EOF
      echo '/* empty: flatbuffers is header-only for the worker */' > "$target/lectern-stub.c"
      log "  flatbuffers -> third_party/flatbuffers headers + $flatc"
      ;;
    *) die "mediasoup $MS_VERSION needs subproject '$name', which this script does not provide (supported: mediasoup 3.27.x)" ;;
  esac
done

# The DTLS fix. mediasoup's BIO callback onSslBioOut() returns OpenSSL's `ret` only
# when `operationType == BIO_CB_RETURN`, but OpenSSL 3 calls it with
# `BIO_CB_RETURN | op`. Every ctrl query then answers 1, including
# BIO_CTRL_GET_KTLS_SEND: Debian's libssl is built with kernel-TLS support, so it
# believes kTLS is on and writes the first DTLS record through a NULL buffer
# (SIGSEGV in the worker at the first handshake with any real WebRTC peer).
# Testing the bit is what the callback meant to do. Prebuilt workers link their
# own OpenSSL without kTLS and never reach this path.
DTLS_FILE="$WORKER_DIR/src/RTC/DtlsTransport.cpp"
DTLS_BAD='(operationType == BIO_CB_RETURN) ? static_cast<long>(ret) : 1'
DTLS_GOOD='(operationType & BIO_CB_RETURN) ? static_cast<long>(ret) : 1'
apply_dtls_fix() {
  if grep -qF "$DTLS_GOOD" "$DTLS_FILE"; then
    log "DTLS BIO fix already applied"
  elif grep -qF "$DTLS_BAD" "$DTLS_FILE"; then
    sed -i "s/(operationType == BIO_CB_RETURN) ? static_cast<long>(ret) : 1/(operationType \& BIO_CB_RETURN) ? static_cast<long>(ret) : 1/" "$DTLS_FILE"
    grep -qF "$DTLS_GOOD" "$DTLS_FILE" || die "DTLS BIO fix did not apply to $DTLS_FILE"
    log "DTLS BIO fix applied to $DTLS_FILE"
  else
    die "mediasoup $MS_VERSION: onSslBioOut() not as expected in $DTLS_FILE; check the DTLS/kTLS fix by hand before building against Debian's OpenSSL"
  fi
}
apply_dtls_fix

# mediasoup's own postinstall builds the worker (meson + ninja from PyPI, flatc
# generation first) and then removes build artefacts except the binary.
export MEDIASOUP_SKIP_WORKER_PREBUILT_DOWNLOAD=1
export MESON_VERSION="${MESON_VERSION:-1.12.1}"
export NINJA_VERSION="${NINJA_VERSION:-1.13.2}"
export MESON_ARGS="${MESON_ARGS:-} --wrap-mode=nodownload"
export PIP_DISABLE_PIP_VERSION_CHECK=1
unset MEDIASOUP_WORKER_BIN
rm -rf "$WORKER_DIR/out/Release/build"

BUILD_LOG="$ROOT/.tools/mediasoup-worker-build.log"
mkdir -p "$(dirname "$BUILD_LOG")"
log "building mediasoup-worker $MS_VERSION (~5 min on 2 cores; log: ${BUILD_LOG#"$ROOT/"})"
start=$(date +%s)
if ! (cd "$MS_DIR" && node npm-scripts.mjs postinstall) >"$BUILD_LOG" 2>&1; then
  tail -n 60 "$BUILD_LOG" >&2
  die "the worker build failed (last lines above, whole log in $BUILD_LOG)"
fi
worker_ok "$WORKER_BIN" || die "mediasoup-worker was not produced or does not run ($WORKER_BIN); see $BUILD_LOG"
libs="$(ldd "$WORKER_BIN" | awk '/=>/{print $1}' | grep -E 'uv|ssl|crypto|srtp|absl' | tr '\n' ' ')"
if ldd "$WORKER_BIN" | grep -q 'libsrtp2'; then die "the worker links Debian's libsrtp2; expected the vendored libsrtp 3"; fi
printf '{"source":"source-build","mediasoup":"%s","cacheKey":"%s","dtlsBioFix":true,"libsrtp":"third_party/libsrtp (OpenSSL crypto)","linked":"%s"}\n' \
  "$MS_VERSION" "$KEY" "${libs% }" > "$BUILD_INFO"
log "built in $(( $(date +%s) - start )) s, dynamically linked: $libs"

mkdir -p "$CACHE_DIR"
cp "$WORKER_BIN" "$BUILD_INFO" "$CACHE_DIR/"
log "cached in $CACHE_DIR"
