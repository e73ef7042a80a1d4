from ._elementwise import unary


@unary("Softsign")
def softsign(x, alpha, beta):
    return x / (1 + abs(x))
