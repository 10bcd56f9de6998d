#!/usr/bin/env python3
"""Builds a large JSON Lines corpus for the scaling runs from a directory of text files.

    python3 benches/scale/repeat_jsonl.py SRC_DIR OUT_DIR [COPIES]

SRC_DIR holds one document per file, one paragraph per line (for instance `syn-1000M`,
made by ../shared/bench/gen_synthetic.py). OUT_DIR gets COPIES (default 5) copies of
every document, as 32 MiB shards of records {"id": NAME-cN, "text": ...}. Copy 0 is
verbatim. In the other copies each line is, with probability 0.85, replaced by a novel
line (its words shuffled: same vocabulary and length, no shared word 5-gram), and is
otherwise kept verbatim (half) or with one word replaced (half), so the duplicate rate
stays close to the source's. Deterministic.
"""
import json
import os
import random
import sys


def main():
    src, out = sys.argv[1], sys.argv[2]
    copies = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    os.makedirs(out, exist_ok=True)
    docs = []
    for name in sorted(os.listdir(src)):
        with open(os.path.join(src, name), encoding="utf-8") as f:
            docs.append((name.rsplit(".", 1)[0], f.read()))
    shard, size, f = 0, 0, None
    for copy in range(copies):
        rng = random.Random(100 + copy)
        for name, text in docs:
            if copy:
                lines = text.split("\n")
                for i, line in enumerate(lines):
                    if not line:
                        continue
                    words = line.split(" ")
                    u = rng.random()
                    if u < 0.85:
                        rng.shuffle(words)
                    elif u < 0.925:
                        words[rng.randrange(len(words))] = words[rng.randrange(len(words))]
                    lines[i] = " ".join(words)
                text = "\n".join(lines)
            if f is None or size >= 32 << 20:
                if f:
                    f.close()
                f = open(os.path.join(out, f"part-{shard:04d}.jsonl"), "w", encoding="utf-8")
                shard += 1
                size = 0
            record = json.dumps({"id": f"{name}-c{copy}", "text": text}, ensure_ascii=False)
            f.write(record + "\n")
            size += len(record.encode()) + 1
    if f:
        f.close()


if __name__ == "__main__":
    main()
