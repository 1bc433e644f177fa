"""a5's transformer trained with a4's loop on Shakespeare within a CPU budget: the course's
final-table row.

    python benchmarks/bench_attention_train.py --match-lstm 600   # the 10-minute run (see below)
    python benchmarks/bench_attention_train.py --budget 600       # ten minutes of wall clock
    python benchmarks/bench_attention_train.py --tokens 200000    # a fixed number of tokens
    python benchmarks/bench_attention_train.py --probe            # tokens/s of a few configs

The machine is shared, so a wall-clock budget measures the neighbours as much as the model.
``--match-lstm SECONDS`` turns the budget into tokens instead: it times training steps of the
transformer and of a4's reference LSTM side by side (interleaved, so both see the same load),
and trains the transformer on SECONDS x (the LSTM's quiet-machine rate, 832,160 tokens in its
611 s run: 1,362 tokens/s) x (transformer tokens/s / LSTM tokens/s), i.e. the tokens it would
have read in SECONDS on the machine where the LSTM's 116.9 was measured.

Prints the validation perplexity after each epoch, the test perplexity by
``lmcore.lm.perplexity`` (every word and every ``</s>`` predicted, ``<s>`` never; a4's
``TorchLM`` reads the test sentences as one stream, each chunk of ``--stride`` tokens with the
``block_size - stride`` tokens before it as context), tokens seen and tokens/s, and the
margins over the modified Kneser-Ney 5-gram (146.4) and the a4 LSTM at ten minutes (116.9).
With ``--save PATH`` the trained weights are written for the notebook.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "solutions")]

import torch  # noqa: E402

from a4_torch.models import TorchLM  # noqa: E402
from a4_torch import train as a4_train  # noqa: E402
from a5_attention.models import TransformerLM, count_parameters, init_transformer  # noqa: E402
from a5_attention.train import fit, make_optimizer  # noqa: E402
from lmcore.batching import stream  # noqa: E402
from lmcore.corpus import load_shakespeare  # noqa: E402
from lmcore.lm import perplexity  # noqa: E402
from lmcore.vocab import Vocab  # noqa: E402

MKN_5GRAM = 146.4     # a1's modified Kneser-Ney 5-gram on the same test tokens
A4_LSTM = 116.9       # a4's reference LSTM after its 10-minute budget (README)
A4_LSTM_RATE = 832_160 / 611   # its training tokens per second in that run (README)


def build(vocab_size, a, seed=0):
    model = TransformerLM(vocab_size, d_model=a.d_model, n_heads=a.heads, n_layers=a.layers,
                          block_size=a.block, dropout=a.dropout, tie_weights=True)
    return init_transformer(model, torch.Generator().manual_seed(seed))


def probe(vocab_size, ids, a):
    """Training tokens/s (forward, backward, AdamW step) of a few shapes, 8 steps each."""
    from lmcore.batching import bptt_batches
    for d, L, C, N in ((256, 2, 128, 16), (256, 4, 128, 16), (192, 3, 128, 16),
                       (256, 2, 64, 32), (128, 4, 128, 16)):
        a.d_model, a.layers, a.block = d, L, C
        model = build(vocab_size, a)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        model.train()
        batches = bptt_batches(ids, N, C)
        n, t0 = 0, None
        for k, (x, y) in enumerate(batches):
            if k == 2:
                t0, n = time.perf_counter(), 0
            if k == 10:
                break
            x, y = torch.from_numpy(x), torch.from_numpy(y)
            logits, _ = model(x)
            loss = a4_train.lm_loss(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            n += x.numel()
        print(f"D={d} L={L} C={C} N={N}: {count_parameters(model):,} parameters, "
              f"{n / (time.perf_counter() - t0):,.0f} tokens/s", flush=True)


def match_lstm(vocab_size, ids, a, rounds=6, steps=3):
    """tokens/s of the transformer and of a4's reference LSTM (E = H = 256, tied, dropout 0.1,
    Adam, clipping 0.5, chunks of 32 x 35), timed in alternating rounds; returns their ratio."""
    from a4_torch.models import LSTMLM, init_weights
    from lmcore.batching import bptt_batches
    lstm = init_weights(LSTMLM(vocab_size, 256, 256, dropout=0.1, tie_weights=True),
                        torch.Generator().manual_seed(0))
    model = build(vocab_size, a)
    config = a4_train.TrainConfig(lr=1e-4, weight_decay=a.weight_decay)
    opt, _ = make_optimizer(model, config, total_steps=10 ** 6, warmup_steps=1)
    runs = {"transformer": (model, opt, a.batch, a.block, a.clip),   # its optimiser, a5's
            "lstm": (lstm, a4_train.make_optimizer(lstm, a4_train.TrainConfig(lr=1e-4))[0],
                     32, 35, 0.5)}
    seen = {k: [0, 0.0] for k in runs}
    for r in range(rounds + 1):
        for name, (m, opt, N, T, clip) in runs.items():
            m.train()
            batches = bptt_batches(ids, N, T)
            state = None
            t0 = time.perf_counter()
            for _, (x, y) in zip(range(steps), batches):
                x, y = torch.from_numpy(x), torch.from_numpy(y)
                state = a4_train.detach_state(state)
                logits, state = m(x, state)
                loss = a4_train.lm_loss(logits, y)
                opt.zero_grad()
                loss.backward()
                a4_train.clip_grad_norm(m.parameters(), clip)
                opt.step()
            if r:                       # round 0 warms up
                seen[name][0] += steps * N * T
                seen[name][1] += time.perf_counter() - t0
    rate = {k: n / t for k, (n, t) in seen.items()}
    print(f"side by side: transformer {rate['transformer']:,.0f} tokens/s, LSTM "
          f"{rate['lstm']:,.0f} tokens/s (ratio {rate['transformer'] / rate['lstm']:.3f})",
          flush=True)
    return rate["transformer"] / rate["lstm"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=600.0, help="training seconds")
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--block", type=int, default=64, help="context C (and training chunk T)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--min-lr", type=float, default=3e-4)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--epochs", type=int, default=1, help="epochs the cosine spans")
    p.add_argument("--stride", type=int, default=32, help="test chunk (context C - stride)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", help="write the trained weights and config here")
    p.add_argument("--sentences", type=int, default=None,
                   help="use only the first N sentences of each split (a smoke test)")
    p.add_argument("--probe", action="store_true")
    p.add_argument("--no-test", action="store_true", help="stop after validation (tuning runs)")
    p.add_argument("--ratio-only", action="store_true",
                   help="with --match-lstm: print the side-by-side throughput and stop")
    p.add_argument("--tokens", type=int, default=None, help="train on this many tokens")
    p.add_argument("--match-lstm", type=float, default=None, metavar="SECONDS",
                   help="tokens the transformer reads in SECONDS where the a4 LSTM was measured")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)   # dropout masks
    train_s, valid_s, test_s = (load_shakespeare(s)[:a.sentences]
                                for s in ("train", "valid", "test"))
    vocab = Vocab.build(load_shakespeare("train"), min_count=2)   # the course's vocabulary
    train_ids, valid_ids = stream(train_s, vocab), stream(valid_s, vocab)
    if a.probe:
        probe(len(vocab), train_ids, a)
        return
    budget_note = f"{a.budget:.0f} s of wall clock"
    if a.match_lstm:
        ratio = match_lstm(len(vocab), train_ids, a)
        if a.ratio_only:
            return
        a.tokens = int(a.match_lstm * A4_LSTM_RATE * ratio)
        budget_note = (f"{a.match_lstm:.0f} s at the a4 LSTM's rate x {ratio:.3f} = "
                       f"{a.tokens:,} tokens")
    elif a.tokens:
        budget_note = f"{a.tokens:,} tokens"
    if a.tokens:
        a.budget = None
    torch.manual_seed(a.seed)   # dropout masks, whatever the throughput measurement drew
    model = build(len(vocab), a, a.seed)
    print(f"transformer D={a.d_model} h={a.heads} L={a.layers} C={a.block}: "
          f"{count_parameters(model):,} parameters; batch {a.batch} x {a.block}, AdamW "
          f"{a.lr:g} -> {a.min_lr:g}, warm-up {a.warmup}, budget {budget_note}", flush=True)
    config = a4_train.TrainConfig(batch_size=a.batch, bptt=a.block, lr=a.lr,
                                  weight_decay=a.weight_decay, clip=a.clip, epochs=a.epochs,
                                  patience=2, time_budget=a.budget, eval_batch_size=16,
                                  max_chunks=-(-a.tokens // (a.batch * a.block)) if a.tokens else None)
    cpu0 = time.process_time()
    hist = fit(model, train_ids, valid_ids, config, warmup_steps=a.warmup, min_lr=a.min_lr,
               a4_train=a4_train, progress=False)
    seconds = sum(hist.seconds)
    tokens = sum(hist.tokens)
    print(f"trained {tokens:,} tokens in {seconds:.0f} s ({tokens / max(seconds, 1e-9):,.0f} "
          f"tokens/s); valid perplexity {[round(math.exp(v), 1) for v in hist.valid_loss]}",
          flush=True)
    if a.no_test:
        return
    t1 = time.perf_counter()
    lm = TorchLM(model, vocab, chunk=a.stride)
    ppl = perplexity(lm, test_s)
    print(f"trained {seconds:.0f} s of wall clock with evaluation ({time.process_time() - cpu0:.0f} "
          f"CPU-s over {a.threads} threads), {tokens:,} tokens "
          f"({tokens / (len(train_ids) - 1):.2f} epochs), {tokens / max(seconds, 1e-9):,.0f} "
          f"tokens/s; stopped: {hist.stopped}")
    print(f"validation perplexity by epoch: {[round(math.exp(v), 1) for v in hist.valid_loss]}")
    print(f"TEST PERPLEXITY {ppl:.1f} (stride {a.stride}, context {a.block - a.stride}.."
          f"{a.block - 1}; scored in {time.perf_counter() - t1:.0f} s): {ppl - MKN_5GRAM:+.1f} "
          f"against the modified KN 5-gram ({MKN_5GRAM}), {ppl - A4_LSTM:+.1f} against the a4 "
          f"LSTM at 10 minutes ({A4_LSTM})", flush=True)
    if a.save:
        torch.save({"model": model.state_dict(),
                    "config": {k: getattr(a, k) for k in ("d_model", "heads", "layers",
                                                         "block", "dropout")},
                    "test_perplexity": ppl, "tokens": tokens, "seconds": seconds}, a.save)
        Path(a.save).with_suffix(".json").write_text(json.dumps(
            {"test_perplexity": ppl, "tokens": tokens, "seconds": seconds,
             "valid": [math.exp(v) for v in hist.valid_loss], "args": vars(a)}, indent=1))


if __name__ == "__main__":
    main()
