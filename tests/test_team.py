"""The thread team (fused/team.py): OpenBLAS's jobs and the pass's own work on threads of ours.

Its promise is that nothing changes but the time: every product is OpenBLAS's own to the bit,
a training pass gives the weights of a pass without the team, and BLAS from other threads,
after a sleep, or in a forked child still works. What could hang (threads waiting on each
other) runs in a subprocess with a time limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest

import xpnn
from xpnn.fused import blas, cpu, team

pytestmark = pytest.mark.skipif(not team.SUPPORTED, reason="the team needs Linux on x86-64")

SRC = os.path.join(os.path.dirname(os.path.dirname(__file__)), "src")


def _run(code: str, env: dict[str, str] | None = None, timeout: float = 240) -> str:
    """Run ``code`` in a fresh Python (this checkout's xpnn); its output. A hang fails."""
    full_env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    full_env.pop("XPNN_TEAM", None)
    full_env.update(env or {})
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _threads() -> int:
    return int(blas.CONTROL["get_num_threads"]())


def test_products_are_openblas_own_to_the_bit() -> None:
    """The products before the team starts (OpenBLAS's threads) equal those after (the team's),
    for every routine NumPy's matmul calls and a few LAPACK ones, in both float types."""
    out = _run(
        """
        import numpy as np
        from xpnn.fused import cpu, team
        rng = np.random.default_rng(0)
        shapes = [(128, 784, 256), (1000, 1000, 1000), (784, 128, 256), (64, 3000, 1),
                  (1, 3000, 500), (300, 7, 900)]
        cases = []
        for dtype in (np.float32, np.float64):
            for m, k, n in shapes:
                a = rng.standard_normal((m, k)).astype(dtype)
                b = rng.standard_normal((k, n)).astype(dtype)
                cases += [(a, b), (a.T.copy().T, b)]
        M = rng.standard_normal((600, 600))
        def results():
            out = [a @ b for a, b in cases]
            out += [np.linalg.solve(M, np.ones(600)), np.linalg.inv(M), np.linalg.cholesky(M @ M.T)]
            return out
        before = results()
        assert team.team() is cpu.TEAM and team.width() >= 1
        after = results()
        print(all(np.array_equal(x, y) for x, y in zip(before, after)), team.width())
        """
    )
    same, width = out.split()
    assert same == "True"
    assert int(width) == min(_threads(), cpu.TEAM_MAX + 1) - 1


def _mlp(features: int, classes: int, dtype: str, seed: int = 0) -> xpnn.Sequential:
    model = xpnn.Sequential(
        [
            xpnn.Input((features,)),
            xpnn.Dense(192, "relu"),
            xpnn.Dense(96, "sigmoid"),
            xpnn.Dense(classes, "softmax" if classes > 1 else "sigmoid"),
        ],
        seed=seed,
        dtype=dtype,
    )
    loss = "sparse_categorical_crossentropy" if classes > 1 else "binary_crossentropy"
    model.compile(optimizer=xpnn.optimizers.Adam(1e-3), loss=loss, metrics=["accuracy"])
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("targets", ["labels", "binary", "fortran"])
def test_a_pass_with_the_team_equals_one_without(
    dtype: str, targets: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big enough that the pass splits its gather (batch 128 x 200 features) and its Adam
    update (more than 40,000 weights) across the team, and with batches of 700 its first
    layer's activation and ReLU backward, as predict does on 1,000 rows: the same weights,
    history and predictions to the bit, whether the data's rows can be copied as bytes or not."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1000, 200)).astype(dtype)
    if targets == "labels":
        y = rng.integers(0, 10, 1000)
    else:
        y = (x[:, 0] > 0).astype(dtype)
    if targets == "fortran":  # not rows in order: the pass gathers on one thread
        x = np.asfortranarray(x)
    classes = 10 if targets == "labels" else 1
    runs = []
    for setting in ("0", "1"):
        monkeypatch.setenv("XPNN_TEAM", setting)
        model = _mlp(200, classes, dtype)
        # binary: batches of 700 (700 x 192 values: the layers' work splits too)
        batch = 700 if targets == "binary" else 128
        history = model.fit(x, y, epochs=3, batch_size=batch, verbose=0).history
        runs.append((model.get_weights(), history, model.predict(x, verbose=0)))
    (w0, h0, p0), (w1, h1, p1) = runs
    assert all(np.array_equal(a, b) for a, b in zip(w0, w1))
    assert h0 == h1
    assert np.array_equal(p0, p1)
    if _threads() >= 2:
        assert team.width() >= 1  # the second run had a team


def test_xpnn_team_0_gives_no_team(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XPNN_TEAM", "0")
    assert team.team() is cpu.IDLE
    assert cpu.IDLE[cpu.WIDTH] == 0


def test_blas_from_other_threads_during_training() -> None:
    """Threads calling matmul while a pass runs share the team with it (its lock): every product
    right, the training's weights those of a run alone."""
    out = _run(
        """
        import threading
        import numpy as np
        import xpnn
        rng = np.random.default_rng(0)
        x = rng.standard_normal((2000, 300)).astype(np.float32)
        y = rng.integers(0, 10, 2000)
        a = rng.standard_normal((200, 400)).astype(np.float32)
        b = rng.standard_normal((400, 300)).astype(np.float32)
        want = a @ b
        def train():
            model = xpnn.Sequential([xpnn.Input((300,)), xpnn.Dense(256, "relu"),
                                     xpnn.Dense(10)], seed=3)
            model.compile(optimizer="adam",
                          loss=xpnn.losses.SparseCategoricalCrossentropy(from_logits=True))
            model.fit(x, y, epochs=4, batch_size=128, verbose=0)
            return model.get_weights()
        alone = train()
        stop, wrong, count = [], [], [0]
        def hammer():
            while not stop:
                wrong.append(not np.array_equal(a @ b, want))
                count[0] += 1
        threads = [threading.Thread(target=hammer) for _ in range(2)]
        for t in threads:
            t.start()
        together = train()
        stop.append(1)
        for t in threads:
            t.join()
        same = all(np.array_equal(p, q) for p, q in zip(alone, together))
        print(same, any(wrong), count[0] > 0)
        """
    )
    assert out.split() == ["True", "False", "True"]


def test_the_team_sleeps_and_wakes() -> None:
    """Idle for longer than it spins, every thread sleeps; the next product wakes them."""
    out = _run(
        """
        import time
        import numpy as np
        from xpnn.fused import cpu, team
        a = np.random.default_rng(0).standard_normal((500, 500))
        want = a @ a
        team.team()
        time.sleep(0.5)
        asleep = [cpu.TEAM[cpu.LINES + 8 * w + cpu.SLEEP] for w in range(team.width())]
        print(team.width() >= 1 and all(asleep), np.array_equal(a @ a, want))
        """
    )
    assert out.split() == ["True", "True"]


def test_the_team_rests_when_told() -> None:
    """``rest`` sends the threads to sleep at once (they would spin 20-30 ms); the next
    product wakes them and spinning resumes."""
    out = _run(
        """
        import time
        import numpy as np
        from xpnn.fused import cpu, team
        a = np.random.default_rng(0).standard_normal((500, 500))
        want = a @ a
        team.team()
        got = a @ a
        team.rest()
        time.sleep(0.005)
        asleep = [cpu.TEAM[cpu.LINES + 8 * w + cpu.SLEEP] for w in range(team.width())]
        again = a @ a
        print(team.width() >= 1 and all(asleep), cpu.TEAM[cpu.REST] == 0,
              np.array_equal(got, want) and np.array_equal(again, want))
        """
    )
    assert out.split() == ["True", "True", "True"]


def test_a_forked_child_uses_openblas_threads() -> None:
    """The team's threads do not come along into a child: the child's products run on
    OpenBLAS's own threads, and come out the same."""
    out = _run(
        """
        import os
        import numpy as np
        from xpnn.fused import cpu, team
        a = np.random.default_rng(0).standard_normal((700, 700))
        team.team()
        want = a @ a
        pid = os.fork()
        if pid == 0:
            ok = np.array_equal(a @ a, want) and team.width() == 0 and cpu.TEAM[cpu.WIDTH] == 0
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
        """
    )
    assert out.split() == ["0"]


def test_the_team_grows_with_openblas_threads() -> None:
    """Set to more threads than the team has, OpenBLAS splits a product into more jobs than it
    has threads: the call starts the threads it lacks (each job needs one: they wait on each
    other), and the product is the one OpenBLAS's own four threads make; the next pass cuts its
    own work in four."""
    out = _run(
        """
        import ctypes
        import numpy as np
        from xpnn.fused import blas, cpu, team
        lib = blas._LIB
        lib.scipy_openblas_set_num_threads64_.argtypes = [ctypes.c_int]
        a = np.random.default_rng(0).standard_normal((900, 900))
        lib.scipy_openblas_set_num_threads64_(4)
        want = a @ a  # OpenBLAS's own four threads
        lib.scipy_openblas_set_num_threads64_(2)
        team.team()
        first = team.width()
        lib.scipy_openblas_set_num_threads64_(4)
        got = a @ a
        grown = team.width()
        team.team()
        print(first, grown, cpu.TEAM[cpu.SPLIT], np.array_equal(got, want))
        """,
        env={"OPENBLAS_NUM_THREADS": "2"},
    )
    assert out.split() == ["1", "3", "4", "True"]


def _posts() -> int:
    """How many tasks thread 0 of the team has been given."""
    return int(cpu.TEAM[cpu.LINES + cpu.MAIL])


@pytest.mark.skipif(_threads() < 2, reason="one OpenBLAS thread: no team")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_and_gather_in_parts_equal_them_whole(dtype: Any) -> None:
    """The pass's own work, cut across the team, gives the values of one thread's."""
    words = team.team()
    rng = np.random.default_rng(2)
    n = cpu.ADAM_SPLIT * 3 + 5
    w, g, m, v = (rng.standard_normal(n).astype(dtype) for _ in range(4))
    v = np.abs(v)
    t, lr = np.array([3.0]), np.array([1e-3])
    hyper = np.array([cpu.ADAM, 0.9, 0.999, 1e-7])
    want = [a.copy() for a in (w, m, v)]
    cpu.adam_update(*want[:1], g, *want[1:], t, lr, 0.9, 0.999, 1e-7)
    before = _posts()
    cpu._team_adam(words, w, g, m, v, t, lr, hyper)
    assert _posts() == before + 1  # it was split
    assert all(np.array_equal(a, b) for a, b in zip((w, m, v), want))

    X = rng.standard_normal((5000, 300)).astype(dtype)
    for Y in (rng.integers(0, 10, 5000), rng.standard_normal((5000, 3)).astype(dtype)):
        order = rng.permutation(5000)
        x = np.empty((256, 300), dtype=dtype)
        y = np.empty((256, *Y.shape[1:]), dtype=Y.dtype)
        x0, y0 = np.empty_like(x), np.empty_like(y)
        before = _posts()
        assert cpu._team_gather(words, X, Y, order, 1000, x, y)  # every value finite
        assert _posts() == before + 1
        assert np.array_equal(x, X[order[1000:1256]]) and np.array_equal(y, Y[order[1000:1256]])
        assert cpu._team_gather(cpu.IDLE, X, Y, order, 1000, x0, y0)
        assert np.array_equal(x0, x) and np.array_equal(y0, y)
        # a NaN or infinity in any part's rows is found, by whichever thread copies it; one
        # outside the batch's rows is not the batch's
        for value in (np.nan, np.inf, -np.inf):
            for row, col in ((1000, 0), (1127, 150), (1128, 0), (1255, 299), (1256, 0)):
                bad = X.copy()
                bad[order[row], col] = value
                want = not 1000 <= row < 1256
                assert cpu._team_gather(words, bad, Y, order, 1000, x, y) is want
                assert cpu._team_gather(cpu.IDLE, bad, Y, order, 1000, x0, y0) is want
    # targets of another dtype than their buffer are converted on one thread, not copied as bytes
    Y32, y64 = rng.integers(0, 10, 5000).astype(np.int32), np.empty(256, dtype=np.int64)
    before = _posts()
    cpu._team_gather(words, X, Y32, order, 0, x, y64)
    assert _posts() == before and np.array_equal(y64, Y32[order[:256]])


def test_only_a_net_with_work_to_share_starts_the_team() -> None:
    """The seed net (10,431 parameters, batches of 51 KB) leaves OpenBLAS its own threads; a
    net past the thresholds starts the team."""
    out = _run(
        """
        import numpy as np
        import xpnn
        from xpnn.fused import blas, team
        rng = np.random.default_rng(0)
        def fit(features, units):
            x = rng.standard_normal((256, features)).astype(np.float32)
            y = (x[:, 0] > 0).astype(np.float32)
            model = xpnn.Sequential([xpnn.Input((features,)), xpnn.Dense(units, "sigmoid"),
                                     xpnn.Dense(15, "sigmoid"), xpnn.Dense(1, "sigmoid")])
            model.compile(optimizer="adam", loss="binary_crossentropy")
            model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        fit(400, 25)
        small = (team.width(), team._installed)
        fit(400, 100)
        print(small, team.width() >= 1, team._installed, blas.CONTROL["get_num_threads"]())
        """
    )
    small, started, installed, threads = out.rsplit(maxsplit=3)
    assert small == "(0, False)"
    if int(threads) >= 2:
        assert (started, installed) == ("True", "True")


@pytest.mark.skipif(_threads() < 2, reason="one OpenBLAS thread: no team")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_layers_work_in_parts_equals_it_whole(dtype: Any) -> None:
    """A big layer's bias and activation (rows across the team) and its ReLU backward with the
    bias gradient (columns across the team, each summed over all rows in order): the values
    of one thread's, to the bit."""
    words = team.team()
    rng = np.random.default_rng(3)
    rows, cols = 700, 300  # 210,000 values: past LAYER_SPLIT, and rows not a multiple of 16
    z0 = rng.standard_normal((rows, cols)).astype(dtype)
    b = rng.standard_normal(cols).astype(dtype)
    for code in (cpu.LINEAR, cpu.RELU, cpu.SIGMOID, cpu.SOFTMAX):
        for bias in (b, b[:0]):
            if code == cpu.LINEAR and not bias.size:
                continue  # nothing to do, nothing posted
            want_z, want_a = z0.copy(), np.empty_like(z0)
            cpu._bias_activate(want_z, bias, code, want_a)
            z, a = z0.copy(), np.empty_like(z0)
            before = _posts()
            cpu._team_activate(words, z, bias, code, a if code != cpu.LINEAR else z)
            assert _posts() == before + 1
            assert np.array_equal(z, want_z)
            assert np.array_equal(a if code != cpu.LINEAR else z, want_a if code else want_z)
    d0 = rng.standard_normal((rows, cols)).astype(dtype)
    want_d, want_sums = d0.copy(), np.empty(cols, dtype=dtype)
    cpu.relu_backward_sums(want_d, z0, want_sums)
    d, sums = d0.copy(), np.full(cols, np.nan, dtype=dtype)
    before = _posts()
    cpu._team_relu_sums(words, d, z0, sums)
    assert _posts() == before + 1
    assert np.array_equal(d, want_d) and np.array_equal(sums, want_sums)


@pytest.mark.skipif(_threads() < 2, reason="one OpenBLAS thread: no team")
def test_a_mid_sized_layer_splits_its_activation_only() -> None:
    """An mnist-sized layer (128 x 256: past ACTIVATE_SPLIT, short of LAYER_SPLIT) has its
    bias and activation cut in rows across the team, its ReLU backward on one thread (cut in
    columns, each thread would read every row); the values of one thread's either way."""
    words = team.team()
    rng = np.random.default_rng(4)
    z0 = rng.standard_normal((128, 256)).astype(np.float32)
    b = rng.standard_normal(256).astype(np.float32)
    assert cpu.ACTIVATE_SPLIT <= z0.size < cpu.LAYER_SPLIT
    want_z, want_a = z0.copy(), np.empty_like(z0)
    cpu._bias_activate(want_z, b, cpu.RELU, want_a)
    z, a = z0.copy(), np.empty_like(z0)
    before = _posts()
    cpu._team_activate(words, z, b, cpu.RELU, a)
    assert _posts() == before + 1
    assert np.array_equal(z, want_z) and np.array_equal(a, want_a)
    d, sums = rng.standard_normal((128, 256)).astype(np.float32), np.empty(256, np.float32)
    before = _posts()
    cpu._team_relu_sums(words, d, a, sums)
    assert _posts() == before
