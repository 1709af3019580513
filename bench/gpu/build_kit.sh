#!/usr/bin/env bash
# Build the git-ignored payload of the GPU kit (default .gpu/) for bench/gpu/run.py:
#   wheels/      what the device image lacks, for Python 3.12 x86-64: pydantic, pydantic-core,
#                annotated-types, typing-inspection, typing-extensions (pydantic needs >= 4.16;
#                the versions are this venv's) and OpenNMT-py 3.5.1 with its start-up imports
#                (../shared/peers/fetch_wheels.sh)
#   peers/       a copy of ../shared/peers (the recipe, score.py, the spaCy stub)
#   data/        the prepared data the run reads (bench/gpu/kit.py)
#   peer-pack.tar.gz  the peer's pack made from the same ids (bench/gpu/kit.py)
# and prints its size against the 64 MiB that may travel to the device machine.
#
# usage: bash bench/gpu/build_kit.sh [PREPARED_DIR]     (default data/prepared/fra-eng)
# env:   KIT (.gpu)  PEERS (../shared/peers)  PY (.venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${1:-data/prepared/fra-eng}
KIT=${KIT:-.gpu}
PEERS=${PEERS:-../shared/peers}
PY=${PY:-.venv/bin/python}
LIMIT_MIB=64

[ -f "$DATA/manifest.json" ] || { echo "no prepared data at $DATA (nmt data prepare)" >&2; exit 1; }
[ -f "$PEERS/opennmt_rnn.sh" ] || { echo "no peer recipe at $PEERS" >&2; exit 1; }
git check-ignore -q "$KIT/probe" || { echo "$KIT is not git-ignored; refusing to fill it" >&2; exit 1; }

rm -rf "$KIT"
mkdir -p "$KIT/wheels"
version() { "$PY" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$1"; }
ours=()
for pkg in pydantic pydantic-core annotated-types typing-inspection typing-extensions; do
  ours+=("$pkg==$(version "$pkg")")
done
plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
      --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
for pkg in "${ours[@]}"; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${plat[@]}" -d "$KIT/wheels" "$pkg"
done
bash "$PEERS/fetch_wheels.sh" "$KIT/wheels" >/dev/null

cp -r "$PEERS" "$KIT/peers"
chmod -R u+w "$KIT/peers"
"$PY" bench/gpu/kit.py --data "$DATA" --out "$KIT"

echo "wheels:"; ls -1 "$KIT/wheels"
kit_kib=$(du -sk "$KIT" | cut -f1)
tree_kib=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | du -ck --files0-from=- 2>/dev/null | tail -1 | cut -f1)
total_kib=$((kit_kib + tree_kib))
echo "kit $KIT: $((kit_kib / 1024)) MiB; working tree that travels: $((tree_kib / 1024)) MiB;" \
     "together $((total_kib / 1024)) of $LIMIT_MIB MiB"
if [ "$total_kib" -gt $((LIMIT_MIB * 1024)) ]; then
  echo "too large to travel to the device machine" >&2
  exit 1
fi
