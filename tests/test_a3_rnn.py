"""a3_rnn: the reference solution (gradients, torch agreement, clipping against torch, teacher
forcing, truncated BPTT), its suite (every part public and hidden; each classic bug's feedback
names it), the notebook (executed with a budget of seconds) and the benchmark.

Every example's manifest is checked through the real sandboxed engine by tests/test_verify.py;
here each classic-bug example is graded in-process (tests/harness.py) on the one test its hint
belongs to."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "a3_rnn"
for p in (str(ROOT), str(ROOT / "solutions")):
    if p not in sys.path:
        sys.path.insert(0, p)

torch = pytest.importorskip("torch")

from a3_rnn import clipping, lstm_layers, rnn_layers  # noqa: E402
from a3_rnn.models import RNNLM, TrainConfig, grad_norm_vs_distance, train, truncated_bptt  # noqa: E402
from autograder.authoring import registry as asg  # noqa: E402
from autograder.instructor.examples import list_examples  # noqa: E402
from autograder.authoring.declare import load_tests  # noqa: E402
from harness import assert_checks_pass, assert_hint, run_notebook  # noqa: E402
from lmcore.batching import bptt_batches, stream  # noqa: E402
from lmcore.gradcheck import check_gradients, numerical_gradient_array, rel_error  # noqa: E402
from lmcore.lm import LanguageModel, generate  # noqa: E402
from lmcore.vocab import Vocab  # noqa: E402

A3 = asg.get("a3_rnn")

SENTS = [["the", "cat", "sat"], ["a", "dog", "ran", "home"], ["the", "dog", "sat"],
         ["a", "cat", "ran", "up", "the", "hill"]]


def small_model(cell, seed=0, D=3, H=4):
    vocab = Vocab.build(SENTS, min_count=1)
    return RNNLM(vocab, np.random.default_rng(seed), D=D, H=H, cell=cell), vocab


# -- layers: numerical gradients and torch autograd --------------------------------------------
def test_rnn_backward_matches_numerical_gradient_and_keeps_inputs():
    rng = np.random.default_rng(0)
    x, h0 = rng.standard_normal((2, 4, 3)), rng.standard_normal((2, 5))
    Wx, Wh, b = rng.standard_normal((3, 5)) * 0.5, rng.standard_normal((5, 5)) * 0.4, rng.standard_normal(5)
    dh = rng.standard_normal((2, 4, 5))
    before = [a.copy() for a in (x, h0, Wx, Wh, b, dh)]
    _, cache = rnn_layers.rnn_forward(x, h0, Wx, Wh, b)
    grads = rnn_layers.rnn_backward(dh, cache)
    for a, g in zip((x, h0, Wx, Wh, b), grads):
        num = numerical_gradient_array(lambda _: rnn_layers.rnn_forward(x, h0, Wx, Wh, b)[0], a, dh)
        assert rel_error(g, num) < 1e-6
    assert all(np.array_equal(u, v) for u, v in zip(before, (x, h0, Wx, Wh, b, dh)))


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_layers_agree_with_torch_autograd(cell):
    rng = np.random.default_rng(1)
    N, T, D, H = 3, 5, 4, 6
    G = 4 * H if cell == "lstm" else H
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    Wx, Wh, b = rng.standard_normal((D, G)) / 2, rng.standard_normal((H, G)) / 2.5, rng.standard_normal(G)
    dh = rng.standard_normal((N, T, H))
    tx = torch.tensor(x, requires_grad=True)
    th0 = torch.tensor(h0[None], requires_grad=True)
    if cell == "lstm":
        h, _, cache = lstm_layers.lstm_forward(x, h0, Wx, Wh, b)
        dx, dh0, _, dWx, dWh, db = lstm_layers.lstm_backward(dh, cache)
        mod = torch.nn.LSTM(D, H, batch_first=True).double()
        with torch.no_grad():
            for k, v in lstm_layers.lstm_to_torch(Wx, Wh, b).items():
                getattr(mod, k).copy_(torch.tensor(v))
        out, _ = mod(tx, (th0, torch.zeros_like(th0)))
        expected_dWx = lstm_layers.lstm_to_torch(dWx, dWh, db)["weight_ih_l0"]
    else:
        h, cache = rnn_layers.rnn_forward(x, h0, Wx, Wh, b)
        dx, dh0, dWx, dWh, db = rnn_layers.rnn_backward(dh, cache)
        mod = torch.nn.RNN(D, H, batch_first=True).double()
        with torch.no_grad():
            mod.weight_ih_l0.copy_(torch.tensor(Wx.T))
            mod.weight_hh_l0.copy_(torch.tensor(Wh.T))
            mod.bias_ih_l0.copy_(torch.tensor(b))
            mod.bias_hh_l0.zero_()
        out, _ = mod(tx, th0)
        expected_dWx = dWx.T
    out.backward(torch.tensor(dh))
    np.testing.assert_allclose(h, out.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dh0, th0.grad[0].numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(expected_dWx, mod.weight_ih_l0.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_lstm_converter_gate_order():
    H = 2
    b = np.repeat(np.arange(4.0), H)         # blocks i=0, f=1, o=2, g=3
    out = lstm_layers.lstm_to_torch(np.zeros((3, 4 * H)), np.zeros((H, 4 * H)), b)
    assert out["bias_ih_l0"].tolist() == [0, 0, 1, 1, 3, 3, 2, 2]   # torch: i, f, g, o
    assert out["weight_ih_l0"].shape == (4 * H, 3) and not out["bias_hh_l0"].any()


def test_masked_softmax_loss_is_mean_over_unmasked_tokens():
    rng = np.random.default_rng(2)
    s, y = rng.standard_normal((2, 3, 5)), rng.integers(0, 5, (2, 3))
    mask = np.array([[True, False, True], [False, False, True]])
    loss, dx = rnn_layers.temporal_softmax_loss(s, y, mask)
    ts = torch.tensor(s, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(ts.reshape(-1, 5), torch.tensor(np.where(mask, y, -100)).reshape(-1))
    tl.backward()
    assert loss == pytest.approx(float(tl.detach()), rel=1e-12)
    np.testing.assert_allclose(dx, ts.grad.numpy(), atol=1e-15)
    assert not dx[~mask].any()


# -- clipping against torch ----------------------------------------------------------------------
def torch_clip(grads, max_norm, **kw):
    params = []
    for v in grads.values():
        p = torch.nn.Parameter(torch.zeros(v.shape, dtype=torch.float64))
        p.grad = torch.tensor(v)
        params.append(p)
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm, **kw)
    return {k: p.grad.numpy() for k, p in zip(grads, params)}, float(norm)


@pytest.mark.parametrize("case,scale,poison,max_norm", [
    ("random", 1.0, None, 1.0), ("below", 0.01, None, 1.0), ("tiny", 1e-200, None, 1.0),
    ("huge", 1e200, None, 1.0), ("inf", 1.0, np.inf, 1.0), ("nan", 1.0, np.nan, 1.0),
    ("zero_max", 1.0, None, 0.0), ("negative_max", 1.0, None, -2.0)])
def test_clip_grad_norm_is_torchs(case, scale, poison, max_norm):
    rng = np.random.default_rng(3)
    grads = {"W": rng.standard_normal((3, 4)) * scale, "b": rng.standard_normal(4) * scale}
    if poison is not None:
        grads["W"][1, 1] = poison
    before = {k: v.copy() for k, v in grads.items()}
    ours, norm = clipping.clip_grad_norm(grads, max_norm)
    theirs, tnorm = torch_clip({k: v.copy() for k, v in before.items()}, max_norm)
    assert (norm == tnorm) or (math.isnan(norm) and math.isnan(tnorm))
    for k in grads:
        np.testing.assert_array_equal(ours[k], theirs[k])
        np.testing.assert_array_equal(grads[k], before[k])   # inputs untouched
        assert ours[k] is not grads[k]


def test_clip_grad_norm_error_if_nonfinite_and_empty():
    with pytest.raises(RuntimeError):
        clipping.clip_grad_norm({"W": np.array([np.inf, 1.0])}, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        torch_clip({"W": np.array([np.inf, 1.0])}, 1.0, error_if_nonfinite=True)
    assert clipping.clip_grad_norm({}, 1.0) == ({}, 0.0)


def test_clip_value_and_nonfinite_detector():
    g = {"W": np.array([-3.0, 0.2, np.nan, 7.0])}
    out = clipping.clip_grad_value(g, 1.0)
    np.testing.assert_array_equal(out["W"], [-1.0, 0.2, np.nan, 1.0])
    assert clipping.first_nonfinite([3.0, 2.0, 1.0], [1.0, 1.0, 1.0]) is None
    assert clipping.first_nonfinite([3.0, 2.0, math.nan], [1.0, math.inf, 1.0]) == 1


# -- the language model --------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_model_gradients_are_numerical_gradients(cell):
    model, vocab = small_model(cell)
    model.params["W_embed"] = model.params["W_embed"] * 5   # gradients well above rounding noise
    rows = [vocab.encode_padded(s) for s in SENTS[:2]]
    tokens = np.full((2, max(map(len, rows))), -100)
    for r, row in enumerate(rows):
        tokens[r, :len(row)] = row
    _, grads, _ = model.loss(tokens)
    check_gradients(lambda: model.loss(tokens)[0], model.params, grads, tol=1e-6)


def test_zero_model_loss_is_log_of_prediction_space():
    model, vocab = small_model("rnn")
    model.params = {k: np.zeros_like(v) for k, v in model.params.items()}
    tokens = np.array([vocab.encode_padded(SENTS[0])])
    loss, _, _ = model.loss(tokens)
    assert loss == pytest.approx(math.log(len(vocab) - 1), rel=1e-12)


def test_truncated_bptt_carries_state_not_gradients():
    model, vocab = small_model("rnn", seed=4)
    ids = stream(SENTS, vocab)
    chunks = list(bptt_batches(ids, 2, 3))
    results = list(truncated_bptt(model, ids, 2, 3))
    assert len(results) == len(chunks)
    state = None
    for (x, y), (loss, grads) in zip(chunks, results):
        ref_loss, _, state = model.loss_chunk(x, y, state)
        assert loss == pytest.approx(ref_loss, rel=1e-12)
        outside = np.setdiff1d(np.arange(len(vocab)), x)
        assert not grads["W_embed"][outside].any()   # nothing from other chunks
    # a fresh state would change the second chunk's loss: the state is really carried
    assert results[1][0] != pytest.approx(model.loss_chunk(*chunks[1])[0], rel=1e-9)


def test_language_model_interface_and_sampling():
    model, vocab = small_model("lstm", seed=5)
    assert isinstance(model, LanguageModel)
    p = model.next_distribution(["the"])
    assert p[vocab.bos_id] == 0 and p.sum() == pytest.approx(1.0, abs=1e-12)
    # generation reads one sentence from the zero state after start_id
    state = model.initial_state(1)
    for idx in (model.start_id, vocab["the"]):
        q, state = model.step(np.array([idx]), state)
    assert np.allclose(p, q[0], rtol=1e-12, atol=0)
    for seed in range(3):   # lmcore's sampler over the model: one seed, one sentence
        a = generate(model, np.random.default_rng(seed), max_tokens=15)
        assert a == generate(model, np.random.default_rng(seed), max_tokens=15)
        assert len(a) <= 15 and "<s>" not in a and "</s>" not in a


def test_train_config_vocabulary_and_epoch_offsets():
    """batch_size/bptt/clip/time_budget/seed drive the loop: one epoch reads the stream from
    its start; later epochs start at an offset drawn from config.seed (same seed, same run)."""
    vocab = Vocab.build(SENTS, min_count=1)
    ids = stream(SENTS * 4, vocab)

    def run(seed, epochs):
        model = RNNLM(vocab, np.random.default_rng(0), D=4, H=5)
        cfg = TrainConfig(batch_size=2, bptt=3, lr=1e-2, clip=1.0, epochs=epochs, seed=seed)
        return train(model, ids, cfg)
    one = run(0, 1)
    assert len(one.loss) == len(list(truncated_bptt(RNNLM(vocab, np.random.default_rng(0), D=4, H=5),
                                                    ids, 2, 3)))
    assert one.loss == run(1, 1).loss            # the seed does not touch the first epoch
    assert run(0, 3).loss == run(0, 3).loss      # reproducible
    assert run(0, 3).loss != run(1, 3).loss      # later epochs start elsewhere
    assert max(one.grad_norm) > 0


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_logprobs_read_the_sentences_as_one_stream(cell):
    model, vocab = small_model(cell, seed=5)
    lp = model.logprobs(SENTS)
    ids = stream(SENTS, vocab)
    assert lp.shape == (sum(len(s) + 1 for s in SENTS),) == (len(ids) - 1,)
    # one step at a time, <s> read once and the state carried across every sentence boundary
    state, stepped = model.initial_state(1), []
    for prev, nxt in zip(ids[:-1], ids[1:]):
        q, state = model.step(np.array([prev]), state)
        stepped.append(math.log(q[0, nxt]))
    assert np.allclose(lp, stepped, rtol=1e-12, atol=0)
    # the chunk length is an implementation detail; the mean is the teacher-forcing loss
    assert np.allclose(model.logprobs(SENTS, chunk=2), lp, rtol=1e-12, atol=0)
    assert -lp.mean() == pytest.approx(model.loss(ids[None, :])[0], rel=1e-12)
    # the second sentence is read after the first: its values differ from reading it alone
    first = len(SENTS[0]) + 1
    assert not np.allclose(lp[first:], model.logprobs(SENTS[1:]))
    assert model.logprobs([]).shape == (0,) and model.logprobs([[]]).shape == (1,)


def test_gradient_vanishes_for_rnn_and_explodes_with_large_recurrent_weights():
    model, vocab = small_model("rnn", seed=6, D=4, H=8)
    tokens = np.random.default_rng(0).integers(3, len(vocab), size=(4, 21))
    small = grad_norm_vs_distance(model, tokens)
    model.params["Wh"] = model.params["Wh"] * 0.3
    assert grad_norm_vs_distance(model, tokens)[-1] < small[-1]
    model.params["Wh"] = model.params["Wh"] / 0.3 * 6.0
    model.params["b"] = model.params["b"] * 0
    model.params["Wx"] = model.params["Wx"] * 0.01     # unsaturated units: pure amplification
    big = grad_norm_vs_distance(model, tokens)
    assert big[-1] > 100 * big[0]


# -- the suite and the examples -----------------------------------------------------------------
def test_suite_declares_every_part_public_and_hidden():
    tests = load_tests(A3.name)
    for group in {t.name.split(".")[0] for t in tests}:   # a public and a hidden test each
        assert {t.visibility for t in tests if t.name.split(".")[0] == group} == {"public", "hidden"}, group


HINTS = {  # example -> (a test it fails, a phrase its feedback must contain)
    "tanh_preactivation": ("rnn_step.backward", "1 - tanh(a)^2"),
    "bptt_drops_dh": ("rnn_sequence.backward", "dprev_h"),
    "mask_ignored": ("softmax_loss.masked", "counts the padding"),
    "mask_normaliser_only": ("softmax_loss.masked", "counted in the normaliser"),
    "lstm_gate_order": ("lstm_step.forward", "reads the gates in another order"),
    "clip_per_tensor": ("clip_norm.random", "ONE global norm"),
    "clip_per_element": ("clip_norm.random", "changes the update's direction"),
    "clip_rescales_below": ("clip_norm.below", "never above 1"),
    "state_not_carried": ("tbptt.chunks", "carry the hidden state"),
    "gradients_carried": ("tbptt.chunks", "never reset"),
    "teacher_forcing_own_predictions": ("model.closed_form_bigram", "the TRUE token"),
}


def test_every_bug_example_has_a_hint():
    bugs = {e.name for e in list_examples(A3)}
    assert bugs - {"correct", "partial"} == set(HINTS)


@pytest.mark.parametrize("example", sorted(HINTS))
def test_bug_hints_name_the_bug(example, tmp_path):
    test_name, phrase = HINTS[example]
    assert_hint(A3, example, test_name, phrase, tmp_path)


# -- the notebook and the benchmark -------------------------------------------------------------
@pytest.mark.slow
def test_notebook_is_nbgrader_source_and_runs_on_a_small_budget(tmp_path):
    import nbformat
    nb = nbformat.read(SOLUTION / "a3_rnn.ipynb", as_version=4)
    nbformat.validate(nb)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(graded) == 5 and all(c.cell_type == "markdown" and c.metadata["nbgrader"]["points"] > 0
                                    and "### BEGIN SOLUTION" in c.source for c in graded)
    assert all(c.metadata["nbgrader"]["schema_version"] == 3 for c in nb.cells if "nbgrader" in c.metadata)
    text = run_notebook(SOLUTION / "a3_rnn.ipynb", append=(
        "\nBUDGET_S = 0.3; CLIP_STEPS = 2; EVAL_SENTENCES = 40; D, H = 8, 16; N, T = 8, 8"))
    assert "validation perplexity" in text and "first non-finite step" in text
    assert_checks_pass(text, A3)


@pytest.mark.slow
def test_benchmark_runs_quick():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_rnn.py"), "--quick",
                          "--repeat", "1"], capture_output=True, text=True, check=True).stdout
    assert out.count("x\n") == 4 and "LSTM LM loss+grads" in out
