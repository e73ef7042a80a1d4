from ._elementwise import INTS, unary


@unary("BitwiseNot", dtypes=INTS)
def bitwise_not(x, alpha, beta):
    return ~x
