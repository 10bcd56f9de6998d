#!/usr/bin/env python3
"""How neardup's passages line up with the Clough-Stevenson human labels.

    python3 benches/quality/clough.py CORPUS_DIR REPORT_CSV

CORPUS_DIR is shared/corpora/clough-stevenson-plagiarism-en (docs/ and ground_truth.csv
inside); REPORT_CSV is `neardup scan CORPUS_DIR/docs -o REPORT_CSV`. For each answer,
a passage counts when it shares a cluster with a row in the answer's source text
(orig_task<x>.txt). Prints a Markdown table per label (cut, light, heavy, non).
"""
import collections
import csv
import os
import sys

corpus, report = sys.argv[1], sys.argv[2]
truth = {r["File"]: (r["Task"], r["Category"])
         for r in csv.DictReader(open(os.path.join(corpus, "ground_truth.csv")))}
docs = os.path.join(corpus, "docs")
words = {f: len(open(os.path.join(docs, f), encoding="utf-8").read().split())
         for f in os.listdir(docs)}
clusters = collections.defaultdict(list)
for row in csv.DictReader(open(report)):
    clusters[row["cluster"]].append(row)

shared = collections.defaultdict(list)  # answer -> [(start, end, words)]
for rows in clusters.values():
    files = {r["file"] for r in rows}
    for r in rows:
        if r["file"] in truth and f"orig_task{truth[r['file']][0]}.txt" in files:
            shared[r["file"]].append((int(r["start"]), int(r["end"]), int(r["words"])))


def covered(spans):
    """Words in the union of the spans (overlaps counted once, pro rata)."""
    merged = []
    for s, e, w in sorted(spans):
        if merged and s < merged[-1][1]:
            ps, pe, pw = merged[-1]
            if e > pe:
                merged[-1] = (ps, e, pw + w * (e - pe) / (e - s))
        else:
            merged.append((s, e, w))
    return sum(w for _, _, w in merged)


by_label = collections.defaultdict(list)
for f, (_, label) in truth.items():
    by_label[label].append((f in shared, covered(shared.get(f, [])) / max(1, words.get(f, 1))))
print("| label | answers | answers with a passage shared with their source | mean share of the answer's words in those passages |")
print("|---|---:|---:|---:|")
for label in ["cut", "light", "heavy", "non"]:
    v = by_label[label]
    hit = sum(1 for x in v if x[0])
    print(f"| {label} | {len(v)} | {hit} ({hit / len(v):.0%}) | {sum(x[1] for x in v) / len(v):.2f} |")
