"""engine/wire.py: the only way data crosses from a worker to the grader.

Round trips of every allowed type, refusal of objects on the worker's side (to_plain), and
refusal of anything malformed on the parent's side (read_outputs), which is the real guard:
it is what a hostile worker's files meet.
"""
import json
import math
import os

import numpy as np
import pytest

from autograder.engine.wire import (MAX_ARRAY_BYTES, MAX_JSON_BYTES, OUTPUTS_FILE, OutputError,
                                read_outputs, to_plain, write_outputs)


def roundtrip(value, tmp_path):
    write_outputs(value, tmp_path)
    return read_outputs(tmp_path)


def assert_same(a, b):
    """Structural equality that also checks types and dtypes (== would hide them)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


# -- round trips ---------------------------------------------------------------------------
def test_roundtrip_nested_plain_data(tmp_path):
    value = {"loss": 2.5, "n": 7, "big": 2**62, "ok": True, "none": None, "word": "thou'rt",
             "tokens": ["<s>", "to", "be"], "nested": {"a": [1, [2.0, {"b": "c"}]], "e": {}},
             "empty": []}
    assert_same(roundtrip(value, tmp_path), value)


def test_roundtrip_tuples_become_lists(tmp_path):
    assert_same(roundtrip({"ctx": ("<s>", "the"), "pair": (1, 2.0)}, tmp_path),
                {"ctx": ["<s>", "the"], "pair": [1, 2.0]})


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.int32, np.int64, np.uint8, np.uint64,
                                   np.float16, np.float32, np.float64, np.complex64,
                                   np.complex128])
def test_roundtrip_arrays_of_each_dtype_kind(tmp_path, dtype):
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((2, 3, 4)) * 10).astype(dtype)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * a
    out = roundtrip({"a": a, "scalar_array": np.array(3, dtype=dtype), "empty": a[:0]}, tmp_path)
    assert_same(out["a"], a)
    assert out["scalar_array"].shape == () and out["scalar_array"].dtype == np.dtype(dtype)
    assert out["empty"].shape == (0, 3, 4)


def test_roundtrip_non_contiguous_and_fortran_arrays(tmp_path):
    a = np.arange(24.0).reshape(4, 6)
    out = roundtrip([a[:, ::2], np.asfortranarray(a), a.T], tmp_path)
    np.testing.assert_array_equal(out[0], a[:, ::2])
    np.testing.assert_array_equal(out[1], a)
    np.testing.assert_array_equal(out[2], a.T)


def test_roundtrip_non_finite_floats(tmp_path):
    value = {"nan": math.nan, "inf": math.inf, "ninf": -math.inf,
             "arr": np.array([np.nan, np.inf, -np.inf, 0.0]), "list": [1.0, math.inf]}
    out = roundtrip(value, tmp_path)
    assert math.isnan(out["nan"]) and out["inf"] == math.inf and out["ninf"] == -math.inf
    assert out["list"] == [1.0, math.inf]
    np.testing.assert_array_equal(out["arr"], value["arr"])
    # the JSON itself holds markers, never the NaN/Infinity literals that strict JSON refuses
    text = (tmp_path / OUTPUTS_FILE).read_text()
    assert "NaN" not in text and "Infinity" not in text and '{"$float": "nan"}' in text


def test_roundtrip_numpy_scalars_become_python_numbers(tmp_path):
    value = {"f": np.float64(0.25), "f32": np.float32(0.5), "i": np.int64(-3), "u": np.uint8(200),
             "b": np.bool_(True), "nan": np.float64("nan"), "c": np.complex128(1 + 2j)}
    out = roundtrip(value, tmp_path)
    assert type(out["f"]) is float and out["f"] == 0.25
    assert type(out["f32"]) is float and out["f32"] == 0.5
    assert type(out["i"]) is int and out["i"] == -3
    assert type(out["u"]) is int and out["u"] == 200
    assert type(out["b"]) is bool and out["b"] is True
    assert math.isnan(out["nan"])
    # JSON has no complex: a complex scalar crosses as a 0-d array
    assert out["c"].shape == () and out["c"].dtype == np.complex128 and out["c"] == 1 + 2j


def test_roundtrip_torch_tensors(tmp_path):
    torch = pytest.importorskip("torch")
    w = torch.nn.Parameter(torch.arange(6, dtype=torch.float64).reshape(2, 3))
    y = (w * 2).sum()
    value = {"w": w, "y": y, "ids": torch.tensor([3, 1, 2]), "mask": torch.tensor([True, False]),
             "half": torch.ones(2, dtype=torch.float32)}
    out = roundtrip(value, tmp_path)
    assert_same(out["w"], np.arange(6, dtype=np.float64).reshape(2, 3))
    assert out["y"].shape == () and float(out["y"]) == 30.0
    assert_same(out["ids"], np.array([3, 1, 2], dtype=np.int64))
    assert_same(out["mask"], np.array([True, False]))
    assert out["half"].dtype == np.float32


def test_write_outputs_leaves_only_the_outputs_and_its_arrays(tmp_path):
    write_outputs({"a": np.zeros(2), "b": [np.ones(1)]}, tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["a0.npy", "a1.npy", OUTPUTS_FILE]


# -- to_plain refuses objects ----------------------------------------------------------------
class AlwaysEqual:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


class SneakyFloat(float):
    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


class SneakyArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool)


@pytest.mark.parametrize("value, words", [
    (AlwaysEqual(), "test_outputs.AlwaysEqual cannot be returned as an output"),
    ({"x": [1, AlwaysEqual()]}, "output['x'][1]: a value of type"),
    (SneakyFloat(1.0), "test_outputs.SneakyFloat cannot be returned"),
    ({1: "a"}, "dict keys must be str, got int"),
    ({("a", "b"): 1.0}, "dict keys must be str, got tuple"),
    ({1, 2}, "builtins.set cannot be returned"),
    (1 + 2j, "builtins.complex cannot be returned"),
    (b"bytes", "builtins.bytes cannot be returned"),
    (np.str_("word"), "numpy scalar of dtype <U4 is not numeric"),
])
def test_to_plain_refuses_objects(value, words):
    with pytest.raises(OutputError, match=".*"):
        to_plain(value)
    with pytest.raises(OutputError) as err:
        to_plain(value)
    assert words in str(err.value)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_ndarray_subclass_is_converted_to_a_base_array(tmp_path):
    sneaky = np.arange(3.0).view(SneakyArray)
    plain = to_plain({"x": sneaky})["x"]
    assert type(plain) is np.ndarray
    np.testing.assert_array_equal(plain, [0.0, 1.0, 2.0])
    assert not np.all(plain == np.array([5.0, 5.0, 5.0]))  # the subclass's __eq__ is gone
    out = roundtrip({"x": sneaky, "m": np.matrix([[1, 2]])}, tmp_path)
    assert type(out["x"]) is np.ndarray and type(out["m"]) is np.ndarray
    assert out["m"].shape == (1, 2)


@pytest.mark.parametrize("array, dtype_words", [
    (np.array([AlwaysEqual(), 1], dtype=object), "object"),
    (np.array(["the", "cat"]), "<U3"),
    (np.array([b"ab"]), "|S2"),
    (np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]), "[('a', '<f8'), ('b', '<i4')]"),
    (np.array(["2020-01-01"], dtype="datetime64[D]"), "datetime64[D]"),
])
def test_write_outputs_refuses_non_numeric_arrays(tmp_path, array, dtype_words):
    with pytest.raises(OutputError) as err:
        write_outputs({"x": array}, tmp_path)
    assert f"an array of dtype {dtype_words} cannot be returned" in str(err.value)
    assert not (tmp_path / OUTPUTS_FILE).exists()


# -- read_outputs refuses malformed files ------------------------------------------------------
def write_doc(folder, doc_text):
    (folder / OUTPUTS_FILE).write_text(doc_text)


def refused(folder) -> str:
    with pytest.raises(OutputError) as err:
        read_outputs(folder)
    return str(err.value)


def test_missing_outputs(tmp_path):
    assert refused(tmp_path) == "the test wrote no outputs"


def test_symlinked_outputs_json_is_refused(tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"score": 100}')
    out = tmp_path / "out"
    out.mkdir()
    (out / OUTPUTS_FILE).symlink_to(secret)
    assert refused(out) == "the test wrote no outputs"


def test_symlinked_array_is_refused(tmp_path):
    np.save(tmp_path / "real.npy", np.ones(2))
    (tmp_path / "a0.npy").symlink_to(tmp_path / "real.npy")
    write_doc(tmp_path, '{"x": {"$array": "a0.npy"}}')
    assert refused(tmp_path) == "array file a0.npy is missing or too large"


def test_bad_json_and_nan_literals(tmp_path):
    write_doc(tmp_path, '{"x": [1, 2')
    assert refused(tmp_path).startswith("outputs are not valid JSON")
    for literal in ("NaN", "Infinity", "-Infinity"):
        write_doc(tmp_path, '{"x": %s}' % literal)
        assert refused(tmp_path) == f"outputs are not valid JSON: {literal}"
    (tmp_path / OUTPUTS_FILE).write_bytes(b'{"x": "\xff\xfe"}')
    assert refused(tmp_path).startswith("outputs are not valid JSON")


def test_bad_markers(tmp_path):
    write_doc(tmp_path, '{"x": {"$float": "1e999"}}')
    assert refused(tmp_path) == "bad float marker '1e999'"
    write_doc(tmp_path, '{"x": {"$array": 3}}')
    assert refused(tmp_path) == "bad array file name 3"
    np.save(tmp_path / "a0.npy", np.ones(2))
    write_doc(tmp_path, '[{"$array": "a0.npy"}, {"$array": "a0.npy"}]')
    assert refused(tmp_path) == "too many or repeated arrays in outputs"


@pytest.mark.parametrize("name", ["../a0.npy", "/etc/passwd.npy", "sub/a0.npy", "..\\a0.npy",
                                  ".hidden.npy", "a0.txt", "a0.npy/.."])
def test_path_traversal_in_array_names(tmp_path, name):
    inner = tmp_path / "out"
    inner.mkdir()
    np.save(tmp_path / "a0.npy", np.ones(2))  # a real file one level up
    write_doc(inner, json.dumps({"x": {"$array": name}}))
    assert refused(inner) == f"bad array file name {name!r}"


def test_missing_array_file(tmp_path):
    write_doc(tmp_path, '{"x": {"$array": "a0.npy"}}')
    assert refused(tmp_path) == "array file a0.npy is missing or too large"


def test_malformed_npy(tmp_path):
    (tmp_path / "a0.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")
    write_doc(tmp_path, '{"x": {"$array": "a0.npy"}}')
    assert refused(tmp_path).startswith("array file a0.npy is not a valid .npy")
    np.save(tmp_path / "a1.npy", np.ones(1000))
    data = (tmp_path / "a1.npy").read_bytes()
    (tmp_path / "a1.npy").write_bytes(data[:200])  # header says 1000 floats, data is cut
    write_doc(tmp_path, '{"x": {"$array": "a1.npy"}}')
    assert refused(tmp_path).startswith("array file a1.npy is not a valid .npy")


def test_object_npy_written_with_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"

    class Boom:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    np.save(tmp_path / "a0.npy", np.array([Boom()], dtype=object), allow_pickle=True)
    write_doc(tmp_path, '{"x": {"$array": "a0.npy"}}')
    msg = refused(tmp_path)
    assert msg.startswith("array file a0.npy is not a valid .npy")
    assert "allow_pickle" in msg
    assert not marker.exists()


def test_string_npy_is_refused(tmp_path):
    np.save(tmp_path / "a0.npy", np.array(["a", "b"]))
    write_doc(tmp_path, '{"x": {"$array": "a0.npy"}}')
    assert refused(tmp_path) == "array a0.npy has dtype <U1; numeric arrays only"


def test_npz_disguised_as_npy_is_refused(tmp_path):
    with open(tmp_path / "a0.npy", "wb") as f:
        np.savez(f, x=np.ones(2))
    write_doc(tmp_path, '{"x": {"$array": "a0.npy"}}')
    assert "a0.npy" in refused(tmp_path)


def test_huge_files_are_refused_without_reading_them(tmp_path):
    with open(tmp_path / OUTPUTS_FILE, "wb") as f:   # sparse: costs no disk
        f.write(b"[")
        f.seek(MAX_JSON_BYTES + 10)
        f.write(b"]")
    assert refused(tmp_path).startswith("outputs too large")
    os.remove(tmp_path / OUTPUTS_FILE)
    np.save(tmp_path / "a0.npy", np.zeros(1))
    with open(tmp_path / "a0.npy", "r+b") as f:
        f.truncate(MAX_ARRAY_BYTES + 1)
    write_doc(tmp_path, '{"x": {"$array": "a0.npy"}}')
    assert refused(tmp_path) == "array file a0.npy is missing or too large"


def test_deep_nesting_is_refused(tmp_path):
    write_doc(tmp_path, "[" * 40 + "]" * 40)
    assert refused(tmp_path) == "outputs nested too deeply"


def test_too_many_arrays_are_refused(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(1))
    names = [f"a{i}.npy" for i in range(300)]
    for n in names:
        os.link(tmp_path / "a.npy", tmp_path / n)
    write_doc(tmp_path, json.dumps([{"$array": n} for n in names]))
    assert refused(tmp_path) == "too many or repeated arrays in outputs"


def test_nesting_is_measured_without_parsing(monkeypatch):
    """A worker's JSON is measured before json's recursive decoder sees it: on Python 3.11 the
    RecursionError of [[[[...]]]] can leave the judging thread unable to np.load a later,
    honest array ("AST constructor recursion depth mismatch"), costing other tests."""
    from autograder.engine import wire

    assert wire.nesting_depth('[[1, 2], {"a": [3]}]') == 3
    assert wire.nesting_depth('"[[[[" ') == 0                    # brackets inside strings
    assert wire.nesting_depth('{"k\\"[": [1]}') == 2             # an escaped quote
    deep = "[" * 30000 + "]" * 30000
    assert wire.nesting_depth(deep) == 30000

    def no_json(*a, **k):
        raise AssertionError("json.loads must not see a document this deep")
    monkeypatch.setattr(wire.json, "loads", no_json)
    with pytest.raises(ValueError, match="nested more than"):
        wire.loads_shallow(deep)


def test_deep_outputs_file_is_refused_before_parsing(tmp_path, monkeypatch):
    from autograder.engine import wire

    (tmp_path / wire.OUTPUTS_FILE).write_text("[" * 5000 + "]" * 5000)
    monkeypatch.setattr(wire.json, "loads", lambda *a, **k: pytest.fail("parsed a deep file"))
    with pytest.raises(wire.OutputError, match="nested too deeply"):
        wire.read_outputs(tmp_path)
