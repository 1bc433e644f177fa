"""Assignment 4 (PyTorch): the reference, its suites, its examples and its notebook.

Every example's manifest is checked through the real sandboxed engine by tests/test_verify.py;
here each classic-bug example is graded in-process (tests/harness.py) on the one test its hint
belongs to, to check that the feedback names the bug.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from autograder.authoring import registry as asg  # noqa: E402
from autograder.instructor.examples import list_examples  # noqa: E402
from harness import (assert_checks_pass, assert_hint, assert_nbgrader_source,  # noqa: E402
                     load_package, run_notebook)
from lmcore.batching import IGNORE, n_predicted, stream  # noqa: E402
from lmcore.lm import perplexity  # noqa: E402
from lmcore.vocab import Vocab  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "a4_torch"
A4 = asg.get("a4_torch")


@pytest.fixture(scope="module")
def ref():
    torch.set_num_threads(1)
    return load_package(SOLUTION, "a4_torch_reference")


# -- examples: the classic bugs' feedback names them -----------------------------------------------
EXAMPLES = list_examples(A4)
BUGS = {"state_not_detached", "targets_not_shifted", "loss_summed", "clip_before_backward",
        "temperature_after_softmax", "eval_mode_forgotten", "correct", "partial",
        "state_kept_across_epochs", "next_distribution_no_eval", "loss_nt_mean", "evaluate_chunk_mean",
        "clip_per_tensor"}


def test_every_bug_of_the_issue_has_an_example():
    assert BUGS <= {e.name for e in EXAMPLES}


HINTS = {  # example -> (a test it fails, a phrase its feedback must contain)
    "state_not_detached": ("train_epoch.detach", "detach the state"),
    "targets_not_shifted": ("sentence_batch.shift", "shifted by one"),
    "loss_summed": ("lm_loss.mean", "lm_loss sums"),
    "loss_nt_mean": ("lm_loss.mean", "divided by N*T"),
    "state_kept_across_epochs": ("train_epoch.two_epochs", "state the previous epoch ended in"),
    "next_distribution_no_eval": ("generate.dropout_model", "evaluation mode in next_distribution"),
    "evaluate_chunk_mean": ("evaluate.dropout_and_count", "weight each chunk"),
    "clip_per_tensor": ("clip_grad_norm.random", "scaled by its own factor"),
    "clip_before_backward": ("train_epoch.steps", "clip AFTER"),
    "temperature_after_softmax": ("next_token_probs.temperature", "after the softmax"),
    "eval_mode_forgotten": ("evaluate.dropout_and_count", "model.eval()"),
}


def test_every_bug_has_a_hint():
    assert BUGS - {"correct", "partial"} == set(HINTS)


@pytest.mark.parametrize("example", sorted(HINTS))
def test_bug_hints_name_the_bug(example, tmp_path):
    torch.set_num_threads(1)
    test_name, phrase = HINTS[example]
    assert_hint(A4, example, test_name, phrase, tmp_path)


# -- the reference: clipping is torch's, bit for bit ---------------------------------------------
def _params_with_grads(gen, dtype, scale, poison=None):
    shapes = [(7, 3), (11,), (2, 3, 4), (5,)]
    ps = [torch.zeros(s, dtype=dtype, requires_grad=True) for s in shapes]
    for k, p in enumerate(ps[:3]):   # the last has no gradient, and must be skipped
        p.grad = torch.randn(p.shape, generator=gen, dtype=dtype) * scale
    if poison is not None:
        ps[1].grad[3] = poison
    return ps


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale,poison", [(1.0, None), (1e-3, None), (1e-30, None),
                                          (1e30, None), (1e200, None), (1.0, math.inf),
                                          (1.0, -math.inf), (1.0, math.nan)])
def test_clip_grad_norm_is_torchs(ref, dtype, scale, poison):
    gen = torch.Generator().manual_seed(0)
    ours = _params_with_grads(gen, dtype, scale, poison)
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    for a, b in zip(ours, theirs):
        b.grad = None if a.grad is None else a.grad.clone()
    for max_norm in (1.0, 0.25):
        n_ours = ref.train.clip_grad_norm(iter(ours), max_norm)
        n_theirs = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
        assert torch.equal(n_ours, n_theirs) or (n_ours.isnan() and n_theirs.isnan())
        for a, b in zip(ours, theirs):
            assert (a.grad is None) == (b.grad is None)
            if a.grad is not None:
                assert torch.equal(a.grad.isnan(), b.grad.isnan())
                assert torch.equal(a.grad.nan_to_num(), b.grad.nan_to_num())


def test_clip_error_if_nonfinite_raises_and_leaves_gradients(ref):
    gen = torch.Generator().manual_seed(1)
    ps = _params_with_grads(gen, torch.float64, 1.0, math.inf)
    before = [None if p.grad is None else p.grad.clone() for p in ps]
    with pytest.raises(RuntimeError):
        ref.train.clip_grad_norm(ps, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError):
        torch.nn.utils.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    for p, b in zip(ps, before):
        assert b is None or torch.equal(p.grad, b)
    assert float(ref.train.clip_grad_norm([torch.zeros(2, requires_grad=True)], 1.0)) == 0.0


# -- the reference: models, loss, detach, sampling ---------------------------------------------
def test_rnn_forward_is_the_lecture_recurrence(ref):
    """RNNLM's logits for given weights equal h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),
    logits = W_dec h_t + b_dec, computed by hand."""
    gen = torch.Generator().manual_seed(2)
    V, E, H, N, T = 9, 4, 5, 2, 6
    model = ref.models.init_weights(ref.models.RNNLM(V, E, H).double(), gen, scale=0.5)
    x = torch.randint(0, V, (N, T), generator=gen)
    h0 = torch.randn(1, N, H, generator=gen, dtype=torch.float64)
    logits, hT = model(x, h0)
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    h = h0[0].numpy()
    for t in range(T):
        e = sd["embedding.weight"][x[:, t].numpy()]
        h = np.tanh(e @ sd["rnn.weight_ih_l0"].T + sd["rnn.bias_ih_l0"]
                    + h @ sd["rnn.weight_hh_l0"].T + sd["rnn.bias_hh_l0"])
        np.testing.assert_allclose(logits[:, t].detach().numpy(),
                                   h @ sd["decoder.weight"].T + sd["decoder.bias"], rtol=1e-12)
    np.testing.assert_allclose(hT[0].detach().numpy(), h, rtol=1e-12)


def test_loss_counts_exactly_the_predicted_tokens(ref):
    """Mean over the targets that are not IGNORE, and evaluate counts each word and each </s>
    once (the course's convention, docs/conventions.md), whatever N and T."""
    sentences = [s.split() for s in ("a b c", "b", "c a a b", "a")]
    vocab = Vocab.build(sentences, min_count=1)
    ids = stream(sentences, vocab)
    gen = torch.Generator().manual_seed(3)
    model = ref.models.init_weights(ref.models.LSTMLM(len(vocab), 4, 4).double(), gen)
    for N, T in ((1, 3), (2, 2), (3, 5), (4, 1)):
        loss, tokens = ref.train.evaluate(model, ids, N, T)
        assert tokens == sum(len(s) + 1 for s in sentences) == n_predicted(ids)
        if N == 1:   # one row: the same as one pass over the whole stream, token by token
            with torch.no_grad():
                logits, _ = model(torch.from_numpy(ids[None, :-1]), None)
            logp = torch.log_softmax(logits, -1)[0]
            nll = -logp[torch.arange(len(ids) - 1), torch.from_numpy(ids[1:])]
            assert loss == pytest.approx(float(nll.mean()), rel=1e-10)
    logits = torch.randn(2, 3, 6, dtype=torch.float64, generator=gen)
    y = torch.tensor([[2, IGNORE, 3], [IGNORE, IGNORE, 5]])
    expect = -torch.log_softmax(logits, -1)[[0, 0, 1], [0, 2, 2], [2, 3, 5]].mean()
    assert float(ref.train.lm_loss(logits, y)) == pytest.approx(float(expect), rel=1e-12)


def test_detached_state_stops_gradients_at_the_chunk(ref):
    from autograder.suites.a4_torch import scenarios
    out = scenarios.detach_between_chunks(ref, np.random.default_rng(4), chunks=5)
    assert out["backward_error"] is None
    assert out["chunks_run"] == 5 and not any(out["state_attached"])
    assert not out["grad_reached_earlier_chunk"]


def test_language_model_adapter_reads_one_stream(ref):
    sentences = [s.split() for s in ("to be or not to be", "the rest is silence", "to be")]
    vocab = Vocab.build(sentences, min_count=1)
    for cls in (ref.models.RNNLM, ref.models.LSTMLM):
        model = ref.models.init_weights(cls(len(vocab), 6, 6).double(),
                                        torch.Generator().manual_seed(5), scale=0.5)
        lm = ref.models.TorchLM(model, vocab, chunk=4)
        lp = lm.logprobs(sentences)
        ids = stream(sentences, vocab)
        assert lp.shape == (sum(len(s) + 1 for s in sentences),) == (len(ids) - 1,)
        # the whole list is one stream, read in one pass from the zero state (<s> never predicted)
        with torch.no_grad():
            logits, _ = model(torch.from_numpy(ids[None, :-1]), None)
        whole = ref.models.prediction_log_softmax(logits[0], vocab.bos_id)
        assert np.allclose(lp, whole[torch.arange(len(lp)), torch.from_numpy(ids[1:])].numpy(),
                           rtol=1e-12, atol=0)
        assert np.allclose(ref.models.TorchLM(model, vocab, chunk=100).logprobs(sentences), lp,
                           rtol=1e-12, atol=0)
        # a sentence after the first is read with the state the sentences before it left
        first = len(sentences[0]) + 1
        assert not np.allclose(lp[first:], lm.logprobs(sentences[1:]))
        # the chain rule holds for a stream's first sentence: next_distribution reads
        # <s> + context from the zero state
        for s in sentences:
            one = lm.logprobs([s])
            for i, tok in enumerate(s + ["</s>"]):
                p = lm.next_distribution(s[:i])
                assert p[vocab.bos_id] == 0 and p.sum() == pytest.approx(1, abs=1e-12)
                assert one[i] == pytest.approx(math.log(p[vocab[tok]]), rel=1e-9)
        assert perplexity(lm, sentences) == pytest.approx(math.exp(-lp.mean()))
        assert lm.logprobs([]).shape == (0,) and lm.logprobs([[]]).shape == (1,)


def test_sampling_is_reproducible_and_tempered(ref):
    logits = torch.tensor([[2.0, 5.0, 1.0, 0.5, -1.0]], dtype=torch.float64)
    p1 = ref.sampling.next_token_probs(logits, 1.0)
    p_cold = ref.sampling.next_token_probs(logits, 0.5)
    assert p1[0, 1] == 0 and p_cold[0, 1] == 0                       # <s> never
    assert p_cold[0, 0] > p1[0, 0]                                   # colder: sharper
    assert torch.equal(ref.sampling.next_token_probs(logits, 0.0)[0],
                       torch.tensor([1.0, 0, 0, 0, 0], dtype=torch.float64))
    top2 = ref.sampling.next_token_probs(logits, 1.0, top_k=2)
    assert (top2[0] > 0).tolist() == [True, False, True, False, False]
    draws = [[int(ref.sampling.sample_next(logits, g, 1.3)[0]) for _ in range(50)]
             for g in (torch.Generator().manual_seed(7), torch.Generator().manual_seed(7))]
    assert draws[0] == draws[1] and 1 not in draws[0] and len(set(draws[0])) > 1


def test_sentences_come_from_lmcore_generate_over_torchlm(ref):
    """lmcore's one sampler over TorchLM: next_distribution switches dropout off, so a model
    handed over in training mode samples reproducibly; temperature 0 is greedy."""
    from lmcore.lm import generate
    sentences = [s.split() for s in ("to be or not to be", "the rest is silence", "to sleep")]
    vocab = Vocab.build(sentences, min_count=1)
    model = ref.models.init_weights(ref.models.LSTMLM(len(vocab), 6, 6, dropout=0.5).double(),
                                    torch.Generator().manual_seed(0))
    lm = ref.models.TorchLM(model, vocab)
    model.train()
    a = generate(lm, np.random.default_rng(3), 12, ["to"], temperature=0.8, top_k=4)
    model.train()
    assert a == generate(lm, np.random.default_rng(3), 12, ["to"], temperature=0.8, top_k=4)
    assert not model.training and a[0] == "to" and "<s>" not in a
    greedy = generate(lm, np.random.default_rng(0), 5, temperature=0.0)
    assert greedy == generate(lm, np.random.default_rng(1), 5, temperature=0.0)


def test_short_training_run_reaches_the_bound(ref):
    from autograder.suites.a4_torch import scenarios
    out = scenarios.training_run(ref, np.random.default_rng(21))
    assert out["best_valid"] < out["bound"] < out["uniform"], out


def test_checkpoint_is_atomic_and_restores(ref, tmp_path):
    model = ref.models.RNNLM(7, 3, 3)
    path = ref.train.save_checkpoint(model, tmp_path / "sub" / "best.pt", epoch=2)
    assert sorted(p.name for p in path.parent.iterdir()) == ["best.pt"]
    other = ref.models.RNNLM(7, 3, 3)
    assert ref.train.load_checkpoint(other, path)["epoch"] == 2
    for a, b in zip(model.parameters(), other.parameters()):
        assert torch.equal(a, b)


# -- the notebook ----------------------------------------------------------------------------------
NOTEBOOK = SOLUTION / "a4_torch.ipynb"


def test_notebook_is_a_valid_nbgrader_source():
    assert_nbgrader_source(NOTEBOOK, manual_answers=3, solution_snippet='rnn_hist = fit(')


@pytest.mark.slow
def test_notebook_runs_within_a_small_budget(tmp_path):
    """The whole notebook with budgets of seconds, a small model and slices of the splits
    (the real run trains each model for ten minutes on the whole training split)."""
    out = run_notebook(NOTEBOOK, timeout=120, replace={
        "BUDGET_SECONDS = 600": "BUDGET_SECONDS = 1", "HIDDEN = 256": "HIDDEN = 32",
        "THREADS = 2": "THREADS = 1", "SIBLING_SECONDS = 60": "SIBLING_SECONDS = 0.3",
        "TRAIN_SENTENCES = None": "TRAIN_SENTENCES = 1000",
        "EVAL_SENTENCES = None": "EVAL_SENTENCES = 100",
        'FIGURE_DIR = "figures"': f"FIGURE_DIR = {str(tmp_path)!r}"})
    assert "LSTM: best validation perplexity" in out and "a4 torch LSTM" in out
    assert_checks_pass(out, A4)
    assert "temperature 0.7" in out
    for name in ("a4_training.png", "a4_grad_norm.png", "a4_final_table.png"):
        assert (tmp_path / name).stat().st_size > 1000
