"""Hidden tests of a5_attention: the public scenarios on other shapes, seeds and masks
(cross-attention with T_q != T_k, random masks, fully masked rows with huge scores, T = 1
everywhere), torch autograd and F.scaled_dot_product_attention as second oracles, dropout and
tying, a short training run, and the schedule and parameter groups on other settings."""
from autograder.authoring import judges as J
from autograder.authoring import hidden

from .public import (ATT_HINTS, ATT_KEYS, GROUPS, INCREMENTAL, LN_MEAN, MERGE_ORDER, MHA_HINTS,
                     MHA_KEYS, POS_MEAN, RESIDUAL, SCHEDULE, SEES_NEXT, SOFTMAX_HINTS,
                     SOFTMAX_KEYS, TORCH_ATTN, TORCH_BLOCK, TORCH_SDPA, GELU_PRODUCT, close_keys,
                     grads_close, model_judge, oracle, softmax_edge)

DROPOUT = J.fields(eval_logits=J.close(rtol=1e-7), train_differs=J.exact())
TYING = J.fields(tied_is_shared=J.exact(), params_saved=J.exact())


def _learned(a):
    ok = a["last"] < a["bound"]
    return ok, (f"after {a['steps']} Adam steps on a tiny corpus the training loss is "
                f"{a['last']:.3f} nats (first steps {a['first']:.3f}, uniform guessing "
                f"{a['uniform']:.3f}); expected below {a['bound']:.3f}")


TESTS = [
    # attention.py
    hidden("causal_mask.large", part="causal_mask", points=1, scenario="causal", params={"T": 9},
           seed=101, judge=close_keys(("mask",), hints=[SEES_NEXT])),
    hidden("causal_mask.single", part="causal_mask", points=1, scenario="causal", params={"T": 1},
           seed=102, judge=close_keys(("mask",))),
    hidden("masked_softmax.other_shape", part="masked_softmax_forward/backward", points=2,
           scenario="softmax", params={"N": 3, "Tq": 5, "Tk": 2, "mask": "random"}, seed=103,
           judge=grads_close(SOFTMAX_KEYS, hints=SOFTMAX_HINTS)),
    hidden("masked_softmax.no_mask", part="masked_softmax_forward/backward", points=1,
           scenario="softmax", params={"mask": "none", "Tk": 6}, seed=104,
           judge=grads_close(SOFTMAX_KEYS)),
    hidden("masked_softmax.gradcheck", part="masked_softmax_forward/backward", points=1,
           scenario="softmax_gradcheck", params={"mask": "empty_row", "Tq": 3, "Tk": 5}, seed=105,
           needs_reference=False, judge=J.gradcheck(1e-6)),
    hidden("masked_softmax.empty_row_large", part="masked_softmax_forward/backward", points=1,
           scenario="softmax", params={"mask": "empty_row", "scale": 1e5, "N": 1, "Tq": 3},
           seed=106, judge=softmax_edge()),
    hidden("attention.cross_random_mask", part="attention_forward/backward", points=2,
           scenario="attention", params={"Tq": 3, "Tk": 6, "d_k": 4, "d_v": 2, "mask": "random"},
           seed=107, judge=grads_close(ATT_KEYS, hints=ATT_HINTS)),
    hidden("attention.fully_masked_row", part="attention_forward/backward", points=1,
           scenario="attention", params={"Tq": 4, "Tk": 3, "mask": "empty_row"}, seed=108,
           judge=grads_close(ATT_KEYS, hints=ATT_HINTS)),
    hidden("attention.large_scores", part="attention_forward/backward", points=1,
           scenario="attention", params={"scale": 40.0, "mask": "causal", "Tq": 5, "Tk": 5},
           seed=109, judge=grads_close(ATT_KEYS, rtol=1e-6, hints=ATT_HINTS)),
    hidden("attention.torch", part="attention_forward/backward", points=2,
           scenario="attention_torch", seed=110, oracle=True, judge=oracle()),
    hidden("attention.gradcheck_random_mask", part="attention_forward/backward", points=1,
           scenario="attention_gradcheck", params={"Tq": 2, "Tk": 4, "mask": "random"}, seed=111,
           needs_reference=False, judge=J.gradcheck(1e-6)),
    hidden("heads.other", part="split_heads/merge_heads", points=1, scenario="heads",
           params={"N": 1, "T": 4, "h": 3, "d_k": 2}, seed=112,
           judge=grads_close(("split", "merged", "roundtrip"), hints=[MERGE_ORDER])),
    hidden("mha.random_mask", part="multihead_attention_forward/backward", points=2,
           scenario="mha", params={"N": 3, "T": 3, "D": 8, "h": 4, "mask": "random"}, seed=113,
           judge=grads_close(MHA_KEYS, hints=MHA_HINTS)),
    hidden("mha.single_position", part="multihead_attention_forward/backward", points=1,
           scenario="mha", params={"N": 2, "T": 1, "D": 4, "h": 2}, seed=114,
           judge=grads_close(MHA_KEYS, hints=MHA_HINTS)),
    hidden("mha.torch", part="multihead_attention_forward/backward", points=2,
           scenario="mha_torch", seed=115, oracle=True, judge=oracle()),
    # layers.py
    hidden("layernorm.offset", part="layernorm_forward/backward", points=2, scenario="layernorm",
           params={"shape": [4, 7], "offset": 100.0, "eps": 1e-6}, seed=116,
           judge=grads_close(("out", "dx", "dgamma", "dbeta"), rtol=1e-6, hints=[LN_MEAN])),
    hidden("layernorm.gradcheck_2d", part="layernorm_forward/backward", points=1,
           scenario="layernorm_gradcheck", params={"shape": [3, 6]}, seed=117,
           needs_reference=False, judge=J.gradcheck(1e-6)),
    hidden("gelu.gradcheck_torch", part="gelu_forward/backward", points=2, scenario="gelu",
           params={"shape": [4, 5], "scale": 1.5, "gradcheck": True}, oracle=True, seed=118,
           judge=J.all_of(J.gradcheck(1e-7), oracle(rtol=1e-12, atol=1e-14, keys=("out", "dx")))),
    hidden("gelu.other", part="gelu_forward/backward", points=1, scenario="gelu",
           params={"shape": [2, 3, 4], "scale": 0.5}, seed=119,
           judge=grads_close(("out", "dx"), hints=[GELU_PRODUCT])),
    hidden("positional.full_context", part="positional_embedding_forward/backward", points=1,
           scenario="positional", params={"N": 2, "T": 5, "C": 5, "D": 3}, seed=120,
           judge=grads_close(("out", "dx", "dW_pos"), hints=[POS_MEAN])),
    hidden("block.other", part="decoder_block_forward/backward", points=2, scenario="block",
           params={"N": 3, "T": 3, "D": 6, "h": 3}, seed=121,
           judge=grads_close(("out", "dx", "grads"), hints=[RESIDUAL])),
    hidden("block.single_position", part="decoder_block_forward/backward", points=1,
           scenario="block", params={"N": 2, "T": 1, "D": 4, "h": 2}, seed=122,
           judge=grads_close(("out", "dx", "grads"), hints=[RESIDUAL])),
    hidden("block.torch_other", part="decoder_block_forward/backward", points=2,
           scenario="block_torch", params={"N": 1, "T": 6, "D": 12, "h": 3}, seed=123,
           oracle=True, judge=oracle()),
    # models.py
    hidden("attention_module.other", part="CausalSelfAttention", points=2,
           scenario="attn_module", params={"N": 3, "T": 3, "D": 8, "h": 4}, seed=124,
           judge=TORCH_ATTN),
    hidden("attention_module.single_position", part="CausalSelfAttention", points=1,
           scenario="attn_module", params={"N": 2, "T": 1, "D": 6, "h": 3}, seed=125,
           judge=TORCH_ATTN),
    hidden("attention_module.sdpa_long", part="CausalSelfAttention", points=2,
           scenario="attn_module", params={"N": 1, "T": 9, "D": 12, "h": 2}, seed=126,
           needs_reference=False, judge=TORCH_SDPA),
    hidden("block_module.other", part="Block", points=2, scenario="block_module",
           params={"N": 1, "T": 5, "D": 6, "h": 3}, seed=127, judge=TORCH_BLOCK),
    hidden("transformer.untied_no_state", part="TransformerLM", points=2,
           scenario="model_forward", params={"V": 9, "D": 6, "h": 3, "L": 1, "C": 7, "T": 7,
                                             "M": 0, "tie": False}, seed=128, judge=model_judge()),
    hidden("transformer.cropped_context", part="TransformerLM", points=2,
           scenario="model_forward", params={"V": 10, "D": 8, "h": 2, "L": 3, "C": 6, "T": 4,
                                             "M": 5}, seed=129, judge=model_judge()),
    hidden("transformer.state_one_by_one", part="TransformerLM", points=2,
           scenario="model_incremental", params={"C": 4, "length": 9, "chunk": 1, "L": 2},
           seed=130, judge=INCREMENTAL),
    hidden("transformer.dropout", part="TransformerLM", points=1, scenario="model_dropout",
           seed=131, judge=DROPOUT),
    hidden("transformer.tying", part="TransformerLM", points=1, scenario="model_tying", seed=132,
           judge=TYING),
    hidden("transformer.tiny_run", part="TransformerLM", points=2, scenario="tiny_run",
           seed=133, needs_reference=False, judge=J.check(_learned), timeout=60),
    # train.py
    hidden("warmup_cosine.no_floor", part="warmup_cosine", points=1, scenario="schedule",
           params={"total": 12, "warmup": 1, "base_lr": 0.5, "min_lr": 0.0}, seed=134,
           judge=SCHEDULE),
    hidden("warmup_cosine.long_warmup", part="warmup_cosine", points=1, scenario="schedule",
           params={"total": 40, "warmup": 13, "base_lr": 3e-3, "min_lr": 3e-4, "extra": 5},
           seed=135, judge=SCHEDULE),
    hidden("param_groups.untied", part="param_groups", points=1, scenario="groups",
           params={"weight_decay": 0.01, "tie": False}, seed=136, judge=GROUPS),
]
