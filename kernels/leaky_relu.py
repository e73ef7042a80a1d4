from ._elementwise import attr, unary


@unary("LeakyRelu", params=attr("alpha", 0.01))
def leaky_relu(x, alpha, beta):
    return x if x >= 0 else x * alpha
