"""Public tests of a4_torch, and the judges and hints that the hidden tests share.

Hints recognise the classic bugs of the issue from (expected, actual) alone: the state not
detached, the targets not shifted, the loss summed, clipping before backward, the temperature
applied after the softmax, and evaluation left in training mode.
"""
from __future__ import annotations

import math

import numpy as np

from autograder.authoring import judges as J
from autograder.authoring import public

H = J.Hint


def _arr(x):
    return np.asarray(x, dtype=np.float64)


# -- recognisable wrong answers -----------------------------------------------------------------
STATE_SHAPE = H(lambda e, a: any(np.shape(s) != np.shape(t) for s, t in zip(a["state"], e["state"])),
                "the state should be what nn.RNN / nn.LSTM return as their second output, "
                "shape (L, N, H) (a pair (h, c) for the LSTM), not the per-step outputs")
BATCH_FIRST = H(lambda e, a: np.shape(a["logits"]) != np.shape(e["logits"])
                and tuple(np.shape(a["logits"])[:2]) == tuple(np.shape(e["logits"])[1::-1]),
                "logits must be (N, T, V): build the recurrent layer with batch_first=True")
NOT_TIED = H(lambda e, a: e["tied"] and not a["tied"],
             "with tie_weights the decoder must share the embedding's Parameter: "
             "self.decoder.weight = self.embedding.weight (copying the values is not tying)")
DROPOUT_EVAL = H(lambda e, a: a.get("eval_deterministic") is False,
                 "two forward passes in eval mode gave different logits: dropout is still "
                 "applied in eval mode; use nn.Dropout modules (which model.eval() switches "
                 "off), not F.dropout(x, p) with training=True")
DROPOUT_TRAIN = H(lambda e, a: not a["train_differs"],
                  "in training mode dropout should change the outputs: apply self.dropout to "
                  "the embeddings and to the recurrent layer's outputs")
BOS_FINITE = H(lambda e, a: np.isfinite(_arr(a["logp"])[..., 1]).any(),
               "<s> (id 1) must get log-probability -inf: it is never predicted; mask its logit "
               "to -inf before the log-softmax")
NOT_SHIFTED = H(lambda e, a: np.array_equal(np.asarray(a["y"])[np.asarray(e["y"]) != -100],
                                            np.asarray(a["x"])[np.asarray(e["y"]) != -100]),
                "the targets equal the inputs: the model would learn to copy its input. Targets "
                "are the inputs shifted by one: x = <s> w1 .. wn, y = w1 .. wn </s>")
BOS_PREDICTED = H(lambda e, a: np.isneginf(_arr(a["logprobs"])).any(),
                  "some predicted token got probability 0 (ln p = -inf): is <s> among the "
                  "targets? Targets are the inputs shifted by one, so <s> is never predicted")
LN5 = math.log(5)
SUMMED_SAY = ("lm_loss sums the cross-entropy over the tokens: it must be the mean over the "
              "predicted tokens (reduction='mean' with ignore_index=IGNORE), which keeps the "
              "learning rate independent of N and T")
SUMMED = H(lambda e, a: a["counted"] > 1 and math.isclose(a["loss"], e["loss"] * e["counted"],
                                                          rel_tol=1e-6), SUMMED_SAY)


def _probe(a, value):
    """lm_loss on the scenario's probe (uniform logits over 5 classes, 5 predicted targets)
    gave ``value``."""
    return math.isclose(a.get("lm_loss_probe", math.nan), value, rel_tol=1e-9)
NT_MEAN = H(lambda e, a: math.isclose(a["loss"] * np.size(a["dlogits"]) / np.shape(a["dlogits"])[-1],
                                      e["loss"] * e["counted"], rel_tol=1e-6),
            "lm_loss is divided by N*T: IGNORE positions predict nothing; average over the "
            "targets that are not IGNORE (ignore_index=IGNORE does it)")
NT_MEAN_LOOP = H(lambda e, a: _probe(a, 5 / 6 * LN5), NT_MEAN.say)
SUMMED_LOOP = H(lambda e, a: _probe(a, 5 * LN5), SUMMED_SAY)
TORCH_CLIP = H(lambda e, a: a["used_torch_clip"],
               "clip_grad_norm called torch.nn.utils.clip_grad_norm_: the exercise is to write "
               "it yourself (the tests compare it with torch's)")
CLIP_NOT_INPLACE = H(lambda e, a: J.isclose(a["norm"], e["norm"]) and not J.isclose(a["grads"], e["grads"])
                     and J.isclose(a["grads"], a["grads_before"], rtol=0, atol=0),
                     "the norm is right but the gradients are not: scale every p.grad IN PLACE "
                     "(p.grad.mul_(scale)); the optimizer reads p.grad")
CLIP_SPECIAL = H(lambda e, a: not all(np.isfinite(_arr(g)).all() for g in e["grads"])
                 and all(np.isfinite(_arr(g)).all() for g in a["grads"]),
                 "torch does not special-case a non-finite norm: the scale "
                 "clamp(max_norm / (norm + 1e-6), max=1) is 0 for an inf norm (0 * inf = nan) and "
                 "NaN for a NaN norm, and every gradient is multiplied by it")
def _scaled_per_tensor(e, a):
    """Each gradient is its old self times a factor of its own, and the factors differ."""
    factors = []
    for g, g0 in zip(a["grads"], a["grads_before"]):
        g, g0 = _arr(g), _arr(g0)
        m = np.isfinite(g0) & (np.abs(g0) > 0)
        if not m.any() or not np.isfinite(g[m]).all():
            return False
        r = g[m] / g0[m]
        if np.ptp(r) > 1e-9 * max(1.0, float(np.abs(r).max())):
            return False
        factors.append(float(r.mean()))
    return len(factors) > 1 and np.ptp(factors) > 1e-6 and not J.isclose(a["grads"], e["grads"])


CLIP_OWN_FACTOR = H(_scaled_per_tensor, "each gradient was scaled by its own factor: clip by "
                    "ONE total norm over all the gradients together and multiply every "
                    "gradient by the same min(1, max_norm / (total_norm + 1e-6))")
CLIP_PER_TENSOR = H(lambda e, a: not J.isclose(a["norm"], e["norm"]),
                    "the total norm is the 2-norm of all gradients together (the norm of the "
                    "per-tensor norms), over the parameters whose .grad is not None")
CLIP_BEFORE_BACKWARD = H(lambda e, a: len(a["grad_norm"]) > 0 and
                         (np.nan_to_num(_arr(a["grad_norm"])) == 0).all() and
                         (_arr(e["grad_norm"]) > 0).any(),
                         "every gradient norm seen by the clipping was 0: clip AFTER "
                         "loss.backward() (before it, the gradients are zero or None), then step")
CLIP_STALE = H(lambda e, a: len(a["grad_norm"]) > 1 and np.isfinite(_arr(e["grad_norm"])).all()
               and J.isclose(a["grad_norm"][1:], e["grad_norm"][:-1])
               and not J.isclose(a["grad_norm"], e["grad_norm"]),
               "each chunk clipped the previous chunk's gradients: clip after loss.backward()")
LOSS_SUMMED_LOOP = SUMMED_LOOP
NOT_DETACHED = H(lambda e, a: any(a["state_attached"]) or a["grad_reached_earlier_chunk"]
                 or a["backward_error"] is not None,
                 "detach the state between chunks (state = detach_state(state) before each "
                 "forward): otherwise the graph grows across chunks and backward runs into "
                 "earlier chunks")
EVAL_MODE = H(lambda e, a: not math.isclose(a["loss"], a["loss_again"], rel_tol=1e-12),
              "two evaluations of the same model gave different losses: dropout is still "
              "active; call model.eval() (and use torch.no_grad()) in evaluate")
CHUNK_MEAN = H(lambda e, a: _probe(a, LN5) and a["tokens"] == e["tokens"]
               and a["loss"] == a["loss_again"]
               and 1e-9 < abs(a["loss"] / e["loss"] - 1) < 0.2,
               "weight each chunk's mean loss by its number of predicted tokens: the last chunk "
               "is shorter and holds IGNOREd positions, so a mean of chunk means is biased")
EVAL_SUMMED = SUMMED_LOOP
COUNT = H(lambda e, a: a["tokens"] != a["design_tokens"],
          "the token count must be every predicted token once: each sentence's words and its "
          "</s> (n_predicted(ids)); count the targets that are not IGNORE")
NOT_ATOMIC = H(lambda e, a: a["saved_to_final_path_directly"],
               "torch.save wrote straight to the checkpoint's path: a run killed mid-write "
               "would leave a truncated file. Save to a temporary file in the same folder, "
               "then os.replace(tmp, path)")
LEFTOVER = H(lambda e, a: a["leftover_files"] > 0,
             "a file was left beside the checkpoint: rename the temporary file (os.replace), "
             "do not copy it")
LR_SCHEDULE = H(lambda e, a: a["lr"] != e["lr"],
                "the learning rates differ: use ReduceLROnPlateau(factor=lr_decay, patience=0), "
                "step it with the validation loss after each epoch, and record the lr each "
                "epoch trained with (before the step)")
NOT_RESTORED = H(lambda e, a: a["kept_weights_of_epoch"] != e["kept_weights_of_epoch"],
                 "at the end of fit, load the best epoch's weights back into the model")
PATIENCE = H(lambda e, a: a["epochs_run"] != e["epochs_run"],
             "stop after `patience` epochs in a row without a new best validation loss "
             "(or when the time budget is spent, or after config.epochs)")
def _temp_after(t):
    """The probabilities are softmax(z) / t: from the right p = softmax(z / t), softmax(z) is
    p**t renormalised (top-k keeps the same tokens either way)."""
    def when(e, a):
        p = _arr(e["probs"])
        with np.errstate(all="ignore"):
            q = p ** t
            q = q / q.sum(-1, keepdims=True)
        return J.isclose(a["probs"], q / t, rtol=1e-6) or J.isclose(a["probs"], q, rtol=1e-6)
    return H(when, "the temperature is applied after the softmax: it must scale the LOGITS, "
             "softmax(z / t); dividing the probabilities by t only changes their sum (and "
             "renormalising undoes it)")
GREEDY = H(lambda e, a: (_arr(e["probs"]).max(-1) == 1).all(),
           "temperature 0 means greedy: all the probability on the largest logit")
TOPK_TIES = H(lambda e, a: ((_arr(a["probs"]) > 0).sum(-1) != (_arr(e["probs"]) > 0).sum(-1)).any(),
              "top-k keeps the tokens whose (scaled) logit is at least the k-th largest and "
              "gives the rest probability 0; <s> never counts")
NOT_REPRODUCIBLE = H(lambda e, a: not a["reproducible"],
                     "two runs from the same seed gave different draws: draw only from the "
                     "torch.Generator passed in (torch.multinomial(probs, 1, generator=g))")
# (no hint for reproducible draws that differ: any wrong probability gives them)
EVAL_GENERATE = H(lambda e, a: "next_eval" in a and not J.isclose(a["next"], e["next"])
                  and J.isclose(a["next_eval"], e["next"]),
                  "your distribution is right when the model is already in eval mode and wrong "
                  "when it comes in training mode: dropout stays on while generating; put the "
                  "model in evaluation mode in next_distribution")
EPOCH_STATE = H(lambda e, a: len(a["chunk_loss"]) == 2 and J.isclose(a["chunk_loss"][0],
                                                                      e["chunk_loss"][0])
                and not J.isclose(a["chunk_loss"][1][:1], e["chunk_loss"][1][:1]),
                "the first epoch is right, but the second epoch's first chunk is not: each "
                "epoch starts from the state the previous epoch ended in. Start every "
                "train_epoch from state None (zeros); carry the state from chunk to chunk "
                "only within one epoch")


# -- judges ----------------------------------------------------------------------------------------
def model_judge():
    return J.fields(
        weights={"logits": 2, "state": 1, "grads": 2, "tied": 0.5, "n_params": 0.5,
                 "inputs_unchanged": 0.5},
        logits=J.close(rtol=1e-7), state=J.close(rtol=1e-7), grads=J.close(rtol=1e-7),
        tied=J.exact(), n_params=J.exact(), inputs_unchanged=J.exact(),
        hints=[BATCH_FIRST, STATE_SHAPE, NOT_TIED])


DROPOUT = J.fields(eval_logits=J.close(rtol=1e-7), train_differs=J.exact(),
                   hints=[DROPOUT_EVAL, DROPOUT_TRAIN])
TYING = J.fields(tied_is_shared=J.exact(), params_saved=J.exact(), mismatch_error=J.exact(),
                 hints=[NOT_TIED])
LOG_SOFTMAX = J.fields(weights={"logp": 3, "inputs_unchanged": 1}, logp=J.close(rtol=1e-9),
                       inputs_unchanged=J.exact(), hints=[BOS_FINITE])
SENTENCE_BATCH = J.fields(x=J.exact(), y=J.exact(), hints=[NOT_SHIFTED])
LANGUAGE_MODEL = J.fields(logprobs=J.close(rtol=1e-7), perplexity=J.close(rtol=1e-7),
                          next=J.close(rtol=1e-7), hints=[BOS_PREDICTED])
LOSS = J.fields(loss=J.close(rtol=1e-9), dlogits=J.close(rtol=1e-8), hints=[SUMMED, NT_MEAN])
DETACH_STATE = J.fields(none_stays_none=J.exact(), tensor_values=J.close(rtol=0, atol=0),
                        tensor_detached=J.exact(), pair_values=J.close(rtol=0, atol=0),
                        pair_detached=J.exact(), inputs_keep_graph=J.exact())
CLIP = J.fields(weights={"norm": 1, "grads": 2, "raised": 1, "used_torch_clip": 1},
                norm=J.close(rtol=1e-12, atol=0), grads=J.close(rtol=1e-12, atol=0),
                raised=J.exact(), used_torch_clip=J.exact(),
                hints=[TORCH_CLIP, CLIP_SPECIAL, CLIP_PER_TENSOR, CLIP_NOT_INPLACE, CLIP_OWN_FACTOR])


def train_steps_judge(with_norms: bool = True):
    parts = dict(params=J.close(rtol=1e-9), chunk_loss=J.close(rtol=1e-9),
                 loss=J.close(rtol=1e-9), tokens=J.exact())
    if with_norms:
        parts["grad_norm"] = J.close(rtol=1e-9)
    return J.fields(weights={"params": 3}, hints=[CLIP_BEFORE_BACKWARD, CLIP_STALE,
                                                  LOSS_SUMMED_LOOP, NT_MEAN_LOOP], **parts)


def _detached(actual):
    a = actual
    if a["backward_error"] is not None:
        return False, (f"training failed at chunk {a['chunks_run']}: {a['backward_error']}")
    if a["chunks_run"] < 2:
        return False, f"train_epoch ran {a['chunks_run']} chunk(s); expected several"
    attached = [i for i, x in enumerate(a["state_attached"]) if x]
    if attached:
        return False, (f"chunk(s) {attached} (0-based) started from a state still attached to "
                       "the previous chunk's graph")
    if a["grad_reached_earlier_chunk"]:
        return False, "a gradient flowed back into an earlier chunk's final state"
    return True, ""


DETACH_LOOP = J.check(_detached, hints=[NOT_DETACHED])
EVALUATE = J.fields(weights={"loss": 2, "loss_again": 1, "tokens": 1, "tokens_again": 0.5},
                    loss=J.close(rtol=1e-9), loss_again=J.close(rtol=1e-9),
                    tokens=J.exact(), tokens_again=J.exact(),
                    hints=[EVAL_MODE, CHUNK_MEAN, EVAL_SUMMED, NT_MEAN_LOOP, COUNT])
CHECKPOINT = J.fields(saved_to_final_path_directly=J.exact(), used_torch_save=J.exact(),
                      weights_match=J.exact(), epoch=J.exact(), valid_loss=J.close(),
                      leftover_files=J.exact(), hints=[NOT_ATOMIC, LEFTOVER])
FIT = J.fields(weights={"epochs_run": 2, "valid_loss": 1, "train_loss": 1, "lr": 2,
                        "best_epoch": 1, "stopped": 1, "kept_weights_of_epoch": 1,
                        "checkpoint_epoch": 1, "checkpoint_weights_of_epoch": 1},
               epochs_run=J.exact(), valid_loss=J.close(), train_loss=J.close(), lr=J.close(),
               best_epoch=J.exact(), stopped=J.exact(), kept_weights_of_epoch=J.exact(),
               checkpoint_epoch=J.exact(), checkpoint_weights_of_epoch=J.exact(),
               hints=[PATIENCE, LR_SCHEDULE, NOT_RESTORED])


def _trained(actual):
    a = actual
    ok = a["best_valid"] < a["bound"]
    return ok, (f"after {a['epochs']} epochs the best validation loss is {a['best_valid']:.3f} "
                f"nats (first epoch's training loss {a['first_train']:.3f}; uniform guessing "
                f"{a['uniform']:.3f}); expected below {a['bound']:.3f}. Check the loss (mean "
                "over predicted tokens), that the optimizer steps after backward, and that the "
                "state is carried from chunk to chunk")


TRAINING_RUN = J.check(_trained)
def probs_judge(temperature):
    return J.fields(weights={"probs": 3, "inputs_unchanged": 1}, probs=J.close(rtol=1e-9),
                    inputs_unchanged=J.exact(), hints=[_temp_after(temperature), TOPK_TIES])


TWO_EPOCHS = J.fields(weights={"chunk_loss": 2, "params": 1}, chunk_loss=J.close(rtol=1e-9),
                      params=J.close(rtol=1e-9),
                      hints=[EPOCH_STATE, SUMMED_LOOP, NT_MEAN_LOOP])
GENERATE_DROPOUT = J.fields(weights={"next": 2, "draws": 1, "reproducible": 1},
                            next=J.close(rtol=1e-7), draws=J.draws_follow(
                                labels=["the first token", "the second token"]),
                            reproducible=J.exact(), hints=[EVAL_GENERATE])
GREEDY_PROBS = J.fields(probs=J.close(rtol=1e-12), inputs_unchanged=J.exact(), hints=[GREEDY])
SAMPLE = J.fields(weights={"draws": 3, "reproducible": 1, "never_bos": 1},
                  draws=J.draws_follow(), reproducible=J.exact(), never_bos=J.exact(),
                  hints=[NOT_REPRODUCIBLE])
GENERATE = J.fields(weights={"next": 2, "draws": 1, "reproducible": 1},
                    next=J.close(rtol=1e-7),
                    draws=J.draws_follow(labels=["the first token", "the second token"]),
                    reproducible=J.exact())
TABLE = J.close(rtol=1e-9)


TESTS = [
    # models.py
    public("rnn_model.forward", part="RNNLM", points=4, scenario="model_forward",
           params={"cell": "rnn", "V": 11, "E": 6, "H": 5, "L": 1, "N": 3, "T": 4}, seed=1,
           judge=model_judge(),
           description="RNNLM: logits, final state and gradients for given weights and state"),
    public("rnn_model.tied", part="RNNLM", points=2, scenario="model_forward",
           params={"cell": "rnn", "V": 9, "E": 5, "H": 5, "L": 1, "N": 2, "T": 3, "tie": True},
           seed=2, judge=model_judge(), description="RNNLM with tied weights"),
    public("lstm_model.forward", part="LSTMLM", points=4, scenario="model_forward",
           params={"cell": "lstm", "V": 10, "E": 4, "H": 5, "L": 2, "N": 3, "T": 4}, seed=3,
           judge=model_judge(),
           description="LSTMLM (2 layers): logits, (h, c) and gradients for given weights"),
    public("lstm_model.zero_state", part="LSTMLM", points=2, scenario="model_forward",
           params={"cell": "lstm", "V": 8, "E": 4, "H": 3, "L": 1, "N": 2, "T": 5,
                   "with_state": False}, seed=4, judge=model_judge(),
           description="LSTMLM from state None (zeros)"),
    public("models.dropout", part="RNNLM/LSTMLM", points=2, scenario="model_dropout",
           params={"cell": "lstm"}, seed=5, judge=DROPOUT,
           description="dropout off in eval mode, on in training mode"),
    public("models.tying", part="RNNLM/LSTMLM", points=1, scenario="model_tying",
           params={"cell": "rnn"}, seed=6, judge=TYING,
           description="tied weights are one Parameter; E != H is refused with ValueError"),
    public("prediction_log_softmax.values", part="prediction_log_softmax", points=2,
           scenario="log_softmax_case", params={}, seed=7, judge=LOG_SOFTMAX,
           description="log-softmax over the prediction space (<s> gets -inf)"),
    public("sentence_batch.shift", part="sentence_batch", points=2,
           scenario="sentence_batch_case", params={"corpus": "farm", "k": 4}, seed=8,
           judge=SENTENCE_BATCH, description="teacher-forcing inputs and shifted targets"),
    public("language_model.logprobs", part="TorchLM", points=3, scenario="language_model",
           params={"cell": "lstm"}, seed=9, judge=LANGUAGE_MODEL,
           description="logprobs, perplexity and next_distribution through the adapter"),
    # train.py
    public("lm_loss.mean", part="lm_loss", points=3, scenario="loss_case",
           params={"ignore_frac": 0.3}, seed=10, judge=LOSS,
           description="mean cross-entropy over predicted tokens (IGNORE excluded) and its gradient"),
    public("detach_state.structures", part="detach_state", points=2, scenario="detach_case",
           params={}, seed=11, judge=DETACH_STATE,
           description="detach_state on None, a tensor and a pair"),
    *[public(f"clip_grad_norm.{case}", part="clip_grad_norm", points=points, scenario="clip_case",
             params={"case": case, "max_norm": 1.0}, seed=12 + k, judge=CLIP, description=what)
      for k, (case, points, what) in enumerate([
          ("random", 2, "clipping random gradients equals torch.nn.utils.clip_grad_norm_"),
          ("below", 1, "gradients below the threshold are unchanged"),
          ("inf", 1, "an infinite gradient behaves as in torch"),
          ("nan", 1, "a NaN gradient behaves as in torch")])],
    public("train_epoch.steps", part="train_epoch", points=5, scenario="train_steps",
           params={"clip": 0.5}, seed=16, judge=train_steps_judge(),
           description="three SGD steps of truncated BPTT with clipping match the reference"),
    public("train_epoch.detach", part="train_epoch", points=4,
           scenario="detach_between_chunks", params={}, seed=17, judge=DETACH_LOOP,
           needs_reference=False,
           description="the hidden state is detached between chunks (no gradient reaches an "
                       "earlier chunk)"),
    public("train_epoch.two_epochs", part="train_epoch", points=3, scenario="train_two_epochs",
           params={}, seed=28, judge=TWO_EPOCHS,
           description="train_epoch twice on one model: each epoch starts from the zero state"),
    public("evaluate.dropout_and_count", part="evaluate", points=4, scenario="evaluate_case",
           params={"corpus": "verse", "N": 3, "T": 4}, seed=18, judge=EVALUATE,
           description="evaluation in eval mode, token-weighted, counting every predicted token"),
    public("save_checkpoint.atomic", part="save_checkpoint", points=2,
           scenario="checkpoint_case", params={}, seed=19, judge=CHECKPOINT,
           description="checkpoint written to a temporary file, then renamed"),
    public("fit.early_stopping", part="fit", points=4, scenario="fit_logic",
           params={"valid": [5.0, 4.0, 4.5, 3.5, 3.6, 3.7, 3.0], "patience": 2}, seed=20,
           judge=FIT, description="early stopping, LR schedule, best model kept and checkpointed"),
    public("fit.tiny_run", part="fit", points=4, scenario="training_run",
           params={"cell": "lstm", "corpus": "farm", "bound": 0.8}, seed=21,
           judge=TRAINING_RUN, needs_reference=False, timeout=60,
           description="a short run on a tiny corpus reaches a loss bound"),
    # sampling.py
    public("next_token_probs.temperature", part="next_token_probs", points=2,
           scenario="probs_case", params={"temperature": 0.5}, seed=22,
           judge=probs_judge(0.5),
           description="softmax of logits / temperature, <s> excluded"),
    public("next_token_probs.top_k", part="next_token_probs", points=2,
           scenario="probs_case", params={"temperature": 1.5, "top_k": 3}, seed=23,
           judge=probs_judge(1.5), description="top-k after the temperature"),
    public("next_token_probs.greedy", part="next_token_probs", points=1,
           scenario="probs_case", params={"temperature": 0.0}, seed=24, judge=GREEDY_PROBS,
           description="temperature 0 is greedy"),
    public("sample_next.seeded", part="sample_next", points=2, scenario="sample_case",
           params={"temperature": 0.8}, seed=25, judge=SAMPLE,
           description="draws from a seeded torch.Generator follow next_token_probs (a seeded "
                       "statistical test over 2000 draws a row) and are reproducible"),
    # models.py: TorchLM.next_distribution, sampled by lmcore.lm.generate
    public("generate.seeded", part="TorchLM.next_distribution", points=3,
           scenario="generate_case", params={"prompt": "to be", "temperature": 0.8}, seed=26,
           judge=GENERATE,
           description="next_distribution after a prompt, and lmcore.lm.generate over TorchLM "
                       "draws from the reference's distributions"),
    public("generate.dropout_model", part="TorchLM.next_distribution", points=3,
           scenario="generate_case",
           params={"prompt": "to be", "temperature": 0.8, "dropout": 0.5}, seed=29,
           judge=GENERATE_DROPOUT,
           description="generating from a dropout model handed over in training mode: "
                       "next_distribution runs in eval mode"),
    # table.py
    public("perplexity_table.simple", part="perplexity_table", points=2, scenario="table_case",
           params={"corpus": "farm"}, seed=27, judge=TABLE,
           description="one perplexity per model, by lmcore.lm.perplexity"),
]
