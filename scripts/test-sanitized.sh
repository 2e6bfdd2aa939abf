#!/usr/bin/env bash
# Builds everything again with ASan + UBSan in build-asan/ and runs the whole test suite there
# (design.md §7: sanitizers run over the unit and end-to-end tests in CI). Needs what
# scripts/setup.sh installed; run it after that script.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGLM_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)"
# halt_on_error for UBSan too: a report is a failure, not a warning
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
cd build-asan && ctest --output-on-failure
