# Shared by tools/demo, tools/test and tools/bench: install what the build needs (Debian,
# as root), configure and build. Source it; do not run it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${LOOPSAN_BUILD_DIR:-$ROOT/build}

# Build and test dependencies, as Debian packages.
PACKAGES=(
  g++ make cmake pkg-config binutils
  libunwind-dev libboost-test-dev nlohmann-json3-dev libdw-dev
  python3
  # uvloop, for the asyncio_threads tests (Debian's Python)
  python3-uvloop
  # pytest, for the pytest plugin's consumer test (tests/consumer_pytest/)
  python3-pytest
  # the library event loops of the loop_kinds tests (tests/victims/loops/)
  libuv1-dev libevent-dev libglib2.0-dev libboost-dev
  # libFuzzer, for the fuzz targets (tests/fuzz)
  clang libclang-rt-14-dev
  # GoogleTest, for the gtest listener's consumer project (tests/consumer_harness)
  libgtest-dev
  # the HTML report's test opens the page in headless Chromium (tests/integration/html_report_test.py)
  chromium chromium-driver python3-selenium
)

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "loopsan: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "loopsan: missing packages (${missing[*]}); run as root or install them with apt-get" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine may have no package lists yet: update only when the install needs it.
  apt-get install -y --no-install-recommends "${missing[@]}" ||
    { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; }
}

build() {
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" -j "$(nproc)"
}
