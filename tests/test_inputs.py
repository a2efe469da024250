"""The checks at the edge (xpnn.inputs), called directly: what fit, evaluate, predict and
gradcheck accept, and the words each refusal uses. test_model_errors.py checks the same
messages through the model."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn.callbacks import Callback
from xpnn.inputs import check_fit_args, check_x, check_xy, split_validation
from xpnn.losses import MeanSquaredError

F32, F64 = np.dtype("float32"), np.dtype("float64")


def _with(value: float, at: tuple[int, int] = (2, 1), dtype: Any = np.float64) -> np.ndarray:
    x = np.ones((4, 3), dtype=dtype)
    x[at] = value
    return x


# -- values beyond the model dtype's range ------------------------------------------------------
@pytest.mark.parametrize("value", [1e39, -1e39, np.finfo(np.float64).max])
def test_a_float64_value_beyond_float32_is_refused_not_turned_into_inf(value: float) -> None:
    """Cast to float32, 1e39 becomes inf and would train to NaN without a word."""
    with pytest.raises(
        ValueError,
        match=r"fit\(\) input x has a value beyond the range of the model's dtype float32 "
        r"\(first at row 2, column 1: -?[\d.]+e\+\d+\); the largest finite float32 is "
        r"3\.4028235e\+38\. Scale the data",
    ):
        check_x(_with(value), "fit()", 3, F32)


def test_the_same_values_are_fine_in_a_float64_model() -> None:
    x = _with(1e39)
    out = check_x(x, "fit()", 3, F64)
    assert out is x  # no copy when the dtype already matches


def test_values_near_float32s_limit_whose_row_sums_overflow_are_accepted() -> None:
    """The row-sum shortcut overflows on finite data; the full search must then clear it."""
    x = np.full((3, 4), np.finfo(np.float32).max / 2, dtype=np.float64)
    out = check_x(x, "fit()", 4, F32)
    assert out.dtype == F32 and np.isfinite(out).all()


def test_nan_in_the_data_is_reported_as_such_even_beside_an_overflow() -> None:
    x = _with(1e39)
    x[3, 0] = np.nan
    with pytest.raises(ValueError, match=r"contains NaN or infinity \(first at row 3, column 0\)"):
        check_x(x, "fit()", 3, F32)


def test_float16_infinity_is_infinity_in_the_data() -> None:
    with pytest.raises(ValueError, match=r"input x contains NaN or infinity \(first at row 0"):
        check_x(_with(np.inf, (0, 2), np.float16), "predict()", 3, F32)


def test_an_overflow_on_the_device_is_refused(xp: Any) -> None:
    x = xpnn.to_device(_with(1e39), dtype=np.float64)
    with pytest.raises(ValueError, match="beyond the range of the model's dtype float32"):
        check_x(x, "fit()", 3, F32)
    x = xpnn.to_device(_with(np.nan), dtype=np.float64)
    with pytest.raises(ValueError, match=r"fit\(\) input x contains NaN or infinity"):
        check_x(x, "fit()", 3, F32)


def test_integers_and_clean_floats_pass_and_are_cast(xp: Any) -> None:
    for x in (np.arange(12, dtype=np.uint64).reshape(4, 3), np.ones((4, 3)), [[1, 2, 3]]):
        assert check_x(x, "predict()", 3, F32).dtype == F32
    assert check_x(xpnn.to_device(np.ones((4, 3))), "predict()", 3, F32).dtype == F32


# -- one-dimensional x --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("length", "input_dim", "hint"),
    [
        (4, 4, r"Use x\.reshape\(1, -1\) for a single sample of 4 features\.$"),
        (
            4,
            None,
            r"Use x\.reshape\(-1, 1\) if these are samples of one feature, or "
            r"x\.reshape\(1, -1\) if this is a single sample\.$",
        ),
        (4, 1, r"Use x\.reshape\(-1, 1\): the model takes one feature"),
        (10, 3, r"The model takes 3 features per sample\.$"),
    ],
)
def test_one_dimensional_x_gets_the_reshape_that_fits(
    length: int, input_dim: int | None, hint: str
) -> None:
    """predict(x[0]) on a 4-feature model is one sample: reshape(-1, 1) would be wrong."""
    with pytest.raises(ValueError, match=r"predict\(\) expects x of shape \(samples, features\)"):
        check_x(np.ones(length), "predict()", input_dim, F32)
    with pytest.raises(ValueError, match=hint):
        check_x(np.ones(length), "predict()", input_dim, F32)


def test_the_one_sample_hint_is_right() -> None:
    x = np.arange(12.0).reshape(3, 4)
    assert check_x(x[0].reshape(1, -1), "predict()", 4, F32).shape == (1, 4)


# -- sparse matrices ----------------------------------------------------------------------------
class FakeSparse:
    """What the duck typing looks for, without scipy."""

    format = "csc"
    shape = (1000, 2000)

    def tocsr(self) -> None: ...

    def toarray(self) -> None: ...


def test_a_sparse_matrix_is_named_not_called_an_object_array() -> None:
    with pytest.raises(
        TypeError,
        match=r"fit\(\) received x as a sparse matrix in CSC format \(FakeSparse, shape "
        r"\(1000, 2000\)\); xpnn trains on dense arrays: pass x\.toarray\(\), which would take "
        r"7\.63 MiB as float32\.",
    ):
        check_x(FakeSparse(), "fit()", 2000, F32)


def test_scipy_sparse_x_and_y_are_refused_clearly() -> None:
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match=r"sparse matrix in CSR format \(csr_matrix, shape \(3, 3"):
        check_x(sparse.csr_matrix(np.eye(3)), "predict()", 3, F32)
    with pytest.raises(TypeError, match=r"in COO format \(coo_array.*pass x\.toarray\(\)"):
        check_x(sparse.coo_array(np.eye(3)), "predict()", 3, F32)
    with pytest.raises(TypeError, match=r"fit\(\) received y as a sparse matrix.*y\.toarray\(\)"):
        check_xy(np.eye(3), sparse.csr_matrix(np.eye(3)), "fit()", 3, F32, MeanSquaredError(), 3)


def test_sparse_detection_needs_no_scipy() -> None:
    """Duck typing: with scipy unimportable, the checks still load and name a sparse x."""
    code = (
        "import sys; sys.modules['scipy'] = None\n"
        "import numpy as np\n"
        "from xpnn.inputs import check_x\n"
        "class S:\n"
        "    format, shape = 'csr', (2, 3)\n"
        "    def tocsr(self): ...\n"
        "    def toarray(self): ...\n"
        "try:\n"
        "    check_x(S(), 'fit()', 3, np.dtype('float32'))\n"
        "except TypeError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "received x as a sparse matrix in CSR format" in out.stdout


# -- where: the call, and the argument when it is not the call's own data ------------------------
def test_validation_data_messages_name_fit_and_the_argument() -> None:
    loss = MeanSquaredError()
    where = "fit() validation_data"
    with pytest.raises(
        ValueError,
        match=r"^fit\(\) expects validation_data x with 4 features \(as the training x has\), "
        r"received 3\.$",
    ):
        check_xy(np.ones((5, 3)), np.ones(5), where, 4, F32, loss, 1)
    cases = [
        (None, np.ones(5), r"^fit\(\) needs validation_data x, received None\.$"),
        (np.ones((5, 4)), None, r"^fit\(\) needs validation_data y, received None\.$"),
        (
            np.ones((5, 4)),
            np.ones(4),
            r"^fit\(\) received 5 samples in validation_data x but 4 in validation_data y",
        ),
        (np.ones((0, 4)), np.ones(0), r"^fit\(\) received empty data: validation_data x has 0"),
        (np.full((4, 4), np.nan), np.ones(4), r"^fit\(\) validation_data x contains NaN"),
        (np.ones(4), np.ones(4), r"^fit\(\) expects validation_data x of shape"),
        ([[1, 2], [3]], [1, 2], r"^fit\(\) could not read validation_data x as a numeric array"),
        (np.array([["a"] * 4]), [1], r"^fit\(\) expects numeric validation_data x"),
    ]
    for x, y, message in cases:
        with pytest.raises((ValueError, TypeError), match=message):
            check_xy(x, y, where, 4, F32, loss, 1)


def test_the_calls_own_data_reads_as_before() -> None:
    with pytest.raises(
        ValueError,
        match=r"^predict\(\) expects x with 3 features \(the model's input\), received 5",
    ):
        check_x(np.ones((2, 5)), "predict()", 3, F32)
    with pytest.raises(ValueError, match=r"^evaluate\(\) needs input data x, received None\.$"):
        check_x(None, "evaluate()", 3, F32)
    with pytest.raises(ValueError, match=r"^fit\(\) needs targets y, received None\.$"):
        check_xy(np.ones((2, 3)), None, "fit()", 3, F32, MeanSquaredError(), 1)
    with pytest.raises(ValueError, match=r"^fit\(\) received 2 samples in x but 3 in y; they"):
        check_xy(np.ones((2, 3)), np.ones(3), "fit()", 3, F32, MeanSquaredError(), 1)
    with pytest.raises(ValueError, match=r"^gradcheck\(\) input x contains NaN or infinity"):
        check_x(_with(np.nan), "gradcheck()", 3, F64)


# -- the functions kept as they were --------------------------------------------------------------
def test_fit_args_and_split_keep_their_behaviour() -> None:
    assert check_fit_args(None, 3, 0, 0.0, 0, None, Callback) == (32, 3, [])
    with pytest.raises(TypeError, match="callbacks must be Callback instances"):
        check_fit_args(8, 3, 0, 0.0, 0, [print], Callback)
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10.0)
    x_train, y_train, x_val, y_val = split_validation(x, y, 0.2)
    assert x_train.shape == (8, 2) and y_val.tolist() == [8.0, 9.0]  # the last fraction
    with pytest.raises(ValueError, match="leaves 0 of 10 samples"):
        split_validation(x, y, 0.95)
