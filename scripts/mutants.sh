#!/usr/bin/env bash
# Mutation testing of the firmware, with the bench as the oracle.
#
# Every mutant cargo-mutants makes in the `firmware` package is judged by the firmware's own
# tests *and* the root integration binary (`tests/tests.rs`: the closed-loop bench runs, the
# scenario library and the seeded bugs), built in release as `cargo test --release --test tests`
# is. A mutant that survives both is a change of firmware behaviour no test notices. The report
# lands in mutants.out/ (git-ignored): caught.txt, missed.txt, timeout.txt, unviable.txt.
#
# Slow: each mutant is a release build of firmware, harness and the test binary plus a ~35 s
# test run, so the whole crate takes many hours on 2 cores. This is NOT part of .ci/run. Pass
# cargo-mutants options to narrow it, e.g.
#   scripts/mutants.sh --file firmware/src/dose.rs --file firmware/src/ntc.rs
#   scripts/mutants.sh --list                       # just list the mutants
# MUTANTS_TIMEOUT_S (default 600) bounds one mutant's test run (a mutant that hangs the loop is
# counted as caught-by-timeout); MUTANTS_JOBS (default 1) is how many mutants build at once.
# The existing target/ is copied into the scratch tree so the first build is incremental.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-mutants >/dev/null 2>&1; then
  cargo install --locked cargo-mutants
fi

exec cargo mutants \
  --package firmware \
  --test-package firmware \
  --test-package pbm-hil \
  --profile release \
  --jobs "${MUTANTS_JOBS:-1}" \
  --timeout "${MUTANTS_TIMEOUT_S:-600}" \
  --copy-target=true \
  --output . \
  "$@"
