"""Keep torch._dynamo out of a worker until something compiles.

Every ``torch.optim`` optimizer imports torch._dynamo the first time it is built or steps:
about 300 of torch's functions are wrapped in ``torch._disable_dynamo``, which imports it to
exclude the function from ``torch.compile``'s tracing, and each ``step()`` imports it to call
``torch._dynamo.graph_break()``. Outside tracing both are no-ops, yet the import costs about
2 s of CPU (more than a4's whole public suite takes to run) and makes every later fork of the
worker slower (11 ms a fork with torch, 26-30 ms with torch._dynamo too).

``defer()`` puts a stand-in in ``sys.modules["torch._dynamo"]`` that answers those two calls
itself and imports the real package on any other use, after which everything is torch's own:
a student's ``torch.compile``, ``torch._dynamo.config`` or ``import torch._dynamo.utils``
gets the real torch._dynamo, and every function excluded through the stand-in is excluded
by the real ``disable`` from then on.
"""
from __future__ import annotations

import importlib
import sys
import types

_NAME = "torch._dynamo"
_CACHE = "__dynamo_disable"   # where torch's lazy wrapper caches the disabled function


def _real():
    """The real torch._dynamo, imported now if the stand-in is still in its place."""
    if isinstance(sys.modules.get(_NAME), _StandIn):
        del sys.modules[_NAME]
    return importlib.import_module(_NAME)


def _direct_until_dynamo(fn, recursive: bool):
    """``fn`` itself while torch._dynamo is not imported (nothing can be tracing), and
    torch's ``disable(fn, recursive)`` from the moment it is."""
    def call(*args, **kwargs):
        dynamo = sys.modules.get(_NAME)
        if dynamo is None or isinstance(dynamo, _StandIn):
            return fn(*args, **kwargs)
        real = dynamo.disable(fn, recursive, wrapping=False)
        try:
            setattr(fn, _CACHE, real)   # torch's own cache: later calls skip this one
        except (AttributeError, TypeError):
            pass
        return real(*args, **kwargs)
    return call


class _StandIn(types.ModuleType):
    """torch._dynamo as long as only its no-ops are asked for; any other attribute (its
    ``__path__`` included, which importing a submodule reads) imports the real one."""

    def __getattr__(self, name):
        return getattr(_real(), name)


def _graph_break(msg: str = "") -> None:
    """torch._dynamo.graph_break outside tracing: nothing."""


def _disable(fn=None, recursive=True, **kwargs):
    if fn is None or kwargs.get("reason") is not None or kwargs.get("wrapping", True):
        return _real().disable(fn, recursive, **kwargs)   # forms torch's own code does not use
    return _direct_until_dynamo(fn, recursive)


def defer() -> bool:
    """Install the stand-in where torch is imported and torch._dynamo is not; True if it did."""
    if "torch" not in sys.modules or _NAME in sys.modules:
        return False
    stand_in = _StandIn(_NAME, __doc__)
    stand_in.graph_break = _graph_break
    stand_in.disable = _disable
    sys.modules[_NAME] = stand_in
    return True


def deferred() -> bool:
    """Is the stand-in still in place (no code has needed the real torch._dynamo)?"""
    return isinstance(sys.modules.get(_NAME), _StandIn)


# -- torch._dynamo's own re-wrapping is not tampering (the worker's tamper check) --------------
# Bound now: graded code that replaces builtins.getattr must not blind the check.
_getattr, _dict, _zip = getattr, dict, zip
_WRAPPER: list = []   # the code of torch's lazy dynamo-disable wrapper, once torch is in


def note_wrapper() -> None:
    """Remember the code object every ``torch._disable_dynamo(fn)`` wrapper shares (building
    one does not import torch._dynamo); nothing without torch. Called before student code."""
    compile_mod = sys.modules.get("torch._compile")
    wrap = getattr(compile_mod, "_disable_dynamo", None)
    _WRAPPER[:] = [getattr(wrap(len), "__code__", None)] if callable(wrap) else []


def torchs_own_rewrap(new, old) -> bool:
    """Is ``new`` torch's dynamo-disable wrapper around ``old`` itself? Importing the real
    torch._dynamo (a student's torch.compile does) replaces torch.manual_seed by exactly
    that: the same function, so not tampering. Recognised by the wrapper's code and the
    function it closes over, which no other object has."""
    code = _WRAPPER[0] if _WRAPPER else None
    if code is None or _getattr(new, "__code__", None) is not code:
        return False
    try:
        cells = _dict(_zip(code.co_freevars, new.__closure__))
        return cells["fn"].cell_contents is old
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
