from ._elementwise import binary


@binary("Pow", dtypes=("float32", "int32", "int64"))
def power(a, b, p):
    return a ** b
