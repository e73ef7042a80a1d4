from ._elementwise import SIGNED, unary


@unary("Relu", dtypes=SIGNED)
def relu(x, alpha, beta):
    return max(x, 0)
