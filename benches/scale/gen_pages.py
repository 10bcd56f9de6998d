#!/usr/bin/env python3
"""Builds near-copies of long one-line pages: text scraped without its line breaks.

    python3 benches/scale/gen_pages.py SEED SOURCE_DIR PAGES WORDS SHIFT EDITS OUT_DIR

The documents of SOURCE_DIR (sorted by name, one paragraph per line) are read as one
stream of words. Each of the PAGES pages is the run of WORDS words starting at a
random place among the first SHIFT words of the stream, with EDITS words replaced by
made-up ones, written on one line to OUT_DIR/pageNNNN.txt. Two pages therefore share
a long passage, shifted by up to SHIFT words, and are cut at other places.

A page is longer than a paragraph may be (`segment::MAX_PARAGRAPH_BYTES`), so it is
cut into pieces at byte offsets that differ from page to page: the paragraph and
passage stages then compare long pieces that are shifted copies of each other, the
case that made `passage::similarity` fill its whole band.

Deterministic for a given SEED and source.
"""
import os
import random
import sys


def main():
    if len(sys.argv) != 8:
        sys.exit(__doc__)
    seed, source, pages, words, shift, edits, out = sys.argv[1:]
    pages, words, shift, edits = int(pages), int(words), int(shift), int(edits)
    rng = random.Random(int(seed))
    stream = []
    for name in sorted(os.listdir(source)):
        path = os.path.join(source, name)
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            stream.extend(f.read().split())
        if len(stream) >= words + shift:
            break
    if len(stream) < words + shift:
        sys.exit(f"{source}: {len(stream)} words, fewer than WORDS + SHIFT")
    os.makedirs(out, exist_ok=True)
    for n in range(pages):
        start = rng.randrange(shift + 1)
        page = stream[start:start + words]
        for _ in range(edits):
            page[rng.randrange(len(page))] = f"edit{rng.randrange(1000)}"
        with open(os.path.join(out, f"page{n:04d}.txt"), "w", encoding="utf-8") as f:
            f.write(" ".join(page) + "\n")


if __name__ == "__main__":
    main()
