"""Forward + backward of a3's reference RNN and LSTM against torch autograd, same shapes,
float64 on the CPU, one thread each. Prints one row per case and the ratio numpy / torch
(goal: within 1.5x).

    python benchmarks/bench_rnn.py [--repeat 5] [--quick]

Cases: the recurrent layer alone (rnn_forward + rnn_backward vs torch.nn.RNN; lstm_* vs
torch.nn.LSTM) and the whole language-model loss (embedding, recurrence, vocabulary affine,
masked softmax cross-entropy, all gradients) at the notebook's sizes.
"""
from __future__ import annotations

from single_thread import ROOT, best_time  # noqa: F401  first: one BLAS thread

import argparse
import math

import numpy as np
import torch

from a3_rnn import lstm_layers, rnn_layers
from a3_rnn.models import RNNLM
from autograder.suites.a3_rnn.scenarios import torch_scores  # the same oracle the tests use
from lmcore.vocab import Vocab

torch.set_num_threads(1)


def layer_case(cell, N, T, D, H, repeat):
    rng = np.random.default_rng(0)
    G = 4 * H if cell == "lstm" else H
    x = rng.standard_normal((N, T, D))
    h0 = rng.standard_normal((N, H))
    Wx = rng.standard_normal((D, G)) / math.sqrt(D)
    Wh = rng.standard_normal((H, G)) / math.sqrt(H)
    b = np.zeros(G)
    dh = rng.standard_normal((N, T, H))

    def ours():
        if cell == "lstm":
            _, _, cache = lstm_layers.lstm_forward(x, h0, Wx, Wh, b)
            lstm_layers.lstm_backward(dh, cache)
        else:
            _, cache = rnn_layers.rnn_forward(x, h0, Wx, Wh, b)
            rnn_layers.rnn_backward(dh, cache)

    module = (torch.nn.LSTM if cell == "lstm" else torch.nn.RNN)(D, H, batch_first=True).double()
    tx = torch.tensor(x, requires_grad=True)
    th0 = torch.tensor(h0[None], requires_grad=True)
    tdh = torch.tensor(dh)
    state = (th0, torch.zeros_like(th0)) if cell == "lstm" else th0

    def theirs():
        module.zero_grad(set_to_none=True)
        tx.grad = None
        out, _ = module(tx, state)
        out.backward(tdh)

    return best_time(ours, repeat), best_time(theirs, repeat)


def lm_case(cell, N, T, D, H, V, repeat):
    rng = np.random.default_rng(0)
    vocab = Vocab([f"w{i}" for i in range(V - 3)])
    model = RNNLM(vocab, rng, D=D, H=H, cell=cell)
    x = rng.integers(0, V, size=(N, T))
    y = rng.integers(3, V, size=(N, T))

    def ours():
        model.loss_chunk(x, y)

    p = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    tx, ty = torch.tensor(x), torch.tensor(y)
    never = torch.tensor(model.never)

    def theirs():
        for t in p.values():
            t.grad = None
        s = torch_scores(p, p["W_embed"][tx], cell, H) + never
        torch.nn.functional.cross_entropy(s.reshape(-1, V), ty.reshape(-1)).backward()

    return best_time(ours, repeat), best_time(theirs, repeat)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="small shapes (for the kit's tests)")
    args = ap.parse_args()
    N, T, D, H, V = (4, 8, 8, 16, 200) if args.quick else (32, 32, 64, 128, 14340)
    rows = [
        ("RNN layer fwd+bwd", *layer_case("rnn", N, T, D, H, args.repeat)),
        ("LSTM layer fwd+bwd", *layer_case("lstm", N, T, D, H, args.repeat)),
        ("RNN LM loss+grads", *lm_case("rnn", N, T, D, H, V, args.repeat)),
        ("LSTM LM loss+grads", *lm_case("lstm", N, T, D, H, V, args.repeat)),
    ]
    print(f"a3 reference vs torch {torch.__version__} autograd, float64, CPU, 1 thread; "
          f"N={N} T={T} D={D} H={H} V={V}; best of {args.repeat}")
    print(f"{'case':22s} {'numpy ms':>10s} {'torch ms':>10s} {'ratio':>7s}")
    for name, ours, theirs in rows:
        print(f"{name:22s} {ours * 1e3:10.2f} {theirs * 1e3:10.2f} {ours / theirs:7.2f}x")


if __name__ == "__main__":
    main()
