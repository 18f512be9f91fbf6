#!/usr/bin/env bash
# `pip install .` (no extras) into a fresh venv without torch: `idealssl check` and `idealssl derive` work on the
# README's examples, and a training command says which extra it needs (one line, exit 2).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=$(mktemp -d)/venv
python3 -m venv "$venv"
"$venv/bin/pip" install -q -c constraints.txt "$root"
cd "$(mktemp -d)"  # away from the checkout, so the installed package is the one imported
"$venv/bin/python" -c "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is not None)"
"$venv/bin/idealssl" check "$root/examples/simplex.npy" --augs "$root/examples/simplex_orbits.json" --task "$root/examples/task.json" >/dev/null
set +e
"$venv/bin/idealssl" check "$root/examples/span_counterexample.npy" --augs "$root/examples/span_orbits.json" --json >/dev/null
test $? -eq 1 || { echo "no_torch: span counterexample should exit 1 (not ideal)"; exit 1; }
err=$("$venv/bin/idealssl" train --method dissl --dataset digits 2>&1 >/dev/null); rc=$?
set -e
test $rc -eq 2 || { echo "no_torch: train without torch should exit 2, got $rc: $err"; exit 1; }
case "$err" in *"idealssl[train]"*) ;; *) echo "no_torch: unexpected message: $err"; exit 1 ;; esac
"$venv/bin/idealssl" derive --probe linear --classes 5 --json >/dev/null
"$venv/bin/idealssl" completion bash | grep -q "complete -o default -F _idealssl idealssl"
"$venv/bin/idealssl" train --list-methods | grep -q "^dissl "
echo "no_torch: check, derive, completion and train --list-methods work without torch; train names the extra"
