import math

from ._elementwise import unary


@unary("Mish")
def mish(x, alpha, beta):
    softplus = x if x > 20 else math.log1p(math.exp(x))
    return x * math.tanh(softplus)
