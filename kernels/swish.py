from ._elementwise import attr, stable_sigmoid, unary


@unary("Swish", params=attr("alpha", 1.0), uses=(stable_sigmoid,))
def swish(x, alpha, beta):
    return x * stable_sigmoid(alpha * x)
