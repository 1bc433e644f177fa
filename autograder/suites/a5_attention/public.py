"""Public tests of a5_attention, and the judges and hints that the hidden tests share.

Each hint recognises one classic bug, and only that one: its condition compares the student's
output with the matching wrong answer that the reference computed in the same scenario (the
``variants``; see scenarios.py). A wrong answer that is not that bug gets the judge's message
(what was expected, what came back, where) and no hint.

Points follow the harm a bug does to the model trained on top of it: a mask that lets a
position see the token it must predict makes every later number meaningless (the highest
weight), wrong gradients silently cripple training, a missing scale or a NaN on an edge case
costs less.
"""
from __future__ import annotations

import numpy as np

from autograder.authoring import judges as J
from autograder.authoring import public

H = J.Hint


def _variant_hint(name, key, say, sub=None, rtol=1e-6):
    """A hint that fires when the student's ``key`` equals the reference's variant ``name``."""
    def when(e, a):
        v = e["variants"][name]
        if sub is not None:
            v = v[sub]
        return J.isclose(a[key], v, rtol=rtol, atol=1e-12)
    return H(when, say)


def _nonfinite_rows(e, a):
    """(rows with a non-finite probability, which of them may see nothing)"""
    p = np.asarray(a["probs"], dtype=np.float64)
    bad = ~np.isfinite(p).all(axis=-1)
    return bad, np.asarray(e["empty_rows"], dtype=bool)


# -- recognisable wrong answers, one per classic bug ------------------------------------------------
SEES_NEXT = H(lambda e, a: J.isclose(a["mask"], e["variants"]["sees_next"]),
              "position i may also see position i + 1: the token it has to predict. A causal "
              "mask allows the past and the position itself, nothing after it")
SEES_NEXT_MHA = _variant_hint("sees_next", "out",
                              "each position attends to the next one as well: the causal mask "
                              "leaks the token to be predicted (check causal_mask: the past and "
                              "the position itself only)")
MASK_AFTER = _variant_hint("mask_after", "probs",
                           "the mask was applied after the softmax: masked positions were zeroed "
                           "but the allowed ones did not get their mass back (rows no longer sum "
                           "to one). Mask the scores before normalising")
MASK_AFTER_ATT = _variant_hint("mask_after", "out",
                               "the attention weights come from a softmax over all keys with the "
                               "masked ones zeroed afterwards: mask the scores before the "
                               "softmax, so each row's weights sum to one over the keys it may "
                               "see")
WRONG_AXIS = _variant_hint("wrong_axis", "probs",
                           "the softmax is normalised over the queries (axis -2); it runs over "
                           "the keys, the last axis: each query spreads one unit of attention "
                           "over the positions it sees")
WRONG_AXIS_ATT = _variant_hint("wrong_axis", "out",
                               "the attention weights are normalised over the queries, not over "
                               "the keys: the softmax runs over the last axis of the scores")
UNSTABLE = H(lambda e, a: (lambda bad, empty: bad.any() and (bad & ~empty).any())(*_nonfinite_rows(e, a))
             and e["scale"] > 100,
             "large scores overflow the exponential (exp(1000) is inf, inf / inf is NaN): "
             "softmax(s) = softmax(s - c) for any c per row, so shift each row by its largest "
             "allowed score first")
MASKED_ROW_NAN = H(lambda e, a: (lambda bad, empty: bad.any() and not (bad & ~empty).any())(*_nonfinite_rows(e, a)),
                   "a row that may attend to nothing came out NaN: its largest allowed score is "
                   "-inf and its normaliser is 0. Such a row gets weights 0 (and output 0), never NaN")
NO_SCALE = _variant_hint("no_scale", "out",
                         "the scores are not divided by sqrt(d_k): q . k grows like sqrt(d_k) for "
                         "unit-variance entries, and an unscaled softmax saturates as heads get "
                         "wider")
MERGE_ORDER = _variant_hint("merge_no_transpose", "merged",
                            "the heads were merged by a reshape alone: (N, h, T, d_k) flattened "
                            "as it is interleaves positions and heads. Bring time back next to "
                            "the batch axis first")
LN_MEAN = _variant_hint("no_mean_term", "dx",
                        "the layer-norm gradient misses the path through the mean: every input of "
                        "a row shifts mu, so dx has a term from the mean besides the direct and "
                        "the variance terms")
GELU_PRODUCT = _variant_hint("no_product_rule", "dx",
                             "the GELU gradient keeps only 0.5 (1 + tanh(u)): x appears twice in "
                             "0.5 x (1 + tanh(u)), directly and inside u, and the product rule "
                             "needs both")
POS_MEAN = _variant_hint("mean", "dW_pos",
                         "dW_pos is the batch MEAN of the upstream gradient: W_pos[t] is added to "
                         "every sequence of the batch, so its gradient is their sum")
RESIDUAL = _variant_hint("residual_dropped", "dx",
                         "the MLP residual's identity path is missing from the backward: h "
                         "reaches the output directly (out = h + mlp(...)), so its gradient is "
                         "dout plus the MLP branch's backward", sub="dx")
TORCH_NO_MASK = _variant_hint("no_mask", "y",
                              "every position attends to the whole sequence, the future included: "
                              "set the scores above the diagonal to -inf before the softmax")
POST_NORM = _variant_hint("post_norm", "y",
                          "this is a post-norm block (LayerNorm applied after each residual sum, "
                          "as in the original transformer); GPT-2's pre-norm block normalises "
                          "each branch's INPUT and leaves the residual stream itself unnormalised")
POS_AFTER = _variant_hint("pos_after_first_block", "logits",
                          "the positional embeddings are added after the first block: that "
                          "block's attention sees an unordered bag of tokens. Add them to the "
                          "token embeddings, before any block")
COSINE_WARMUP = _variant_hint("cosine_ignores_warmup", "lr",
                              "the cosine starts its clock at step 0 instead of at the end of the "
                              "warm-up: after warm-up the rate jumps down instead of starting "
                              "from base_lr", rtol=1e-9)
DECAY_ALL = H(lambda e, a: a["groups"] == e["variants"]["decay_all"],
              "every parameter is in the decayed group: weight decay pulls LayerNorm gains "
              "towards 0 and biases towards 0 for no benefit; only the weight matrices decay")


# -- judges ---------------------------------------------------------------------------------------
close_keys = J.close_keys


UNCHANGED = J.check(lambda a: (isinstance(a, dict) and a.get("inputs_unchanged") is not False,
                               "your function modified one of its input arrays; work on copies "
                               "or build new arrays"))


def grads_close(keys, rtol=1e-7, hints=()):
    return J.all_of(close_keys(keys, rtol=rtol, hints=hints), UNCHANGED)


def oracle(rtol=1e-9, atol=1e-10, hints=(), keys=None):
    return J.oracle(rtol, atol, hints, keys)


def _finite(a):
    ok = J.finite(a["probs"]) and J.finite(a["dscores"])
    return ok, "the softmax or its gradient contains NaN or inf"


SOFTMAX_KEYS = ("probs", "dscores")
ATT_KEYS = ("out", "dq", "dk", "dv")
MHA_KEYS = ("out", "dx", "dW_qkv", "db_qkv", "dW_o", "db_o")
SOFTMAX_HINTS = [MASK_AFTER, WRONG_AXIS, UNSTABLE, MASKED_ROW_NAN]
ATT_HINTS = [NO_SCALE, MASK_AFTER_ATT, WRONG_AXIS_ATT]
MHA_HINTS = [SEES_NEXT_MHA, NO_SCALE]


def softmax_edge(hints=SOFTMAX_HINTS):
    return J.all_of(close_keys(SOFTMAX_KEYS, hints=hints), J.check(_finite), UNCHANGED)


TORCH_ATTN = J.fields(weights={"y": 2, "attn_weights": 1, "dx": 1, "grads": 1},
                      y=J.close(rtol=1e-7), attn_weights=J.close(rtol=1e-7), dx=J.close(rtol=1e-7),
                      grads=J.close(rtol=1e-7), hints=[TORCH_NO_MASK])


def _sdpa(actual):
    msg = J.compare(actual["sdpa"], actual["y"], rtol=1e-9, atol=1e-12)
    return msg is None, (msg or "") + (" (compared with F.scaled_dot_product_attention("
                                       "is_causal=True) on the same weights)")


TORCH_SDPA = J.check(_sdpa)
TORCH_BLOCK = J.fields(weights={"y": 2, "dx": 1, "grads": 1}, y=J.close(rtol=1e-7),
                       dx=J.close(rtol=1e-7), grads=J.close(rtol=1e-7), hints=[POST_NORM])


def model_judge():
    return J.fields(weights={"logits": 3, "state": 1, "grads": 2, "tied": 0.5, "n_params": 0.5,
                             "inputs_unchanged": 0.5},
                    logits=J.close(rtol=1e-7), state=J.exact(), grads=J.close(rtol=1e-7),
                    tied=J.exact(), n_params=J.exact(), inputs_unchanged=J.exact(),
                    hints=[POS_AFTER])


def _incremental(actual):
    msg = J.compare(actual["window"], actual["chunked"], rtol=1e-9, atol=1e-12)
    return msg is None, ((msg or "") + ": reading the sequence in chunks with the state carried "
                         "must give each chunk the logits of reading the last block_size ids "
                         "up to its end as one window (the state is the context: the last "
                         "C - 1 ids)")


INCREMENTAL = J.all_of(close_keys(("chunked", "last_state")), J.check(_incremental))
SCHEDULE = close_keys(("lr",), rtol=1e-12, atol=1e-15, hints=[COSINE_WARMUP])
GROUPS = close_keys(("groups",), hints=[DECAY_ALL])


TESTS = [
    # attention.py
    public("causal_mask.values", part="causal_mask", points=3, scenario="causal",
           params={"T": 5}, seed=1, judge=close_keys(("mask",), hints=[SEES_NEXT]),
           description="the causal mask: position i sees positions 0..i"),
    public("masked_softmax.forward_backward", part="masked_softmax_forward/backward", points=3,
           scenario="softmax", params={"mask": "random"}, seed=2,
           judge=grads_close(SOFTMAX_KEYS, hints=SOFTMAX_HINTS),
           description="softmax over the keys a mask allows, and its gradient"),
    public("masked_softmax.fully_masked_row", part="masked_softmax_forward/backward", points=2,
           scenario="softmax", params={"mask": "empty_row", "Tq": 4, "Tk": 3}, seed=3,
           judge=softmax_edge(), description="a row that may see nothing gets zeros, never NaN"),
    public("masked_softmax.large_logits", part="masked_softmax_forward/backward", points=2,
           scenario="softmax", params={"mask": "random", "scale": 1e4}, seed=4,
           judge=softmax_edge(), description="scores of size 1e4 do not overflow"),
    public("attention.forward_backward", part="attention_forward/backward", points=4,
           scenario="attention", params={"mask": "causal"}, seed=5,
           judge=grads_close(ATT_KEYS, hints=ATT_HINTS),
           description="causal scaled dot-product attention and its three gradients"),
    public("attention.gradcheck", part="attention_forward/backward", points=2,
           scenario="attention_gradcheck", seed=6, needs_reference=False,
           judge=J.gradcheck(1e-6), description="attention_backward agrees with numerical gradients"),
    public("attention.single_position", part="attention_forward/backward", points=1,
           scenario="attention", params={"Tq": 1, "Tk": 1, "mask": "causal"}, seed=7,
           judge=grads_close(ATT_KEYS, hints=ATT_HINTS),
           description="T = 1: one query, one key (the output is the value)"),
    public("heads.split_merge", part="split_heads/merge_heads", points=2, scenario="heads", seed=8,
           judge=grads_close(("split", "merged", "roundtrip"), hints=[MERGE_ORDER]),
           description="heads split from and merged back into the model width"),
    public("mha.forward_backward", part="multihead_attention_forward/backward", points=4,
           scenario="mha", seed=9, judge=grads_close(MHA_KEYS, hints=MHA_HINTS),
           description="multi-head causal self-attention and its gradients"),
    public("mha.gradcheck", part="multihead_attention_forward/backward", points=2,
           scenario="mha_gradcheck", seed=10, needs_reference=False, judge=J.gradcheck(1e-6),
           description="multihead_attention_backward agrees with numerical gradients"),
    # layers.py
    public("layernorm.forward_backward", part="layernorm_forward/backward", points=3,
           scenario="layernorm", seed=11, judge=grads_close(("out", "dx", "dgamma", "dbeta"),
                                                             hints=[LN_MEAN]),
           description="layer normalisation over the last axis and its gradients"),
    public("layernorm.gradcheck", part="layernorm_forward/backward", points=2,
           scenario="layernorm_gradcheck", seed=12, needs_reference=False, judge=J.gradcheck(1e-6),
           description="layernorm_backward agrees with numerical gradients"),
    public("gelu.forward_backward", part="gelu_forward/backward", points=2, scenario="gelu",
           seed=13, judge=grads_close(("out", "dx"), hints=[GELU_PRODUCT]),
           description="GELU (tanh approximation) and its gradient"),
    public("positional.forward_backward", part="positional_embedding_forward/backward", points=2,
           scenario="positional", seed=14, judge=grads_close(("out", "dx", "dW_pos"), hints=[POS_MEAN]),
           description="learned positional embeddings and their gradient"),
    public("block.forward_backward", part="decoder_block_forward/backward", points=4,
           scenario="block", seed=15, judge=grads_close(("out", "dx", "grads"), hints=[RESIDUAL]),
           description="one pre-norm decoder block: output and every gradient"),
    public("block.gradcheck", part="decoder_block_forward/backward", points=2,
           scenario="block_gradcheck", seed=16, needs_reference=False, judge=J.gradcheck(1e-6),
           description="decoder_block_backward agrees with numerical gradients"),
    public("block.torch", part="decoder_block_forward/backward", points=2, scenario="block_torch",
           seed=17, oracle=True, judge=oracle(),
           description="the block and its gradients equal torch autograd's (F.layer_norm, "
                       "F.scaled_dot_product_attention, F.gelu)"),
    # models.py
    public("attention_module.forward", part="CausalSelfAttention", points=4,
           scenario="attn_module", seed=18, judge=TORCH_ATTN,
           description="CausalSelfAttention: output, weights and gradients for given weights"),
    public("attention_module.sdpa", part="CausalSelfAttention", points=3, scenario="attn_module",
           seed=19, needs_reference=False, judge=TORCH_SDPA,
           description="equal to F.scaled_dot_product_attention(is_causal=True)"),
    public("block_module.forward", part="Block", points=3, scenario="block_module", seed=20,
           judge=TORCH_BLOCK, description="the pre-norm Block for given weights"),
    public("transformer.forward", part="TransformerLM", points=4, scenario="model_forward",
           params={"M": 2}, seed=21, judge=model_judge(),
           description="TransformerLM: logits, state and gradients for given weights and context"),
    public("transformer.state", part="TransformerLM", points=3, scenario="model_incremental",
           seed=22, judge=INCREMENTAL,
           description="chunks read with the state carried equal windows of the last C ids"),
    # train.py
    public("warmup_cosine.values", part="warmup_cosine", points=2, scenario="schedule", seed=23,
           judge=SCHEDULE, description="linear warm-up, then half a cosine down to min_lr"),
    public("param_groups.split", part="param_groups", points=2, scenario="groups", seed=24,
           judge=GROUPS,
           description="weight matrices decay; biases and LayerNorm parameters do not"),
]
