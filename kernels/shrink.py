from ._elementwise import attrs, unary


@unary("Shrink", params=attrs("lambd", 0.5, "bias", 0.0))
def shrink(x, alpha, beta):
    if x < -alpha:
        return x + beta
    if x > alpha:
        return x - beta
    return 0
