#!/usr/bin/env bash
# Create the separate benchmark environment for the peer libraries (gemact, aggregate).
#
#   bash benchmarks/setup_peers.sh            # creates benchmarks/.peers-venv
#   PEERS_VENV=/tmp/peers bash benchmarks/setup_peers.sh
#
# vbsim's own environment (.venv) is not touched: benchmarks/peers.py runs each peer in a
# subprocess with this environment's python. A peer that fails to install is reported by
# benchmarks/run_all.py in its table rather than stopping the run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${PEERS_VENV:-$here/.peers-venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
pip_install() {  # quiet; drops pip's notes about local index folders that do not exist
    local log rc=0
    log="$(mktemp)"
    "$venv/bin/python" -m pip install -q "$@" >"$log" 2>&1 || rc=$?
    grep -v "is ignored: it is neither" "$log" || true
    rm -f "$log"
    return "$rc"
}
pip_install --upgrade pip
# Install each peer on its own so that one failing does not keep the other out.
status=0
pip_install numpy scipy || status=1
while read -r req; do
    case "$req" in ''|'#'*|numpy|scipy) continue ;; esac
    if ! pip_install "$req"; then
        echo "setup_peers: could not install $req (the benchmark will report it)" >&2
        status=1
    fi
done < "$here/requirements-peers.txt"
"$venv/bin/python" - <<'EOF'
import importlib
for name in ("gemact", "aggregate"):
    try:
        m = importlib.import_module(name)
        print(f"{name} {getattr(m, '__version__', '?')}: ok")
    except Exception as e:  # report, do not fail
        print(f"{name}: import failed: {type(e).__name__}: {e}")
EOF
exit $status
