"""Assignment 2 (window LM): the reference, its suites, its examples and its notebook.

Every example's manifest is checked through the real sandboxed engine by tests/test_verify.py;
here each classic-bug example is graded in-process (tests/harness.py) on the one test its hint
belongs to, to check that the feedback names the bug.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autograder.authoring import registry as asg
from harness import (assert_checks_pass, assert_hint, assert_nbgrader_source, load_package,
                     run_notebook)

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "a2_window"
A2 = asg.get("a2_window")


# -- examples: the classic bugs' feedback names them -----------------------------------------------
HINTS = {  # example -> (a test it fails, a phrase its feedback must contain)
    "embedding_overwrite": ("embedding.gradcheck", "np.add.at"),
    "softmax_no_max": ("softmax_loss.overflow", "maximum"),
    "tanh_preactivation": ("tanh.gradcheck", "pre-activation"),
    "bias_not_summed": ("affine.forward_backward", "sum(axis=0)"),
    "window_reversed": ("concat.forward_backward", "reverse order"),
    "softmax_wrong_axis": ("softmax_loss.unmasked", "down each column"),
    "loss_summed": ("softmax_loss.values", "summed over the examples"),
    "adam_no_bias_correction": ("train.optimizers", "without bias correction"),
    "lr_warmup_late": ("train.lr_schedule", "one step late"),
    "bos_not_masked": ("model.window_log_probs", "mask it out of the softmax"),
    "affine_dw_transposed": ("affine.forward_backward", "transpose of the right gradient"),
}


@pytest.mark.parametrize("example", sorted(HINTS))
def test_bug_hints_name_the_bug(example, tmp_path):
    test_name, phrase = HINTS[example]
    assert_hint(A2, example, test_name, phrase, tmp_path)


# -- unit tests of the reference ------------------------------------------------------------------
@pytest.fixture(scope="module")
def ref():
    return load_package(SOLUTION, "a2_window_reference")


TINY = [["the", "cat", "sat"], ["the", "dog", "sat", "down"], ["a", "cat"]]


def _tiny_model(ref, C=2, seed=0):
    from lmcore.vocab import Vocab
    return ref.models.WindowLM(Vocab.build(TINY, min_count=1), np.random.default_rng(seed),
                              n_context=C, d_embed=3, d_hidden=4)


def test_log_softmax_is_stable_and_masks(ref):
    scores = np.array([[1000.0, 0.0, -1000.0, 999.0], [5.0, 5.0, 5.0, 5.0]])
    before = scores.copy()
    mask = np.array([True, False, True, True])
    logp = ref.layers.log_softmax(scores, mask)
    np.testing.assert_array_equal(scores, before)
    assert np.isneginf(logp[:, 1]).all() and np.isfinite(logp[:, [0, 2, 3]]).all()
    np.testing.assert_allclose(np.exp(logp).sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(logp[0, 0], -np.log1p(np.exp(-1.0)), rtol=1e-12)
    np.testing.assert_allclose(logp[1, [0, 2, 3]], -np.log(3.0), rtol=1e-12)


def test_embedding_backward_accumulates_repeated_words(ref):
    x = np.array([[1, 1], [2, 1]])
    W = np.zeros((4, 2))
    _, cache = ref.layers.embedding_forward(x, W)
    dW = ref.layers.embedding_backward(np.ones((2, 2, 2)), cache)
    np.testing.assert_array_equal(dW, [[0, 0], [3, 3], [1, 1], [0, 0]])


def test_concat_puts_the_oldest_word_first(ref):
    x = np.arange(12.0).reshape(2, 3, 2)
    out, _ = ref.layers.concat_forward(x)
    np.testing.assert_array_equal(out[0], [0, 1, 2, 3, 4, 5])


def test_model_gradients_check(ref):
    from lmcore.gradcheck import check_gradients
    lm = _tiny_model(ref, C=3)
    for k in lm.params:
        lm.params[k] = np.random.default_rng(1).standard_normal(lm.params[k].shape) * 0.5
    ctx, tgt = lm.windows(TINY)
    before = (ctx.copy(), tgt.copy())
    _, grads = lm.loss(ctx, tgt)
    np.testing.assert_array_equal(ctx, before[0])
    check_gradients(lambda: lm.loss(ctx, tgt)[0], lm.params, grads, tol=1e-6)


def test_zero_output_layer_is_uniform_over_the_prediction_space(ref):
    lm = _tiny_model(ref)
    lm.params["W2"] = np.zeros_like(lm.params["W2"])
    from lmcore.lm import perplexity
    ppl = perplexity(lm, TINY)
    assert ppl == pytest.approx(lm.vocab.prediction_size, rel=1e-12)
    p = lm.next_distribution(["the"])
    assert p[lm.vocab.bos_id] == 0.0
    assert np.allclose(p[lm.vocab.prediction_ids], 1.0 / lm.vocab.prediction_size)


def test_language_model_interface(ref):
    from lmcore import lm as lmlib
    model = _tiny_model(ref, C=2, seed=3)
    assert isinstance(model, lmlib.LanguageModel)
    lp = model.logprobs(TINY + [[], ["unseen", "words"]])
    assert lp.shape == (sum(len(s) + 1 for s in TINY) + 1 + 3,)
    lp_tiny = model.logprobs(TINY)
    assert lmlib.perplexity(model, TINY) == pytest.approx(np.exp(-lp_tiny.mean()), rel=1e-12)
    for context in ([], ["the"], ["the", "cat", "sat", "down", "zebra"]):
        p = model.next_distribution(context)
        assert p.shape == (len(model.vocab),) and p[model.vocab.bos_id] == 0.0
        assert abs(p.sum() - 1.0) < 1e-12
    # chunked scoring gives the same numbers as one batch
    np.testing.assert_allclose(model.logprobs(TINY, batch_size=2), model.logprobs(TINY),
                               rtol=1e-13)
    # seeded sampling through lmcore: same rng, same sentence
    a = lmlib.generate(model, np.random.default_rng(5), max_tokens=10)
    assert a == lmlib.generate(model, np.random.default_rng(5), max_tokens=10)
    assert all(t in model.vocab.prediction_words() and t != "</s>" for t in a)


def test_adam_matches_torch(ref):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((3, 2))
    grads = [rng.standard_normal((3, 2)) for _ in range(4)]
    tw = torch.tensor(w0.copy(), requires_grad=True)
    opt = torch.optim.Adam([tw], lr=0.01, betas=(0.9, 0.999), eps=1e-8)
    w, state = w0, ref.train.adam_init(w0)
    for g in grads:
        tw.grad = torch.tensor(g)
        opt.step()
        w, state = ref.train.adam_step(w, g, state, 0.01)
    np.testing.assert_allclose(w, tw.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert state.t == 4


def test_lr_schedule_endpoints(ref):
    cfg = ref.train.TrainConfig(max_steps=100, warmup_steps=10, lr=1.0, min_lr_frac=0.1)
    assert ref.train.lr_at(0, cfg) == pytest.approx(0.1)
    assert ref.train.lr_at(9, cfg) == pytest.approx(1.0)
    assert ref.train.lr_at(10, cfg) == pytest.approx(1.0)
    assert ref.train.lr_at(100, cfg) == pytest.approx(0.1)
    lrs = [ref.train.lr_at(s, cfg) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_training_is_seeded_and_learns(ref):
    from autograder.suites.a2_window.scenarios import TINY_CORPUS, TINY_VALID
    from lmcore.vocab import Vocab
    train_s = [s.split() for s in TINY_CORPUS]
    valid_s = [s.split() for s in TINY_VALID]
    cfg = ref.train.TrainConfig(max_steps=200, batch_size=16, lr=0.01, eval_every=50)

    def run(rng=True):
        lm = ref.models.WindowLM(Vocab.build(train_s, min_count=1), np.random.default_rng(0),
                                 n_context=2, d_embed=8, d_hidden=16)
        return lm, ref.train.train(lm, train_s, valid_s, cfg,
                                   np.random.default_rng(1) if rng else None)
    lm1, c1 = run()
    lm2, c2 = run()
    assert c1["step"] == [50, 100, 150, 200]
    assert c1["train_loss"] == c2["train_loss"] and c1["valid_loss"] == c2["valid_loss"]
    assert c1["train_loss"][-1] < 0.6 * c1["train_loss"][0]
    from lmcore.lm import perplexity
    assert perplexity(lm1, train_s) < 3.0
    # without an rng the minibatch order comes from config.seed: reproducible, and another order
    _, c3 = run(rng=False)
    assert c3["train_loss"] == run(rng=False)[1]["train_loss"] != c1["train_loss"]


# -- the notebook ----------------------------------------------------------------------------------
NOTEBOOK = SOLUTION / "a2_window.ipynb"


def test_notebook_is_a_valid_nbgrader_source():
    assert_nbgrader_source(NOTEBOOK, manual_answers=2, solution_snippet='perplexity(lm, valid_sentences)')


@pytest.mark.slow
def test_notebook_runs_within_a_small_budget(tmp_path):
    """The whole notebook with a training budget of a few seconds and the first 100 sentences
    of valid and test (the real run uses 180 s and the whole splits)."""
    out = run_notebook(NOTEBOOK, timeout=120, replace={
        "BUDGET_SECONDS = 180": "BUDGET_SECONDS = 1", "EVAL_SENTENCES = None": "EVAL_SENTENCES = 100",
        'FIGURE_DIR = "figures"': f"FIGURE_DIR = {str(tmp_path)!r}"})
    assert "valid perplexity" in out and "test perplexity" in out
    assert_checks_pass(out, A2)
    assert (tmp_path / "a2_window_loss.png").stat().st_size > 1000
