"""The benchmark workloads and their data, shared by the pytest benchmarks, the Keras worker
processes and the GPU script (a plain module, so that all three can import it).

| name  | data          | network                       | loss                 | batch |
| seed  | 1,000 x 400   | 25-15-1 sigmoid               | binary cross-entropy | 32    |
| mnist | 60,000 x 784  | 256-128-10 relu, linear out   | sparse CE, logits    | 128   |
| wide  | 16,384 x 784  | 2048-2048-10 relu, linear out | sparse CE, logits    | 1,024 |
| large | 65,536 x 4096 | 4096-4096-10 relu, linear out | sparse CE, logits    | 8,192 |
(large is for the GPU only; sparse CE = sparse categorical cross-entropy)

The data are seeded synthetic float32 arrays of those shapes: the time of an epoch does not
depend on the values (no data-dependent branches, and standard normals hold no denormals).
``small=True`` shrinks a data set to three full batches and a short one, for CI's smoke run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEED = 0


@dataclass(frozen=True)
class Workload:
    name: str
    samples: int
    features: int
    hidden: tuple[int, ...]
    activation: str  # of the hidden layers; the output is sigmoid (binary) or linear (logits)
    outputs: int
    batch: int

    @property
    def binary(self) -> bool:
        return self.outputs == 1

    @property
    def units(self) -> list[int]:
        return [self.features, *self.hidden, self.outputs]

    def describe(self) -> str:
        return (
            f"{self.samples:,} x {self.features}, {'-'.join(map(str, self.units[1:]))}, "
            f"batch {self.batch:,}"
        )

    def samples_for(self, small: bool) -> int:
        return min(self.samples, 3 * self.batch + 5) if small else self.samples

    def data(self, small: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``x`` float32 ``(n, features)``; ``y`` int64 labels ``(n,)`` (0/1 when binary)."""
        n = self.samples_for(small)
        rng = np.random.default_rng(SEED)
        x = rng.standard_normal((n, self.features), dtype=np.float32)
        if self.binary:
            y = (x[:, 0] > 0).astype(np.int64)  # learnable, so the loss moves as it should
        else:
            y = rng.integers(0, self.outputs, n)
        return x, y

    def batch_sizes(self, n: int) -> list[int]:
        """The size of every batch of one epoch over ``n`` samples, the short last one too."""
        return [min(self.batch, n - start) for start in range(0, n, self.batch)]

    def matmul_flops(self, n: int) -> float:
        """FLOPs of one epoch's matrix products over ``n`` samples: forward ``A @ W`` and
        ``dW = A.T @ dZ`` for every layer, ``dA = dZ @ W.T`` for all but the first."""
        u = self.units
        layers = list(zip(u, u[1:]))
        per_sample = 2 * sum(2 * a * b for a, b in layers)  # forward and dW
        per_sample += sum(2 * a * b for a, b in layers[1:])  # dA, not for the input layer
        return float(per_sample) * n


WORKLOADS = {
    "seed": Workload("seed", 1_000, 400, (25, 15), "sigmoid", 1, 32),
    "mnist": Workload("mnist", 60_000, 784, (256, 128), "relu", 10, 128),
    "wide": Workload("wide", 16_384, 784, (2048, 2048), "relu", 10, 1_024),
}
# GPU only: big enough that the card, not the launch overhead, sets the pace
LARGE = Workload("large", 65_536, 4096, (4096, 4096), "relu", 10, 8_192)
