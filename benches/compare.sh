#!/usr/bin/env bash
# Runs neardup and peer tools on the same corpus, in one session, and prints wall time,
# throughput, peak RSS and neardup's speed-up over each peer.
#
#   benches/compare.sh CORPUS_DIR [PEERS...]
#
# CORPUS_DIR: a directory of UTF-8 .txt files, one paragraph per line.
# PEERS: any of rensa gaoya datasketch datatrove textdedup dolma-exact dolma-ngram
#        (default: rensa gaoya datasketch dolma-exact).
# Environment: SHARED (default ../shared beside the project) holds bench/peers;
#        PEERS_VENV_ROOT (default $SHARED/../peers) holds the venvs made by
#        `bash $SHARED/bench/peers/setup.sh $PEERS_VENV_ROOT`;
#        OUT (default a temporary directory) receives every CSV and log.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
corpus=$(cd "$1" && pwd)
shift
peers=("$@")
[ ${#peers[@]} -gt 0 ] || peers=(rensa gaoya datasketch dolma-exact)
shared=${SHARED:-$here/../shared}
venvs=${PEERS_VENV_ROOT:-$shared/../peers}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"

cargo build --release --quiet --manifest-path "$here/Cargo.toml"
bin=$here/target/release/neardup
bytes=$(find "$corpus" -type f -name '*.txt' -printf '%s\n' | awk '{s+=$1} END {print s}')
mb=$(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1e6}')
echo "corpus: $corpus ($mb MB), $(nproc) cores, $(date -u +%Y-%m-%d)"
echo

# measure NAME COMMAND...: wall seconds and peak RSS (kB) of COMMAND, via GNU time.
declare -A wall rss
measure() {
    local name=$1
    shift
    if /usr/bin/time -f '%e %M' -o "$out/$name.time" "$@" >"$out/$name.stdout" 2>"$out/$name.stderr"; then
        read -r wall[$name] rss[$name] <"$out/$name.time"
    else
        echo "$name failed (see $out/$name.stderr)" >&2
        wall[$name]=NA
        rss[$name]=NA
    fi
}

measure neardup "$bin" scan "$corpus" -o "$out/neardup.csv" -q
measure neardup-no-passages "$bin" scan "$corpus" -o "$out/neardup-np.csv" -q --no-passages
for peer in "${peers[@]}"; do
    case $peer in
        dolma-exact) measure "$peer" "$venvs/venv-dolma/bin/python" "$shared/bench/peers/peer_dolma.py" "$corpus" "$out/$peer.csv" --mode exact ;;
        dolma-ngram) measure "$peer" "$venvs/venv-dolma/bin/python" "$shared/bench/peers/peer_dolma.py" "$corpus" "$out/$peer.csv" --mode ngram ;;
        *) measure "$peer" "$venvs/venv/bin/python" "$shared/bench/peers/peer_$peer.py" "$corpus" "$out/$peer.csv" ;;
    esac
done

printf '| tool | wall s | MB/s | peak RSS MB | neardup speed-up |\n|---|---:|---:|---:|---:|\n'
for name in neardup neardup-no-passages "${peers[@]}"; do
    w=${wall[$name]}
    if [ "$w" = NA ]; then
        printf '| %s | failed | | | |\n' "$name"
        continue
    fi
    awk -v n="$name" -v w="$w" -v r="${rss[$name]}" -v b="$bytes" -v nd="${wall[neardup]}" 'BEGIN {
        ws = (w < 0.01 ? 0.01 : w)
        printf "| %s | %.2f | %.1f | %.0f | %s |\n", n, w, b / 1e6 / ws, r / 1024,
            (n ~ /^neardup/ ? "" : sprintf("%.1fx", w / nd))
    }'
done
echo
echo "outputs and logs: $out"
