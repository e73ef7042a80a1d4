from ._elementwise import unary


@unary("Not", dtypes=("bool",))
def logical_not(x, alpha, beta):
    return not x
