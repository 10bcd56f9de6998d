#!/usr/bin/env python3
"""Recall of a paragraph-level peer tool on a planted corpus, by kind and edit level.

    python3 benches/quality/peer_recall.py PLANTED_DIR TRUTH_CSV PEER_CSV

PEER_CSV is the output of a ../shared/bench/peers script (doc_a,para_a,doc_b,para_b,
similarity; para = 0-based line index). A planted copy counts as found when a reported
pair links the paragraph (line) holding its source with the line holding its copy,
directly or through other reported pairs (connected components, as a peer's clusters).
"""
import collections
import csv
import os
import sys

planted, truth_csv, peer_csv = sys.argv[1:4]


def line_of(path, offset, cache={}):
    if path not in cache:
        data = open(os.path.join(planted, path), "rb").read()
        starts = [0] + [i + 1 for i, b in enumerate(data) if b == 10]
        cache[path] = starts
    starts = cache[path]
    lo, hi = 0, len(starts)
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid
    return lo


parent = {}


def find(x):
    parent.setdefault(x, x)
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


for r in csv.DictReader(open(peer_csv)):
    a, b = (r["doc_a"], int(r["para_a"])), (r["doc_b"], int(r["para_b"]))
    parent[find(a)] = find(b)

cells = collections.defaultdict(lambda: [0, 0])
for t in csv.DictReader(open(truth_csv)):
    src = (t["src_file"], line_of(t["src_file"], int(t["src_start"])))
    dst = (t["dst_file"], line_of(t["dst_file"], int(t["dst_start"])))
    cell = cells[(t["kind"], t["level"])]
    cell[1] += 1
    cell[0] += src in parent and dst in parent and find(src) == find(dst)

levels = ["exact", "ortho", "light", "medium"]
print("| kind | " + " | ".join(levels) + " |")
print("|---|" + "---:|" * len(levels))
for kind in ["para-cross", "para-same", "passage-sentence", "passage-glued"]:
    row = [f"{cells[(kind, l)][0]}/{cells[(kind, l)][1]}" for l in levels]
    print(f"| {kind} | " + " | ".join(row) + " |")
