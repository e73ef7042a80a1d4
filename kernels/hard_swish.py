from ._elementwise import unary


@unary("HardSwish")
def hard_swish(x, alpha, beta):
    return x * max(0.0, min(1.0, x * (1.0 / 6.0) + 0.5))
