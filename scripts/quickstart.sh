#!/usr/bin/env bash
# Starts a working wildnet node for a demo agency (KE-KWS) with sample data,
# shows a query, and keeps the node running until Ctrl-C.
#
#   ./scripts/quickstart.sh            # build, start, load samples, query, keep running
#   ./scripts/quickstart.sh --no-wait  # the same, then stop the node and exit
#
# The agency dir is demo/ke-kws (override with WILDNET_DEMO_DIR); run the
# script again to restart the same node with its data.
set -euo pipefail
cd "$(dirname "$0")/.."

wait_flag=1
[ "${1:-}" = "--no-wait" ] && wait_flag=0

echo "==> building (release)"
cargo build --release --locked --bins -q
bin=target/release
dir=${WILDNET_DEMO_DIR:-demo/ke-kws}

if [ ! -f "$dir/node.toml" ]; then
  echo "==> creating agency KE-KWS in $dir"
  "$bin/wildnet" init --agency KE-KWS --name "Kenya Wildlife Service" --dir "$dir"
fi

echo "==> starting wildnet-node"
"$bin/wildnet-node" --config "$dir/node.toml" 2>"$dir/node.log" &
node=$!
trap 'kill $node 2>/dev/null || true; wait $node 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 300); do
  [ -S "$dir/data/wildnet.sock" ] && "$bin/wildnet" --node "$dir" info >/dev/null 2>&1 && break
  kill -0 $node 2>/dev/null || { echo "wildnet-node failed to start:"; cat "$dir/node.log"; exit 1; }
  sleep 0.1
done
export WILDNET_NODE=$dir

records=$("$bin/wildnet" --format json stats | sed -n 's/.*"records": \([0-9]*\).*/\1/p' | head -1)
if [ "${records:-0}" = "0" ]; then
  echo "==> loading sample data: 2,000 generated listings + hand-written records"
  "$bin/wildnet" generate listings --count 2000 --seed 42 > "$dir/sample-listings.csv"
  "$bin/wildnet" import "$dir/sample-listings.csv"
  "$bin/wildnet" publish listing --species "Manis javanica" --platform facebook \
    --url "https://facebook.example/marketplace/item/4471" --title "Pangolin scales, 2 kg, discreet shipping" \
    --seller "@scales.trader" --price 450 --currency USD --country KE --observed-at 2026-11-20 \
    --selector "phone:+254 712 345 678" --tlp amber --share federation --tag pangolin
  "$bin/wildnet" publish entity --type person --name "J. Mwangi" --nationality KE \
    --selector "phone:+254712345678" --tlp amber-strict --share local
fi

echo
echo "==> wildnet query --species \"Manis javanica\" --limit 10"
"$bin/wildnet" query --species "Manis javanica" --limit 10
echo
echo "==> wildnet query --selector phone:+254712345678   (records sharing a phone number)"
"$bin/wildnet" query --selector "phone:+254712345678"
echo
echo "==> wildnet stats --by species"
"$bin/wildnet" stats --by species

if [ $wait_flag = 1 ]; then
  echo
  echo "The node is running (pid $node). In another terminal:"
  echo "  export WILDNET_NODE=$dir PATH=\$PWD/target/release:\$PATH"
  echo "  wildnet query --country VN        wildnet get <id>        wildnet audit verify"
  echo "Press Ctrl-C to stop it."
  wait $node
fi
