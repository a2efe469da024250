"""The training step and the epoch loop: workspaces, the step, shuffling, logs.

The data are on the device for the whole ``fit`` (one upload). Each batch is gathered there into
a ``Workspace``, the step's buffers at one batch size, allocated once and kept between fits
while the model, optimizer and loss stay the same. The step adds the batch's loss (weighted by
its size, as Keras averages) and metric sums to ``totals`` on the device, in float64, so an
epoch's figures are exact however many samples it has; they are read back once per epoch (and
when the progress bar refreshes).

The step is a plain function of its workspace; with ``jit_compile=True`` graphs.py records it
once per batch size and replays it. Nothing here knows how.
"""

from __future__ import annotations

import contextlib
import math
import threading
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from . import distributed, fused, graphs, inputs
from .backend import to_device, to_numpy
from .callbacks import wants_batch_hooks
from .layers import chain

__all__ = ["Workspace", "make_train_step", "Trainer", "evaluate_arrays", "predict_arrays"]


class Workspace:
    """The buffers of one training step at one batch size."""

    def __init__(
        self,
        model: Any,
        batch: int,
        y_tail: tuple[int, ...],
        y_dtype: Any,
        weighted: bool,
        global_batch: int | None = None,
    ) -> None:
        xp, dtype = model._xp, model.dtype
        self.batch = batch
        # data-parallel: this rank's share of a global batch, whose gradient counts for that
        # fraction of the batch's (distributed.py)
        self.scale = 1.0 if global_batch is None else batch / global_batch
        self.x = xp.empty((batch, model.input_dim), dtype=dtype)
        self.y = xp.empty((batch, *y_tail), dtype=y_dtype)
        self.w = xp.empty(batch, dtype=dtype) if weighted else None  # sample weights
        self.delta = xp.empty((batch, model.output_units), dtype=dtype)  # dL/d(output)
        # the first layer's input gradient is never needed
        self.layers = [
            layer.workspace(batch, xp, dtype, need_dx=i > 0) for i, layer in enumerate(model.layers)
        ]
        self.chain = chain(model.layers, self.layers, training=True)
        # gather, forward, loss and backward in one compiled call, where the chain has one for
        # this loss (unweighted: the weighted loss is the array code's)
        kernel = None if weighted else model.loss.fused_kernel(model.layers[-1].activation)
        self.train = None if kernel is None else self.chain.trainer(kernel)


def metric_slices(metrics: list[Any]) -> list[slice]:
    """Where each metric's accumulators sit in the sums: after the loss, in order."""
    slices, start = [], 1
    for m in metrics:
        slices.append(slice(start, start + m.size))
        start += m.size
    return slices


def fused_metrics(model: Any) -> np.ndarray | None:
    """The rows ``[code, index, argument]`` by which a compiled training pass adds up every
    metric of ``model`` itself (Metric.fused_kernel, ``index``: its sums in the totals); None
    when some metric has no such form (the step updates them all)."""
    forms = [m.fused_kernel(model.output_units) for m in model.metrics]
    if any(form is None for form in forms):
        return None
    rows = [(code, s.start, arg) for (code, arg), s in zip(forms, metric_slices(model.metrics))]
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def penalized(layers: list[Any]) -> list[tuple[Any, int]]:
    """The layers that add a penalty (regularization) to the loss, with their index."""
    return [(layer, i) for i, layer in enumerate(layers) if getattr(layer, "regularized", False)]


def make_train_step(
    model: Any, totals: Any, dist: Any = None, metric_rows: np.ndarray | None = None
) -> Callable[[Workspace], None]:
    """The training step of ``model`` as a function of a workspace: forward, loss, backward,
    (with ``dist``: the gradient summed over the ranks,) update, sums. Everything in it is
    device work on fixed buffers (recordable: graphs.py). ``metric_rows``: fused_metrics(model),
    the metrics a compiled pass adds up itself (None: the step updates them)."""
    layers, loss, metrics, optimizer = model.layers, model.loss, model.metrics, model.optimizer
    params, grads = model._params, model._grads
    output_activation = layers[-1].activation  # None when the last layer does not end in one
    accumulators = [totals[s] for s in metric_slices(metrics)]
    weighted = model._metric_weighted
    penalties = penalized(layers)
    xp = model._xp
    track_finite = xp is not np  # see Trainer.run: the host checks the loss directly
    # what a compiled pass gets when the optimizer's step is not one it can make (the caller
    # makes it): arrays of the types of a fused update's, so that one compiled form serves both
    scalar, hyper = np.zeros(1), np.array([fused.cpu.NO_UPDATE, 0.0, 0.0, 0.0])
    no_update = (params, grads, params, grads, scalar, scalar, hyper) if xp is np else None
    pass_metrics = np.zeros((0, 3)) if metric_rows is None else metric_rows

    def step(ws: Workspace, rows: tuple[Any, Any, Any, int, int] | None = None) -> int | None:
        """One step on the batch in ``ws``; or, with ``rows = (X, Y, order, start, steps)`` and
        a compiled pass (``ws.train``), ``steps`` steps on the batches that pass gathers itself
        (several only when it makes the optimizer's update too), returning the first after
        which the loss sum is not finite (-1: none)."""
        if ws.batch == 0:  # an empty share of a global batch: join the sum with zeros
            grads.fill(0)
            dist.allreduce(grads)
            optimizer.step(params, grads)
            return None
        update = bad = None
        if rows is not None:  # gather, forward, loss, backward (and update) in one call
            update = optimizer.fused_update(params, grads) if dist is None else None
            bufs = (ws.x, ws.y, ws.delta)
            bad, a = ws.train(*rows, bufs, update or no_update, totals, pass_metrics)
        else:
            a = ws.chain.forward(ws.x)  # (batch, inputs) -> (batch, units)
        if rows is None or metric_rows is None:
            for m, acc, by_weight in zip(metrics, accumulators, weighted):
                m.update(acc, ws.y, a, ws.w if by_weight else None)
        if rows is None:
            # dL/dz of the output layer in one step where the pair allows (see losses.py);
            # otherwise dL/da, chained through the output layer's own backward.
            value, delta = loss.value_and_delta(ws.y, a, output_activation, ws.delta, ws.w)
            for layer, i in penalties:  # regularization, added to the loss as Keras adds it
                value = value + layer.penalty(ws.layers[i])
            if delta is not None:
                ws.chain.backward(delta, shortcut=True)
            else:
                ws.chain.backward(loss.gradient(ws.y, a, ws.delta, ws.w), shortcut=False)
            totals[0] += value * ws.batch
        if update is None:
            if dist is not None:  # this share's part of the batch's gradient, summed over ranks
                xp.multiply(grads, ws.scale, out=grads)
                dist.allreduce(grads)
            optimizer.step(params, grads)
        if track_finite:  # steps whose running loss is still finite: the first bad step
            totals[-1] += xp.isfinite(totals[0])
        return bad

    return step


def _cache_key(
    model: Any, y_tail: tuple[int, ...], y_dtype: Any, weighted: bool, dist: Any = None
) -> tuple[Any, tuple[Any, ...]]:
    """What a trainer's buffers and recorded graphs depend on: the arrays they point at (by
    identity; the key holds them, so their ids cannot be reused while it lives) and every
    setting a recorded step bakes in (hyperparameters, activations, kernel forms)."""
    opt = model.optimizer
    refs = (
        model._params,
        model._state,
        opt,
        model.loss,
        opt._t,
        *opt.state.values(),
        *model.layers,
        *(getattr(layer, "activation", None) for layer in model.layers),
    )
    settings = (
        repr(model.get_config()),
        opt.signature(),
        repr(sorted(model.loss.get_config().items())),
        tuple(repr(m.get_config()) for m in model.metrics),
        tuple(model._metric_weighted),
        y_tail,
        weighted,
        id(dist),
        np.dtype(str(y_dtype)).str,
        model.jit_compile,
    )
    return (tuple(id(r) for r in refs), settings), refs


def _refuse_batch(model: Any, X: Any, epoch: int, step: int) -> None:
    """A compiled pass found a NaN or infinity in the batch of ``step``: the error fit raises
    for one in x (inputs.scan_x names its first), or, where x no longer holds one (changed
    from another thread meanwhile), one that names the step. The next fit searches x whole
    before its first step."""
    model._scanned = None
    inputs.scan_x(X, X, "fit()")
    raise ValueError(
        f"fit() found a NaN or infinity in the batch of step {step} of epoch {epoch + 1} (x "
        "changed during training?); x must hold finite values only."
    )


class Trainer:
    """The workspaces (per batch size), the epoch sums and the step, kept from one fit to the
    next while what they point at stays the same (``model._trainer``)."""

    def __init__(
        self, model: Any, y_tail: tuple[int, ...], y_dtype: Any, weighted: bool, dist: Any
    ) -> None:
        self.key, self._refs = _cache_key(model, y_tail, y_dtype, weighted, dist)
        self.model = model
        self.dist = dist
        self.y_layout = (y_tail, y_dtype, weighted)
        xp = model._xp
        # loss, metrics, and on device backends the count of steps with a finite loss
        size = 1 + sum(m.size for m in model.metrics) + (xp is not np)
        self.totals = xp.zeros(size, dtype=np.float64)
        # the metrics a compiled pass adds up itself, when it can add up all of them
        self.metric_rows = fused_metrics(model)
        step = make_train_step(model, self.totals, dist, self.metric_rows)
        replay = model.jit_compile and graphs.supported(xp)  # on NumPy it changes nothing
        self.step: Any = graphs.Replayed(step, xp) if replay else step
        self.spaces: dict[tuple[int, int | None], Workspace] = {}

    @classmethod
    def for_model(
        cls,
        model: Any,
        y_tail: tuple[int, ...],
        y_dtype: Any,
        weighted: bool = False,
        dist: Any = None,
    ) -> Trainer:
        cached = model._trainer
        key = _cache_key(model, y_tail, y_dtype, weighted, dist)[0]
        if cached is None or cached.key != key:
            cached = model._trainer = cls(model, y_tail, y_dtype, weighted, dist)
        return cached

    def workspace(self, batch: int, global_batch: int | None = None) -> Workspace:
        ws = self.spaces.get((batch, global_batch))
        if ws is None:
            ws = Workspace(self.model, batch, *self.y_layout, global_batch=global_batch)
            self.spaces[(batch, global_batch)] = ws
        return ws

    def stream(self) -> Any:
        return (
            self.step.stream()
            if isinstance(self.step, graphs.Replayed)
            else contextlib.nullcontext()
        )

    def run(
        self,
        X: Any,
        Y: Any,
        W: Any,
        validation: tuple[Any, Any, Any] | None,
        batch_size: int,
        epochs: range,
        shuffle: bool,
        callbacks: list[Any],
        progress: Any,
        scan: Callable[[], None] | None = None,
    ) -> dict[str, float]:
        """The epoch loop: shuffle, gather each batch (this rank's share of it when
        data-parallel), step, log, call back. Returns the last epoch's logs.

        ``scan``: X's search for NaN and infinity (inputs.scan_x), where fit left it to the
        compiled pass: that pass checks every batch as it gathers it and stops before a step
        on one with a NaN or infinity (the steps before it were made), and ``scan`` then
        raises the error fit would have raised at the start. Any batch the pass does not
        gather (a workspace without one) has X searched whole first.

        Batch hooks (``on_train_batch_begin/end``) are called only when some callback has
        them: their running logs are a copy home per step (and, data-parallel, a sum over
        the ranks per step), paid only by those who ask."""
        model, totals, step, dist = self.model, self.totals, self.step, self.dist
        n = X.shape[0]
        steps = math.ceil(n / batch_size)
        on_host = model._xp is np
        batch_hooks = wants_batch_hooks(callbacks)
        # NumPy's default mode buffers the output of a take with out=; "clip" (the indices are
        # a permutation, always in range) writes straight into it. CuPy's take has no mode.
        take_mode = {"mode": "clip"} if type(X).__module__ == "numpy" else {}
        # a workspace's compiled pass (ws.train) gathers shuffled NumPy batches itself
        compiled = shuffle and not isinstance(step, graphs.Replayed)
        compiled = compiled and type(X) is np.ndarray and type(Y) is np.ndarray and W is None
        if scan is not None and not (compiled and dist is None):
            scan()
            scan = None
        warned = False
        logs: dict[str, float] = {}
        with self.stream():
            for epoch in epochs:
                for cb in callbacks:
                    cb.on_epoch_begin(epoch, {})
                progress.epoch_begin(epoch)
                # one small host-to-device copy per epoch: the permutation, drawn on the host
                # so that every backend (and every rank) shuffles identically
                order = to_device(model._rng.permutation(n)) if shuffle else None
                totals.fill(0)
                seen = k = 0
                # steps per call of the compiled pass: an epoch's full batches in one when
                # nothing happens between steps (no batch hooks or ranks, metrics and an
                # optimizer the pass updates itself), as few calls as the progress bar allows
                run = 1
                if compiled and dist is None and not batch_hooks and self.metric_rows is not None:
                    if model.optimizer.fused_update(model._params, model._grads) is not None:
                        run = progress.steps_per_update()
                while k < steps:
                    if batch_hooks:
                        for cb in callbacks:
                            cb.on_train_batch_begin(k, {})
                    start = k * batch_size
                    size = min(batch_size, n - start)
                    if dist is None:
                        ws = self.workspace(size)
                    else:  # this rank's contiguous share of the global batch
                        lo, hi = distributed.shares(size, dist.size)[dist.rank]
                        ws = self.workspace(hi - lo, size)
                        start += lo
                    count, bad = 1, None
                    if compiled and ws.train is not None:
                        if size == batch_size:
                            count = max(1, min(run, n // batch_size - k))
                        bad = step(ws, (X, Y, order, start, count))
                        if bad is not None and bad <= fused.cpu.NOT_FINITE:
                            _refuse_batch(model, X, epoch, k + fused.cpu.NOT_FINITE - bad)
                    else:
                        if scan is not None:
                            scan()
                            scan = None
                        if ws.batch:
                            _gather(ws, X, Y, W, order, start, take_mode)
                        step(ws)
                    seen += size * count
                    if on_host and not warned and dist is None:
                        if bad is None:
                            bad = -1 if math.isfinite(totals[0]) else 0
                        if bad >= 0:
                            warned = _warn_not_finite(epoch, k + bad)
                    k += count
                    show = progress.wants_logs()
                    running = self.running_logs(seen) if batch_hooks or show else None
                    progress.step(running if show else None, count)
                    if batch_hooks:
                        for cb in callbacks:
                            cb.on_train_batch_end(k - 1, running)
                        if self._stop_agreed():
                            break
                if dist is not None:  # the epoch's sums over every rank: one reduction
                    dist.allreduce(totals)
                logs = self.logs(seen)
                if not warned and not math.isfinite(logs["loss"]):
                    step_k = int(to_numpy(totals[-1])) if not on_host and dist is None else None
                    warned = _warn_not_finite(epoch, step_k)
                if validation is not None:
                    val = evaluate_arrays(model, *validation, batch_size=batch_size, dist=dist)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                progress.epoch_end(epoch, logs)
                for cb in callbacks:
                    cb.on_epoch_end(epoch, logs)
                if self._stop_agreed():
                    break
        return logs

    def logs(self, seen: int) -> dict[str, float]:
        return _logs(self.model, self.totals, seen)

    def running_logs(self, seen: int) -> dict[str, float]:
        """The epoch's figures so far (data-parallel: over every rank's share)."""
        if self.dist is None:
            return self.logs(seen)
        partial = to_numpy(self.totals).copy()
        self.dist.allreduce(partial)
        return _logs(self.model, partial, seen)

    def _stop_agreed(self) -> bool:
        """``model.stop_training``, agreed by every rank (any rank's stop stops all)."""
        model = self.model
        if self.dist is not None:
            flag = np.array([float(bool(model.stop_training))])
            self.dist.allreduce(flag)
            model.stop_training = bool(flag[0])
        return model.stop_training


def _gather(
    ws: Workspace, X: Any, Y: Any, W: Any, order: Any, start: int, mode: dict[str, str]
) -> None:
    """Rows ``start .. start + ws.batch`` (of the shuffled order) into the workspace."""
    if order is None:
        ws.x[...] = X[start : start + ws.batch]
        ws.y[...] = Y[start : start + ws.batch]
        if W is not None:
            ws.w[...] = W[start : start + ws.batch]
    else:
        idx = order[start : start + ws.batch]
        X.take(idx, axis=0, out=ws.x, **mode)
        Y.take(idx, axis=0, out=ws.y, **mode)
        if W is not None:
            W.take(idx, axis=0, out=ws.w, **mode)


def _warn_not_finite(epoch: int, step: int | None) -> bool:
    where = f"epoch {epoch + 1}" + (f", step {step + 1}" if step is not None else "")
    warnings.warn(
        f"The training loss became NaN or infinite at {where}: training diverged (try a "
        "smaller learning rate, or scale the inputs); pass "
        "callbacks=[xpnn.callbacks.TerminateOnNaN()] to stop at once.",
        RuntimeWarning,
        stacklevel=4,
    )
    return True


def _logs(model: Any, totals: Any, seen: int) -> dict[str, float]:
    values = to_numpy(totals)  # the one copy home
    logs = {"loss": float(values[0] / seen)}
    for name, m, part in zip(model._metric_names, model.metrics, metric_slices(model.metrics)):
        logs[name] = m.result(values[part])
    return logs


def evaluate_arrays(
    model: Any, X: Any, Y: Any, W: Any = None, batch_size: int = 32, dist: Any = None
) -> dict[str, float]:
    """Loss and metrics of device arrays, batch by batch, summed on the device in float64.
    The loss comes from the same function as the training step's (``value_and_delta``), and
    the forward runs the same code, so the two agree to the last digit on the same weights.
    With ``dist``, each rank takes its share of the rows and the sums are added up."""
    n_all = X.shape[0]
    if dist is not None:
        lo, hi = distributed.shares(n_all, dist.size)[dist.rank]
        X, Y, W = X[lo:hi], Y[lo:hi], None if W is None else W[lo:hi]
    xp, layers = model._xp, model.layers
    totals = xp.zeros(1 + sum(m.size for m in model.metrics), dtype=np.float64)
    accumulators = [totals[s] for s in metric_slices(model.metrics)]
    activation = layers[-1].activation
    penalties = penalized(layers)
    starts = _batch_starts(X.shape[0], batch_size, cpu=False)  # the batches as given
    for start, a, spaces in _inference_batches(model, X, starts):
        b = a.shape[0]
        yb = Y[start : start + b]
        wb = None if W is None else W[start : start + b]
        value, _ = model.loss.value_and_delta(yb, a, activation, xp.empty_like(a), wb)
        for layer, i in penalties:
            value = value + layer.penalty(spaces[i])
        totals[0] += value * b
        for m, acc, by_weight in zip(model.metrics, accumulators, model._metric_weighted):
            m.update(acc, yb, a, wb if by_weight else None)
    if dist is not None:
        dist.allreduce(totals)
    return _logs(model, totals, n_all)


# On the CPU, predict runs batches bigger than this in blocks of about this many rows (3/4
# to 3/2 of it): the layers' buffers for a block are reused block after block and stay in
# cache, where one batch of all the rows allocates (and faults in) every layer's output for
# all of them and streams each through memory. mnist's 60,000 rows in one batch: 1.24x JAX
# jit's time; in blocks of 1,024: 0.82x (benchmarks/README.md). Outputs agree with one batch's
# to within rounding, as between any two batch sizes: OpenBLAS may compute a row of a product
# in another order depending on where it falls. So the blocks are even (none of a few rows,
# where products take other kernels) and start at multiples of 16 rows (only the last block
# has a remainder, as one batch has).
CPU_BLOCK_ROWS = 1024


def _batch_starts(n: int, batch_size: int, cpu: bool) -> list[int]:
    """Where each batch of ``n`` rows starts: every ``batch_size`` rows, or on the CPU
    (``cpu``) blocks of about ``CPU_BLOCK_ROWS`` when ``batch_size`` is bigger."""
    if not cpu or batch_size <= CPU_BLOCK_ROWS or n <= CPU_BLOCK_ROWS:
        return list(range(0, n, batch_size))
    blocks = round(n / CPU_BLOCK_ROWS)  # of about 750 to 1,535 rows
    return [16 * (i * n // (16 * blocks)) for i in range(blocks)]


def predict_arrays(
    model: Any, X: Any, batch_size: int, scan: Callable[[], None] | None = None
) -> Any:
    """The model's outputs for the device array ``X``, batch by batch into one array of the
    same backend (on the CPU, in blocks of about ``CPU_BLOCK_ROWS`` rows when every layer is
    ``rowwise``).

    ``scan``: the search of ``X`` for NaN and infinity (``inputs.scan_x``) where the caller
    left it to this function, run before the first batch, or, where the layers are a compiled
    Dense stack, only when a batch's first product (``x @ W + b``) is not finite: a NaN or
    infinity in a row of ``x`` makes every value of that row of the product NaN or infinite
    (NaN times anything, infinity times zero, and infinity plus its opposite are NaN), so a
    finite product clears its rows without a second pass over them."""
    cpu = model._xp is np and all(layer.rowwise for layer in model.layers)
    n = X.shape[0]
    starts = _batch_starts(n, batch_size, cpu)
    out = model._xp.empty((n, model.output_units), dtype=model.dtype)
    for start, stop, ch in _inference_chains(model, n, starts):
        first = getattr(ch, "first_product", None)
        if scan is not None and first is None:
            scan()
            scan = None
        a = ch.forward(X[start:stop])
        if scan is not None and not fused.cpu.all_finite(first):
            scan()  # raises for a NaN or infinity in X; else the product overflowed: go on
            scan = None
        out[start:stop] = a
    return out


def _inference_batches(model: Any, X: Any, starts: list[int]) -> Any:
    """``(start, output, layer workspaces)`` of each batch of ``X`` (from each of ``starts``
    to the next), forward in inference mode."""
    for start, stop, ch in _inference_chains(model, X.shape[0], starts):
        yield start, ch.forward(X[start:stop]), ch.spaces


def _inference_chains(model: Any, n: int, starts: list[int]) -> Any:
    """``(start, stop, chain)`` of each batch of ``n`` rows (from each of ``starts`` to the
    next): one inference chain per batch size, kept with the model for the next call where
    small (``_chain_for``)."""
    chains: dict[int, Any] = {}
    held: list[Any] = []
    try:
        for start, stop in zip(starts, [*starts[1:], n]):
            b = stop - start
            if b not in chains:
                chains[b] = _chain_for(model, b, held)
            yield start, stop, chains[b]
    finally:
        _release(held)


# The inference chains of a model of rowwise layers whose buffers hold up to this many values
# are kept for its next predict or evaluate (building one is most of the Python time of
# predicting a thousand rows; a big one takes long enough to run that building it is
# nothing): model -> {rows: [key, chain, in use, refs]}, the key naming what the chain points
# at. A chain in use by one call is not lent to another (threads), and a released one lets go
# of its input.
KEEP_VALUES = 1 << 20
_KEPT: weakref.WeakKeyDictionary[Any, dict[int, list[Any]]] = weakref.WeakKeyDictionary()
_KEPT_LOCK = threading.Lock()


def _chain_for(model: Any, b: int, held: list[Any]) -> Any:
    """The inference chain of ``model`` for batches of ``b`` rows: the kept one while what it
    points at is unchanged and no other call is using it (noted in ``held``), else new."""
    layers = model.layers
    keep = (
        all(layer.rowwise for layer in layers)
        and b * sum(layer.output_dim(layer.input_dim) for layer in layers) <= KEEP_VALUES
    )
    if keep:
        refs = (model._params, model._state, *layers, *(layer.activation for layer in layers))
        key = (
            tuple(map(id, refs)),  # the entry holds refs: their ids cannot be reused meanwhile
            tuple((getattr(layer, "form", None), layer.regularized) for layer in layers),
            fused.cpu.STACK_ENABLED,
        )
        with _KEPT_LOCK:
            kept = _KEPT.setdefault(model, {})
            entry = kept.get(b)
            if entry is not None and entry[0] == key and not entry[2]:
                entry[2] = True
                held.append(entry)
                return entry[1]
    spaces = [layer.workspace(b, model._xp, model.dtype, False) for layer in layers]
    made = chain(layers, spaces, training=False)
    if keep:
        entry = [key, made, True, refs]
        with _KEPT_LOCK:
            kept[b] = entry  # in place of one that another call is using, if any
            if len(kept) > 4:  # the oldest goes
                del kept[next(iter(kept))]
        held.append(entry)
    return made


def _release(held: list[Any]) -> None:
    """Hand kept chains back after a call, without a reference to its input."""
    with _KEPT_LOCK:
        for entry in held:
            for ws in entry[1].spaces:  # (an inference chain's forward sets them afresh)
                if hasattr(ws, "x"):
                    ws.x = None
            entry[2] = False
