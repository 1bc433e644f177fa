"""Public tests of a3_rnn, and the judges and hints that the hidden tests share.

Hints recognise the classic bugs of the issue from (expected, actual) alone.
"""
from __future__ import annotations

import numpy as np

from autograder import judges as J
from autograder.suite import public

H = J.Hint


def _ok(a, e, rtol=1e-7):
    return J.isclose(a, e, rtol=rtol)


# -- recognisable wrong answers -----------------------------------------------------------------
TANH_PREACT = H(lambda e, a: np.allclose(
    a["db"], (e["dnext_h"] * (1 - np.arctanh(e["next_h"]) ** 2)).sum(axis=0), rtol=1e-6),
    "your gradient uses 1 - a^2 with a the pre-activation; tanh'(a) = 1 - tanh(a)^2 = "
    "1 - next_h^2 (use the output you cached)")
NO_CARRY = H(lambda e, a: _ok(a["dx"][:, -1], e["dx"][:, -1]) and not _ok(a["dx"][:, 0], e["dx"][:, 0]),
             "the last timestep's gradients are right but earlier ones are wrong: did you add the "
             "gradient flowing back from step t+1 (dprev_h) to the upstream dh[:, t]?")
MASK_IGNORED = H(lambda e, a: np.abs(np.asarray(a["dx"])[np.all(np.asarray(e["dx"]) == 0, axis=-1)]).max() > 0,
                 "masked positions received a gradient (or counted in the loss): multiply by the "
                 "mask and divide by the number of unmasked tokens, not by N*T")
MASK_COUNT = H(lambda e, a: np.isclose(a["loss"] * a["all_tokens"], e["loss"] * e["unmasked"]),
               "the loss is divided by N*T: average over the unmasked tokens only")
GATE_ORDER = H(lambda e, a: True, "check the gate order: the 4H columns are (i, f, o, g), i.e. "
               "input, forget, output, then the tanh cell candidate g")


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
NOT_CARRIED = H(lambda e, a: _ok(a["losses"][0], e["losses"][0]) and not _ok(a["losses"][1:], e["losses"][1:]),
                "the first chunk's loss is right but later ones are wrong: carry the hidden state "
                "from the end of one chunk into the next (model.loss_chunk returns it)")
LEAKED = H(lambda e, a: max(a["outside_chunk_grad"]) > 0,
           "embedding rows of ids that are not in a chunk got gradient: a chunk's gradients must "
           "come from that chunk alone (do not accumulate or carry gradients across chunks)")
TEACHER = H(lambda e, a: True, "with teacher forcing the input at step t is the TRUE token t "
            "(tokens[:, :-1]), never the model's own prediction")


# -- judges ----------------------------------------------------------------------------------------
def unchanged():
    return J.check(lambda a: (a is True, "your function modified one of its input arrays; "
                              "work on copies (e.g. x = x.copy()) or build new arrays"))


def close_keys(keys, rtol=1e-7, atol=1e-10, hints=()):
    """All-or-nothing comparison of the listed keys with the reference; hints see the whole
    outputs."""
    def judge(expected, actual):
        if not isinstance(actual, dict):
            return J.Verdict(0.0, f"expected a dict, got {J.describe(actual)}")
        msg = J.compare({k: expected[k] for k in keys}, {k: actual.get(k) for k in keys},
                        rtol=rtol, atol=atol)
        return J._apply_hints(J.Verdict(0.0 if msg else 1.0, msg or ""), hints, expected, actual)
    return judge


def oracle(rtol=1e-7, atol=1e-10, hints=()):
    """Self-check: the student's values ("ours") against torch's, computed in the scenario."""
    def judge(expected, actual):
        msg = J.compare(actual["torch"], actual["ours"], rtol=rtol, atol=atol)
        v = J.Verdict(0.0 if msg else 1.0, (msg + " (compared with torch autograd on the same "
                                              "weights)") if msg else "")
        return J._apply_hints(v, hints, expected, actual)
    return judge


def clip_oracle(hints=()):
    """Self-check against torch.nn.utils.clip_grad_norm_ run in the scenario."""
    def judge(expected, actual):
        t = actual["torch"]
        a = {k: actual.get(k) for k in t}
        msg = J.compare(t, a, rtol=1e-12, atol=0.0)
        v = J.Verdict(0.0 if msg else 1.0, (msg + " (compared with "
                      "torch.nn.utils.clip_grad_norm_ on the same gradients)") if msg else "")
        return J._apply_hints(v, hints, t, a)
    return judge


def clip_judge(hints=()):
    def judge(expected, actual):
        keys = [k for k in ("raised", "norm", "clipped") if k in expected]
        msg = J.compare({k: expected[k] for k in keys}, {k: actual.get(k) for k in keys},
                        rtol=1e-12, atol=0.0)
        v = J.Verdict(0.0 if msg else 1.0, msg or "")
        return J._apply_hints(v, hints, expected, actual)
    return judge


def closed_form(rtol=1e-9):
    def judge(expected, actual):
        ok = J.isclose(actual["loss"], actual["closed_form"], rtol=rtol)
        v = J.Verdict(1.0 if ok else 0.0, "" if ok else
                      f"loss: expected {actual['closed_form']:.10g} (known in closed form), got "
                      f"{J.fmt(actual['loss'])}")
        return J._apply_hints(v, [TEACHER, MASK_HINT_MODEL], expected, actual)
    return judge


MASK_HINT_MODEL = H(lambda e, a: True, "the loss is the mean over predicted tokens only: mask the "
                    "padding (IGNORE) and <s> targets, and give <s> the score -inf (self.never)")


def no_leak():
    return J.check(lambda a: (max(a["outside_chunk_grad"], default=0.0) == 0.0,
                              f"a chunk's gradient reached embedding rows of ids outside the chunk "
                              f"(largest {max(a['outside_chunk_grad'], default=0.0):.3g}): gradients "
                              "must not cross chunks"), hints=[LEAKED])


def samples_consistent():
    return J.check(lambda a: (a["samples"] == a["generate"],
                              f"model.sample gave {a['samples'][0]} but lmcore.lm.generate with the "
                              f"same seed gave {a['generate'][0]}: draw each token with "
                              "rng.choice(V, p=p / p.sum()) from the distribution after feeding "
                              "back the token drawn before"))


def interface_self():
    def pred(a):
        d = np.asarray(a["dists"])
        if np.abs(np.asarray(a["bos_prob"])).max() != 0:
            return False, "next_distribution gives <s> a nonzero probability; <s> is never predicted"
        if np.abs(d.sum(axis=1) - 1).max() > 1e-9:
            return False, f"next_distribution sums to {d.sum(axis=1)}, not 1"
        lp = np.asarray(a["logprobs"])[:len(a["first_sentence"])]
        if not np.allclose(lp, a["first_sentence"], rtol=1e-9):
            return False, ("logprobs of the first sentence disagree with ln next_distribution: "
                           f"{lp} vs {a['first_sentence']}")
        return True, ""
    return J.check(pred)
