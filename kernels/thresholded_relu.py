from ._elementwise import attr, unary


@unary("ThresholdedRelu", params=attr("alpha", 1.0))
def thresholded_relu(x, alpha, beta):
    return x if x > alpha else 0
