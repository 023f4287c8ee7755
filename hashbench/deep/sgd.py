"""The deep methods' optimiser: SGD with momentum (Nesterov or not) and weight decay, per parameter
group a learning rate that a step decay multiplies by ``gamma`` every ``step`` updates.

The arithmetic is that of ``torch.optim.SGD(foreach=True)`` followed by ``StepLR``, operation for
operation (the tests compare the weights bit for bit): g <- g + weight_decay * p; the momentum
buffer starts as a copy of g, then b <- momentum * b + g; Nesterov uses g + momentum * b, plain
momentum b; p <- p - lr * update; and the decayed rate is the previous rate times gamma (chained,
as StepLR computes it). It is not a ``torch.optim.Optimizer`` because that class imports
``torch._dynamo`` on first use: 1.9 s of every deep training job, for nothing compiled.
"""

from __future__ import annotations

import torch


class SGD:
    def __init__(self, groups: list[tuple[list[torch.Tensor], float]], momentum: float, nesterov: bool,
                 weight_decay: float, lr_step: int, lr_gamma: float):
        self.params = [list(params) for params, _ in groups]
        self.lrs = [lr for _, lr in groups]
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay
        self.lr_step, self.lr_gamma = lr_step, lr_gamma
        self.buffers: list[list[torch.Tensor | None]] = [[None] * len(params) for params in self.params]
        self.steps = 0

    def zero_grad(self) -> None:
        for params in self.params:
            for p in params:
                p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for params, buffers, lr in zip(self.params, self.buffers, self.lrs):
            live = [i for i, p in enumerate(params) if p.grad is not None]
            if not live:
                continue
            weights = [params[i] for i in live]
            grads = [params[i].grad for i in live]
            if self.weight_decay != 0:
                grads = torch._foreach_add(grads, weights, alpha=self.weight_decay)
            if self.momentum != 0:
                if all(buffers[i] is not None for i in live):
                    bufs = [buffers[i] for i in live]
                    torch._foreach_mul_(bufs, self.momentum)
                    torch._foreach_add_(bufs, grads, alpha=1)
                else:
                    for i, g in zip(live, grads):
                        if buffers[i] is None:
                            buffers[i] = g.detach().clone()
                        else:
                            buffers[i].mul_(self.momentum).add_(g, alpha=1)
                    bufs = [buffers[i] for i in live]
                if self.nesterov:
                    torch._foreach_add_(grads, bufs, alpha=self.momentum)
                else:
                    grads = bufs
            torch._foreach_add_(weights, grads, alpha=-lr)
        self.steps += 1
        if self.steps % self.lr_step == 0:
            self.lrs = [lr * self.lr_gamma for lr in self.lrs]

    def state_dict(self) -> dict:
        return {"lrs": list(self.lrs), "steps": self.steps, "buffers": [list(b) for b in self.buffers]}

    def load_state_dict(self, state: dict) -> None:
        """Restore a ``state_dict``; the momentum buffers go to their parameters' device."""
        self.lrs, self.steps = list(state["lrs"]), state["steps"]
        self.buffers = [[None if b is None else b.to(p.device) for b, p in zip(buffers, params)]
                        for buffers, params in zip(state["buffers"], self.params)]
