"""Numerical gradient checking, cs231n style, with reports that say where a gradient is wrong.

    >>> W = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> num = numerical_gradient(lambda _: np.sum(W ** 2), W)
    >>> rel_error(2 * W, num) < 1e-7
    True
    >>> wrong = 2 * W
    >>> wrong[1, 0] = 0.0            # a bug in one entry
    >>> print(grad_report(wrong, num, name="dW"))
    dW: max relative error 1.0e+00 at [1, 0] (analytic 0, numerical 6)

The numerical gradient perturbs ``x`` in place (so that ``f`` may read it through a closure,
as a loss reads its weights) and restores it before returning, even when ``f`` raises. Use
float64: with float32 a step of 1e-5 is lost in rounding and every check fails.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np


def _check_float64(x: np.ndarray, what: str = "x") -> None:
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        got = f"dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"{what} must be a float64 numpy array (it is perturbed in place), "
                        f"got {got}; convert it with x.astype(np.float64) before building f")


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                       h: float = 1e-5) -> np.ndarray:
    """Gradient of a scalar function by centred differences, (f(x+h) - f(x-h)) / 2h per entry.

    Inputs:
    - f: function of x returning a scalar (it may ignore its argument and read x itself)
    - x: (any shape) float64 array, perturbed one entry at a time and restored
    - h: step

    Returns:
    - grad: same shape as x, float64
    """
    _check_float64(x)
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        try:
            x[ix] = old + h
            fplus = _scalar(f(x))
            x[ix] = old - h
            fminus = _scalar(f(x))
        finally:
            x[ix] = old
        grad[ix] = (fplus - fminus) / (2 * h)
    return grad


def _scalar(value) -> float:
    arr = np.asarray(value)
    if arr.shape != ():
        raise ValueError(f"f must return a scalar, got an array of shape {arr.shape}; for "
                         "array-valued functions use numerical_gradient_array")
    return float(arr)


def numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                             dout: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Gradient of ``sum(f(x) * dout)`` with respect to x: the backward pass of an
    array-valued f, given the upstream gradient dout.

    Inputs:
    - f: function of x returning an array of dout's shape
    - x: (any shape) float64 array, perturbed one entry at a time and restored
    - dout: upstream gradient, same shape as f(x)
    - h: step

    Returns:
    - dx: same shape as x, float64
    """
    _check_float64(x)
    dout = np.asarray(dout, dtype=np.float64)
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        try:
            x[ix] = old + h
            fplus = np.array(f(x), dtype=np.float64)   # a copy: f may return a buffer it reuses
            x[ix] = old - h
            fminus = np.array(f(x), dtype=np.float64)
        finally:
            x[ix] = old
        if fplus.shape != dout.shape:
            raise ValueError(f"f returned shape {fplus.shape} but dout has shape {dout.shape}")
        grad[ix] = np.sum((fplus - fminus) * dout) / (2 * h)
    return grad


def _rel_errors(x, y) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"cannot compare arrays of shapes {x.shape} and {y.shape}")
    with np.errstate(invalid="ignore"):
        err = np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))
    return np.where(np.isnan(err), np.inf, err)   # a NaN gradient is as wrong as can be


def rel_error(x, y) -> float:
    """cs231n's relative error, max of |x - y| / max(1e-8, |x| + |y|) over all entries.

    About 1e-7 or less means the gradients agree; 1e-2 or more means a bug. NaN entries
    count as infinitely wrong. Arrays of different shapes raise ValueError.
    """
    err = _rel_errors(x, y)
    return float(err.max()) if err.size else 0.0


@dataclass(frozen=True)
class GradReport:
    """Where an analytic gradient disagrees most with the numerical one."""
    name: str
    max_rel_error: float
    index: tuple[int, ...]     # the worst entry; () for a scalar
    analytic: float            # both gradients at that entry
    numerical: float

    def ok(self, tol: float) -> bool:
        return self.max_rel_error <= tol

    def __str__(self) -> str:
        where = "[" + ", ".join(map(str, self.index)) + "]" if self.index else "the scalar"
        return (f"{self.name}: max relative error {self.max_rel_error:.1e} at {where} "
                f"(analytic {self.analytic:.6g}, numerical {self.numerical:.6g})")


def grad_report(analytic, numeric, name: str = "gradient") -> GradReport:
    """Compare an analytic gradient with a numerical one of the same shape."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"{name}: the analytic gradient has shape {a.shape} but the "
                         f"parameter (and its numerical gradient) has shape {n.shape}")
    err = _rel_errors(a, n)
    if err.size == 0:
        return GradReport(name, 0.0, (), float("nan"), float("nan"))
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(err)), err.shape))
    return GradReport(name, float(err[index]), index, float(a[index]), float(n[index]))


def check_gradients(f: Callable[[], float], params: Mapping[str, np.ndarray],
                    analytic: Mapping[str, np.ndarray], tol: float = 1e-7,
                    h: float = 1e-5, raise_on_failure: bool = True) -> dict[str, GradReport]:
    """Check every analytic gradient against the numerical gradient of ``f``.

    Inputs:
    - f: no-argument function returning the scalar loss, reading the arrays of ``params``
      (each is perturbed in place and restored)
    - params: name -> float64 array, e.g. {"Wx": Wx, "Wh": Wh, "b": b}
    - analytic: name -> gradient of the same shape, e.g. {"Wx": dWx, ...}; names are
      reported with a leading "d" ("dWx")
    - tol: largest acceptable max relative error

    Returns name -> GradReport. With ``raise_on_failure`` an AssertionError lists every
    gradient above ``tol``.
    """
    missing = [k for k in params if k not in analytic]
    if missing:
        raise KeyError(f"no analytic gradient for {missing}; analytic has {list(analytic)}")
    reports = {}
    for name, x in params.items():
        numeric = numerical_gradient(lambda _: f(), x, h=h)
        reports[name] = grad_report(analytic[name], numeric, name=f"d{name}")
    bad = [str(r) for r in reports.values() if not r.ok(tol)]
    if bad and raise_on_failure:
        raise AssertionError(f"gradient check failed (tolerance {tol:g}):\n" + "\n".join(bad))
    return reports
