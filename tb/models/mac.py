"""Golden model of ``qtpe.hdl.pe_mac.MacPE``, cycle-accurate in its outputs."""

import numpy as np

from qtpe.hdl.config import PEConfig
from qtpe.hdl.formats import Overflow
from qtpe.hdl.kind_mac import MacConfig

from .formats import check_operands, fit, random_operands

__all__ = ["MacModel", "mac_stream", "dot"]


class MacModel:
    """Cycle-by-cycle state of the PE's accumulator (what ``acc`` holds after each edge).

    ``last_sum``: the exact sum the last ``step`` gave the accumulator before wrapping or
    saturating it (``None`` when the step did not add); the testbench's coverage reads it.
    """

    def __init__(self, cfg: MacConfig):
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        self.acc = np.int64(0)
        self.last_sum = None

    def step(self, valid: bool, clear: bool, weight, act) -> np.int64 | None:
        """Advance one input cycle; return the new accumulator value if the input was accepted.

        ``weight``/``act`` hold ``lanes`` values each (a scalar when ``lanes`` is 1).
        """
        self.last_sum = None
        if valid:
            w = check_operands(weight, self.cfg.weight, "weight")
            a = check_operands(act, self.cfg.activation, "activation")
            base = np.int64(0) if clear else self.acc
            self.last_sum = int(base + np.sum(w * a, dtype=np.int64))
            self.acc = fit(self.last_sum, self.cfg.acc)[()]
            return self.acc
        if clear:
            self.acc = np.int64(0)
        return None

    def hold(self, n: int, weight, act) -> np.int64:
        """``n`` accepted inputs of the same operands, no clear, at once: exact, since the
        sum then moves one way only (wrapping is modular; saturating once at the end equals
        saturating after every step). ``last_sum`` is the exact sum before fitting."""
        w = check_operands(weight, self.cfg.weight, "weight")
        a = check_operands(act, self.cfg.activation, "activation")
        self.last_sum = int(self.acc) + int(n) * int(np.sum(w * a, dtype=np.int64))
        value = max(min(self.last_sum, self.cfg.acc.max), self.cfg.acc.min) \
            if self.cfg.acc.overflow is Overflow.SATURATE else \
            self.last_sum & ((1 << self.cfg.acc.bits) - 1)
        self.acc = fit(np.int64(value), self.cfg.acc)[()]
        return self.acc

    @staticmethod
    def random_inputs(cfg: MacConfig, rng: np.random.Generator, n: int) -> dict:
        """Random port values for ``n`` cycles (a quarter of them corner values)."""
        return {"weight": random_operands(rng, cfg.weight, (n, cfg.lanes)),
                "act": random_operands(rng, cfg.activation, (n, cfg.lanes))}


def mac_stream(cfg: PEConfig, weight, act, valid, clear) -> np.ndarray:
    """Accumulator values the PE shows, one per accepted input, in order, starting from reset.

    Inputs are per-cycle: ``valid``/``clear`` booleans of length n, ``weight``/``act`` of shape
    (n,) for one lane or (n, lanes). Each accepted input gives
    ``fit((clear ? 0 : acc) + sum_i w_i*a_i)``; a cycle with ``clear`` and no ``valid`` zeroes
    the accumulator. Operands on cycles without ``valid`` are ignored.
    """
    valid = np.asarray(valid, dtype=bool)
    clear = np.asarray(clear, dtype=bool)
    w = np.asarray(weight, dtype=np.int64).reshape(valid.shape[0], -1)
    a = np.asarray(act, dtype=np.int64).reshape(valid.shape[0], -1)
    if not (w.shape == a.shape == (valid.shape[0], cfg.lanes) and clear.shape == valid.shape):
        raise ValueError(f"weight and act must be (n, {cfg.lanes}), valid and clear (n,)")
    w = check_operands(np.where(valid[:, None], w, 0), cfg.weight, "weight")
    a = check_operands(np.where(valid[:, None], a, 0), cfg.activation, "activation")
    model = MacModel(cfg)
    outs = [model.step(v, c, x, y) for v, c, x, y in zip(valid, clear, w, a, strict=True)]
    return np.array([o for o in outs if o is not None], dtype=np.int64)


def dot(cfg: PEConfig, weight, act) -> np.int64:
    """One dot product accumulated from zero in input order, with the PE's overflow policy.

    ``weight``/``act``: (n,) or (n, lanes), one row per cycle.
    """
    n = np.asarray(weight).shape[0]
    valid = np.ones(n, dtype=bool)
    clear = np.zeros(n, dtype=bool)
    clear[:1] = True
    return mac_stream(cfg, weight, act, valid, clear)[-1]
