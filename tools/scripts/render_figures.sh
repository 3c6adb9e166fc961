#!/usr/bin/env bash
# Renders the diagrams kept as graphviz sources in docs/figures/*.dot to PNG beside them
# (Debian: graphviz). Run after editing a .dot file and commit both.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v dot >/dev/null || { echo "render_figures: graphviz's dot is missing (apt-get install graphviz)" >&2; exit 1; }
for f in docs/figures/*.dot; do
  dot -Tpng -Gdpi=110 "$f" -o "${f%.dot}.png"
  echo "wrote ${f%.dot}.png"
done
