"""An 8x8 block transpose in vector registers, for numba-compiled code.

Numba has no SIMD shuffles, and element-by-element transposition costs two
memory operations per value, which dominated the PDQ kernel.  This intrinsic
loads eight rows of eight 32-bit values as vectors, transposes them with
three rounds of LLVM ``shufflevector`` (which LLVM lowers to the unpack and
permute instructions of whatever CPU it compiles for), and stores eight
vectors.  Only data movement: values are copied bit for bit.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_LANES = 8
_LO1, _HI1 = (0, 8, 1, 9, 4, 12, 5, 13), (2, 10, 3, 11, 6, 14, 7, 15)
_LO2, _HI2 = (0, 1, 8, 9, 4, 5, 12, 13), (2, 3, 10, 11, 6, 7, 14, 15)
_LO3, _HI3 = (0, 1, 2, 3, 8, 9, 10, 11), (4, 5, 6, 7, 12, 13, 14, 15)
# Three rounds of two-input shuffles (the classic unpack / shuffle / permute
# transpose).  Each round lists, in output order, (first input, second
# input, mask); mask values 8..15 pick from the second input.
_ROUNDS = (
    (
        (0, 1, _LO1),
        (0, 1, _HI1),
        (2, 3, _LO1),
        (2, 3, _HI1),
        (4, 5, _LO1),
        (4, 5, _HI1),
        (6, 7, _LO1),
        (6, 7, _HI1),
    ),
    (
        (0, 2, _LO2),
        (0, 2, _HI2),
        (1, 3, _LO2),
        (1, 3, _HI2),
        (4, 6, _LO2),
        (4, 6, _HI2),
        (5, 7, _LO2),
        (5, 7, _HI2),
    ),
    (
        (0, 4, _LO3),
        (1, 5, _LO3),
        (2, 6, _LO3),
        (3, 7, _LO3),
        (0, 4, _HI3),
        (1, 5, _HI3),
        (2, 6, _HI3),
        (3, 7, _HI3),
    ),
)


def _shuffle_round(
    builder: ir.IRBuilder, vectors: list[Any], steps: tuple[tuple[int, int, tuple[int, ...]], ...]
) -> list[Any]:
    mask_type = ir.VectorType(ir.IntType(32), _LANES)
    return [
        builder.shuffle_vector(vectors[a], vectors[b], ir.Constant(mask_type, mask))
        for a, b, mask in steps
    ]


def _element_pointer(
    context: Any, builder: ir.IRBuilder, array_type: Any, array: Any, row: Any, col: Any
) -> Any:
    shape = cgutils.unpack_tuple(builder, array.shape)
    strides = cgutils.unpack_tuple(builder, array.strides)
    return cgutils.get_item_pointer2(
        context, builder, array.data, shape, strides, array_type.layout, [row, col]
    )


@intrinsic
def transpose_8x8(
    typingctx: Any, src: Any, src_row: Any, src_col: Any, dst: Any, dst_row: Any, dst_col: Any
) -> Any:
    """``dst[dst_row + m, dst_col + k] = src[src_row + k, src_col + m]`` for k, m < 8.

    Both arrays are 2-D, C-contiguous, of 4-byte floats; the caller keeps the
    block inside both arrays (there is no bounds check).
    """
    if not all(
        isinstance(array, types.Array) and array.ndim == 2 and array.dtype == types.float32
        for array in (src, dst)
    ):
        return None
    signature = types.void(src, src_row, src_col, dst, dst_row, dst_col)

    def codegen(context: Any, builder: ir.IRBuilder, sig: Any, args: Any) -> Any:
        src_array = context.make_array(sig.args[0])(context, builder, args[0])
        dst_array = context.make_array(sig.args[3])(context, builder, args[3])
        vector_type = ir.VectorType(ir.FloatType(), _LANES)
        index_type = args[1].type
        vectors = []
        for k in range(_LANES):
            row = builder.add(args[1], ir.Constant(index_type, k))
            pointer = _element_pointer(context, builder, sig.args[0], src_array, row, args[2])
            vectors.append(
                builder.load(builder.bitcast(pointer, vector_type.as_pointer()), align=4)
            )
        for steps in _ROUNDS:
            vectors = _shuffle_round(builder, vectors, steps)
        index_type = args[4].type
        for m, vector in enumerate(vectors):
            row = builder.add(args[4], ir.Constant(index_type, m))
            pointer = _element_pointer(context, builder, sig.args[3], dst_array, row, args[5])
            builder.store(vector, builder.bitcast(pointer, vector_type.as_pointer()), align=4)
        return context.get_dummy_value()

    return signature, codegen
