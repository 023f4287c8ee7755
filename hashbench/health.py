"""Is a run degenerate? Diagnostics of its database codes and loss, stored in run.json as ``health``.

  constant_bits    bits with the same value on every database item
  distinct_codes   distinct database codes
  bit_balance      mean over the bits of |mean of the bit over the database|: 0 when every bit splits
                   the database in half, 1 when every bit is constant
  loss_fell        deep runs: the mean training loss J(g) over the last tenth of the iterations is at
                   least LOSS_MARGIN (1%) below its mean over the first tenth; None without a loss
  degenerate       the rule: at least CONSTANT_SHARE (three quarters) of the bits constant, fewer than
                   two distinct database codes, or (deep runs) a loss that did not fall
  reasons          which parts of the rule the run met

A legitimate method may use few codes (the Classifier row: one per class), so distinct codes alone
never make a run degenerate; nor may a few constant bits: DNNH's dead outputs leave up to 31 of 64
bits constant on mnist5k (MAP 0.91), hence three quarters, not half. The tables mark a cell holding
a degenerate seed (``hashbench.stages.tables``).
"""

from __future__ import annotations

import numpy as np

LOSS_MARGIN = 0.01
CONSTANT_SHARE = 0.75


def loss_fell(history) -> bool | None:
    """Whether J(g) (column 1 of the deep loop's [iteration, J(g), L(h)] rows) fell by LOSS_MARGIN."""
    loss = np.asarray(history, dtype=float)
    if loss.ndim != 2 or loss.shape[0] < 2 or loss.shape[1] < 2:
        return None
    tenth = max(1, loss.shape[0] // 10)
    first, last = loss[:tenth, 1].mean(), loss[-tenth:, 1].mean()
    return bool(np.isfinite(last) and last < first - LOSS_MARGIN * abs(first))


def diagnose(database_codes: np.ndarray, history=None) -> dict:
    """The health of a run from its {-1,+1} database codes and (deep runs) its loss history."""
    codes = np.asarray(database_codes)
    means = codes.mean(axis=0, dtype=float)
    constant = int(np.sum(np.abs(means) == 1))
    distinct = int(len(np.unique(np.packbits(codes > 0, axis=1), axis=0)))
    fell = loss_fell(history) if history is not None else None
    reasons = []
    if constant >= CONSTANT_SHARE * codes.shape[1]:
        reasons.append(f"{constant} of {codes.shape[1]} bits constant over the database")
    if distinct < 2:
        reasons.append("one code for the whole database")
    if fell is False:
        reasons.append(f"the training loss did not fall by {LOSS_MARGIN:.0%}")
    return {"constant_bits": constant, "distinct_codes": distinct, "bit_balance": float(np.abs(means).mean()),
            "loss_fell": fell, "degenerate": bool(reasons), "reasons": reasons}
