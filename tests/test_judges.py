"""Every judge in autograder/authoring/judges.py, passing and failing, with its message asserted.

A judge's message is what a student reads, so each failing case checks that it names where
(the worst index), what was expected, what came back, and, through hints, the likely cause.
"""
import math

import numpy as np
import pytest

from autograder.authoring import judges as J


def rng():
    return np.random.default_rng(0)


# -- Verdict -------------------------------------------------------------------------------
def test_verdict_passed_and_feedback():
    assert J.Verdict(1.0).passed
    assert not J.Verdict(0.999).passed
    v = J.Verdict(0.5, "dx is wrong", ("did you transpose w?",))
    assert v.feedback() == "dx is wrong\nHint: did you transpose w?"
    assert J.Verdict(1.0).feedback() == ""


# -- close -----------------------------------------------------------------------------------
def test_close_passes_within_tolerance_and_on_identical_structures():
    x = rng().standard_normal((3, 4))
    out = {"h": x, "loss": 1.25, "tokens": ["a", "b"], "n": 3, "ok": True, "none": None}
    v = J.close()(out, {**out, "h": x * (1 + 1e-9)})
    assert v.score == 1.0 and v.passed and v.message == ""


def test_close_names_the_worst_index_and_both_values():
    e = np.zeros((3, 4))
    a = e.copy()
    a[1, 2] = 0.5    # the worst
    a[2, 3] = 1e-3   # also wrong, smaller error... both have rel. error 1: worst is first max
    a[0, 0] = 1e-12  # within atol
    v = J.close(rtol=1e-7, atol=1e-10)({"dx": e}, {"dx": a})
    assert v.score == 0.0
    assert v.message.startswith("dx[1, 2]: expected 0, got 0.5")
    assert "2 of 12 entries outside rtol=1e-07, atol=1e-10" in v.message


def test_close_reports_the_largest_relative_error_not_the_first():
    e = np.array([1.0, 2.0, 3.0, 4.0])
    a = np.array([1.0, 2.001, 3.0, 8.0])  # index 1 off by 5e-4 relative, index 3 by 3e-1
    msg = J.close()(e, a).message
    assert msg.startswith("the output[3]: expected 4, got 8 (relative error 3.33e-01")
    assert "2 of 4 entries" in msg


def test_close_shape_mismatch_wording():
    msg = J.close()({"out": np.zeros((3, 5))}, {"out": np.zeros((5, 3))}).message
    assert msg == "out: expected shape (3, 5), got (5, 3)"


def test_close_dtype_mismatch_wording():
    msg = J.close()(np.zeros(3), np.zeros(3, dtype=np.int64)).message
    assert msg == "the output: expected dtype float64, got int64"
    msg = J.close()(np.zeros(3), np.zeros(3, dtype=np.float32)).message
    assert "expected dtype float64, got float32; keep float64 where gradients are checked" in msg
    msg = J.close()(np.zeros(3, dtype=bool), np.zeros(3, dtype=np.int64)).message
    assert msg == "the output: expected dtype bool, got int64"


def test_close_list_where_an_array_is_expected():
    msg = J.close()({"probs": np.zeros(3)}, {"probs": [0.0, 0.0, 0.0]}).message
    assert msg == ("probs: expected a numpy array of shape (3,), got list of length 3; "
                   "return an np.ndarray")
    msg = J.close()(np.zeros(3), "abc").message
    assert msg == "the output: expected an array of shape (3,), got str 'abc'"


def test_close_array_where_a_list_is_expected_and_list_lengths():
    assert J.close()([1.0, 2.0], np.array([1.0, 2.0])).message == (
        "the output: expected a list of length 2, got array of shape (2,) and dtype float64")
    assert J.close()([1.0, 2.0], [1.0]).message == "the output: expected 2 items, got 1"
    assert J.close()([1.0, [2.0, 3.0]], [1.0, [2.0, 3.5]]).message.startswith(
        "[1][1]: expected 3, got 3.5")


def test_close_dict_structure_messages():
    assert J.close()({"a": 1.0, "b": 2.0}, {"a": 1.0}).message == "the output: missing key(s) ['b']"
    assert J.close()({"a": 1.0}, [1.0]).message == (
        "the output: expected a dict with keys ['a'], got list of length 1")
    # nested keys are named as a path
    assert J.close()({"a": {"b": 1.0}}, {"a": {"b": 2.0}}).message.startswith(
        "a['b']: expected 1, got 2")


def test_close_scalars_strings_bools_none():
    assert J.close()(1.5, 1.5 + 1e-12).passed
    assert J.close()(1.5, np.array(1.5)).passed           # a 0-d array counts as a number
    assert J.close()(1.5, "1.5").message == "the output: expected a number (1.5), got str '1.5'"
    assert J.close()(1.5, True).message == "the output: expected a number (1.5), got bool True"
    assert J.close()("the", "a").message == "the output: expected 'the', got 'a'"
    assert J.close()(True, 1).message == "the output: expected True, got 1"
    assert J.close()(None, 0).message == "the output: expected None, got 0"


def test_close_nan_matches_nan_and_inf_must_match_exactly():
    e = np.array([np.nan, np.inf, -np.inf, 1.0])
    assert J.close()(e, e.copy()).passed
    # an infinite expected value is matched only by the same infinity (the tolerance
    # rtol * inf is infinite, which once let any finite value through)
    msg = J.close()(e, np.array([np.nan, 1e308, -np.inf, 1.0])).message
    assert msg.startswith("the output[1]: expected inf, got 1e+308")
    msg = J.close()(e, np.array([np.nan, -np.inf, -np.inf, 1.0])).message
    assert msg.startswith("the output[1]: expected inf, got -inf")
    assert not J.close()(math.inf, 3.0).passed
    assert not J.close()(np.nan, 0.0).passed


def test_close_non_finite_where_finite_expected_points_at_the_cause():
    e = np.ones((2, 3))
    a = e.copy()
    a[1, 0] = np.nan
    a[1, 2] = np.inf
    msg = J.close()({"loss": e}, {"loss": a}).message
    assert msg == ("loss[1, 0]: got nan where 1 was expected (2 of 6 entries wrong); "
                   "look for an overflow, a log of 0 or a division by 0")


def test_close_label_turns_an_index_into_words():
    vocab = ["<unk>", "the", "cat"]
    label = lambda path, idx: f"token {vocab[idx[-1]]!r}" if idx else ""
    msg = J.close(label=label)({"p": np.array([0.1, 0.2, 0.7])},
                               {"p": np.array([0.1, 0.3, 0.6])}).message
    assert msg.startswith("p[1] (token 'the'): expected 0.2, got 0.3")


def test_close_hints_fire_only_on_failure_and_only_when_their_condition_holds():
    transposed = J.Hint(lambda e, a: a.shape == e.T.shape, "did you transpose W?")
    doubled = J.Hint(lambda e, a: J.isclose(a, 2 * e), "you count the gradient twice")
    broken = J.Hint(lambda e, a: 1 / 0, "never shown: the condition raises")
    judge = J.close(hints=[transposed, doubled, broken])
    e = rng().standard_normal((2, 3))
    assert judge(e, e.copy()).hints == ()                      # passed: no hint at all
    v = judge(e, e.T.copy())
    assert v.hints == ("did you transpose W?",)
    v = judge(e, 2 * e)
    assert v.hints == ("you count the gradient twice",)
    assert v.feedback().endswith("Hint: you count the gradient twice")
    assert judge(e, e + 1.0).hints == ()                       # wrong, but no hint applies


# -- exact -------------------------------------------------------------------------------------
def test_exact_passes_and_fails_with_counts():
    assert J.exact()([3, 1, 2], [3, 1, 2]).passed
    assert J.exact()({"ids": np.array([3, 1, 2])}, {"ids": np.array([3, 1, 2])}).passed
    msg = J.exact()({"ids": np.array([3, 1, 2, 5])}, {"ids": np.array([3, 0, 2, 4])}).message
    assert msg == "ids[1]: expected 1, got 0 (2 of 4 entries differ)"
    assert J.exact()(["to", "be"], ["to", "bee"]).message == "[1]: expected 'be', got 'bee'"


def test_exact_requires_integers_where_integers_are_expected():
    assert J.exact()(7, 7.0).message == "the output: expected the integer 7, got float 7.0"
    assert J.exact()(7, 8).message == "the output: expected 7, got 8"
    # NaN equals NaN for exact float arrays too
    assert J.exact()(np.array([np.nan, 1.0]), np.array([np.nan, 1.0])).passed
    assert not J.exact()(np.array([1.0]), np.array([1.0 + 1e-15])).passed


def test_exact_bool_arrays_are_compared_exactly():
    msg = J.close()(np.array([True, False]), np.array([True, True])).message
    assert msg == "the output[1]: expected False, got True (1 of 2 entries differ)"


# -- fields ------------------------------------------------------------------------------------
def test_fields_equal_shares_and_messages_of_failing_keys():
    e = {"out": np.ones(3), "dx": np.ones(3), "dw": np.ones(3)}
    judge = J.fields(out=J.close(), dx=J.close(), dw=J.close())
    assert judge(e, dict(e)).score == 1.0
    v = judge(e, {"out": np.ones(3), "dx": np.array([1.0, 2.0, 1.0]), "dw": np.ones(3)})
    assert v.score == pytest.approx(2 / 3)
    assert v.message.startswith("dx[1]: expected 1, got 2")


def test_fields_weights_give_partial_credit():
    e = {"loss": 1.0, "grads": np.ones(2)}
    judge = J.fields(weights={"loss": 1, "grads": 3}, loss=J.close(), grads=J.close())
    v = judge(e, {"loss": 1.0, "grads": np.zeros(2)})
    assert v.score == pytest.approx(0.25)
    assert v.message.startswith("grads[0]: expected 1, got 0")
    v = judge(e, {"loss": 2.0, "grads": np.ones(2)})
    assert v.score == pytest.approx(0.75)
    assert v.message == ("loss: expected 1, got 2 (relative error 3.33e-01; 1 of 1 entries "
                         "outside rtol=1e-07, atol=1e-10)\ngrads is right; loss is wrong")


def test_fields_missing_key_and_not_a_dict():
    judge = J.fields(a=J.close(), b=J.exact())
    v = judge({"a": 1.0, "b": 2}, {"a": 1.0})
    assert v.score == 0.5 and v.message == "b: missing from the output\na is right; b is wrong"
    v = judge({"a": 1.0, "b": 2}, [1.0, 2])
    assert v.score == 0.0
    assert v.message == "expected a dict with keys ['a', 'b'], got list of length 2"


def test_fields_prefixes_messages_that_do_not_name_the_key():
    judge = J.fields(ok=J.check(lambda a: a is True, "the inputs were modified"))
    assert judge(None, {"ok": False}).message == "ok: the inputs were modified"


def test_fields_keeps_inner_hints_and_adds_its_own():
    inner = J.close(hints=[J.Hint(lambda e, a: True, "inner hint")])
    outer = J.Hint(lambda e, a: a["x"][0] == 0, "outer hint")
    judge = J.fields(x=inner, hints=[outer])
    v = judge({"x": np.ones(1)}, {"x": np.zeros(1)})
    assert v.hints == ("inner hint", "outer hint")
    assert judge({"x": np.ones(1)}, {"x": np.ones(1)}).hints == ()


# -- sums_to_one --------------------------------------------------------------------------------
def test_sums_to_one_passes_on_softmax_rows():
    x = rng().standard_normal((4, 6))
    p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    assert J.sums_to_one("probs")(None, {"probs": p}).passed
    assert J.sums_to_one()(None, p[0]).passed


def test_sums_to_one_names_the_bad_row_and_its_sum():
    p = np.full((3, 4), 0.25)
    p[2] = [0.25, 0.25, 0.25, 0.5]
    v = J.sums_to_one("probs")(None, {"probs": p})
    assert v.score == 0.0
    assert v.message == "probs: row 2 sums to 1.25, not 1 (tolerance 1e-08)"


def test_sums_to_one_on_three_dimensional_outputs_names_the_row_index():
    p = np.full((2, 3, 4), 0.25)
    p[1, 2, 0] = 0.3
    v = J.sums_to_one()(None, p)
    assert v.message == "the distribution: row [1, 2] sums to 1.05, not 1 (tolerance 1e-08)"


def test_sums_to_one_refuses_negative_values_nan_and_empty():
    p = np.array([[0.5, 0.5], [1.5, -0.5]])
    assert J.sums_to_one()(None, p).message == "the distribution[1, 0] = 1.5 is not a probability"
    assert J.sums_to_one()(None, np.array([np.nan, 1.0])).message == (
        "the distribution: contains inf or NaN")
    assert J.sums_to_one()(None, np.zeros(0)).message == "the distribution: empty"


def test_sums_to_one_hint_when_logits_are_returned():
    hint = J.Hint(lambda e, a: (np.asarray(a) < 0).any(), "return probabilities, not logits")
    v = J.sums_to_one(hints=[hint])(None, np.array([-1.0, 2.0]))
    assert v.hints == ("return probabilities, not logits",)
    assert J.sums_to_one(hints=[hint])(None, np.array([0.3, 0.7])).hints == ()


# -- gradcheck ---------------------------------------------------------------------------------
def test_gradcheck_passes_when_analytic_matches_numeric():
    g = rng().standard_normal((3, 4))
    v = J.gradcheck(tol=1e-7)(None, {"analytic": {"dW": g, "db": 0.5},
                                     "numeric": {"dW": g * (1 + 1e-9), "db": 0.5}})
    assert v.passed and v.message == ""


def test_gradcheck_names_the_worst_index_and_gives_partial_credit():
    g = rng().standard_normal((3, 4))
    bad = g.copy()
    bad[2, 1] += 0.5
    bad[0, 0] += 1e-3 * abs(g[0, 0])
    v = J.gradcheck(tol=1e-7)(None, {"analytic": {"dWx": bad, "dWh": g},
                                     "numeric": {"dWx": g, "dWh": g}})
    assert v.score == 0.5
    assert v.message.startswith("dWx is wrong: max relative error ")
    assert f"at [2, 1] (analytic {bad[2, 1]:.6g}, numerical {g[2, 1]:.6g}; tolerance 1e-07)" in v.message


def test_gradcheck_shape_mismatch_missing_gradient_and_nan():
    g = np.ones((2, 3))
    v = J.gradcheck()(None, {"analytic": {"dx": g.T, "db": np.array([np.nan, 1.0])},
                             "numeric": {"dx": g, "db": np.ones(2), "dh": np.ones(1)}})
    assert v.score == 0.0
    lines = v.message.splitlines()
    assert lines[0] == "dx: expected a gradient of shape (2, 3), got array of shape (3, 2) and dtype float64"
    assert lines[1].startswith("db is wrong: max relative error inf at [0] (analytic nan")
    assert lines[2] == "dh: expected a gradient of shape (1,), got NoneType"


def test_gradcheck_without_gradients():
    assert J.gradcheck()(None, {"loss": 1.0}).message == (
        "gradient check: the scenario returned no gradients")
    assert J.gradcheck()(None, [1.0]).message == "gradient check: the scenario returned no gradients"


def test_gradcheck_hint_fires_on_failure_only():
    hint = J.Hint(lambda e, a: True, "did you add the gradient flowing from step t+1?")
    judge = J.gradcheck(hints=[hint])
    g = np.ones(3)
    assert judge(None, {"analytic": {"dh": g}, "numeric": {"dh": g}}).hints == ()
    assert judge(None, {"analytic": {"dh": 2 * g}, "numeric": {"dh": g}}).hints == (hint.say,)


# -- check -------------------------------------------------------------------------------------
def test_check_with_bool_and_with_ok_message_tuple():
    bound = J.check(lambda a: a["ppl"] < 2.5, "training perplexity is not below 2.5")
    assert bound(None, {"ppl": 2.0}).passed
    assert bound(None, {"ppl": 3.0}).message == "training perplexity is not below 2.5"
    explained = J.check(lambda a: (a["ppl"] < 2.5, f"perplexity {a['ppl']:.2f} is not below 2.5"))
    v = explained(None, {"ppl": 3.14159})
    assert v.score == 0.0 and v.message == "perplexity 3.14 is not below 2.5"
    assert explained(None, {"ppl": 1.0}).message == ""
    # numpy booleans are fine as a predicate's answer
    assert J.check(lambda a: np.bool_(a > 0))(None, 1.0).passed


def test_check_without_message_still_says_it_failed():
    assert J.check(lambda a: False)(None, 1).message == "the self-check failed"


def test_check_hint_condition():
    hint = J.Hint(lambda e, a: a["loss"] != a["loss"], "the loss is NaN: lower the learning rate")
    judge = J.check(lambda a: a["loss"] < 1.0, "loss too high", hints=[hint])
    assert judge(None, {"loss": float("nan")}).hints == (hint.say,)
    assert judge(None, {"loss": 5.0}).hints == ()


# -- all_of ------------------------------------------------------------------------------------
def test_all_of_takes_the_minimum_and_joins_messages():
    judge = J.all_of(J.close(), J.check(lambda a: bool((a >= 0).all()), "negative entries"))
    e = np.array([0.5, 0.5])
    assert judge(e, e.copy()).passed
    v = judge(e, np.array([-0.5, 0.5]))
    assert v.score == 0.0
    assert v.message.splitlines()[0].startswith("the output[0]: expected 0.5, got -0.5")
    assert v.message.splitlines()[1] == "negative entries"
    part = J.all_of(J.fields(a=J.close(), b=J.close()), J.check(lambda a: True))
    assert part({"a": 1.0, "b": 1.0}, {"a": 1.0, "b": 0.0}).score == 0.5


# -- draws_follow --------------------------------------------------------------------------
P_DRAWS = np.array([[0.0, 0.5, 0.2, 0.1, 0.1, 0.05, 0.05],
                    [0.0, 0.1, 0.1, 0.2, 0.2, 0.2, 0.2]])
TOKENS = ["<s>", "a", "b", "c", "d", "e", "f"]


def _draws(p, seed, n=1500):
    g = np.random.default_rng(seed)
    return np.stack([g.multinomial(n, row / row.sum()) for row in p])


def test_draws_follow_against_the_reference_ignores_the_output_s_probabilities():
    expected = {"probs": P_DRAWS}
    actual = {"counts": _draws(P_DRAWS, 0), "probs": np.flip(P_DRAWS, axis=1)}
    assert J.draws_follow()(expected, actual).passed
    uniform = np.where(P_DRAWS > 0, 1.0, 0.0)
    v = J.draws_follow(labels=["first", "second"])(expected, {"counts": _draws(uniform, 0)})
    assert not v.passed and "expected distribution" in v.message and "worst first" in v.message


def test_draws_follow_own_passes_honest_samplers_of_the_model_s_own_distribution():
    """own=True tests the draws against the probabilities that came back with them, normalised
    as lmcore.lm.generate normalises them (a model whose rows sum to 3 is sampled fine)."""
    judge = J.draws_follow(own=True)
    for seed in range(100):
        counts = _draws(P_DRAWS, seed)
        assert judge(None, {"counts": counts, "probs": P_DRAWS}).passed, seed
        assert judge(None, {"counts": counts, "probs": 3 * P_DRAWS}).passed, seed
    assert judge(None, {"counts": np.zeros((2, 7)), "probs": np.zeros((2, 7))}).passed


def test_draws_follow_own_fails_a_sampler_that_ignores_the_distribution():
    hint = J.Hint(lambda e, a: True, "does the model keep state?")
    judge = J.draws_follow(own=True, hints=[hint])
    uniform = np.where(P_DRAWS > 0, 1.0, 0.0)
    actual = {"counts": _draws(uniform, 0), "probs": P_DRAWS, "tokens": TOKENS,
              "labels": ["the first token after 'x'", "the second token after 'x'"]}
    v = judge({"probs": uniform}, actual)          # the reference's probabilities are not used
    assert not v.passed and v.hints == (hint.say,)
    assert v.message.startswith("the draws do not follow the model's own distribution: "
                                "chi-square")
    assert "worst the first token after 'x'" in v.message and "id 1 ('a')" in v.message
    assert "where its probability is 0.500" in v.message
    counts = _draws(P_DRAWS, 0)
    counts[1, 0] = 2                                    # a token of probability 0
    v = judge(None, {**actual, "counts": counts})
    assert not v.passed and v.message == ("the second token after 'x': id 0 ('<s>') was drawn 2 "
                                          "times in 1502 draws but has probability 0")


@pytest.mark.parametrize("bad,says", [
    ((1, 3, -0.1), "id 3 ('c') has probability -0.1 < 0"),
    ((0, 2, math.nan), "id 2 ('b') has probability nan"),
    ((0, 4, math.inf), "id 4 ('d') has probability inf"),
    (None, "every probability is 0, yet 1500 tokens were drawn from it"),
])
def test_draws_follow_own_fails_on_a_non_distribution_saying_where(bad, says):
    probs = P_DRAWS.copy()
    if bad is None:
        probs[1] = 0.0
        row = "distribution 1"
    else:
        probs[bad[0], bad[1]] = bad[2]
        row = f"distribution {bad[0]}"
    v = J.draws_follow(own=True)(None, {"counts": _draws(P_DRAWS, 0), "probs": probs,
                                        "tokens": TOKENS})
    assert not v.passed
    assert v.message == f"{row}: the model's probabilities are not a distribution: {says}"
    short = J.draws_follow(own=True)(None, {"counts": _draws(P_DRAWS, 0), "probs": probs[:1]})
    assert not short.passed and "shape (2, 7)" in short.message
    assert "expected counts" in J.draws_follow(own=True)(None, {"counts": [[1]]}).message


# -- helpers -----------------------------------------------------------------------------------
def test_rel_error_describe_fmt_isclose_finite():
    assert J.rel_error(1.0, 3.0) == pytest.approx(0.5)
    assert J.rel_error(0.0, 0.0) == 0.0
    assert J.describe(np.zeros((2, 3))) == "array of shape (2, 3) and dtype float64"
    assert J.describe({"b": 1, "a": 2}) == "dict with keys ['a', 'b']"
    assert J.describe(None) == "NoneType"
    assert J.fmt(np.float64(1 / 3)) == "0.333333" and J.fmt(np.int64(4)) == "4"
    assert J.isclose(np.ones(2), np.ones(2) + 1e-12) and not J.isclose(np.ones(2), np.ones(3))
    assert J.isclose(object(), 1.0) is False  # a hint condition never raises
    assert J.finite([1.0, 2.0]) and not J.finite([1.0, np.inf]) and not J.finite(None)


def test_judges_do_not_modify_their_inputs():
    e = {"x": np.arange(6.0).reshape(2, 3)}
    a = {"x": np.arange(6.0).reshape(2, 3) + 1}
    e0, a0 = e["x"].copy(), a["x"].copy()
    for judge in (J.close(), J.exact(), J.fields(x=J.close())):
        judge(e, a)
    np.testing.assert_array_equal(e["x"], e0)
    np.testing.assert_array_equal(a["x"], a0)


# -- recognisers: a known wrong variant of the expected answer, and nothing else ------------------
def test_fields_says_which_outputs_are_right():
    judge = J.fields(dx=J.close(), dh0=J.close(), dWh=J.close())
    e = {"dx": np.ones(3), "dh0": np.zeros(2), "dWh": np.eye(2)}
    v = judge(e, {**e, "dWh": np.eye(2) * 2})
    assert v.message.splitlines()[-1] == "dx and dh0 are right; dWh is wrong"
    v = judge(e, {**e, "dx": -np.ones(3), "dWh": np.eye(2) * 2})
    assert v.message.splitlines()[-1] == "dh0 is right; dx and dWh are wrong"
    # all wrong: no summary line (nothing to trust)
    v = judge(e, {"dx": -np.ones(3), "dh0": np.ones(2), "dWh": np.eye(2) * 2})
    assert "right" not in v.message


def test_factor_and_off_by():
    e = np.array([[1.0, -2.0], [0.5, 3.0]])
    assert J.factor(e, 4 * e) == pytest.approx(4.0)
    assert J.factor(e, e) is None and J.factor(e, e + 1) is None
    assert J.off_by(e, e * 6, 2, 6) == pytest.approx(6.0)
    assert J.off_by(e, e / 3, 3) == pytest.approx(1 / 3)
    assert J.off_by(e, e * 5, 2, 3) is None
    assert J.factor(e, np.ones(3)) is None  # wrong shape: silent, never raises


def test_transposed_and_shifted():
    e = np.arange(6.0).reshape(2, 3)
    assert J.transposed(e, e.T) and not J.transposed(e, e) and not J.transposed(e, -e.T)
    sym = np.eye(3)
    assert not J.transposed(sym, sym)  # a right symmetric answer is not "transposed"
    seq = np.arange(12.0).reshape(2, 6)
    assert J.shifted(seq, np.roll(seq, 1, axis=1)) == -1   # a[t] == e[t - 1]
    assert J.shifted(seq, np.roll(seq, -1, axis=1)) == 1   # a[t] == e[t + 1]
    assert J.shifted(seq, seq) is None and J.shifted(seq, seq * 2) is None


def test_first_and_last_step_only():
    e = np.arange(1.0, 13.0).reshape(2, 6)
    first = e.copy()
    first[:, 1:] += 1
    assert J.first_step_only(e, first) and not J.last_step_only(e, first)
    last = e.copy()
    last[:, :-1] *= -1
    assert J.last_step_only(e, last) and not J.first_step_only(e, last)
    assert not J.first_step_only(e, e) and not J.first_step_only(e, e * 2)


def test_row_sum_log_base_and_keys():
    p = np.full((3, 4), 0.25)
    assert J.row_sum(p) is None
    assert J.row_sum(p * 0.5) == pytest.approx(0.5)
    assert J.row_sum(p * np.array([[1], [2], [3]])) is None   # sums that differ: not one k
    assert J.sums_along(p.T, 0) and not J.sums_along(p.T, 1)
    lp = np.log(np.array([0.5, 0.25, 0.125]))
    assert J.log_base(lp, np.log2([0.5, 0.25, 0.125])) == "2"
    assert J.log_base(lp, np.log10([0.5, 0.25, 0.125])) == "10"
    assert J.log_base(lp, lp) is None and J.log_base(lp, lp * 3) is None
    e = {"dx": np.ones(2), "dW": np.ones(3), "db": np.zeros(1)}
    a = {**e, "dW": np.ones(3) * 2}
    assert J.wrong_keys(e, a) == ["dW"] and J.only_wrong(e, a, ["dW"])
    assert not J.only_wrong(e, a, ["dx"]) and J.wrong_keys(e, {"dx": 1}) is None


def test_hints_are_registered_by_the_module_that_made_them():
    h = J.Hint(lambda e, a: True, "a saying made in the tests")
    assert h.say in J.HINTS_BY_MODULE[__name__]
    import autograder.suites.a3_rnn.public  # noqa: F401
    assert any("gate" in s for s in J.suite_hints("a3_rnn"))


# -- close_keys and oracle (the layer suites' judges) ----------------------------------------
def test_close_keys_names_each_wrong_key_and_the_right_ones():
    e = {"dx": np.ones((2, 3)), "dw": np.zeros(3), "db": np.arange(3.0), "extra": 7}
    judge = J.close_keys(("dx", "dw", "db"))
    assert judge(e, {k: np.copy(v) for k, v in e.items()}).score == 1.0
    assert judge(e, {"dx": e["dx"], "dw": e["dw"], "db": e["db"], "extra": 8}).score == 1.0
    bad = {"dx": e["dx"].copy(), "dw": e["dw"], "db": e["db"] + [0, 0, 0.5]}
    bad["dx"][1, 2] = 4.0
    v = judge(e, bad)
    assert v.score == 0.0
    assert "dx[1, 2]" in v.message and "db[2]" in v.message
    assert "dw" in v.message.splitlines()[-1]          # the right one is named too
    missing = judge(e, {"dx": e["dx"], "dw": e["dw"]})
    assert missing.score == 0.0 and "db" in missing.message
    assert "expected a dict" in judge(e, [1, 2]).message
    hinted = J.close_keys(("db",), hints=(J.Hint(lambda e, a: True, "look at db"),))(e, bad)
    assert "look at db" in hinted.feedback()


def test_oracle_compares_ours_with_the_torch_values_of_the_reference_run():
    """An oracle test's torch values come from the reference's run (expected["torch"]); the
    reference's own values beside them are not what the student is compared with."""
    x = rng().standard_normal(4)
    ref = {"ours": x + 5.0, "torch": x.copy()}
    assert J.oracle()(ref, {"ours": x}).score == 1.0
    y = x.copy()
    y[3] += 1e-3
    v = J.oracle(rtol=1e-9)(ref, {"ours": y})
    assert v.score == 0.0 and "[3]" in v.message and "torch autograd" in v.message
    assert J.oracle(rtol=1e-2, atol=1e-2)(ref, {"ours": y}).score == 1.0
    seen = []
    hint = J.Hint(lambda e, a: seen.append((e, a)) or True, "the hint")
    assert "the hint" in J.oracle(rtol=1e-9, hints=[hint])(ref, {"ours": y}).feedback()
    assert seen[0][0] is ref["torch"] and seen[0][1] is y     # torch's values, the student's
    flat = J.oracle(rtol=1e-9, keys=("loss", "dx"))            # values at the top level
    ref2 = {"torch": {"loss": 1.0, "dx": x}}
    assert flat(ref2, {"loss": 1.0, "dx": x.copy(), "other": 3}).score == 1.0
    assert "dx" in flat(ref2, {"loss": 1.0, "dx": y}).message


def test_an_oracle_test_runs_with_oracle_only_on_the_reference_side():
    from autograder.authoring.declare import Test
    from autograder.engine.expected import spec_hash

    t = Test(name="x.torch", part="x", points=1, scenario="s", judge=None, params={"n": 2},
             oracle=True)
    assert t.spec()["params"] == {"n": 2}                       # what a submission's worker gets
    assert t.for_reference().spec()["params"] == {"n": 2, "oracle": True}
    plain = Test(name="x.torch", part="x", points=1, scenario="s", judge=None, params={"n": 2})
    assert plain.for_reference() is plain and spec_hash(plain) != spec_hash(t)
    with pytest.raises(ValueError, match="oracle"):
        Test(name="y", part="y", points=1, scenario="s", judge=None, oracle=True,
             needs_reference=False)
