"""The worker's stand-in for torch._dynamo (autograder/engine/dynamo_deferral.py): training
with torch.optim never imports the real one and gives the same numbers to the bit, and any
real use of torch._dynamo gets the real one. Each case runs in a fresh interpreter, since
the stand-in lives in sys.modules."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from autograder.authoring.registry import KIT_ROOT

pytest.importorskip("torch")


def _run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code, *args], cwd=KIT_ROOT,
                         text=True, capture_output=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(KIT_ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


_TRAIN = r"""
import json, sys
from autograder.engine import dynamo_deferral
without_torch = dynamo_deferral.defer()
import torch, torch.optim
installed = dynamo_deferral.defer() if sys.argv[1] == "defer" else False
torch.manual_seed(0)
lstm, head = torch.nn.LSTM(5, 7), torch.nn.Linear(7, 3)
params = [*lstm.parameters(), *head.parameters()]
losses = []
for make in (lambda: torch.optim.AdamW(params, lr=1e-2, weight_decay=0.1),
             lambda: torch.optim.SGD(params, lr=0.1, momentum=0.9)):
    opt = make()
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 10)
    for step in range(4):
        out, _ = lstm(torch.randn(4, 2, 5))
        loss = head(out).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 0.5)
        opt.step()
        sched.step()
        losses.append(loss.item())
    opt.load_state_dict(opt.state_dict())
print(json.dumps({"installed": installed, "deferred": dynamo_deferral.deferred(),
                  "without_torch": without_torch, "again": dynamo_deferral.defer(),
                  "real": type(sys.modules.get("torch._dynamo")).__name__,
                  "losses": [x.hex() for x in losses],
                  "params": [p.detach().double().sum().item().hex() for p in params]}))
"""


def test_training_with_torch_optim_never_imports_dynamo_and_gives_the_same_numbers():
    deferred, plain = _run(_TRAIN, "defer"), _run(_TRAIN, "plain")
    assert deferred["installed"] and deferred["deferred"], deferred
    assert plain["real"] == "module" and not plain["deferred"]   # what it saves: torch imports it
    # nothing to install without torch, nor twice, nor once the real one is in
    assert not any(run[k] for run in (deferred, plain) for k in ("without_torch", "again"))
    assert deferred["losses"] == plain["losses"] and deferred["params"] == plain["params"]


_REAL_USE = r"""
import json, sys
import torch, torch.optim
from autograder.engine import dynamo_deferral
assert dynamo_deferral.defer()
assert not dynamo_deferral.defer()          # installed once
lin = torch.nn.Linear(3, 3)
opt = torch.optim.SGD(lin.parameters(), lr=0.1)
lin(torch.ones(1, 3)).sum().backward(); opt.step(); opt.zero_grad()
before = dynamo_deferral.deferred()
import torch._dynamo                        # a bare import alone does not need the real one
bare = dynamo_deferral.deferred()
double = torch.compile(lambda x: torch.sin(x) * 2, backend="eager")
value = double(torch.zeros(2)).tolist()
after = dynamo_deferral.deferred()
import torch._dynamo.utils                  # its submodules import too
from torch._dynamo import config
lin(torch.ones(1, 3)).sum().backward(); opt.step(); opt.zero_grad()
cached = getattr(opt.zero_grad.__wrapped__, "__dynamo_disable")
print(json.dumps({"before": before, "bare": bare, "after": after, "value": value,
                  "module": type(sys.modules["torch._dynamo"]).__name__,
                  "cache_size_limit": config.cache_size_limit,
                  "cached": cached.__module__}))
"""


def test_a_real_use_of_dynamo_gets_the_real_one():
    got = _run(_REAL_USE)
    assert got["before"] and got["bare"] and not got["after"], got
    assert got["value"] == [0.0, 0.0] and got["module"] == "module"
    assert got["cache_size_limit"] > 0
    # the optimizer's zero_grad, first excluded through the stand-in, is torch's own now
    assert got["cached"].startswith("torch._dynamo"), got


_SUITE = r"""
import json, sys, tempfile
from pathlib import Path
import torch, torch.optim
from autograder.engine import dynamo_deferral
dynamo_deferral.defer()
from autograder.authoring import registry
from autograder.authoring.declare import load_tests
from autograder.engine.runners import InProcessRunner
from autograder.engine.staging import reference_submission, stage
a = registry.get("a4")
tests = [t for t in load_tests(a.name) if t.scenario in sys.argv[1:]]
st = stage(reference_submission(a), a, Path(tempfile.mkdtemp()), base=a.solution_dir)
runs = InProcessRunner(a.name).run(st, tests).runs
print(json.dumps({"tests": len(runs), "failed": [r.name for r in runs if r.status != "ok"],
                  "deferred": dynamo_deferral.deferred()}))
"""


# a4's scenarios that build or step a torch.optim optimizer (a5's tests never make one)
OPTIMIZING = ("train_steps", "train_two_epochs", "detach_between_chunks", "fit_logic",
              "training_run")


def test_a4s_training_tests_never_need_the_real_dynamo():
    """a4's tests that train (public and hidden) on the reference leave the stand-in in
    place: a worker grading them never pays for torch._dynamo. Fails if a scenario, or a
    newer torch, starts using more of torch._dynamo than its no-ops."""
    got = _run(_SUITE, *OPTIMIZING)
    assert got["tests"] >= len(OPTIMIZING) and not got["failed"], got
    assert got["deferred"], "a4: a training test imported the real torch._dynamo"
