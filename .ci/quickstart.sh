#!/usr/bin/env bash
# The main job, end to end: set up, prepare the data, train the demo, evaluate it beside the
# shipped model, then serve the shipped model (models/en-fr-base).
#   NMT_PRESET   preset to train (default: tiny, the 10-minute CPU demo; gru or lstm on a GPU);
#                when set, that run is also what gets served
#   NMT_DATA     corpus .zip/.txt or URL (default: ../shared/data/tatoeba/fra-eng.zip if
#                present, else the manythings.org release)
#   NMT_RETRAIN  set to train again even if runs/<preset>/best exists
#   NMT_PORT     port to serve on (default: 8000); NMT_NO_SERVE=1 stops after evaluation
set -euo pipefail
cd "$(dirname "$0")/.."

preset=${NMT_PRESET:-tiny}
shipped=models/en-fr-base
if [ -z "${NMT_DATA:-}" ] && [ -f ../shared/data/tatoeba/fra-eng.zip ]; then
  export NMT_DATA=../shared/data/tatoeba/fra-eng.zip
fi
[ "$preset" = tiny ] || export NMT_TORCH=${NMT_TORCH:-cuda}

bash .ci/setup.sh
nmt=.venv/bin/nmt
$nmt data prepare
if [ -e "runs/$preset/best" ] && [ -z "${NMT_RETRAIN:-}" ]; then
  echo "runs/$preset/best exists: skipping training (NMT_RETRAIN=1 trains again from scratch)"
else
  rm -rf "runs/$preset"
  $nmt train --config "$preset" --out "runs/$preset"
fi
# The run just trained and the shipped model, scored side by side on the test split.
$nmt evaluate --checkpoint "runs/$preset/best" --compare "$shipped" --beam 1,5 \
  --report "runs/$preset/eval-test.json"
if [ -z "${NMT_NO_SERVE:-}" ]; then
  serve=$shipped
  [ -z "${NMT_PRESET:-}" ] || serve=runs/$preset/best
  echo "serving $serve on http://127.0.0.1:${NMT_PORT:-8000} (Ctrl-C stops)"
  $nmt serve --checkpoint "$serve" --port "${NMT_PORT:-8000}"
fi
