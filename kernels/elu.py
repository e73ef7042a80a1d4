import numpy as np

from ._elementwise import attr, unary


@unary("Elu", params=attr("alpha", 1.0))
def elu(x, alpha, beta):
    return x if x > 0 else alpha * (np.exp(x) - 1)
