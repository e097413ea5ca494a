#!/usr/bin/env bash
# Configures and builds sms-milter and its tests in build/ (warnings are errors).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMS_MILTER_WERROR=ON "$@"
cmake --build build -j2
