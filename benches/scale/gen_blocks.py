#!/usr/bin/env python3
"""Builds a scaling series whose duplicate rate does not grow with its size.

    python3 benches/scale/gen_blocks.py SEED SOURCE_DIR BLOCK_SIZE BLOCKS OUT_DIR [GEN_OPTIONS...]

`../shared/bench/gen_synthetic.py` copies paragraphs of one fixed source, so a corpus
ten times larger copies each source paragraph ten times as often: it has about ten
times the duplicates per byte and a hundred times the pairs, and the time of a run
grows with its findings as well as its bytes. This script measures the pipeline's
own growth instead. OUT_DIR/bNNN (NNN from 000 to BLOCKS - 1) each get one corpus of
BLOCK_SIZE made by gen_synthetic.py (seed SEED + NNN, GEN_OPTIONS passed on, for
instance `--p-novel 0.85`), whose words are then renamed by a bijection of the
source's vocabulary drawn for that block (block 000 keeps its words; a word is
swapped with one of its script and length). A bijection
keeps every equality between words, so each block has the same kind of duplicates as
a block generated alone; two blocks share almost no word 5-gram, so they have almost
no duplicates between them. The first B blocks are then a corpus of B × BLOCK_SIZE
with B times the duplicates of one block, whatever B is: scan OUT_DIR/b000 for one
block, or the directories of the first B blocks together.

Deterministic for a given SEED, source and options. Needs gen_synthetic.py next to
this project (../shared/bench, or GEN=path).
"""
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.environ.get("GEN", os.path.join(HERE, "..", "..", "..", "shared", "bench", "gen_synthetic.py"))


def source_vocabulary(src):
    """The distinct whitespace-separated words of SOURCE_DIR's .txt files, sorted."""
    words = set()
    for root, dirs, files in os.walk(src):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".txt"):
                with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
                    words.update(f.read().split())
    return sorted(words)


def word_class(word):
    """Words swapped by a renaming share their script (Arabic or not) and UTF-8 length,
    so that a renamed block has the bytes per word and the scripts of the source."""
    arabic = any("\u0600" <= c <= "\u06ff" for c in word)
    return (arabic, len(word.encode("utf-8")))


def rename_block(block_dir, vocab, seed):
    """Renames every word of the block's files by one bijection of `vocab` that keeps
    each word's class."""
    rng = random.Random(seed)
    classes = {}
    for w in vocab:
        classes.setdefault(word_class(w), []).append(w)
    rename = {}
    for key in sorted(classes):
        words = classes[key]
        image = list(words)
        rng.shuffle(image)
        rename.update(zip(words, image))
    for name in sorted(os.listdir(block_dir)):
        path = os.path.join(block_dir, name)
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        renamed = [" ".join(rename.get(w, w) for w in line.split(" ")) for line in lines]
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(renamed))
        os.replace(tmp, path)


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    seed, src, block_size, blocks, out = sys.argv[1:6]
    seed, blocks = int(seed), int(blocks)
    options = sys.argv[6:]
    vocab = source_vocabulary(src)
    os.makedirs(out, exist_ok=True)
    for b in range(blocks):
        block_dir = os.path.join(out, f"b{b:03d}")
        if os.path.isdir(block_dir):
            print(f"{block_dir} exists, kept", file=sys.stderr)
            continue
        partial = block_dir + ".partial"
        subprocess.run(
            [sys.executable, GEN, str(seed + b), src, block_size, partial, *options],
            check=True,
        )
        if b > 0:
            rename_block(partial, vocab, 1_000_003 * seed + b)
        os.replace(partial, block_dir)


if __name__ == "__main__":
    main()
