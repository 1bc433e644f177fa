"""Public tests of assignment 2 (ship with the release, expected outputs stored as data).

Hints recognise the classic mistakes of this assignment from the outputs alone; they live
here so that hidden.py reuses them.
"""
from __future__ import annotations

import numpy as np

from autograder.authoring import judges as J
from autograder.authoring import public

# -- hints: recognise a bug from (expected, actual) -------------------------------------------
OVERWRITE = ("dW is wrong only at words that occur more than once in the batch: did you use "
             "dW[idx] = ... (or dW[idx] += ...) instead of np.add.at(dW, idx, dout)? Repeated "
             "words must accumulate their gradients.")
NO_MAX = ("non-finite values at logits of about 1e3: subtract each row's maximum before "
          "np.exp (exp(1000) overflows to inf, and inf/inf is NaN).")
TANH_PRE = ("dx equals dout * (1 - x**2) with x the pre-activation: the derivative of tanh is "
            "1 - tanh(x)**2, use the cached output (cache.out), not the input.")
BIAS = ("db has one row per example: the bias is added to every row of the minibatch, so its "
        "gradient is dout.sum(axis=0), of shape (M,).")
REVERSED = ("your concatenation holds the right embeddings in reverse order: word 0 (the "
            "oldest) must come first, out[:, 0:D] = x[:, 0].")
MASK = ("<s> has non-zero probability: it is never predicted, so mask it out of the softmax "
        "(pass self.mask to log_softmax) so that the rest sums to one.")


def _arr(x):
    return np.asarray(x, dtype=np.float64)


def _overwritten(ids, dout, V):
    dW = np.zeros((V, dout.shape[-1]))
    dW[np.asarray(ids)] = dout
    return dW


def overwrite_hint(key):
    """Fires when actual[key] (a dict holding the gradient of W) is what dW[x] = dout gives."""
    def when(expected, actual):
        a = actual[key]["W"] if key == "analytic" else actual[key]
        a = _arr(a)
        return J.isclose(a, _overwritten(actual["x"], _arr(actual["dout"]), a.shape[0]))
    return J.Hint(when, OVERWRITE)


def _nonfinite(actual):
    vals = [actual.get(k) for k in ("logp", "loss", "dscores", "dW2")]
    for v in vals:
        if v is None:
            continue
        v = _arr(v)
        if np.isnan(v).any() or np.isposinf(v).any():
            return True
        if v.ndim == 2 and (np.isneginf(v).sum(axis=-1) >= v.shape[-1] - 1).any() and \
                v.shape[-1] > 2:
            return True
    return False


def _overflows_only(e, a):
    """Non-finite at logits of 1e3, right on the same rows at ordinary logits: the shift."""
    return _nonfinite(a) and J.isclose(a["logp_small"], e["logp_small"])


def _softmax_axis(key):
    """exp(logp) sums to one down the columns (over the batch), not along each row; a column
    that is masked out everywhere (-inf, or NaN from -inf - -inf) counts as empty."""
    def when(e, a):
        with np.errstate(all="ignore"):
            p = np.nan_to_num(np.exp(_arr(a[key])), nan=0.0)
        cols = p.sum(axis=0)
        ones = np.abs(cols - 1) < 1e-6
        return (p.ndim == 2 and p.shape[0] > 1 and not J.sums_along(p, -1, 1e-6)
                and bool(ones.any()) and bool((ones | (cols == 0)).all()))
    return when


no_max_hint = J.Hint(_overflows_only, NO_MAX)
AXIS = ("exp(logp) sums to one down each column, over the batch, instead of along each row "
        "over the vocabulary: take the max and the sum over the last axis (axis=-1, "
        "keepdims=True).")
axis_hint = J.Hint(_softmax_axis("logp"), AXIS)
SUMMED = ("the loss is {k:g} times the reference's, the batch size N: it is summed over the "
          "examples; the loss is the mean, -(1/N) sum_i ln p(y_i | row i).")


def _loss_times_n(e, a):
    N = np.shape(a["dscores"])[0]
    return J.off_by(e["loss"], a["loss"], N) == N


def summed_hint():
    return J.Hint(_loss_times_n, "the loss is N times the reference's (N the batch size): it "
                  "is summed over the examples; the loss is the mean, -(1/N) sum_i "
                  "ln p(y_i | row i).")


BIAS_CORRECTION = ("adam_m and adam_v are right but the weights are not, and they are what "
                   "Adam gives without bias correction: divide m by (1 - beta1**t) and v by "
                   "(1 - beta2**t) before the step, next_w = w - lr * m_hat / (sqrt(v_hat) + eps).")


def no_bias_correction_hint(lr, beta1=0.9, beta2=0.999, eps=1e-8):
    def when(e, a):
        ms, vs, ws = [_arr(x) for x in e["adam_m"]], [_arr(x) for x in e["adam_v"]], \
            [_arr(x) for x in e["adam_w"]]
        if not (J.isclose(a["adam_m"], e["adam_m"]) and J.isclose(a["adam_v"], e["adam_v"])):
            return False
        step = lambda m, v, t: lr * (m / (1 - beta1 ** t)) / (  # noqa: E731
            np.sqrt(v / (1 - beta2 ** t)) + eps)
        w = ws[0] + step(ms[0], vs[0], 1)          # the starting weights
        variant = []
        for m, v in zip(ms, vs):
            w = w - lr * m / (np.sqrt(v) + eps)
            variant.append(w)
        return J.isclose(a["adam_w"], variant, rtol=1e-9)
    return J.Hint(when, BIAS_CORRECTION)


WARMUP = ("the warm-up is one step late: at step s it must be lr * (step + 1) / warmup_steps, "
          "so that step 0 already trains (lr / warmup_steps), and the last warm-up step reaches lr.")


def _warmup_late(e, a):
    el, al = _arr(e["lr"]), _arr(a["lr"])
    steps = np.asarray(e["steps"])
    rising = np.nonzero(np.diff(el) > 1e-9 * np.abs(el).max())[0]
    if not len(rising):
        return False
    k = int(rising[-1]) + 2                        # the warm-up entries, the peak included
    late = el[:k] * steps[:k] / (steps[:k] + 1)    # lr * step / warmup where lr * (step + 1) / warmup
    return J.isclose(al[:k], late) and not J.isclose(al[:k], el[:k])


warmup_hint = J.Hint(_warmup_late, WARMUP)


def tanh_pre_hint(key):
    def when(expected, actual):
        a = actual[key]["x"] if key == "analytic" else actual[key]
        x, dout = _arr(actual["x"]), _arr(actual["dout"])
        return J.isclose(_arr(a), dout * (1 - x ** 2))
    return J.Hint(when, TANH_PRE)


def _bias_unsummed(actual, key="db"):
    v = actual.get(key)
    return v is not None and np.ndim(v) == 2


bias_hint = J.Hint(lambda e, a: _bias_unsummed(a), BIAS)
DW_T = ("dw is the transpose of the right gradient: dw = x.T @ dout, the shape of w (F, M), "
        "not dout.T @ x.")
dw_t_hint = J.Hint(lambda e, a: J.transposed(e["dw"], a["dw"]), DW_T)
gradcheck_dw_t_hint = J.Hint(
    lambda e, a: J.transposed(a["numeric"]["w"], a["analytic"]["w"]), DW_T)
model_bias_hint = J.Hint(
    lambda e, a: _bias_unsummed(a["grads"], "b1") or _bias_unsummed(a["grads"], "b2"), BIAS)
gradcheck_bias_hint = J.Hint(
    lambda e, a: any(np.ndim(a["analytic"].get(k)) == 2 for k in ("b", "b1", "b2")), BIAS)


def _reversed_blocks(out, C):
    out = _arr(out)
    N, CD = out.shape
    return out.reshape(N, C, CD // C)[:, ::-1].reshape(N, CD)


reversed_hint = J.Hint(
    lambda e, a: any(J.isclose(_reversed_blocks(a["out"], C), e["out"])
                     for C in range(2, e["out"].shape[1] + 1) if e["out"].shape[1] % C == 0),
    REVERSED)
mask_hint = J.Hint(lambda e, a: float(np.max(_arr(a["p_bos"]))) > 0, MASK)


def _no_bos(actual):
    p = _arr(actual["p_bos"])
    if (p != 0).any():
        i = int(np.argmax(p != 0))
        return False, f"p(<s>) must be exactly 0 (it is never predicted); window {i} gives {p[i]:.3g}"
    return True


def _rows_sum(key):
    inner = J.sums_to_one(key, tol=1e-10)

    def judge(expected, actual):
        p = actual[key]
        if isinstance(p, list):
            p = np.stack([_arr(x) for x in p])
        return inner(expected, {**actual, key: p})
    return judge


def _training_ok(bound_train_ppl, bound_loss):
    def predicate(actual):
        curve = actual["curve"]
        keys = ("step", "train_loss", "valid_loss", "valid_ppl", "lr", "seconds")
        if not isinstance(curve, dict) or any(k not in curve for k in keys):
            return False, f"train must return a dict with the keys {list(keys)}; got {J.describe(curve)}"
        lengths = {k: len(curve[k]) for k in keys}
        if len(set(lengths.values())) != 1 or lengths["step"] == 0:
            return False, f"the curve's lists must be non-empty and of equal length; got {lengths}"
        last = curve["train_loss"][-1]
        first_ppl, final = actual["initial_train_ppl"], actual["final_train_ppl"]
        if not (np.isfinite(final) and final < bound_train_ppl):
            return False, (f"after training, perplexity on the training sentences is "
                           f"{final:.4g} (it started at {first_ppl:.4g}); expected below "
                           f"{bound_train_ppl:g}. Check the update (params[k] replaced by the "
                           "new array), the sign of the step and the learning rate schedule")
        if not (np.isfinite(last) and last < bound_loss):
            return False, (f"the curve's last train_loss is {last:.4g}, expected below "
                           f"{bound_loss:g} (mean loss of the steps since the previous evaluation)")
        return True
    return predicate


def training_judge(bound_train_ppl=2.5, bound_loss=1.0):
    # No hint: a diverging or stalling run follows from any wrong gradient, loss or update,
    # and the tests of those parts name the cause.
    return J.check(_training_ok(bound_train_ppl, bound_loss))


def generate_judge(labels=("the first word", "the second word")):
    """Draws of lmcore.lm.generate over the student's model, counted against the reference's
    distributions; reproducible from one seed. (lmcore.lm.generate is given code: what this
    tests is the model's next_distribution on the contexts that generation builds.)"""
    return J.fields(weights={"draws": 3, "reproducible": 1},
                    draws=J.draws_follow(labels=list(labels)), reproducible=J.exact(),
                    hints=[mask_hint])


def unchanged_judge(expected, actual):
    bad = {k: v for k, v in actual.items() if v}
    if not bad:
        return J.Verdict(1.0)
    where = "; ".join(f"{k} changed {v}" for k, v in bad.items())
    return J.Verdict(0.0, f"functions must not modify their inputs: {where}. Work on new arrays "
                          "(e.g. x = x - m instead of x -= m; np.where instead of assigning "
                          "into scores)")


def optimizers_judge(lr):
    """The weights after each step carry most of the credit: a wrong update changes what the
    model learns; m, v and t only say where the update went wrong."""
    return J.fields(weights={"sgd": 2, "adam_w": 3, "adam_m": 1, "adam_v": 1, "adam_t": 0.5,
                             "w_unchanged": 0.5},
                    sgd=J.close(), adam_w=J.close(), adam_m=J.close(), adam_v=J.close(),
                    adam_t=J.exact(), w_unchanged=J.exact(), hints=[no_bias_correction_hint(lr)])


# -- tests --------------------------------------------------------------------------------------
TESTS = [
    # embedding
    public("embedding.forward_backward", part="embedding", points=2, scenario="embedding",
           params={"N": 4, "C": 3, "V": 9, "D": 5}, seed=1,
           judge=J.fields(out=J.close(), dW=J.close(), hints=[overwrite_hint("dW")]),
           description="embedding_forward/backward match the reference; repeated words accumulate"),
    public("embedding.gradcheck", part="embedding", points=2, scenario="embedding_gradcheck",
           params={"N": 5, "C": 3, "V": 8, "D": 4}, seed=2, needs_reference=False,
           judge=J.gradcheck(1e-7, hints=[overwrite_hint("analytic")]),
           description="embedding_backward agrees with the numerical gradient of your forward"),
    # concat
    public("concat.forward_backward", part="concat", points=1, scenario="concat",
           params={"N": 3, "C": 4, "D": 2}, seed=3,
           judge=J.fields(out=J.close(), dx=J.close(), hints=[reversed_hint]),
           description="the window is concatenated oldest word first"),
    public("concat.gradcheck", part="concat", points=1, scenario="concat_gradcheck",
           params={"N": 3, "C": 3, "D": 2}, seed=4, needs_reference=False,
           judge=J.gradcheck(1e-7), description="concat_backward inverts concat_forward"),
    # affine
    public("affine.forward_backward", part="affine", points=2, scenario="affine",
           params={"N": 4, "F": 6, "M": 3}, seed=5,
           judge=J.fields(out=J.close(), dx=J.close(), dw=J.close(), db=J.close(),
                          hints=[bias_hint, dw_t_hint]),
           description="affine_forward/backward match the reference"),
    public("affine.gradcheck", part="affine", points=3, scenario="affine_gradcheck",
           params={"N": 4, "F": 5, "M": 3}, seed=6, needs_reference=False,
           judge=J.gradcheck(1e-7, hints=[gradcheck_bias_hint, gradcheck_dw_t_hint]),
           description="affine_backward agrees with the numerical gradient"),
    # tanh
    public("tanh.forward_backward", part="tanh", points=1, scenario="tanh",
           params={"N": 4, "H": 5}, seed=7,
           judge=J.fields(out=J.close(), dx=J.close(), hints=[tanh_pre_hint("dx")]),
           description="tanh_forward/backward match the reference"),
    public("tanh.gradcheck", part="tanh", points=1, scenario="tanh_gradcheck",
           params={"N": 3, "H": 4}, seed=8, needs_reference=False,
           judge=J.gradcheck(1e-7, hints=[tanh_pre_hint("analytic")]),
           description="tanh_backward agrees with the numerical gradient"),
    # softmax cross-entropy
    public("softmax_loss.values", part="softmax_loss", points=2, scenario="softmax_loss",
           params={"N": 5, "V": 7, "masked": True}, seed=9,
           judge=J.fields(logp=J.close(), loss=J.close(), dscores=J.close(),
                          hints=[axis_hint, summed_hint()]),
           description="log_softmax (with <s> masked), the mean loss and dscores match the reference"),
    public("softmax_loss.gradcheck", part="softmax_loss", points=2, scenario="softmax_gradcheck",
           params={"N": 4, "V": 6, "masked": True}, seed=10, needs_reference=False,
           judge=J.gradcheck(1e-7), description="dscores agrees with the numerical gradient"),
    public("softmax_loss.overflow", part="softmax_loss", points=2, scenario="softmax_overflow",
           params={"N": 4, "V": 6, "big": 1000.0}, seed=11,
           judge=J.fields(logp=J.close(), loss=J.close(), dscores=J.close(),
                          hints=[no_max_hint, axis_hint]),
           description="no overflow at logits of 1000"),
    # model
    public("model.loss", part="WindowLM.loss", points=3, scenario="model_loss",
           params={"N": 6, "C": 3, "D": 4, "H": 5}, seed=12,
           judge=J.fields(loss=J.close(), grads=J.close(), weights={"loss": 1, "grads": 2},
                          hints=[model_bias_hint]),
           description="loss and every gradient match the reference for given weights"),
    public("model.gradcheck", part="WindowLM.loss", points=3, scenario="model_gradcheck",
           params={"N": 4, "C": 3, "D": 3, "H": 4}, seed=13, needs_reference=False,
           judge=J.gradcheck(1e-7, hints=[gradcheck_bias_hint]),
           description="every gradient of the model's loss agrees with the numerical gradient"),
    public("model.window_log_probs", part="WindowLM.window_log_probs", points=2,
           scenario="model_window_log_probs", params={"N": 6, "C": 3}, seed=14,
           judge=J.fields(logp=J.close(), hints=[mask_hint, axis_hint]),
           description="window_log_probs match the reference"),
    public("model.distribution", part="WindowLM.window_log_probs", points=1,
           scenario="model_window_log_probs", params={"N": 5, "C": 2}, seed=15,
           needs_reference=False,
           judge=J.all_of(_rows_sum("p"), J.check(_no_bos, hints=[mask_hint])),
           description="each row of exp(window_log_probs) sums to one with p(<s>) = 0"),
    public("model.overflow", part="WindowLM.window_log_probs", points=1,
           scenario="model_overflow", params={"N": 5, "C": 2, "big": 300.0}, seed=16,
           judge=J.fields(logp=J.close(), loss=J.close(), dW2=J.close(),
                          hints=[no_max_hint, axis_hint]),
           description="window_log_probs and loss stay finite with logits of about 1e3"),
    public("model.perplexity", part="WindowLM.logprobs", points=2, scenario="model_perplexity",
           params={"corpus": "tiny_valid", "C": 3}, seed=17,
           judge=J.fields(logprobs=J.close(), perplexity=J.close()),
           description="logprobs(sentences) (words then </s>, OOV as <unk>) and "
                       "lmcore.lm.perplexity over them"),
    public("model.next_distribution", part="WindowLM.next_distribution", points=2,
           scenario="next_distribution", params={"C": 3}, seed=18,
           judge=J.all_of(J.fields(p=J.close()), _rows_sum("p")),
           description="next_distribution after empty, short, long and OOV contexts"),
    public("model.generate", part="WindowLM.next_distribution", points=1,
           scenario="generate_draws", params={"n": 1500, "C": 2}, seed=19,
           judge=generate_judge(), description="lmcore.lm.generate over your model draws "
           "from the reference's distributions (a seeded statistical test) and is reproducible"),
    public("inputs.unchanged", part="inputs", points=1, scenario="inputs_unchanged",
           params={}, seed=20, needs_reference=False, judge=unchanged_judge,
           description="no function modifies its inputs"),
    # training
    public("train.lr_schedule", part="lr_at", points=1, scenario="lr_schedule",
           params={"max_steps": 100, "warmup_steps": 10, "lr": 0.01}, seed=21,
           judge=J.fields(lr=J.close(rtol=1e-9), hints=[warmup_hint]),
           description="warm-up then cosine decay, as the docstring says"),
    public("train.optimizers", part="sgd_step/adam_step", points=3, scenario="optimizers",
           params={"shape": [3, 4], "n_steps": 3}, seed=22, judge=optimizers_judge(0.01),
           description="SGD and three Adam steps (with bias correction) match the reference"),
    public("train.run", part="train", points=3, scenario="training_run",
           params={"max_steps": 300, "batch_size": 16, "optimizer": "adam", "lr": 0.01},
           seed=23, needs_reference=False, timeout=60, judge=training_judge(),
           description="300 Adam steps on a tiny corpus bring training perplexity below 2.5"),
]
