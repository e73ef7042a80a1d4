from ._elementwise import INTS, binary, safe_divide


@binary("Div", uses=(safe_divide,))
def div(a, b, p):
    return safe_divide(a, b)


@binary("Div", dtypes=INTS)
def div_int(a, b, p):
    """Integer division truncates toward zero (C), unlike Python's floor division."""
    if b == 0:
        return 0   # undefined in ONNX; never raise inside an inference
    q = abs(int(a)) // abs(int(b))
    return q if (a < 0) == (b < 0) else -q
