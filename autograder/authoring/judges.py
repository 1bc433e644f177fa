"""Judges: compare a student's outputs with the reference's and say what is wrong.

A judge is a callable ``judge(expected, actual) -> Verdict``. ``expected`` is the reference
scenario's output (``None`` for self-checks, which look only at ``actual``); ``actual`` is the
student's, already validated as plain data by ``outputs.read_outputs``. A verdict carries a
score fraction in [0, 1] and a message that says what was expected, what came back, where,
and (through hints) the most likely cause.

Judges compose: ``fields(h=close(), dWx=close())`` gives each key its share of the credit,
and every judge accepts ``hints=[Hint(condition, "did you ...?")]`` whose conditions see
``(expected, actual)`` and fire on recognisable wrong answers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np


@dataclass(frozen=True)
class Verdict:
    score: float                      # fraction of the test's points, 0..1
    message: str = ""                 # empty when fully correct
    hints: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return self.score >= 1.0 - 1e-12

    def feedback(self) -> str:
        parts = [self.message] if self.message else []
        parts += [f"Hint: {h}" for h in self.hints]
        return "\n".join(parts)


# module name -> the sayings of the hints created there; the kit's tests check that each
# suite's hints fire on the examples that have their bug and on no other
HINTS_BY_MODULE: dict[str, set[str]] = {}


@dataclass(frozen=True)
class Hint:
    """``when(expected, actual) -> bool``; ``say`` is shown when it fires on a failed test.

    ``when`` must recognise one bug from the wrong answer itself (the recognisers below help),
    never fire on any failure: a hint that blames the wrong thing is worse than none."""
    when: Callable[[Any, Any], bool]
    say: str

    def __post_init__(self):
        import sys
        frame = sys._getframe(2)
        HINTS_BY_MODULE.setdefault(frame.f_globals.get("__name__", "?"), set()).add(self.say)


def suite_hints(assignment: str) -> set[str]:
    """The sayings of every hint created by the suite modules of ``assignment`` (import its
    public and hidden modules first)."""
    prefix = f"autograder.suites.{assignment}."
    return {s for m, says in HINTS_BY_MODULE.items() if m.startswith(prefix) for s in says}


def with_hints(verdict: Verdict, hints: Sequence[Hint], expected, actual) -> Verdict:
    """``verdict`` with the sayings of every hint that fires on this wrong answer; for judges
    written in a suite (the built-in judges call it themselves). A passed verdict is returned
    unchanged, and a hint whose condition raises stays silent."""
    if verdict.passed or not hints:
        return verdict
    fired = []
    for h in hints:
        try:
            if h.when(expected, actual):
                fired.append(h.say)
        except Exception:  # a hint that cannot apply to this wrong answer stays silent
            pass
    return Verdict(verdict.score, verdict.message, verdict.hints + tuple(fired))


# -- helpers -----------------------------------------------------------------------------
def describe(v: Any) -> str:
    """Short description of a value's type and shape, for messages."""
    if isinstance(v, np.ndarray):
        return f"array of shape {v.shape} and dtype {v.dtype}"
    if isinstance(v, bool):
        return f"bool {v}"
    if isinstance(v, (int, float)):
        return f"{type(v).__name__} {v!r}"
    if isinstance(v, str):
        return f"str {v[:60]!r}"
    if isinstance(v, list):
        return f"list of length {len(v)}"
    if isinstance(v, dict):
        return f"dict with keys {sorted(v)[:8]}"
    return type(v).__name__


def fmt(x: Any) -> str:
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.6g}"
    if isinstance(x, np.integer):
        return str(int(x))
    if isinstance(x, np.bool_):
        return str(bool(x))
    return repr(x)


def rel_error(x, y):
    """Elementwise max(|x - y| / max(1e-8, |x| + |y|)), cs231n's definition."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))


def _index_str(idx) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]" if idx != () else ""


def compare(expected: Any, actual: Any, path: str = "", rtol: float = 1e-7,
            atol: float = 1e-10, exact: bool = False,
            label: Callable[[str, tuple], str] | None = None) -> str | None:
    """None when ``actual`` matches ``expected``, else one message naming the first mismatch.

    Numbers and arrays match within ``abs(a - e) <= atol + rtol * abs(e)`` (NaN matches NaN,
    infinities must match exactly); with ``exact`` they must be equal. Arrays must also agree
    in shape and in dtype kind (float / int / bool). ``label(path, index)`` may turn an index
    into words ("token 'the' after context ('<s>',)").
    """
    where = path or "the output"

    def at(idx):
        text = f"{where}{_index_str(idx)}"
        if label is not None:
            extra = label(path, idx)
            if extra:
                text += f" ({extra})"
        return text

    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected a dict with keys {sorted(expected)}, got {describe(actual)}"
        missing = [k for k in expected if k not in actual]
        if missing:
            return f"{where}: missing key(s) {missing}"
        for k in expected:
            msg = compare(expected[k], actual[k], f"{path}[{k!r}]" if path else k, rtol, atol,
                          exact, label)
            if msg:
                return msg
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}: expected a list of length {len(expected)}, got {describe(actual)}"
        if len(actual) != len(expected):
            return f"{where}: expected {len(expected)} items, got {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            msg = compare(e, a, f"{path}[{i}]", rtol, atol, exact, label)
            if msg:
                return msg
        return None
    if isinstance(expected, str) or expected is None or isinstance(expected, bool):
        if type(actual) is not type(expected) or actual != expected:
            return f"{where}: expected {fmt(expected)}, got {fmt(actual)}"
        return None
    if isinstance(expected, (int, float)):
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            if isinstance(actual, np.ndarray) and actual.shape == ():
                actual = actual.item()
            else:
                return f"{where}: expected a number ({fmt(expected)}), got {describe(actual)}"
        if isinstance(expected, int) and exact and not isinstance(actual, int):
            return f"{where}: expected the integer {expected}, got {describe(actual)}"
        return _compare_arrays(np.asarray(expected), np.asarray(actual), at, rtol, atol, exact)
    if isinstance(expected, np.ndarray):
        if not isinstance(actual, np.ndarray):
            if isinstance(actual, (list, int, float)) and not isinstance(actual, bool):
                return (f"{where}: expected a numpy array of shape {expected.shape}, got "
                        f"{describe(actual)}; return an np.ndarray")
            return f"{where}: expected an array of shape {expected.shape}, got {describe(actual)}"
        if actual.shape != expected.shape:
            return (f"{where}: expected shape {expected.shape}, got {actual.shape}")
        ek, ak = expected.dtype.kind, actual.dtype.kind
        if (ek == "f") != (ak == "f") or (ek == "b") != (ak == "b"):
            return f"{where}: expected dtype {expected.dtype}, got {actual.dtype}"
        if ek == "f" and expected.dtype == np.float64 and actual.dtype != np.float64:
            return (f"{where}: expected dtype float64, got {actual.dtype}; keep float64 where "
                    "gradients are checked")
        return _compare_arrays(expected, actual, at, rtol, atol, exact)
    return f"{where}: cannot compare a {type(expected).__name__}"


def _compare_arrays(e: np.ndarray, a: np.ndarray, at, rtol, atol, exact) -> str | None:
    if e.dtype.kind == "b" or exact:
        bad = e != a
        if e.dtype.kind == "f":
            bad &= ~(np.isnan(e) & np.isnan(a))
        if not bad.any():
            return None
        idx = np.unravel_index(np.argmax(bad), bad.shape) if bad.ndim else ()
        n = int(bad.sum())
        return (f"{at(idx)}: expected {fmt(e[idx])}, got {fmt(a[idx])}"
                + (f" ({n} of {bad.size} entries differ)" if bad.size > 1 else ""))
    e64 = e.astype(np.complex128 if e.dtype.kind == "c" else np.float64)
    a64 = a.astype(e64.dtype)
    both_nan = np.isnan(e64) & np.isnan(a64)
    same_inf = np.isinf(e64) & (e64 == a64)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a64 - e64)
        tol = atol + rtol * np.abs(e64)
        # An infinite expected value makes the tolerance infinite: only the same inf matches.
        bad = ~(((diff <= tol) & np.isfinite(e64)) | both_nan | same_inf)
    if not bad.any():
        return None
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        err = np.where(bad, np.nan_to_num(rel_error(e64.real, a64.real), nan=np.inf), -1.0)
    idx = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
    n = int(bad.sum())
    if not np.isfinite(a64).all() and np.isfinite(e64).all():
        first = np.unravel_index(int(np.argmax(~np.isfinite(a64))), a64.shape) if a64.ndim else ()
        return (f"{at(first)}: got {fmt(a64[first])} where {fmt(e64[first])} was expected "
                f"({n} of {bad.size} entries wrong); look for an overflow, a log of 0 or a "
                "division by 0")
    return (f"{at(idx)}: expected {fmt(e64[idx])}, got {fmt(a64[idx])} "
            f"(relative error {float(err[idx]):.2e}; {n} of {bad.size} entries outside "
            f"rtol={rtol:g}, atol={atol:g})")


# -- judges --------------------------------------------------------------------------------
def close(rtol: float = 1e-7, atol: float = 1e-10, hints: Sequence[Hint] = (),
          label=None) -> Callable[[Any, Any], Verdict]:
    """All or nothing: every number and array within tolerance, structure and shapes equal."""
    def judge(expected, actual):
        msg = compare(expected, actual, rtol=rtol, atol=atol, label=label)
        return with_hints(Verdict(0.0 if msg else 1.0, msg or ""), hints, expected, actual)
    return judge


def exact(hints: Sequence[Hint] = (), label=None) -> Callable[[Any, Any], Verdict]:
    """All or nothing: equal values (ints, strings, token lists, integer arrays)."""
    def judge(expected, actual):
        msg = compare(expected, actual, exact=True, label=label)
        return with_hints(Verdict(0.0 if msg else 1.0, msg or ""), hints, expected, actual)
    return judge


def fields(weights: dict[str, float] | None = None, hints: Sequence[Hint] = (),
           **judges: Callable[[Any, Any], Verdict]) -> Callable[[Any, Any], Verdict]:
    """Partial credit: each key of a dict output judged by its own judge, weighted.

    ``fields(out=close(), dx=close(), dw=close())``: each key gets an equal share unless
    ``weights`` says otherwise. Messages of failing keys are joined.
    """
    def judge(expected, actual):
        if not isinstance(actual, dict):
            return with_hints(Verdict(0.0, f"expected a dict with keys {sorted(judges)}, "
                                        f"got {describe(actual)}"), hints, expected, actual)
        total = sum((weights or {}).get(k, 1.0) for k in judges)
        score, msgs, inner_hints, wrong = 0.0, [], [], set()
        for k, j in judges.items():
            w = (weights or {}).get(k, 1.0)
            if k not in actual:
                msgs.append(f"{k}: missing from the output")
                continue
            v = j(None if expected is None else expected.get(k), actual[k])
            score += w * v.score
            if not v.passed:
                wrong.add(k)
                msg = v.message
                if msg.startswith("["):
                    msg = k + msg
                elif msg.startswith("the output"):
                    msg = k + msg[len("the output"):]
                elif not msg.startswith(k):
                    msg = f"{k}: {msg}"
                msgs.append(msg)
                inner_hints += list(v.hints)
        right = [k for k in judges if k in actual and k not in wrong]
        if msgs and right and len(judges) > 1:
            msgs.append(right_and_wrong(right, [k for k in judges if k not in right]))
        verdict = Verdict(score / total if total else 1.0, "\n".join(msgs), tuple(inner_hints))
        return with_hints(verdict, hints, expected, actual)
    return judge


def _and(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def right_and_wrong(right: Sequence[str], wrong: Sequence[str]) -> str:
    """"dx and dh0 are right; dWh is wrong": which outputs to trust while looking for a bug."""
    verb = lambda ks: "is" if len(ks) == 1 else "are"  # noqa: E731
    return f"{_and(right)} {verb(right)} right; {_and(wrong)} {verb(wrong)} wrong"


def close_keys(keys: Sequence[str], rtol: float = 1e-7, atol: float = 1e-10,
               hints: Sequence[Hint] = ()) -> Callable[[Any, Any], Verdict]:
    """All-or-nothing comparison of the listed keys of a dict output with the reference's.
    The feedback names every wrong key (with its first wrong entry) and, when some keys are
    right, which ones: "dx is wrong; dWx and db are right" points at one path of a backward.
    Hints see the whole outputs."""
    def judge(expected, actual):
        if not isinstance(actual, dict):
            return Verdict(0.0, f"expected a dict, got {describe(actual)}")
        msgs = {k: compare(expected[k], actual.get(k), path=k, rtol=rtol, atol=atol)
                for k in keys}
        wrong = [k for k in keys if msgs[k]]
        msg = "\n".join(msgs[k] for k in wrong)
        right = [k for k in keys if not msgs[k]]
        if wrong and right:
            msg += "\n" + right_and_wrong(right, wrong)
        return with_hints(Verdict(0.0 if msg else 1.0, msg or ""), hints, expected, actual)
    return judge


def oracle(rtol: float = 1e-7, atol: float = 1e-10, hints: Sequence[Hint] = (),
           keys: Sequence[str] | None = None) -> Callable[[Any, Any], Verdict]:
    """Against a second implementation on the same inputs: the student's values
    (``actual["ours"]``, or with ``keys`` those keys of ``actual`` itself, for a scenario whose
    other tests read them there) against torch autograd's, which the reference's run of the
    test computed (``expected["torch"]``; an ``oracle=True`` test, declare.py). The hints see
    torch's values as the expected ones and the student's as the actual ones."""
    def judge(expected, actual):
        ours = actual["ours"] if keys is None else {k: actual[k] for k in keys}
        msg = compare(expected["torch"], ours, rtol=rtol, atol=atol)
        v = Verdict(0.0 if msg else 1.0, (msg + " (compared with torch autograd on the same "
                                          "inputs and weights)") if msg else "")
        return with_hints(v, hints, expected["torch"], ours)
    return judge


def sums_to_one(key: str | None = None, axis: int = -1, tol: float = 1e-8,
                hints: Sequence[Hint] = ()) -> Callable[[Any, Any], Verdict]:
    """Self-check: probabilities (``actual[key]`` or ``actual``) are in [0, 1] and sum to one
    along ``axis``. The reference output is not used."""
    def judge(expected, actual):
        p = actual[key] if key is not None else actual
        name = key or "the distribution"
        p = np.asarray(p, dtype=np.float64)
        if p.size == 0:
            return Verdict(0.0, f"{name}: empty")
        if not np.isfinite(p).all():
            return with_hints(Verdict(0.0, f"{name}: contains inf or NaN"), hints, expected, actual)
        if (p < -tol).any() or (p > 1 + tol).any():
            idx = np.unravel_index(int(np.argmax((p < -tol) | (p > 1 + tol))), p.shape)
            return with_hints(Verdict(0.0, f"{name}{_index_str(idx)} = {fmt(p[idx])} is not "
                                        "a probability"), hints, expected, actual)
        s = np.atleast_1d(p.sum(axis=axis) if p.ndim else p)
        dev = np.abs(s - 1.0)
        if (dev > tol).any():
            i = np.unravel_index(int(np.argmax(dev)), dev.shape)
            row = str(int(i[0])) if len(i) == 1 else _index_str(i)
            return with_hints(Verdict(0.0, f"{name}: row {row} sums to {float(s[i]):.12g}, "
                                        f"not 1 (tolerance {tol:g})"), hints, expected, actual)
        return Verdict(1.0)
    return judge


def gradcheck(tol: float = 1e-7, hints: Sequence[Hint] = ()) -> Callable[[Any, Any], Verdict]:
    """Self-check: ``actual = {"analytic": {name: array}, "numeric": {name: array}}`` computed
    by the scenario from the student's own forward pass; each gradient gets an equal share and
    must have max relative error below ``tol``."""
    def judge(expected, actual):
        an = actual.get("analytic") if isinstance(actual, dict) else None
        nu = actual.get("numeric") if isinstance(actual, dict) else None
        if not isinstance(an, dict) or not isinstance(nu, dict):
            return Verdict(0.0, "gradient check: the scenario returned no gradients")
        score, msgs = 0.0, []
        for name, num in nu.items():
            a = an.get(name)
            num = np.asarray(num, dtype=np.float64)
            if isinstance(a, (int, float)) and not isinstance(a, bool):
                a = np.asarray(a, dtype=np.float64)  # a scalar parameter's gradient
            if not isinstance(a, np.ndarray) or a.shape != np.shape(num):
                msgs.append(f"{name}: expected a gradient of shape {np.shape(num)}, got "
                            f"{describe(a)}")
                continue
            with np.errstate(invalid="ignore"):
                err = rel_error(a, num)
            err = np.where(np.isnan(err), np.inf, err)
            worst = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
            if float(err[worst]) <= tol:
                score += 1
            else:
                msgs.append(f"{name} is wrong: max relative error {float(err[worst]):.1e} at "
                            f"{_index_str(worst) or 'the scalar'} (analytic {fmt(a[worst])}, "
                            f"numerical {fmt(num[worst])}; tolerance {tol:g})")
        verdict = Verdict(score / max(1, len(nu)), "\n".join(msgs))
        return with_hints(verdict, hints, expected, actual)
    return judge


def check(predicate: Callable[[Any], bool | tuple[bool, str]], message: str = "",
          hints: Sequence[Hint] = ()) -> Callable[[Any, Any], Verdict]:
    """Self-check with a predicate on the student's output alone (e.g. a loss bound).

    The predicate returns a bool, or ``(ok, message)`` to explain a failure with values."""
    def judge(expected, actual):
        r = predicate(actual)
        ok, msg = (r if isinstance(r, tuple) else (bool(r), message))
        msg = msg or "the self-check failed"  # a failed test never comes back without words
        return with_hints(Verdict(1.0 if ok else 0.0, "" if ok else msg), hints,
                            expected, actual)
    return judge


def all_of(*parts: Callable[[Any, Any], Verdict]) -> Callable[[Any, Any], Verdict]:
    """Score is the minimum of the parts' scores; messages are joined."""
    def judge(expected, actual):
        vs = [p(expected, actual) for p in parts]
        failed = [v for v in vs if not v.passed]
        return Verdict(min(v.score for v in vs), "\n".join(v.message for v in failed if v.message),
                       tuple(h for v in failed for h in v.hints))
    return judge


def _chi2_quantile(df: int, z: float) -> float:
    """Wilson-Hilferty: the chi-square quantile whose standard-normal equivalent is ``z``
    (accurate to a few percent for df >= 1, which is plenty for a threshold this far out)."""
    a = 2.0 / (9.0 * df)
    return df * max(0.0, 1.0 - a + z * math.sqrt(a)) ** 3


def draws_follow(z: float = 5.0, labels: Sequence[str] | None = None, own: bool = False,
                 hints: Sequence[Hint] = ()):
    """Statistical check of a sampler: the counts it drew follow the reference's
    probabilities, or with ``own`` the probabilities that came back with them.

    Judges one value of the form ``{"counts": (R, V) ints, "probs": (R, V) floats}`` (and
    optionally "tokens", the V names used in messages, and "labels", the R row names), R
    distributions: ``actual["counts"][r]`` are the student's draws from distribution r and
    ``expected["probs"][r]`` the reference's probabilities of it. With ``own=True`` the
    probabilities are ``actual["probs"]`` instead, the student model's own distributions (a
    self-check: whether they are the right ones is another test's question); each row with
    draws must then be a distribution (finite, non-negative, a positive sum; normalised here, as
    lmcore.lm.generate normalises it), or the test fails saying where it is not. One chi-square
    test over all rows (cells whose expected count is below 5 pooled within each row), failing
    when the statistic passes the quantile whose normal equivalent is ``z`` (z = 5: an honest
    sampler fails at about one seed in 3 million, so at the test's fixed seed, where verify
    proves the reference passes, it passes for good), and at once when a token of probability
    0 is drawn. ``labels`` (else the output's "labels") name the rows in messages.
    """
    source = "the model's own distribution" if own else "the expected distribution"

    def judge(expected, actual):
        try:
            counts = np.asarray(actual["counts"], dtype=np.float64)
            probs = np.asarray((actual if own else expected)["probs"], dtype=np.float64)
        except (KeyError, TypeError, ValueError):
            return Verdict(0.0, f"expected counts of draws, got {describe(actual)}")
        if counts.shape != probs.shape or counts.ndim != 2:
            return Verdict(0.0, f"counts of draws of shape {counts.shape}; expected {probs.shape}")
        tokens = actual.get("tokens")
        tokens = tokens if isinstance(tokens, list) and len(tokens) == probs.shape[1] else None
        names = labels if labels is not None else actual.get("labels")
        names = names if isinstance(names, (list, tuple)) and len(names) == len(probs) else None

        def tok(i):
            return f"id {i} ({tokens[i]!r})" if tokens and isinstance(tokens[i], str) else f"id {i}"
        if own:
            bad = _not_a_distribution(probs, counts, names, tok)
            if bad:
                return with_hints(Verdict(0.0, bad), hints, expected, actual)
        stat, df, worst = 0.0, 0, None
        for r, (o, p) in enumerate(zip(counts, probs)):
            name = names[r] if names else f"distribution {r}"
            n = o.sum()
            if n == 0:
                continue
            impossible = np.flatnonzero((p <= 0) & (o > 0))
            if len(impossible):
                i = int(impossible[0])
                return with_hints(
                    Verdict(0.0, f"{name}: {tok(i)} was drawn {int(o[i])} times in {int(n)} "
                                 "draws but has probability 0"), hints, expected, actual)
            e = n * p / p.sum()
            big = e >= 5
            oo, ee = list(o[big]), list(e[big])
            if (~big).any() and e[~big].sum() > 0:
                oo.append(o[~big].sum())
                ee.append(e[~big].sum())
            oo, ee = np.array(oo), np.array(ee)
            stat += float(((oo - ee) ** 2 / ee).sum())
            df += len(ee) - 1
            tv = 0.5 * float(np.abs(o / n - p / p.sum()).sum())
            i = int(np.argmax(np.abs(o / n - p / p.sum())))
            if worst is None or tv > worst[0]:
                worst = (tv, name, i, o[i] / n, p[i] / p.sum(), int(n))
        if df == 0:
            return Verdict(1.0)
        limit = _chi2_quantile(df, z)
        if stat <= limit:
            return Verdict(1.0)
        tv, name, i, got, want = worst[:5]
        return with_hints(
            Verdict(0.0, f"the draws do not follow {source}: chi-square "
                         f"{stat:.1f} on {df} degrees of freedom (an honest sampler stays "
                         f"below {limit:.1f}); worst {name}: total variation {tv:.3f} over "
                         f"{worst[5]} draws, {tok(i)} drawn with frequency {got:.3f} where "
                         f"its probability is {want:.3f}"), hints, expected, actual)
    return judge


def _not_a_distribution(probs, counts, names, tok) -> str:
    """Why the model's own probabilities cannot be what its draws are tested against, or ""."""
    for r, (o, p) in enumerate(zip(counts, probs)):
        name = names[r] if names else f"distribution {r}"
        head = f"{name}: the model's probabilities are not a distribution"
        if not np.isfinite(p).all():
            i = int(np.argmax(~np.isfinite(p)))
            return f"{head}: {tok(i)} has probability {p[i]}"
        if (p < 0).any():
            i = int(np.argmax(p < 0))
            return f"{head}: {tok(i)} has probability {fmt(p[i])} < 0"
        if o.sum() > 0 and not p.sum() > 0:
            return f"{head}: every probability is 0, yet {int(o.sum())} tokens were drawn from it"
    return ""


def isclose(a, b, rtol: float = 1e-7, atol: float = 1e-10) -> bool:
    """For hint conditions: do two plain values match within tolerance?"""
    try:
        return compare(b, a, rtol=rtol, atol=atol) is None
    except Exception:
        return False


def finite(x) -> bool:
    return bool(np.isfinite(np.asarray(x, dtype=np.float64)).all()) if x is not None else False


# -- recognisers: is this wrong answer a known variant of the right one? --------------------------
# Each takes the expected value (the reference's) and the actual one (the student's) and says
# whether the actual is exactly one classic wrong variant of the expected, within ``rtol``. A
# hint built on them fires on that bug alone, not on any failure. They never raise.

def _f64(x):
    return np.asarray(x, dtype=np.float64)


def _wrong(e, a, rtol):
    return not isclose(a, e, rtol=rtol)


def factor(expected, actual, rtol: float = 1e-6) -> float | None:
    """The constant k with actual == k * expected (k != 1), or None."""
    try:
        e, a = _f64(expected), _f64(actual)
        if e.shape != a.shape or not np.isfinite(e).all() or not np.isfinite(a).all():
            return None
        m = np.abs(e) > 1e-12 * max(1.0, float(np.abs(e).max(initial=0)))
        if not m.any():
            return None
        k = float(np.median(a[m] / e[m]))
        if abs(k - 1) < 1e-9 or not isclose(a, k * e, rtol=rtol, atol=1e-12):
            return None
        return k
    except Exception:
        return None


def off_by(expected, actual, *factors: float, rtol: float = 1e-6) -> float | None:
    """Which of ``factors`` (or their inverses) actual is off by: actual == f * expected or
    actual == expected / f. Returns the factor actual/expected, or None."""
    k = factor(expected, actual, rtol)
    if k is None:
        return None
    for f in factors:
        for g in (float(f), 1.0 / float(f)):
            if f and abs(k / g - 1) < rtol * 10:
                return g
    return None


def transposed(expected, actual, rtol: float = 1e-7) -> bool:
    """actual is the expected array with its last two axes swapped (shapes differ or not)."""
    try:
        e, a = _f64(expected), _f64(actual)
        if e.ndim < 2 or e.shape[-1] == e.shape[-2] and isclose(a, e, rtol=rtol):
            return False
        return isclose(np.swapaxes(a, -1, -2), e, rtol=rtol)
    except Exception:
        return False


def first_step_only(expected, actual, axis: int = 1, rtol: float = 1e-7) -> bool:
    """Right at the first index along ``axis`` (the first step, chunk or epoch), wrong after."""
    try:
        e, a = _f64(expected), _f64(actual)
        if e.shape != a.shape or e.shape[axis] < 2:
            return False
        first = [slice(None)] * e.ndim
        first[axis] = slice(0, 1)
        rest = list(first)
        rest[axis] = slice(1, None)
        return (isclose(a[tuple(first)], e[tuple(first)], rtol=rtol)
                and _wrong(e[tuple(rest)], a[tuple(rest)], rtol))
    except Exception:
        return False


def last_step_only(expected, actual, axis: int = 1, rtol: float = 1e-7) -> bool:
    """Right at the last index along ``axis``, wrong before it (a backward pass that drops
    what flows back from later steps)."""
    try:
        e, a = np.flip(_f64(expected), axis), np.flip(_f64(actual), axis)
        return first_step_only(e, a, axis, rtol)
    except Exception:
        return False


def row_sum(p, axis: int = -1, tol: float = 1e-8) -> float | None:
    """The common sum of the distributions along ``axis`` when it is not 1 (every row summing
    to the same k != 1: a missing or extra normaliser), else None."""
    try:
        s = np.atleast_1d(_f64(p).sum(axis=axis))
        if not np.isfinite(s).all() or abs(float(s.flat[0]) - 1) <= tol:
            return None
        return float(s.flat[0]) if np.allclose(s, s.flat[0], rtol=1e-9, atol=tol) else None
    except Exception:
        return None


def sums_along(p, axis: int, tol: float = 1e-8) -> bool:
    """Every slice along ``axis`` sums to one (a softmax over that axis)."""
    try:
        return bool(np.allclose(_f64(p).sum(axis=axis), 1.0, atol=tol, rtol=0))
    except Exception:
        return False


LOG_BASES = {"2": math.log(2), "10": math.log(10)}


def log_base(expected, actual, rtol: float = 1e-7) -> str | None:
    """'2' or '10' when actual is expected (natural logs) taken in that base instead, else
    None: log_b x = ln x / ln b."""
    for name, ln_b in LOG_BASES.items():
        if isclose(actual, _f64(expected) / ln_b, rtol=rtol):
            return name
    return None


def shifted(expected, actual, axis: int = 1, rtol: float = 1e-7) -> int | None:
    """+1 or -1 when actual[t] == expected[t + shift] wherever both exist (a value read from
    the wrong timestep), else None."""
    try:
        e, a = _f64(expected), _f64(actual)
        if e.shape != a.shape or e.shape[axis] < 2 or isclose(a, e, rtol=rtol):
            return None
        n = e.shape[axis]
        for s in (1, -1):
            src = np.take(e, range(max(s, 0), n + min(s, 0)), axis=axis)
            dst = np.take(a, range(max(-s, 0), n + min(-s, 0)), axis=axis)
            if isclose(dst, src, rtol=rtol):
                return s
        return None
    except Exception:
        return None


def wrong_keys(expected: dict, actual: dict, keys: Sequence[str] | None = None,
               rtol: float = 1e-7, atol: float = 1e-10) -> list[str] | None:
    """The keys whose values differ (None when actual is not a dict with those keys)."""
    try:
        keys = list(keys if keys is not None else expected)
        if not isinstance(actual, dict) or any(k not in actual for k in keys):
            return None
        return [k for k in keys if compare(expected[k], actual[k], rtol=rtol, atol=atol)]
    except Exception:
        return None


def only_wrong(expected: dict, actual: dict, wrong: Sequence[str],
               keys: Sequence[str] | None = None, rtol: float = 1e-7) -> bool:
    """Exactly the keys ``wrong`` differ (a gradient right everywhere except one parameter)."""
    got = wrong_keys(expected, actual, keys, rtol)
    return got is not None and sorted(got) == sorted(wrong)


__all__ = ["Verdict", "Hint", "close", "exact", "fields", "sums_to_one", "gradcheck", "check",
           "all_of", "isclose", "compare", "rel_error", "describe", "finite", "math",
           "right_and_wrong", "suite_hints", "factor", "off_by", "transposed", "first_step_only",
           "last_step_only", "row_sum", "sums_along", "log_base", "shifted", "wrong_keys",
           "only_wrong"]
