"""Assignment 5: attention, from the LSTM's bottleneck to a small decoder-only transformer.

Modules (each one a student file):
    attention.py  numpy: the causal mask, a masked softmax (stable, no NaN on a fully masked
                  row), scaled dot-product attention, splitting and merging heads, multi-head
                  attention: every forward and backward by hand, float64
    layers.py     numpy: layer normalisation, GELU, learned positional embeddings, and one
                  pre-norm decoder block with its residual connections
    models.py     torch: multi-head causal self-attention written out, the pre-norm block, and
                  ``TransformerLM`` with a4's ``forward(inputs, state)`` (the state is the last
                  C - 1 token ids), weight tying and dropout
    train.py      torch: AdamW's parameter groups and the warm-up + cosine learning rate;
                  ``fit`` runs a4's training loop with them (a4_torch beside this package)

Letters used in every docstring: minibatch N, sequence T (queries T_q, keys T_k), model width
D, heads h, head size d_k = D / h, hidden width of the MLP F = 4D, context C, vocabulary V.
"""
