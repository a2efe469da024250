"""The benchmark workloads, shared by the in-process benchmarks and the peer workers.

| name  | data          | network                      | loss                        | batch |
| seed  | 1,000 x 400   | 25-15-1 sigmoid              | binary cross-entropy        | 32    |
| mnist | 60,000 x 784  | 256-128-10 relu, linear out  | sparse categorical CE, logits | 128 |
| wide  | 16,384 x 784  | 2048-2048-10 relu, linear out | sparse categorical CE, logits | 1,024 |

Data are seeded synthetic float32 arrays of those shapes (the time of an epoch does not depend
on the values). ``small=True`` shrinks every data set to a few batches for CI's smoke run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Workload:
    name: str
    samples: int
    features: int
    hidden: tuple[int, ...]
    activation: str
    outputs: int
    batch: int

    @property
    def binary(self) -> bool:
        return self.outputs == 1

    @property
    def units(self) -> list[int]:
        return [self.features, *self.hidden, self.outputs]

    def data(self, small: bool = False) -> tuple[np.ndarray, np.ndarray]:
        n = min(self.samples, 3 * self.batch + 5) if small else self.samples
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, self.features), dtype=np.float32)
        if self.binary:
            y = (x[:, 0] > 0).astype(np.int64)
        else:
            y = rng.integers(0, self.outputs, n)
        return x, y

    def matmul_flops(self, samples: int) -> float:
        """FLOPs of one epoch's products: forward, dW for every layer, dX for all but the first."""
        u = self.units
        per_sample = sum(2 * a * b for a, b in zip(u, u[1:]))  # forward
        per_sample += sum(2 * a * b for a, b in zip(u, u[1:]))  # dW
        per_sample += sum(2 * a * b for a, b in zip(u[1:-1], u[2:]))  # dX, not the first
        return per_sample * samples


WORKLOADS = {
    "seed": Workload("seed", 1_000, 400, (25, 15), "sigmoid", 1, 32),
    "mnist": Workload("mnist", 60_000, 784, (256, 128), "relu", 10, 128),
    "wide": Workload("wide", 16_384, 784, (2048, 2048), "relu", 10, 1_024),
}
# for the GPU only: big enough that the card, not the launch overhead, sets the pace
LARGE = Workload("large", 65_536, 4096, (4096, 4096), "relu", 10, 8_192)
