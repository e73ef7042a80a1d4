from ._elementwise import SIGNED, unary


@unary("Neg", dtypes=SIGNED)
def neg(x, alpha, beta):
    return -x
