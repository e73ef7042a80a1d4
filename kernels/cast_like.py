from ._elementwise import ALL, unary
from .cast import check_cast


@unary("CastLike", dtypes=ALL, params=check_cast)
def cast_like(x, alpha, beta):
    return x
