from ._elementwise import stable_sigmoid, unary


@unary("Sigmoid", uses=(stable_sigmoid,))
def sigmoid(x, alpha, beta):
    return stable_sigmoid(x)
