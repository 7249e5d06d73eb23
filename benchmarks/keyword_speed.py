"""Keyword search and URL normalisation speed (Lantern-style signals).

    python benchmarks/keyword_speed.py                  # 100,000 phrases, a 13 KB text
    python benchmarks/keyword_speed.py --phrases 2000 --words 200 --searches 5

Random phrases of one to three random words go into a phrase index (one
Aho-Corasick build, as a matcher's start-up does); a text of ``--words``
random words from the same vocabulary is searched ``--searches`` times; then
single phrases are added one by one (as the change log brings them); then
URLs with ports, dot segments and tracking parameters are normalised::

    RESULT phrases=<n> build_s=<x> text_chars=<n> search_ms=<x> found=<n> add_ms=<x>
    RESULT urls=<n> urls_per_s=<x>
"""

from __future__ import annotations

import argparse
import random
import time

from hashmatch.index.text import PhraseIndex
from hashmatch.signals.keyword import KeywordSignal
from hashmatch.signals.url import UrlSignal

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phrases", type=int, default=100_000)
    parser.add_argument("--words", type=int, default=2_000, help="Words in the searched text.")
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--adds", type=int, default=200)
    parser.add_argument("--urls", type=int, default=20_000)
    options = parser.parse_args()
    rng = random.Random(1)
    words = ["".join(rng.choices(LETTERS, k=rng.randint(3, 8))) for _ in range(options.phrases)]
    phrases = {" ".join(rng.choices(words, k=rng.randint(1, 3))) for _ in range(options.phrases)}
    index = PhraseIndex()
    start = time.perf_counter()
    index.add(enumerate(sorted(phrases)))
    build = time.perf_counter() - start
    text = KeywordSignal().normalise_text(" ".join(rng.choices(words, k=options.words)))
    start = time.perf_counter()
    for _ in range(options.searches):
        found = index.search(text)
    search = (time.perf_counter() - start) / options.searches
    start = time.perf_counter()
    for i in range(options.adds):
        index.add([(len(phrases) + i, f"fresh{i} phrase")])
    add = (time.perf_counter() - start) / options.adds
    print(
        f"RESULT phrases={len(phrases)} build_s={build:.2f} text_chars={len(text)} "
        f"search_ms={search * 1000:.2f} found={len(found)} add_ms={add * 1000:.3f}"
    )
    urls = [
        f"HTTPS://Example{i}.com:443/a/./b/../c{i}?utm_source=x&b=2&a={i}#top"
        for i in range(options.urls)
    ]
    url = UrlSignal()
    start = time.perf_counter()
    for value in urls:
        url.parse(value)
    print(f"RESULT urls={len(urls)} urls_per_s={len(urls) / (time.perf_counter() - start):.0f}")


if __name__ == "__main__":
    main()
