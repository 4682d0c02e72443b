#!/usr/bin/env bash
# Make sure the installed `mediasoup` npm package has a mediasoup-worker binary that
# runs on this machine. Called by scripts/setup.sh after `npm install` (which ran
# with the worker build deferred). In order:
#
#   1. a working worker is already in node_modules      -> keep it (fast re-runs)
#   2. a worker we built before is in the local cache   -> copy it back
#   3. mediasoup's prebuilt worker can be downloaded    -> use it (machines with internet)
#   4. otherwise build the worker from mediasoup's own sources against Debian's
#      libraries: meson would download every C/C++ dependency, so each
#      worker/subprojects/<dir> gets a tiny "system stub" meson project that maps
#      mediasoup's variables onto Debian -dev packages via pkg-config.
#
# The system-library build needs ONE source fix (the DTLS crash, see
# apply_dtls_fix below); it is applied, checked and recorded.
#
# Environment knobs:
#   LECTERN_MEDIASOUP_BUILD = auto (default) | system (skip the prebuilt attempt)
#   LECTERN_CACHE_DIR       = where built workers are cached (default ~/.cache/lectern)
#   FORCE_REBUILD=1         = ignore an existing worker and the cache
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
log() { printf '\033[1;34m[mediasoup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[mediasoup] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }

cd "$ROOT"
MS_DIR="$(node -p "require('path').dirname(require.resolve('mediasoup/package.json'))" 2>/dev/null)" \
  || die "mediasoup is not installed (run npm install first)"
MS_VERSION="$(node -p "require('$MS_DIR/package.json').version")"
WORKER_DIR="$MS_DIR/worker"
WORKER_BIN="$WORKER_DIR/out/Release/mediasoup-worker"
BUILD_INFO="$WORKER_DIR/out/Release/lectern-build.json"
MODE="${LECTERN_MEDIASOUP_BUILD:-auto}"

worker_ok() {
  # mediasoup-worker started without MEDIASOUP_VERSION in its env exits with 41.
  [ -x "$1" ] || return 1
  local rc=0
  env -i "$1" >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 41 ]
}

# The cache key covers everything that shapes the binary: mediasoup version, this
# script (stubs + fix), the Debian library versions it links against, the arch.
cache_key() {
  local libs
  libs="$(dpkg-query -W -f='${Package}=${Version} ' libssl-dev libuv1-dev libsrtp2-dev \
    libusrsctp-dev libabsl-dev libflatbuffers-dev 2>/dev/null || true)"
  printf '%s|%s|%s|%s' "$MS_VERSION" "$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)" "$libs" "$(uname -m)" \
    | sha256sum | cut -c1-16
}
CACHE_DIR="${LECTERN_CACHE_DIR:-$HOME/.cache/lectern}/mediasoup-worker/$MS_VERSION-$(cache_key)"

if [ -n "${MEDIASOUP_WORKER_BIN:-}" ] && [[ "$MEDIASOUP_WORKER_BIN" != __deferred* ]]; then
  worker_ok "$MEDIASOUP_WORKER_BIN" || die "MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN does not run"
  log "using MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN"
  exit 0
fi

if [ "${FORCE_REBUILD:-0}" != "1" ]; then
  if worker_ok "$WORKER_BIN"; then
    log "mediasoup $MS_VERSION: working worker present ($(cat "$BUILD_INFO" 2>/dev/null || echo prebuilt))"
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
      echo '{"source":"prebuilt"}' > "$BUILD_INFO"
      exit 0
    fi
    log "no prebuilt worker: building against Debian's system libraries"
  fi
fi

# --- system-library build ------------------------------------------------------
for pc in libuv openssl libsrtp2 usrsctp flatbuffers absl_flat_hash_map; do
  pkg-config --exists "$pc" || die "pkg-config cannot find $pc (Debian build packages missing?)"
done
command -v flatc >/dev/null || die "flatc not found (Debian package flatbuffers-compiler)"

STUB_MARK=".lectern-system-stub"

stub_meson_build() { # $1 = wrap name
  case "$1" in
    openssl) cat <<'EOF'
project('openssl', 'c')
libcrypto_dep = dependency('libcrypto', version: '>=3.0.0')
libssl_dep = dependency('libssl', version: '>=3.0.0')
openssl_dep = declare_dependency(dependencies: [libssl_dep, libcrypto_dep])
# Only used by link_whole of libmediasoup-worker, which npm's build does not make.
libcrypto_lib = static_library('ms_stub_crypto', 'stub.c')
libssl_lib = static_library('ms_stub_ssl', 'stub.c')
EOF
    ;;
    libuv) cat <<'EOF'
project('libuv', 'c')
libuv_dep = dependency('libuv', version: '>=1.44.0')
libuv = static_library('ms_stub_uv', 'stub.c')
EOF
    ;;
    libsrtp2) cat <<'EOF'
project('libsrtp2', 'c')
_srtp = dependency('libsrtp2', version: '>=2.4.0')
# mediasoup includes <srtp.h>; Debian installs it as <srtp2/srtp.h>.
libsrtp2_dep = declare_dependency(dependencies: _srtp,
  compile_args: ['-I' + _srtp.get_variable(pkgconfig: 'includedir') / 'srtp2'])
libsrtp2 = static_library('ms_stub_srtp2', 'stub.c')
EOF
    ;;
    usrsctp) cat <<'EOF'
project('usrsctp', 'c')
usrsctp_dep = dependency('usrsctp')
usrsctp = static_library('ms_stub_usrsctp', 'stub.c')
EOF
    ;;
    abseil-cpp) cat <<'EOF'
project('abseil-cpp', 'c', 'cpp')
absl_container_dep = declare_dependency(dependencies: [
  dependency('absl_flat_hash_map'), dependency('absl_flat_hash_set'),
  dependency('absl_node_hash_map'), dependency('absl_node_hash_set'),
  dependency('absl_btree'), dependency('absl_inlined_vector'), dependency('absl_fixed_array')])
absl_strings_dep = declare_dependency(dependencies: [dependency('absl_strings'), dependency('absl_str_format')])
absl_types_dep = declare_dependency(dependencies: [dependency('absl_optional'), dependency('absl_variant'), dependency('absl_span')])
absl_container_lib = static_library('ms_stub_absl', 'stub.c')
EOF
    ;;
    flatbuffers) cat <<'EOF'
project('flatbuffers', 'c', 'cpp')
flatbuffers_dep = dependency('flatbuffers')
flatbuffers_lib = static_library('ms_stub_flatbuffers', 'stub.c')
flatc = find_program('flatc')
EOF
    ;;
    catch2) cat <<'EOF'
project('catch2', 'cpp')
# Only the worker's own unit tests use Catch2; npm's build does not make them.
catch2_dep = declare_dependency()
catch2_with_main_dep = declare_dependency()
EOF
    ;;
    *) return 1 ;;
  esac
}

stub_options() { # options mediasoup passes to these subprojects in default_options
  case "$1" in
    libuv) printf "option('build_tests', type: 'boolean', value: false)\noption('build_benchmarks', type: 'boolean', value: false)\n" ;;
    libsrtp2) printf "option('crypto-library', type: 'string', value: 'openssl')\noption('crypto-library-kdf', type: 'feature', value: 'disabled')\noption('tests', type: 'feature', value: 'disabled')\n" ;;
    usrsctp) printf "option('sctp_build_programs', type: 'boolean', value: false)\n" ;;
  esac
}

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
DTLS_GOOD='(operationType \& BIO_CB_RETURN) ? static_cast<long>(ret) : 1'
apply_dtls_fix() {
  if grep -qF '(operationType & BIO_CB_RETURN) ? static_cast<long>(ret) : 1' "$DTLS_FILE"; then
    log "DTLS BIO fix already applied"
  elif grep -qF "$DTLS_BAD" "$DTLS_FILE"; then
    sed -i "s/(operationType == BIO_CB_RETURN) ? static_cast<long>(ret) : 1/$DTLS_GOOD/" "$DTLS_FILE"
    grep -qF '(operationType & BIO_CB_RETURN) ? static_cast<long>(ret) : 1' "$DTLS_FILE" \
      || die "DTLS BIO fix did not apply to $DTLS_FILE"
    log "DTLS BIO fix applied to $DTLS_FILE"
  else
    die "mediasoup $MS_VERSION: onSslBioOut() not as expected in $DTLS_FILE; check the DTLS/kTLS fix by hand before building against system OpenSSL"
  fi
}

log "creating system-library stub subprojects"
meson_extra_args="--wrap-mode=nodownload"
for wrap in "$WORKER_DIR"/subprojects/*.wrap; do
  name="$(basename "$wrap" .wrap)"
  dir="$(sed -n 's/^directory *= *//p' "$wrap" | head -n1 | tr -d '[:space:]')"
  [ -n "$dir" ] || dir="$name"
  target="$WORKER_DIR/subprojects/$dir"
  case "$name:$dir" in libsrtp2:*-3.0*) name=libsrtp3 ;; esac
  case "$name" in
    wingetopt) continue ;;
    liburing)
      grep -q "ms_disable_liburing" "$WORKER_DIR/meson_options.txt" && \
        meson_extra_args="$meson_extra_args -Dms_disable_liburing=true"
      continue ;;
    libsrtp3|unordered-dense|nlohmann_json)
      die "mediasoup $MS_VERSION needs subproject '$name', which no Debian package provides; the system-library build supports 3.13.x up to 3.13.16" ;;
  esac
  if [ -e "$target" ] && [ ! -f "$target/$STUB_MARK" ]; then
    log "  $dir exists and is not ours, leaving it alone"
    continue
  fi
  mkdir -p "$target"
  stub_meson_build "$name" > "$target/meson.build" || die "no system stub for subproject '$name'"
  opts="$(stub_options "$name")"
  [ -z "$opts" ] || printf '%s\n' "$opts" > "$target/meson_options.txt"
  echo '/* empty: the real library comes from the Debian package via pkg-config */' > "$target/stub.c"
  touch "$target/$STUB_MARK"
done

apply_dtls_fix

# mediasoup's own postinstall builds the worker (meson + ninja from PyPI) and then
# removes build artefacts except the binary.
export MEDIASOUP_SKIP_WORKER_PREBUILT_DOWNLOAD=1
export MESON_VERSION="${MESON_VERSION:-1.12.1}"
export NINJA_VERSION="${NINJA_VERSION:-1.13.2}"
export MESON_ARGS="${MESON_ARGS:-} $meson_extra_args"
export PIP_DISABLE_PIP_VERSION_CHECK=1
unset MEDIASOUP_WORKER_BIN
rm -rf "$WORKER_DIR/out/Release/build"

log "building mediasoup-worker $MS_VERSION (takes ~3 min on 2 cores)"
start=$(date +%s)
(cd "$MS_DIR" && node npm-scripts.mjs postinstall)
worker_ok "$WORKER_BIN" || die "mediasoup-worker was not produced or does not run ($WORKER_BIN)"
libs="$(ldd "$WORKER_BIN" | awk '/=>/{print $1}' | grep -E 'uv|ssl|crypto|srtp|sctp' | tr '\n' ' ')"
printf '{"source":"system-libraries","dtlsBioFix":true,"mediasoup":"%s","linked":"%s"}\n' \
  "$MS_VERSION" "${libs% }" > "$BUILD_INFO"
log "built in $(( $(date +%s) - start )) s, linked against: $libs"

mkdir -p "$CACHE_DIR"
cp "$WORKER_BIN" "$BUILD_INFO" "$CACHE_DIR/"
log "cached in $CACHE_DIR"
