# Sourced by the bench scripts: run from the repository's root, the binary in $B (SMARTLIC_BIN,
# or this checkout built in release), PostgreSQL's base URL in $PG.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -n "${SMARTLIC_BIN:-}" ]; then B=$SMARTLIC_BIN
else cargo build --release -q -p smartlic && B=$PWD/target/release/smartlic; fi
PG=${PG:-postgres://postgres@127.0.0.1:5432}
