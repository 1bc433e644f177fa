"""Assignment 5 (attention): the reference, its suite, its examples, its notebook and its
benchmark.

Every example's manifest is checked through the real sandboxed engine by tests/test_verify.py;
here each classic-bug example is graded in-process (tests/harness.py) on the tests that carry
hints: its own hint must fire, and no other a5 hint may.
"""
from __future__ import annotations

import ast
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from autograder.authoring import registry as asg  # noqa: E402
from autograder.instructor.examples import list_examples  # noqa: E402
from harness import (assert_checks_pass, assert_nbgrader_source, grade_example,  # noqa: E402
                     load_package, run_notebook)
from lmcore.batching import stream  # noqa: E402
from lmcore.gradcheck import check_gradients, numerical_gradient_array, rel_error  # noqa: E402
from lmcore.lm import perplexity  # noqa: E402
from lmcore.vocab import Vocab  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "a5_attention"
A5 = asg.get("a5_attention")
for p in (str(ROOT / "solutions"),):
    if p not in sys.path:
        sys.path.insert(0, p)


@pytest.fixture(scope="module")
def ref():
    torch.set_num_threads(1)
    return load_package(SOLUTION, "a5_attention_reference")


@pytest.fixture(scope="module")
def a4():
    return load_package(ROOT / "solutions" / "a4_torch", "a4_torch_reference")


def _params(rng, D, F_=None):
    F_ = F_ or 4 * D
    return {"ln1_gamma": 1 + 0.2 * rng.standard_normal(D), "ln1_beta": 0.2 * rng.standard_normal(D),
            "W_qkv": rng.standard_normal((D, 3 * D)) / math.sqrt(D), "b_qkv": 0.3 * rng.standard_normal(3 * D),
            "W_o": rng.standard_normal((D, D)) / math.sqrt(D), "b_o": 0.3 * rng.standard_normal(D),
            "ln2_gamma": 1 + 0.2 * rng.standard_normal(D), "ln2_beta": 0.2 * rng.standard_normal(D),
            "W_fc": rng.standard_normal((D, F_)) / math.sqrt(D), "b_fc": 0.3 * rng.standard_normal(F_),
            "W_proj": rng.standard_normal((F_, D)) / math.sqrt(F_), "b_proj": 0.3 * rng.standard_normal(D)}


# -- numpy layers: torch autograd, numerical gradients, edge cases -----------------------------------
@pytest.mark.parametrize("T", [1, 2, 7])
def test_attention_is_torch_sdpa_with_is_causal(ref, T):
    rng = np.random.default_rng(T)
    q, k, v, dout = (rng.standard_normal((2, 3, T, 4)) for _ in range(4))
    before = [a.copy() for a in (q, k, v, dout)]
    out, cache = ref.attention.attention_forward(q, k, v, ref.attention.causal_mask(T))
    grads = ref.attention.attention_backward(dout, cache)
    t = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    y = F.scaled_dot_product_attention(*t, is_causal=True)
    y.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, y.detach().numpy(), rtol=1e-12, atol=1e-14)
    for g, tt in zip(grads, t):
        np.testing.assert_allclose(g, tt.grad.numpy(), rtol=1e-10, atol=1e-13)
    assert all(np.array_equal(a, b) for a, b in zip(before, (q, k, v, dout)))


def test_masked_softmax_edge_cases(ref):
    A = ref.attention
    s = np.array([[1e4, -1e4, 3e4, 0.0], [5.0, 6.0, 7.0, 8.0], [-1e300, 1e300, 0.0, 1.0]])
    mask = np.array([[True, True, False, True], [False] * 4, [True, True, True, False]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # no overflow, 0/0, inf - inf
        p, cache = A.masked_softmax_forward(s, mask)
        ds = A.masked_softmax_backward(np.ones_like(s), cache)
    np.testing.assert_array_equal(p, [[1, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0]])
    assert np.isfinite(ds).all() and not ds[1].any()
    # a fully masked row of attention: output 0 and no gradient, never NaN
    q, k, v = (np.random.default_rng(0).standard_normal((1, 3, 2)) for _ in range(3))
    m = np.array([[True, False, False], [False, False, False], [True, True, True]])
    out, cache = A.attention_forward(q, k, v, m)
    dq, dk, dv = A.attention_backward(np.ones_like(out), cache)
    assert not out[0, 1].any() and not dq[0, 1].any() and np.isfinite(dk).all()


def test_block_equals_torch_and_numerical_gradients(ref):
    rng = np.random.default_rng(0)
    N, T, D, h = 2, 4, 6, 3
    x, dout = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, D))
    p = _params(rng, D)
    before = {k: v.copy() for k, v in p.items()}
    out, cache = ref.layers.decoder_block_forward(x, p, h)
    dx, grads = ref.layers.decoder_block_backward(dout, cache)
    assert all(np.array_equal(p[k], before[k]) for k in p)
    # torch: the same block from torch's pieces (nn.LayerNorm's eps, approximate GELU)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    tx = torch.tensor(x, requires_grad=True)
    a = F.layer_norm(tx, (D,), tp["ln1_gamma"], tp["ln1_beta"])
    q, k, v = (t.reshape(N, T, h, D // h).transpose(1, 2)
               for t in (a @ tp["W_qkv"] + tp["b_qkv"]).split(D, -1))
    att = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(N, T, D)
    hid = tx + att @ tp["W_o"] + tp["b_o"]
    m = F.layer_norm(hid, (D,), tp["ln2_gamma"], tp["ln2_beta"])
    y = hid + F.gelu(m @ tp["W_fc"] + tp["b_fc"], approximate="tanh") @ tp["W_proj"] + tp["b_proj"]
    y.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, y.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-13)
    for key in p:
        np.testing.assert_allclose(grads[key], tp[key].grad.numpy(), rtol=1e-9, atol=1e-13)
    # numerical gradients (the keys' bias has none: a constant per row leaves the softmax alone)
    f = lambda _: ref.layers.decoder_block_forward(x, p, h)[0]  # noqa: E731
    assert rel_error(dx, numerical_gradient_array(f, x, dout)) < 1e-7
    assert np.abs(grads["b_qkv"][D:2 * D]).max() < 1e-12


def test_layer_norm_and_gelu_gradients(ref):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5)) * 3 + 10
    gamma, beta, dout = rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal((3, 5))
    _, cache = ref.layers.layernorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = ref.layers.layernorm_backward(dout, cache)
    check_gradients(lambda: float(np.sum(ref.layers.layernorm_forward(x, gamma, beta)[0] * dout)),
                    {"x": x, "gamma": gamma, "beta": beta},
                    {"x": dx, "gamma": dgamma, "beta": dbeta}, tol=1e-6)
    z = rng.standard_normal(50) * 2
    out, cache = ref.layers.gelu_forward(z)
    np.testing.assert_allclose(out, F.gelu(torch.tensor(z), approximate="tanh").numpy(),
                               rtol=1e-12, atol=1e-15)
    g = numerical_gradient_array(lambda _: ref.layers.gelu_forward(z)[0], z, np.ones(50))
    np.testing.assert_allclose(ref.layers.gelu_backward(np.ones(50), cache), g, rtol=1e-7, atol=1e-10)


def test_heads_and_positions(ref):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 6))
    heads = ref.attention.split_heads(x, 3)
    assert heads.shape == (2, 3, 3, 2)
    np.testing.assert_array_equal(heads[1, 2, 0], x[1, 0, 4:6])   # head 2 of position 0
    np.testing.assert_array_equal(ref.attention.merge_heads(heads), x)
    W_pos = rng.standard_normal((5, 6))
    out, cache = ref.layers.positional_embedding_forward(x, W_pos)
    np.testing.assert_array_equal(out, x + W_pos[:3])
    _, dW = ref.layers.positional_embedding_backward(np.ones_like(x), cache)
    np.testing.assert_array_equal(dW, np.r_[np.full((3, 6), 2.0), np.zeros((2, 6))])
    with pytest.raises(ValueError):
        ref.layers.positional_embedding_forward(np.zeros((1, 6, 6)), W_pos)


# -- the torch model ----------------------------------------------------------------------------------
def _model(ref, V=12, D=8, h=2, L=2, C=6, dropout=0.0, seed=0):
    model = ref.models.TransformerLM(V, D, h, L, C, dropout, True).double()
    return ref.models.init_transformer(model, torch.Generator().manual_seed(seed), std=0.3)


def test_attention_module_is_sdpa_and_weights_are_causal(ref):
    torch.manual_seed(0)
    m = ref.models.CausalSelfAttention(8, 2).double()
    x = torch.randn(3, 5, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y, w = m(x, return_weights=True)
    q, k, v = (t.view(3, 5, 2, 4).transpose(1, 2) for t in m.qkv(x).split(8, -1))
    o = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(3, 5, 8)
    torch.testing.assert_close(y, m.proj(o), rtol=1e-12, atol=1e-12)
    assert torch.equal(w.triu(1), torch.zeros_like(w))
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 2, 5, dtype=torch.float64))


def test_state_is_the_context_and_the_future_is_invisible(ref):
    model = _model(ref).eval()
    ids = torch.randint(0, 12, (2, 11), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        full, state = model(ids[:, :6])
        assert state.shape == (2, 5) and torch.equal(state, ids[:, 1:6])
        # one token at a time with the state: position t sees exactly its last C ids
        st, steps = None, []
        for t in range(11):
            logits, st = model(ids[:, t:t + 1], st)
            steps.append(logits)
        steps = torch.cat(steps, 1)
        torch.testing.assert_close(steps[:, :6], full, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(steps[:, 10], model(ids[:, 5:11])[0][:, -1])
        # changing a later token never changes an earlier prediction
        other = ids.clone()
        other[:, 4] = (other[:, 4] + 1) % 12
        torch.testing.assert_close(model(other[:, :6])[0][:, :4], full[:, :4])
    with pytest.raises(ValueError):
        model(ids[:, :7])


def test_initialisation_draws_from_its_generator_only(ref):
    """A model is a function of its seed: init_transformer reads only the generator it is given
    (torch's own constructors draw default weights from the global state; they are all
    overwritten). Dropout masks do use the global state: the notebook and the training script
    seed it explicitly."""
    a = ref.models.TransformerLM(12, 8, 2, 2, 6, 0.0, True).double()
    before = torch.random.get_rng_state()
    ref.models.init_transformer(a, torch.Generator().manual_seed(5), std=0.3)
    assert torch.equal(torch.random.get_rng_state(), before)
    b = _model(ref, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert a.decoder.weight is a.embedding.weight
    ln = dict(a.named_parameters())["blocks.0.ln1.weight"]
    assert torch.equal(ln, torch.ones_like(ln))


def test_transformer_works_with_a4s_loop_sampler_and_adapter(ref, a4):
    torch.manual_seed(0)
    sentences = [s.split() for s in ("the cat sat on the mat .", "the dog sat on the log .",
                                     "a cat saw a dog .", "the dog saw the cat on the mat .")]
    vocab = Vocab.build(sentences, min_count=1)
    ids = stream(sentences, vocab)
    model = ref.models.init_transformer(
        ref.models.TransformerLM(len(vocab), 32, 2, 1, 8, 0.1, True), torch.Generator().manual_seed(0))
    untrained = perplexity(a4.models.TorchLM(model, vocab, chunk=4), sentences)
    config = a4.train.TrainConfig(batch_size=2, bptt=8, lr=1e-2, weight_decay=0.1, clip=1.0,
                                  epochs=30, patience=30, eval_batch_size=2)
    hist = ref.train.fit(model, ids, ids, config, warmup_steps=5, min_lr=1e-3, a4_train=a4.train,
                         progress=False, log=None)
    assert hist.valid_loss[-1] < 0.5 * hist.valid_loss[0]
    assert a4.train.make_optimizer.__module__ == a4.train.__name__   # passed in, never patched
    lm = a4.models.TorchLM(model, vocab, chunk=4)
    assert perplexity(lm, sentences) < 0.6 * untrained
    from lmcore.lm import generate      # longer than the block: TorchLM reads it in chunks
    text = generate(lm, np.random.default_rng(1), 20, ["the"], temperature=0.7, top_k=3)
    assert text[0] == "the" and len(text) <= 21 and "<s>" not in text


def test_schedule_and_groups(ref):
    lrs = [ref.train.warmup_cosine(k, 10, 3, 1.0, 0.1) for k in range(12)]
    assert lrs[:3] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert lrs[3] == pytest.approx(1.0) and lrs[10] == lrs[11] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(lrs[3:], lrs[4:]))
    model = _model(ref)
    decay, no_decay = ref.train.param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
    config = type("C", (), {"lr": 1.0, "weight_decay": 0.1, "time_budget": None})()
    opt, _ = ref.train.make_optimizer(model, config, total_steps=10, warmup_steps=3, min_lr=0.1)
    seen = []
    for _ in range(12):
        seen.append(opt.param_groups[0]["lr"])
        model(torch.zeros(1, 2, dtype=torch.int64))[0].sum().backward()
        opt.step()
        opt.zero_grad()
    assert seen == pytest.approx(lrs)


# -- the suite, the stubs and the examples ---------------------------------------------------------
def test_stubs_initialise_outputs_before_the_student_block():
    """cs231n's stubs: every function that returns names set in its block assigns them None
    first, so an unfinished function fails in the test, not with an UnboundLocalError."""
    for name in ("attention.py", "layers.py"):
        tree = ast.parse((A5.stub_dir / name).read_text())
        for fn in [n for n in tree.body if isinstance(n, ast.FunctionDef)]:
            body = fn.body
            raises = [i for i, s in enumerate(body) if isinstance(s, ast.Raise)]
            if not raises:
                continue
            assigned = {t.id for s in body[:raises[0]] if isinstance(s, ast.Assign)
                        for t in ast.walk(s.targets[0]) if isinstance(t, ast.Name)}
            ret = body[-1]
            returned = ({n.id for n in ast.walk(ret.value) if isinstance(n, ast.Name)}
                        if isinstance(ret, ast.Return) else set())
            assert returned <= assigned, f"{name}:{fn.name} returns {returned - assigned} unset"


EXAMPLES = {e.name for e in list_examples(A5)}
HINTS = {  # example -> (a test it fails, a phrase its feedback must contain)
    "mask_after_softmax": ("masked_softmax.forward_backward", "applied after the softmax"),
    "no_scale": ("attention.forward_backward", "not divided by sqrt(d_k)"),
    "softmax_wrong_axis": ("masked_softmax.forward_backward", "normalised over the queries"),
    "heads_merged_wrong_order": ("heads.split_merge", "merged by a reshape alone"),
    "layernorm_no_mean_term": ("layernorm.forward_backward", "path through the mean"),
    "pos_after_first_block": ("transformer.forward", "added after the first block"),
    "mask_sees_next": ("causal_mask.values", "may also see position i + 1"),
    "softmax_no_max": ("masked_softmax.large_logits", "overflow the exponential"),
    "masked_row_nan": ("masked_softmax.fully_masked_row", "came out NaN"),
    "gelu_no_product_rule": ("gelu.forward_backward", "product rule"),
    "pos_grad_mean": ("positional.forward_backward", "batch MEAN"),
    "residual_grad_dropped": ("block.forward_backward", "identity path is missing"),
    "torch_no_causal_mask": ("attention_module.forward", "the future included"),
    "block_post_norm": ("block_module.forward", "post-norm block"),
    "cosine_ignores_warmup": ("warmup_cosine.values", "starts its clock at step 0"),
    "decay_everything": ("param_groups.split", "every parameter is in the decayed group"),
}
# the second hint of a bug seen at another level (the mask leak through MHA, ...)
ALSO = {"mask_sees_next": ["attends to the next one"], "mask_after_softmax": ["zeroed afterwards"],
        "softmax_wrong_axis": ["normalised over the queries, not"]}
HINT_TESTS = sorted({t for t, _ in HINTS.values()} | {"mha.forward_backward",
                                                       "attention.forward_backward"})


def test_every_classic_bug_of_the_issue_has_an_example_and_a_hint():
    issue = {"mask_after_softmax", "no_scale", "softmax_wrong_axis", "heads_merged_wrong_order",
             "layernorm_no_mean_term", "pos_after_first_block", "mask_sees_next"}
    assert issue | {"correct", "partial"} <= EXAMPLES
    assert EXAMPLES - {"correct", "partial"} == set(HINTS)


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_each_hint_fires_on_its_example_only(example, tmp_path):
    """Graded on every test that carries a hint: the example's own hint names its bug (on the
    test it fails by its manifest's points), and no hint of another example appears."""
    torch.set_num_threads(1)
    results = grade_example(A5, example, HINT_TESTS, tmp_path)
    manifest = {e.name: e for e in list_examples(A5)}[example]
    for name, r in results.items():
        assert abs(r.score - manifest.expected_score(name, r.max_score)) < 1e-6, (name, r.feedback)
    if example in HINTS:
        test_name, phrase = HINTS[example]
        assert phrase in results[test_name].feedback, results[test_name].feedback
    mine = {HINTS[example][1], *ALSO.get(example, [])} if example in HINTS else set()
    others = {p for e, (_, p) in HINTS.items()} | {p for ps in ALSO.values() for p in ps}
    for name, r in results.items():
        for phrase in others - mine:
            assert phrase not in r.feedback, f"{example}, {name}: the hint {phrase!r} fired"


# -- the notebook and the benchmark ---------------------------------------------------------------
NOTEBOOK = SOLUTION / "a5_attention.ipynb"


def test_notebook_is_a_valid_nbgrader_source():
    assert_nbgrader_source(NOTEBOOK, manual_answers=3, solution_snippet="hist = fit(")


@pytest.mark.slow
def test_notebook_runs_within_a_small_budget(tmp_path):
    """The whole notebook with budgets of seconds, a small model and slices of the splits."""
    out = run_notebook(NOTEBOOK, timeout=300, replace={
        "BUDGET_SECONDS = 600": "BUDGET_SECONDS = 1", "D_MODEL = 256": "D_MODEL = 32",
        "LSTM_HIDDEN = 256": "LSTM_HIDDEN = 32", "THREADS = 2": "THREADS = 1",
        "TRAIN_SENTENCES = None": "TRAIN_SENTENCES = 2000",
        "EVAL_SENTENCES = None": "EVAL_SENTENCES = 60", "SPEED_STEPS = 10": "SPEED_STEPS = 1",
        "BATCH_SIZE = 16": "BATCH_SIZE = 4",
        'FIGURE_DIR = "figures"': f"FIGURE_DIR = {str(tmp_path)!r}"})
    assert_checks_pass(out, A5)
    assert "transformer: " in out and "best validation perplexity" in out
    assert "a5 transformer" in out and "a4 torch LSTM" in out
    assert "tokens/s at T" in out and "within 2% of its best" in out and "temperature 0.7" in out
    for name in ("a5_attention_maps.png", "a5_context.png", "a5_speed.png", "a5_training.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_benchmark_runs_quick():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_attention.py"),
                          "--quick", "--repeat", "1"], capture_output=True, text=True,
                         check=True).stdout
    assert out.count("x\n") == 4 and "decoder block" in out
