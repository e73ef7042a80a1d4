from ._elementwise import attrs, unary


@unary("HardSigmoid", params=attrs("alpha", 0.2, "beta", 0.5))
def hard_sigmoid(x, alpha, beta):
    return max(0.0, min(1.0, alpha * x + beta))
