"""Scenarios of a4_torch: models.py."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from lmcore.vocab import Vocab
from autograder.authoring import fixtures as F
from autograder.suites.a4_torch.scenarios.common import _np, _setup, _state_list


# -- weights by name ---------------------------------------------------------------------------
def _weight_shapes(cell: str, V: int, E: int, H: int, L: int) -> dict[str, tuple]:
    """The state_dict the docstring promises: names and shapes."""
    G = 4 * H if cell == "lstm" else H
    shapes = {"embedding.weight": (V, E)}
    for k in range(L):
        inp = E if k == 0 else H
        shapes.update({f"rnn.weight_ih_l{k}": (G, inp), f"rnn.weight_hh_l{k}": (G, H),
                       f"rnn.bias_ih_l{k}": (G,), f"rnn.bias_hh_l{k}": (G,)})
    shapes.update({"decoder.weight": (V, H), "decoder.bias": (V,)})
    return shapes


def _random_weights(rng, cell, V, E, H, L, tie) -> dict[str, torch.Tensor]:
    w = {name: torch.from_numpy(rng.standard_normal(shape) * 0.4)
         for name, shape in _weight_shapes(cell, V, E, H, L).items()}
    if tie:
        w["decoder.weight"] = w["embedding.weight"]
    return w


def _load(model: nn.Module, weights: dict) -> None:
    have = set(model.state_dict())
    missing, unexpected = sorted(set(weights) - have), sorted(have - set(weights))
    if missing or unexpected:
        raise AssertionError(
            "the model's parameters are not named as the docstring says (attributes "
            "embedding, rnn, decoder): " + (f"missing {missing}" if missing else "")
            + ("; " if missing and unexpected else "") + (f"unexpected {unexpected}"
                                                          if unexpected else ""))
    model.load_state_dict(weights, strict=True)


def _build(sub, cell: str, V: int, E: int, H: int, L: int, dropout: float, tie: bool):
    cls = sub.models.LSTMLM if cell == "lstm" else sub.models.RNNLM
    model = cls(V, E, H, num_layers=L, dropout=dropout, tie_weights=tie)
    return model.double()



# -- models.py ----------------------------------------------------------------------------------
def model_forward(sub, rng, cell="rnn", V=11, E=6, H=5, L=1, N=3, T=4, tie=False,
                  with_state=True):
    """Logits, final state and parameter gradients of the student's RNNLM / LSTMLM for given
    weights, inputs and initial state (float64). The gradients are those of a fixed random
    linear function of the logits and the final state, so they test the model alone."""
    _setup(rng)
    model = _build(sub, cell, V, E, H, L, 0.0, tie)
    _load(model, _random_weights(rng, cell, V, E, H, L, tie))
    x = torch.from_numpy(rng.integers(0, V, size=(N, T)))
    n_state = 2 if cell == "lstm" else 1
    state = [torch.from_numpy(rng.standard_normal((L, N, H))) for _ in range(n_state)]
    state_in = (tuple(state) if cell == "lstm" else state[0]) if with_state else None
    x_copy = x.clone()
    logits, new_state = model(x, state_in)
    new_list = list(new_state) if cell == "lstm" else [new_state]
    R = torch.from_numpy(rng.standard_normal((N, T, V)))
    Rs = [torch.from_numpy(rng.standard_normal((L, N, H))) for _ in range(n_state)]
    objective = (logits * R).sum() + sum((s * r).sum() for s, r in zip(new_list, Rs))
    objective.backward()
    grads = {name: _np(p.grad) for name, p in model.named_parameters() if p.grad is not None}
    return {
        "logits": _np(logits),
        "state": _state_list(new_state),
        "grads": grads,
        "tied": bool(model.decoder.weight is model.embedding.weight),
        "n_params": int(sum(p.numel() for p in model.parameters())),
        "inputs_unchanged": bool(torch.equal(x, x_copy)),
    }


def model_dropout(sub, rng, cell="lstm", V=9, E=6, H=6, L=2, N=2, T=5, p=0.5):
    """Dropout: off in eval mode (the logits equal the reference's), on in training mode
    (two training-mode passes differ from the eval-mode one)."""
    _setup(rng)
    model = _build(sub, cell, V, E, H, L, p, False)
    _load(model, _random_weights(rng, cell, V, E, H, L, False))
    x = torch.from_numpy(rng.integers(0, V, size=(N, T)))
    with torch.no_grad():
        model.eval()
        eval_logits, _ = model(x, None)
        eval_again, _ = model(x, None)
        model.train()
        train_logits, _ = model(x, None)
    return {"eval_logits": _np(eval_logits),
            "eval_deterministic": bool(torch.equal(eval_logits, eval_again)),
            "train_differs": bool(not torch.allclose(train_logits, eval_logits))}


def model_tying(sub, rng, cell="lstm", V=13, E=4, H=4):
    """Weight tying: one shared parameter, and E != H refused with a ValueError."""
    _setup(rng)
    tied = _build(sub, cell, V, E, H, 1, 0.0, True)
    untied = _build(sub, cell, V, E, H, 1, 0.0, False)
    try:
        _build(sub, cell, V, E, H + 1, 1, 0.0, True)
        refused = "no error"
    except ValueError:
        refused = "ValueError"
    except Exception as err:  # noqa: BLE001 - which error came back is the answer
        refused = type(err).__name__
    return {"tied_is_shared": bool(tied.decoder.weight is tied.embedding.weight),
            "params_saved": int(sum(p.numel() for p in untied.parameters())
                                - sum(p.numel() for p in tied.parameters())),
            "mismatch_error": refused}


def log_softmax_case(sub, rng, N=3, T=4, V=7, scale=3.0):
    """prediction_log_softmax on random logits (float64): -inf at <s>, the rest normalised."""
    _setup(rng)
    logits = torch.from_numpy(rng.standard_normal((N, T, V)) * scale)
    copy = logits.clone()
    out = sub.models.prediction_log_softmax(logits, Vocab.bos_id)
    return {"logp": _np(out), "inputs_unchanged": bool(torch.equal(logits, copy))}


def sentence_batch_case(sub, rng, corpus="farm", k=4, oov=True, empty=False):
    """sentence_batch on k sentences of a tiny corpus (some words out of vocabulary)."""
    _setup(rng)
    sentences = F.sentences(corpus)
    vocab = Vocab.build(sentences, min_count=2 if oov else 1)
    pick = [sentences[int(i)] for i in rng.choice(len(sentences), size=k, replace=False)]
    if empty:
        pick.insert(1, [])
    x, y = sub.models.sentence_batch(pick, vocab)
    return {"x": _np(x).astype(np.int64), "y": _np(y).astype(np.int64)}


def language_model(sub, rng, cell="lstm", corpus="verse", E=8, H=8):
    """TorchLM (provided) around the student's model: logprobs of four sentences read as one
    stream, their perplexity, and next_distribution after a context (float64)."""
    _setup(rng)
    sentences = F.sentences(corpus)
    vocab = Vocab.build(sentences, min_count=2)
    V = len(vocab)
    model = _build(sub, cell, V, E, H, 1, 0.0, False)
    _load(model, _random_weights(rng, cell, V, E, H, 1, False))
    from lmcore.lm import perplexity
    lm = sub.models.TorchLM(model, vocab)
    lp = lm.logprobs(sentences[:4])
    dist = lm.next_distribution(sentences[0][:3])
    return {"logprobs": np.asarray(lp, dtype=np.float64),
            "perplexity": float(perplexity(lm, sentences[:4])),
            "next": np.asarray(dist, dtype=np.float64)}
