#!/usr/bin/env bash
# The asv dashboard: runs the asv suite (asv_bench/) over the last N commits of
# main and publishes the HTML. Open it with
#   cd asv_bench && asv preview        # http://127.0.0.1:8080
#
# usage: scripts/asv_dashboard.sh [-n N] [--quick] [--bench REGEX] [--branch REF]
#                                 [--current] [--mode existing|asv]
#   -n N        commits of the branch to run (first-parent history; default 3)
#   --quick     each benchmark once (asv run --quick): minutes instead of an hour
#   --bench RE  only benchmarks matching RE (asv -b)
#   --branch R  the branch or ref whose history is run (default main)
#   --current   the working tree as it is (already built: scripts/dev_build.sh),
#               recorded under HEAD's hash; -n and --branch are ignored
#   --mode      existing (default): each commit is checked out under
#               build/asv/src-<hash>, built once with scripts/dev_build.sh
#               (SUPERINSTANCE_CUDA=OFF unless set; kept for the next run) and
#               benchmarked with `asv run --environment existing` in a small
#               virtual environment that sees $PYTHON's packages plus that
#               checkout's python/ folder; nothing is pip-installed.
#               asv: asv's own way, `asv run main~N..main`, a virtualenv and a
#               pip-built wheel per commit (slower; needs the network for the
#               build requirements unless they are cached).
#   --offline   make the HTML work without the internet (asv loads jQuery, flot and
#               bootstrap from CDNs): local copies from Debian's libjs-jquery,
#               libjs-jquery-flot, libjs-bootstrap (scripts/asv_offline_html.py)
# Environment: PYTHON (default python3) runs asv and the builds; ASV_MACHINE names
# the machine in the results (default: the host name); ASV_RESULTS / ASV_HTML
# override asv_bench/results and asv_bench/html (the tests use temporary ones).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
n=3 quick=() bench=() branch=main mode=existing current=0 offline=0
while [ $# -gt 0 ]; do
  case $1 in
    -n) n=$2; shift ;;
    --quick) quick=(--quick) ;;
    --bench) bench=(-b "$2"); shift ;;
    --branch) branch=$2; shift ;;
    --current) current=1 ;;
    --mode) mode=$2; shift ;;
    --offline) offline=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#'; exit 0 ;;
    *) echo "asv_dashboard.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case $mode in existing|asv) ;; *) echo "asv_dashboard.sh: --mode is existing or asv, got $mode" >&2; exit 2 ;; esac
"$PYTHON" -m asv --version >/dev/null 2>&1 || { echo "asv_dashboard.sh: asv is not installed for $PYTHON (pip install 'superinstance[bench]' or asv)" >&2; exit 2; }

machine=${ASV_MACHINE:-$(hostname)}
results=${ASV_RESULTS:-$ROOT/asv_bench/results}
html=${ASV_HTML:-$ROOT/asv_bench/html}
# A configuration of this run: the same suite, results and HTML where asked.
conf=$ROOT/build/asv/asv.conf.json
mkdir -p "$ROOT/build/asv"
# publish shows the commits of `branches` only: the working tree's branch for --current.
[ "$current" = 1 ] && branch=$(git rev-parse --abbrev-ref HEAD)
"$PYTHON" - "$ROOT/asv_bench/asv.conf.json" "$conf" "$results" "$html" "$ROOT" "$branch" <<'EOF'
import json, sys
src, dst, results, html, root, branch = sys.argv[1:]
c = json.load(open(src))
c.update(repo=root, results_dir=results, html_dir=html, benchmark_dir=root + "/asv_bench/benchmarks",
         env_dir=root + "/asv_bench/env", branches=[branch])
json.dump(c, open(dst, "w"), indent=2)
EOF
asv=("$PYTHON" -m asv --config "$conf")
"${asv[@]}" machine --yes --machine "$machine" >/dev/null

# A virtual environment that sees $PYTHON's packages and the checkout's python/ folder.
env_for() {  # env_for SRC_DIR VENV_DIR
  local src=$1 venv=$2
  [ -x "$venv/bin/python" ] || "$PYTHON" -m venv --system-site-packages --without-pip "$venv"
  # $PYTHON may itself be a virtual environment: its site-packages go on the path too.
  local site
  site=$("$PYTHON" -c 'import sysconfig; p = sysconfig.get_paths(); print(p["purelib"]); print(p["platlib"])')
  printf '%s\n%s\n' "$src/python" "$site" > "$("$venv/bin/python" -c 'import site; print(site.getsitepackages()[0])')/superinstance-src.pth"
}

run_existing() {  # run_existing SRC_DIR HASH
  local src=$1 hash=$2 venv=$ROOT/build/asv/venv-${2:0:12}
  env_for "$src" "$venv"
  echo "=== asv_dashboard: ${hash:0:12} ($(git -C "$ROOT" log -1 --format=%s "$hash" | cut -c1-60))"
  # asv exits non-zero when a benchmark fails; the others are still recorded.
  "${asv[@]}" run --machine "$machine" --environment "existing:$venv/bin/python" --set-commit-hash "$hash" \
    "${quick[@]}" "${bench[@]}" --show-stderr || echo "asv_dashboard: some benchmarks failed at ${hash:0:12} (see above)"
}

if [ "$current" = 1 ]; then
  run_existing "$ROOT" "$(git rev-parse HEAD)"
elif [ "$mode" = asv ]; then
  "${asv[@]}" run --machine "$machine" "${quick[@]}" "${bench[@]}" --show-stderr "$branch~$n..$branch" || true
else
  for hash in $(git rev-list --first-parent -n "$n" "$branch" | tac); do
    src=$ROOT/build/asv/src-${hash:0:12}
    if [ ! -d "$src" ]; then
      git worktree add --detach "$src" "$hash" >/dev/null
    fi
    if ! ls "$src"/python/superinstance/_core*.so >/dev/null 2>&1; then
      echo "=== asv_dashboard: building ${hash:0:12} (a few minutes)"
      (cd "$src" && PYTHON=$PYTHON scripts/dev_build.sh -DSUPERINSTANCE_CUDA="${SUPERINSTANCE_CUDA:-OFF}" >/dev/null)
    fi
    run_existing "$src" "$hash"
  done
fi

"${asv[@]}" publish
[ "$offline" = 0 ] || "$PYTHON" "$ROOT/scripts/asv_offline_html.py" "$html"
echo "asv_dashboard: HTML in $html; open it with: cd asv_bench && $PYTHON -m asv preview (http://127.0.0.1:8080)"
