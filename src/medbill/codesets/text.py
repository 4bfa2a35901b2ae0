"""Text normalisation shared by the search index and the query side.

Lower-case, ASCII-fold, split on anything but letters and digits, and a light suffix stemmer so
that "fractures"/"fracture", "infections"/"infection", "kidneys"/"kidney" meet. The stemmer is
deliberately conservative: coders' words are technical and over-stemming merges distinct terms.
"""

from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+")

# Words that carry no meaning for finding a code. "with", "without", "not", "other", "unspecified"
# are NOT here: they distinguish codes ("with coma" / "without coma").
STOPWORDS = frozenset("a an and the of for to in on at by or as is are be from its it this that".split())


# Words that, left over in a title, mark the Index's default ("Pneumonia, unspecified organism"):
# they cost little when a document has them and the query does not.
DEFAULT_WORDS = frozenset({"unspecified", "nos", "organism", "site", "type", "cause", "part", "episode"})
DEFAULT_WORD_WEIGHT = 0.3


def idf(df: int, n_docs: int) -> float:
    return math.log((n_docs + 1) / (df + 0.5))


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    w = word
    if len(w) <= 3 or w.isdigit():
        return w
    if w.endswith("'s"):
        w = w[:-2]
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "xes", "ches", "shes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is", "ys", "as", "os")):
        return w[:-1]
    return w


def words(text: str) -> list[str]:
    """Folded words in order (stopwords kept)."""
    return _WORD.findall(fold(text))


def terms(text: str) -> list[str]:
    """Stemmed content terms in order (stopwords dropped)."""
    return [stem(w) for w in _WORD.findall(fold(text)) if w not in STOPWORDS]


def normalized(text: str) -> str:
    """A canonical one-line form used for exact-match comparison."""
    return " ".join(terms(text))
