from ._elementwise import safe_divide, unary


@unary("Reciprocal", uses=(safe_divide,))
def reciprocal(x, alpha, beta):
    return safe_divide(1.0, x)
