"""Deep hashing: backbones, the shared training loop, the losses and the image pipeline (all torch code lives here).

Importing ``hashbench.deep.method`` does not import torch; the other modules do, and are only
imported when a deep method is fitted.
"""
