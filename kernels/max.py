"""Max of 2 inputs; the lowering pass chains more inputs and turns one into Identity."""
from ._elementwise import NUMBERS, binary


@binary("Max", dtypes=NUMBERS)
def maximum(a, b, p):
    return a if a >= b or a != a else b   # NaN wins, as in numpy.maximum
