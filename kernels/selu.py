import numpy as np

from ._elementwise import attrs, unary


@unary("Selu", params=attrs("alpha", 1.67326319217681884765625, "gamma", 1.05070102214813232421875))
def selu(x, alpha, beta):
    return beta * (x if x > 0 else alpha * (np.exp(x) - 1))
