"""Numpy building blocks of the shallow methods (``methods/``): projections and kernels
(``projections``), label similarity (``labels``) and minFunc's L-BFGS (``lbfgs``)."""
