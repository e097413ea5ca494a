#!/usr/bin/env bash
# The README's test command: installs what is needed, builds, and runs every test (unit,
# miltertest, docs, end to end through a real Postfix and a fake Twilio over HTTPS).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh test
bash tools/build.sh
cd build
ctest --output-on-failure --timeout 900
