"""Public tests of a3_rnn, and the judges and hints that the hidden tests share.

Hints recognise the classic bugs of the issue from (expected, actual) alone.
"""
from __future__ import annotations

import numpy as np

from autograder.authoring import judges as J
from autograder.authoring import public

H = J.Hint


def _ok(a, e, rtol=1e-7):
    return J.isclose(a, e, rtol=rtol)


# -- recognisable wrong answers -----------------------------------------------------------------
TANH_PREACT = H(lambda e, a: np.allclose(
    a["db"], (e["dnext_h"] * (1 - np.arctanh(e["next_h"]) ** 2)).sum(axis=0), rtol=1e-6),
    "your gradient uses 1 - a^2 with a the pre-activation; tanh'(a) = 1 - tanh(a)^2 = "
    "1 - next_h^2 (use the output you cached)")
NO_CARRY = H(lambda e, a: (_ok(a["dx"][:, -1], e["dx"][:, -1])
                          and not _ok(a["dx"][:, 0], e["dx"][:, 0])),
             "the last timestep's gradients are right but earlier ones are wrong: did you add the "
             "gradient flowing back from step t+1 (dprev_h) to the upstream dh[:, t]?")
MASK_IGNORED = H(lambda e, a: np.abs(np.asarray(a["dx"])[
                     np.all(np.asarray(e["dx"]) == 0, axis=-1)]).max() > 0,
                 "masked positions received a gradient: your loss counts the padding. Multiply "
                 "by the mask and divide by the number of unmasked tokens, not by N*T")
MASK_COUNT = H(lambda e, a: J.isclose(a["loss"] * a["all_tokens"], e["loss"] * e["unmasked"]),
               "the loss is divided by N*T: the masked positions are left out of the sum but "
               "counted in the normaliser; average over the unmasked tokens only")


def _gate_order(e, a):
    """Your forward is right on weights whose gate blocks are reordered: it reads the 4H
    columns in another order than (i, f, o, g)."""
    perms = a.get("gate_perms") if isinstance(a, dict) else None
    if not perms or e is None:
        return False
    want = (np.concatenate([np.asarray(e["next_h"]), np.asarray(e["next_c"])], axis=1)
            if "next_h" in e else e["h"])
    return any(J.isclose(p, want, rtol=1e-7) for p in perms)


GATE_ORDER = H(_gate_order, "your LSTM reads the gates in another order: its outputs are right "
               "once the 4H columns of Wx, Wh and b are reordered. The columns are (i, f, o, g): "
               "input, forget, output, then the tanh cell candidate g, in the forward and in the "
               "backward alike")


def _ratios(e, a):
    """Per-entry ratio actual/expected over all clipped gradients (finite, nonzero entries)."""
    out = {}
    for k in e["clipped"]:
        ev, av = np.asarray(e["clipped"][k]), np.asarray(a["clipped"][k])
        m = np.isfinite(ev) & (np.abs(ev) > 0) & np.isfinite(av)
        out[k] = av[m] / ev[m]
    return out


def _per_tensor(e, a):
    r = _ratios(e, a)
    consts = [np.ptp(v) < 1e-9 * max(1, np.abs(v).max()) for v in r.values() if v.size]
    means = [float(v.mean()) for v in r.values() if v.size]
    return all(consts) and np.ptp(means) > 1e-6


def _direction_changed(e, a):
    r = _ratios(e, a)
    return any(v.size and np.ptp(v) > 1e-6 * max(1.0, np.abs(v).max()) for v in r.values())


def _rescaled_up(e, a):
    norm_a = np.sqrt(sum(float(np.sum(np.asarray(v) ** 2)) for v in a["clipped"].values()))
    return e["norm"] < e.get("max_norm", 1.0) and norm_a > e["norm"] * (1 + 1e-6)


PER_TENSOR = H(_per_tensor, "each parameter was scaled by its own factor: clip by ONE global norm "
               "computed over all the gradients together, and scale them all by the same factor")
DIRECTION = H(_direction_changed, "entries of the same gradient were scaled by different factors, "
              "which changes the update's direction (that is value clipping); norm clipping "
              "multiplies every entry by the same min(1, max_norm / (norm + 1e-6))")
RESCALED = H(_rescaled_up, "gradients whose norm is already below max_norm must be returned "
             "unchanged: the scale is min(1, max_norm / (norm + 1e-6)), never above 1")
NOT_CARRIED = H(lambda e, a: (J.first_step_only(e["losses"], a["losses"], axis=0)
                             and _ok(a["losses"], a["losses_fresh"], 1e-9)),
                "the first chunk's loss is right but later ones are wrong: carry the hidden state "
                "from the end of one chunk into the next (model.loss_chunk returns it)")
def _accumulated(e, a):
    """Chunk k's gradients are the sum of the right ones of chunks 0..k: never reset."""
    ge, ga = e["grads"], a["grads"]
    if len(ga) != len(ge) or len(ge) < 2 or not _ok(ga[0], ge[0]):
        return False
    total = {k: np.zeros_like(np.asarray(v, dtype=np.float64)) for k, v in ge[0].items()}
    for want, got in zip(ge, ga):
        total = {k: total[k] + np.asarray(want[k], dtype=np.float64) for k in total}
        if not _ok(got, total):
            return False
    return True


LEAKED = H(_accumulated,
           "each chunk's gradients are the sum of its own and every earlier chunk's: they are "
           "never reset. A chunk's gradients must come from that chunk alone (start each "
           "loss_chunk from fresh zero gradients; carry only the state)")
TEACHER = H(lambda e, a: "own_predictions" in a and _ok(a["loss"], a["own_predictions"], 1e-9),
            "your loss is what the model gives when fed its own argmax predictions: with teacher "
            "forcing the input at step t is the TRUE token t "
            "(tokens[:, :-1]), never the model's own prediction")


# -- judges ----------------------------------------------------------------------------------------
close_keys, oracle = J.close_keys, J.oracle


def clip_oracle(hints=()):
    """Against torch.nn.utils.clip_grad_norm_ on the same gradients, which the reference's run
    of the test computed (an oracle test: ``expected["torch"]``)."""
    def judge(expected, actual):
        t = expected["torch"]
        a = {k: actual.get(k) for k in t}
        msg = J.compare(t, a, rtol=1e-12, atol=0.0)
        v = J.Verdict(0.0 if msg else 1.0, (msg + " (compared with "
                      "torch.nn.utils.clip_grad_norm_ on the same gradients)") if msg else "")
        return J.with_hints(v, hints, t, a)
    return judge


def clip_judge(hints=()):
    def judge(expected, actual):
        keys = [k for k in ("raised", "norm", "clipped") if k in expected]
        msg = J.compare({k: expected[k] for k in keys}, {k: actual.get(k) for k in keys},
                        rtol=1e-12, atol=0.0)
        v = J.Verdict(0.0 if msg else 1.0, msg or "")
        return J.with_hints(v, hints, expected, actual)
    return judge


def closed_form(rtol=1e-9):
    def judge(expected, actual):
        ok = J.isclose(actual["loss"], actual["closed_form"], rtol=rtol)
        v = J.Verdict(1.0 if ok else 0.0, "" if ok else
                      f"loss: expected {actual['closed_form']:.10g} (known in closed form), got "
                      f"{J.fmt(actual['loss'])}")
        return J.with_hints(v, [TEACHER, MASK_HINT_MODEL, MASK_COUNT_MODEL], expected, actual)
    return judge


MASK_HINT_MODEL = H(lambda e, a: "unmasked" in a and _ok(a["loss"], a["unmasked"], 1e-9),
                    "your loss counts the padding: it is what the mean over every position, IGNORE "
                    "targets included, gives. The loss is the mean over predicted tokens only: "
                    "mask the padding (IGNORE) targets out of the sum and of the count")


MASK_COUNT_MODEL = H(lambda e, a: "over_all_positions" in a
                     and _ok(a["loss"], a["over_all_positions"], 1e-9), MASK_COUNT.say)


def no_leak():
    return J.check(lambda a: (max(a["outside_chunk_grad"], default=0.0) == 0.0,
                              f"a chunk's gradient reached embedding rows of ids outside the chunk "
                              f"(largest {max(a['outside_chunk_grad'], default=0.0):.3g}): gradients "
                              "must not cross chunks"))


def generate_judge():
    """lmcore.lm.generate over the student's model: its draws follow the reference's
    distributions (a seeded statistical test), next_distribution(prompt) is the reference's,
    and one seed gives one sentence."""
    return J.fields(weights={"draws": 2, "p_first": 1, "reproducible": 1},
                    draws=J.draws_follow(labels=["the first token", "the second token"]),
                    p_first=J.close(rtol=1e-7), reproducible=J.exact())


def interface_self():
    def pred(a):
        d = np.asarray(a["dists"])
        if np.abs(np.asarray(a["bos_prob"])).max() != 0:
            return False, "next_distribution gives <s> a nonzero probability; <s> is never predicted"
        if np.abs(d.sum(axis=1) - 1).max() > 1e-9:
            return False, f"next_distribution sums to {d.sum(axis=1)}, not 1"
        lp, stepped = np.asarray(a["logprobs"]), np.asarray(a["stream_stepped"])
        if lp.shape != stepped.shape or not np.allclose(lp, stepped, rtol=1e-9):
            return False, ("logprobs disagree with the stream read one step at a time "
                           f"(<s> once, the state carried across sentences): {lp} vs {stepped}")
        if not np.allclose(d[2], a["after_context_stepped"], rtol=1e-9, atol=1e-12):
            return False, ("next_distribution(['the', 'cat']) disagrees with model.step fed "
                           "start_id, 'the', 'cat' from the zero state")
        return True, ""
    return J.check(pred)


# -- the public tests ------------------------------------------------------------------------------
def grads_close(keys, rtol=1e-7, hints=()):
    return J.all_of(close_keys(keys, rtol=rtol, hints=hints),
                    J.check(lambda a: (isinstance(a, dict) and a.get("inputs_unchanged") is not False,
                                       "your function modified one of its input arrays; work on "
                                       "copies or build new arrays")))


RNN_STEP_KEYS = ("next_h", "dx", "dprev_h", "dWx", "dWh", "db")
RNN_SEQ_KEYS = ("h", "dx", "dh0", "dWx", "dWh", "db")
LSTM_STEP_KEYS = ("next_h", "next_c", "dx", "dprev_h", "dprev_c", "dWx", "dWh", "db")
LSTM_SEQ_KEYS = ("h", "c", "dx", "dh0", "dc0", "dWx", "dWh", "db")
CLIP_HINTS = [PER_TENSOR, DIRECTION, RESCALED]


def gradcheck_test(name, part, points, seed, tol, description, **kw):
    """A self-check: the scenario ``<group>_gradcheck`` (the group is the name before the dot)
    compares the student's backward with numerical gradients of the student's own forward, so
    it needs no reference output."""
    return public(name, part=part, points=points, scenario=f"{name.split('.')[0]}_gradcheck",
                  seed=seed, needs_reference=False, judge=J.gradcheck(tol),
                  description=description, **kw)


TESTS = [
    public("rnn_step.forward", part="rnn_step_forward/backward", points=2, scenario="rnn_step", seed=1,
           judge=close_keys(("next_h",)), description="rnn_step_forward matches the reference"),
    public("rnn_step.backward", part="rnn_step_forward/backward", points=3, scenario="rnn_step", seed=1,
           judge=grads_close(RNN_STEP_KEYS, hints=[TANH_PREACT]),
           description="rnn_step_backward's five gradients match the reference; inputs untouched"),
    gradcheck_test("rnn_step.gradcheck", "rnn_step_forward/backward", points=2, seed=2, tol=1e-7,
                   description="rnn_step_backward agrees with a numerical gradient of your forward"),
    public("rnn_sequence.forward", part="rnn_forward/backward", points=2, scenario="rnn_sequence", seed=3,
           judge=close_keys(("h",)), description="rnn_forward matches the reference"),
    public("rnn_sequence.backward", part="rnn_forward/backward", points=4, scenario="rnn_sequence", seed=3,
           judge=grads_close(RNN_SEQ_KEYS, hints=[NO_CARRY]),
           description="BPTT over the whole sequence matches the reference"),
    gradcheck_test("rnn_sequence.gradcheck", "rnn_forward/backward", points=3, seed=4, tol=1e-6,
                   description="rnn_backward agrees with a numerical gradient"),
    public("embedding.forward_backward", part="word_embedding_forward/backward", points=2, scenario="embedding",
           seed=5, judge=grads_close(("out", "dW")),
           description="embedding lookup and its gradient (repeated ids add up)"),
    public("temporal_affine.forward_backward", part="temporal_affine_forward/backward", points=2,
           scenario="temporal_affine", seed=6, judge=grads_close(("out", "dx", "dw", "db")),
           description="temporal affine forward and backward"),
    gradcheck_test("layers.gradcheck", "temporal layers (gradient check)", points=2, seed=7,
                   tol=1e-7,
                   description="affine, embedding and softmax-loss gradients agree with numerical ones"),
    public("softmax_loss.masked", part="temporal_softmax_loss", points=3, scenario="softmax_loss",
           seed=8, judge=grads_close(("loss", "dx"), hints=[MASK_IGNORED, MASK_COUNT]),
           description="masked softmax loss averaged over the unmasked tokens, and its gradient"),
    public("lstm_step.forward", part="lstm_step_forward/backward", points=2, scenario="lstm_step", seed=9,
           judge=close_keys(("next_h", "next_c"), hints=[GATE_ORDER]),
           description="lstm_step_forward matches the reference (gate order i, f, o, g)"),
    public("lstm_step.backward", part="lstm_step_forward/backward", points=3, scenario="lstm_step", seed=9,
           judge=grads_close(LSTM_STEP_KEYS, hints=[GATE_ORDER]),
           description="lstm_step_backward matches the reference"),
    gradcheck_test("lstm_step.gradcheck", "lstm_step_forward/backward", points=2, seed=10, tol=1e-6,
                   description="lstm_step_backward agrees with a numerical gradient"),
    public("lstm_sequence.forward_backward", part="lstm_forward/backward", points=3,
           scenario="lstm_sequence", seed=11, judge=grads_close(LSTM_SEQ_KEYS, hints=[GATE_ORDER]),
           description="lstm_forward and lstm_backward match the reference"),
    public("lstm_converter.torch_layout", part="lstm_to_torch", points=1, scenario="lstm_converter",
           seed=12, judge=grads_close(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")),
           description="weights converted to torch's (i, f, g, o) layout"),
    public("clip_norm.random", part="clip_grad_norm", points=2, scenario="clip_norm", seed=13,
           params={"case": "random", "max_norm": 1.0}, judge=grads_close(("norm", "clipped"), 1e-12, CLIP_HINTS),
           description="global-norm clipping of gradients above the threshold"),
    public("clip_norm.below", part="clip_grad_norm", points=1, scenario="clip_norm", seed=14,
           params={"case": "below", "max_norm": 1.0}, judge=grads_close(("norm", "clipped"), 1e-12, CLIP_HINTS),
           description="gradients below the threshold come back unchanged"),
    public("clip_norm.inf", part="clip_grad_norm", points=1, scenario="clip_norm", seed=15,
           params={"case": "inf", "max_norm": 1.0}, judge=clip_judge(CLIP_HINTS),
           description="an infinite gradient behaves as in torch (norm inf, scale 0)"),
    public("clip_norm.error_if_nonfinite", part="clip_grad_norm", points=1, scenario="clip_norm",
           seed=16, params={"case": "nan", "max_norm": 1.0, "error_if_nonfinite": True},
           judge=clip_judge(), description="error_if_nonfinite=True raises RuntimeError on a NaN"),
    public("clip_value.random", part="clip_grad_value", points=1, scenario="clip_value", seed=17,
           judge=grads_close(("clipped",)), description="value clipping into [-c, c]"),
    public("first_nonfinite.loss", part="first_nonfinite", points=1, scenario="nonfinite", seed=18,
           params={"bad": 5, "where": "loss"}, judge=J.exact(),
           description="the first step with a non-finite loss"),
    public("model.loss_rnn", part="RNNLM.loss_chunk", points=3, scenario="model_loss", seed=19,
           params={"cell": "rnn"}, judge=grads_close(("loss", "grads", "h"), 1e-7),
           description="the RNN LM's loss and gradients with teacher forcing"),
    gradcheck_test("model.gradcheck_rnn", "RNNLM.loss_chunk", points=2, seed=20, tol=1e-6,
                   params={"cell": "rnn"},
                   description="the LM's gradients agree with numerical gradients of its loss"),
    public("model.closed_form_uniform", part="RNNLM.loss_chunk", points=1,
           scenario="model_closed_form", seed=21, params={"kind": "zero"},
           needs_reference=False, judge=closed_form(),
           description="zero weights: uniform over the V - 1 predictable tokens, loss ln(V - 1)"),
    public("model.closed_form_bigram", part="RNNLM.loss_chunk", points=2,
           scenario="model_closed_form", seed=22, params={"kind": "bigram"},
           needs_reference=False, judge=closed_form(),
           description="Wh = 0 makes the RNN a bigram table: the teacher-forced loss in closed form"),
    public("tbptt.chunks", part="truncated_bptt", points=3, scenario="tbptt", seed=23,
           judge=grads_close(("losses", "grads"), 1e-7, [NOT_CARRIED, LEAKED]),
           description="per-chunk losses and gradients of truncated BPTT (state carried)"),
    public("tbptt.no_gradient_across_chunks", part="truncated_bptt", points=1, scenario="tbptt",
           seed=24, needs_reference=False, judge=no_leak(),
           description="a chunk's gradients are zero outside the chunk"),
    public("generate.draws", part="RNNLM.next_distribution", points=2,
           scenario="generate_draws", seed=25, judge=generate_judge(),
           description="free-running sampling by lmcore.lm.generate over your model: the "
                       "draws follow the reference's distributions (a seeded statistical test)"),
    public("interface.lm", part="RNNLM.next_distribution", points=1, scenario="interface", seed=26,
           needs_reference=False, judge=interface_self(),
           description="next_distribution sums to one, <s> gets 0; logprobs read one stream"),
    public("grad_distance.rnn", part="grad_norm_vs_distance", points=2, scenario="grad_distance",
           seed=27, params={"cell": "rnn"}, judge=close_keys(("norms",)),
           description="||dL_T/dh_t|| against the distance T - t for the RNN"),
    public("grad_distance.lstm", part="grad_norm_vs_distance", points=2, scenario="grad_distance",
           seed=28, params={"cell": "lstm"}, judge=close_keys(("norms",)),
           description="the same measurement for the LSTM"),
]
