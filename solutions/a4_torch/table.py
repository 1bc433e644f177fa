"""The course's final table: every model of a1-a4 measured on the same test split.

Every model implements ``lmcore.lm.LanguageModel`` and ``lmcore.lm.perplexity`` applies the
course's convention (docs/conventions.md) to each (every word and every ``</s>`` predicted
once, ``<s>`` never, a zero probability gives inf), so the numbers compare honestly: the same
tokens, the same vocabulary, the same split.

``course_models`` (provided) builds the models of the earlier assignments from the sibling
packages ``a1_ngram``, ``a2_window`` and ``a3_rnn`` when they can be imported, and says
which it skipped and why; a release holding only a4 still gets a table of its own models.
"""
from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from lmcore.lm import LanguageModel, perplexity
from lmcore.vocab import Vocab


def perplexity_table(models: Mapping[str, LanguageModel],
                     sentences: Sequence[Sequence[str]]) -> list[dict]:
    """One row per model, in the order given: ``{"model": name, "perplexity": float,
    "tokens": int}``, where ``tokens`` is the number of predicted tokens that the perplexity
    is averaged over (each sentence's words and its ``</s>``).

    Use ``lmcore.lm.perplexity`` for every model: one rule for all.
    """
    ### BEGIN SOLUTION
    tokens = sum(len(s) + 1 for s in sentences)
    return [{"model": name, "perplexity": float(perplexity(m, sentences)), "tokens": tokens}
            for name, m in models.items()]
    ### END SOLUTION


def _try(name: str, build: Callable[[], LanguageModel], models: dict, notes: list[str],
         log: Callable[[str], None]) -> None:
    start = time.perf_counter()
    try:
        models[name] = build()
    except ModuleNotFoundError as err:
        notes.append(f"{name}: skipped, package {err.name!r} is not importable")
    except Exception as err:  # a sibling's API changed: say so, keep the rest of the table
        notes.append(f"{name}: skipped, building it failed ({type(err).__name__}: {err})")
    else:
        log(f"built {name} in {time.perf_counter() - start:.1f} s")


def course_models(train: Sequence[Sequence[str]], valid: Sequence[Sequence[str]],
                  vocab: Vocab, seconds_per_neural_model: float = 60.0, seed: int = 0,
                  log: Callable[[str], None] = print) -> tuple[dict, list[str]]:
    """The models of a1 (n-grams), a2 (window LM) and a3 (numpy RNN and LSTM), trained on
    ``train`` (provided).

    Each sibling package is imported by name; one that is missing or fails is skipped with
    a note. The neural models train for ``seconds_per_neural_model`` each.

    Returns a tuple of:
    - models: dict name -> LanguageModel, in the course's order
    - notes: list of str, one per model skipped
    """
    models: dict[str, LanguageModel] = {}
    notes: list[str] = []

    def ngram(kind: str, n: int):
        def build():
            counts_mod = importlib.import_module("a1_ngram.counts")
            m = importlib.import_module("a1_ngram.models")
            counts = counts_mod.count_ngrams(train, n, vocab)
            if kind == "laplace":
                return m.Laplace(counts)
            if kind == "interpolated":
                model = m.Interpolated(counts)
                model.fit(valid)
                return model
            if kind == "backoff":
                return m.Backoff(counts)
            return m.KneserNey(counts, discount=0.75)
        return build

    for kind, n, label in (("laplace", 2, "a1 Laplace bigram"),
                           ("interpolated", 3, "a1 interpolated trigram"),
                           ("backoff", 3, "a1 Katz backoff trigram"),
                           ("kn", 3, "a1 Kneser-Ney trigram")):
        _try(label, ngram(kind, n), models, notes, log)

    def window():
        model_mod = importlib.import_module("a2_window.models")
        train_mod = importlib.import_module("a2_window.train")
        rng = np.random.default_rng(seed)
        model = model_mod.WindowLM(vocab, rng, n_context=3, d_embed=32, d_hidden=128)
        cfg = train_mod.TrainConfig(max_steps=10**9, time_budget=seconds_per_neural_model,
                                    eval_every=10**9, seed=seed)
        train_mod.train(model, train, valid, cfg, rng)
        return model

    _try("a2 window LM (3 words)", window, models, notes, log)

    def numpy_rnn(cell: str):
        def build():
            model_mod = importlib.import_module("a3_rnn.models")
            from lmcore.batching import stream
            model = model_mod.RNNLM(vocab, np.random.default_rng(seed), D=64, H=128, cell=cell,
                                    dtype=np.float32)
            cfg = model_mod.TrainConfig(time_budget=seconds_per_neural_model, epochs=100,
                                        seed=seed)
            model_mod.train(model, stream(train, vocab), cfg)
            return model
        return build

    _try("a3 numpy RNN", numpy_rnn("rnn"), models, notes, log)
    _try("a3 numpy LSTM", numpy_rnn("lstm"), models, notes, log)
    return models, notes


def format_table(rows: Sequence[dict]) -> str:
    """The table as aligned text, best first (provided)."""
    rows = sorted(rows, key=lambda r: (math.isnan(r["perplexity"]), r["perplexity"]))
    width = max([len(r["model"]) for r in rows] + [5])
    lines = [f"{'model':<{width}}  perplexity"]
    lines += [f"{r['model']:<{width}}  {r['perplexity']:>10.1f}" for r in rows]
    return "\n".join(lines)
