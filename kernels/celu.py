import numpy as np

from ._elementwise import attr, unary


@unary("Celu", params=attr("alpha", 1.0))
def celu(x, alpha, beta):
    return max(0, x) + min(0, alpha * (np.exp(x / alpha) - 1))
