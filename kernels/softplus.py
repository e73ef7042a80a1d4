import numpy as np

from ._elementwise import unary


@unary("Softplus")
def softplus(x, alpha, beta):
    if x > 20:   # log(1 + e^x) == x to float32 precision, and exp cannot overflow
        return x
    return np.log1p(np.exp(x))
