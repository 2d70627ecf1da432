# CAF 0.17.6 built with ThreadSanitizer, for scripts/test.sh --sanitize=thread.
# Debian's libcaf_core/libcaf_io are not instrumented: TSan cannot see their
# synchronization, and every message between actors looks like a race. This
# builds the same CAF release from Debian's source package, once, into a
# git-ignored folder; the normal build keeps Debian's binary CAF.
# shellcheck shell=bash

CAF_TSAN_VERSION=0.17.6
CAF_TSAN_DEBIAN_VERSION=0.17.6-2.1  # the source of bookworm's libcaf-dev

# build_caf_tsan PREFIX: installs the sanitized CAF (headers and libcaf_core,
# libcaf_io) into PREFIX unless it is already there. Takes about 4 minutes
# on 2 cores the first time.
build_caf_tsan() {
  local prefix="$1"
  local stamp="${prefix}/.built-${CAF_TSAN_DEBIAN_VERSION}-tsan-openssl"
  [[ -f "$stamp" ]] && return 0
  local work="${prefix}.work"
  rm -rf "$work" "$prefix"
  mkdir -p "$work/apt/lists/partial"

  # Debian's source index, in an apt configuration of our own: the system's
  # sources stay as they are, and no root is needed. apt checks the index
  # against the archive's signed Release file.
  log "fetching CAF ${CAF_TSAN_VERSION} from Debian's source package ${CAF_TSAN_DEBIAN_VERSION}"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" \
    > "$work/apt/sources.list"
  local apt_opts=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
                  -o "Dir::State::Lists=$work/apt/lists" -o Debug::NoLocking=1)
  apt-get "${apt_opts[@]}" update -qq
  # The upstream tarball, checked against its SHA-256 in the signed index.
  # Only the upstream release is built: Debian's packaging tarball (rules,
  # and any patch in it) is not fetched; its configuration is repeated below.
  local line url sum
  line="$(cd "$work" && apt-get "${apt_opts[@]}" source --print-uris -qq \
            "actor-framework=${CAF_TSAN_DEBIAN_VERSION}" | grep "actor-framework_${CAF_TSAN_VERSION}.orig.tar.gz")"
  url="$(echo "$line" | awk '{ gsub("\x27", "", $1); print $1 }')"
  sum="$(echo "$line" | awk '{ sub("SHA256:", "", $4); print $4 }')"
  [[ -n "$url" && -n "$sum" ]] || { log "no orig tarball for actor-framework ${CAF_TSAN_DEBIAN_VERSION}"; return 1; }
  curl -fsS --retry 3 -m 300 -o "$work/caf.tar.gz" "$url"
  echo "${sum}  $work/caf.tar.gz" | sha256sum -c --quiet -
  tar -xzf "$work/caf.tar.gz" -C "$work"
  local src="$work/actor-framework-${CAF_TSAN_VERSION}"
  # Debian's one change to the headers it installs (found by comparing them
  # with /usr/include/caf): the include GCC 11 and later need.
  sed -i 's|^#include <cstring>$|#include <cstring>\n#include <limits>|' \
    "$src/libcaf_io/caf/io/network/receive_buffer.hpp"

  # Core and io only (what the project links), the configuration of Debian's
  # build (build_config.hpp: log level QUIET, no runtime checks), with -O1 -g.
  log "building CAF ${CAF_TSAN_VERSION} with -fsanitize=thread into ${prefix#"${EVENTCORE_ROOT}/"}"
  cmake -S "$src" -B "$work/build" -G Ninja \
    -DCMAKE_BUILD_TYPE=None -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib \
    -DCMAKE_CXX_FLAGS="-fsanitize=thread -O1 -g -fno-omit-frame-pointer -w" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
    -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes -DCAF_NO_OPENCL=yes \
    -DCAF_NO_PYTHON=yes -DCAF_NO_TOOLS=yes -DCAF_NO_SUMMARY=yes -DCAF_NO_COMPILER_CHECK=yes \
    -DCAF_LOG_LEVEL=QUIET >"$work/configure.log" 2>&1 || { cat "$work/configure.log" >&2; return 1; }
  cmake --build "$work/build" -- -j"$(nproc)" >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; return 1; }
  cmake --install "$work/build" >/dev/null
  touch "$stamp"
  rm -rf "$work"
}
