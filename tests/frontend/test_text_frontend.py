"""bnnc's text language: parsing, error reporting, printing and round trips."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bnnc.backend.text import print_bnn, print_ilp
from bnnc.errors import ModelError, ParseError
from bnnc.frontend.text import KEYWORDS, load_text, parse_text, syntax
from bnnc.ir.bnn import BatchNorm, BnnModel, InnerBlock, OutputBlock
from bnnc.ir.ilp import ArgmaxLayer, IlpModel, ThresholdLayer
from bnnc.ir.tensor import frozen, ternary
from bnnc.passes.lower_bnn_to_milp import lower_bnn_to_milp
from bnnc.passes.lower_milp_to_ilp import lower_milp_to_ilp
from tests.paths import ROOT

REPO = ROOT

# Line numbers matter: the error tests below point into these sources.
TINY = """\
# a tiny model
network tiny
input 3x3
classes cat dog bird

block h1 {
  weights {
    +-+ -+- +0+
    ---------
  }
  bias 0.5 -1
  batchnorm {
    gamma 1.0 -0.5
    beta  0 0.25
    mean  0.1 0
    var   1 2
    eps   1e-5
  }
}

output out {
  weights {
    +-
    -+
    00
  }
  bias 0 0.5 -0.25
}
"""

TINY_ILP = """\
network tiny
input 3x3

threshold h1 {
  +-+-+-+0+ >= 3
  --------- >= -1
  000000000 >= 0
}

argmax out {
  weights {
    +-0
    -+0
    00+
  }
  beats 0 1 >= 2
  beats 0 2 >= 0
  beats 1 2 >= -1
}
"""


def parse_bnn(source: str) -> BnnModel:
    model = parse_text(source)
    assert isinstance(model, BnnModel)
    return model


def parse_ilp(source: str) -> IlpModel:
    model = parse_text(source)
    assert isinstance(model, IlpModel)
    return model


def assert_identical(a: Any, b: Any, path: str = "model") -> None:
    """Field by field; arrays must agree in dtype, shape and every bit (so -0.0 ≠ 0.0)."""
    assert type(a) is type(b), path
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        assert a.tobytes() == b.tobytes(), path
    elif dataclasses.is_dataclass(a):
        for field in dataclasses.fields(a):
            assert_identical(getattr(a, field.name), getattr(b, field.name), f"{path}.{field.name}")
    elif isinstance(a, tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert math.copysign(1.0, a) == math.copysign(1.0, b) and a == b, path
    else:
        assert a == b, path


# --------------------------------------------------------------------------- parsing


def test_trained_form_parses_into_the_expected_arrays() -> None:
    model = parse_bnn(TINY)
    assert model.name == "tiny"
    assert model.input_shape == (3, 3)
    assert model.class_names == ("cat", "dog", "bird")
    assert model.arithmetic == "float64"
    (h1,) = model.blocks
    assert h1.name == "h1"
    assert h1.weights.dtype == np.int8
    assert h1.weights.tolist() == [[1, -1, 1, -1, 1, -1, 1, 0, 1], [-1] * 9]
    assert h1.bias.dtype == np.float64
    assert h1.bias.tolist() == [0.5, -1.0]
    bn = h1.batchnorm
    assert bn is not None
    assert bn.gamma.tolist() == [1.0, -0.5]
    assert bn.beta.tolist() == [0.0, 0.25]
    assert bn.mean.tolist() == [0.1, 0.0]
    assert bn.var.tolist() == [1.0, 2.0]
    assert bn.eps == 1e-5
    assert model.output.name == "out"
    assert model.output.weights.tolist() == [[1, -1], [-1, 1], [0, 0]]
    assert model.output.bias.tolist() == [0.0, 0.5, -0.25]
    assert not h1.weights.flags.writeable  # IR arrays are frozen


def test_bias_and_batchnorm_are_optional() -> None:
    model = parse_bnn(
        "network n\ninput 4\nblock a {\n  weights {\n    +-0+\n  }\n}\n"
        "output o {\n  weights {\n    +\n    -\n  }\n}\n"
    )
    assert model.input_shape == (4,)
    assert model.class_names is None
    assert model.blocks[0].batchnorm is None
    assert model.blocks[0].bias.tolist() == [0.0]
    assert model.output.bias.tolist() == [0.0, 0.0]
    assert model.output.weights.tolist() == [[1], [-1]]


def test_blanks_comments_and_braces_inside_weight_rows() -> None:
    model = parse_bnn(
        "network n input 2x3  # everything but a weight row may share a line\n"
        "output o { weights { +\t-0 -+0  # blanks in a row are ignored\n"
        "  000 000 }  bias 1 -2 }\n"
    )
    assert model.input_shape == (2, 3)
    assert model.output.weights.tolist() == [[1, -1, 0, -1, 1, 0], [0] * 6]
    assert model.output.bias.tolist() == [1.0, -2.0]


def test_windows_line_ends_read_like_unix_ones() -> None:
    assert_identical(parse_bnn(TINY.replace("\n", "\r\n")), parse_bnn(TINY))
    with pytest.raises(ParseError) as caught:
        parse_text(TINY.replace("---------", "--------").replace("\n", "\r\n"))
    assert (caught.value.span.line, caught.value.span.column) == (9, 5)
    assert caught.value.source_line == "    --------"


def test_numbers_read_exactly_as_python_floats() -> None:
    literals = ["1", "+1", "-1.5", ".5", "5.", "1e3", "-2.5E-3", "1e-300", "1.0000000000000002"]
    rows = "  +\n" * len(literals)
    source = (
        f"network n\ninput 1\noutput o {{\n weights {{\n{rows} }}\n bias {' '.join(literals)}\n}}\n"
    )
    model = parse_bnn(source)
    assert model.output.bias.tolist() == [float(x) for x in literals]


def test_quoted_names_keywords_as_names_and_float32() -> None:
    model = parse_bnn(
        'network "my net"\ninput 1\narithmetic float32\nclasses "T-shirt/top" "0" "é\\/"\n'
        "block output {\n weights {\n  +\n }\n}\noutput input {\n weights {\n  +\n  -\n  0\n }\n}\n"
    )
    assert model.name == "my net"
    assert model.arithmetic == "float32"
    assert model.class_names == ("T-shirt/top", "0", "é/")
    assert [model.blocks[0].name, model.output.name] == ["output", "input"]


def test_lowered_form_parses_into_the_expected_arrays() -> None:
    model = parse_ilp(TINY_ILP)
    (h1,) = model.layers
    assert h1.weights.tolist() == [[1, -1, 1, -1, 1, -1, 1, 0, 1], [-1] * 9, [0] * 9]
    assert h1.thresholds.dtype == np.int64
    assert h1.thresholds.tolist() == [3, -1, 0]
    assert model.output.weights.tolist() == [[1, -1, 0], [-1, 1, 0], [0, 0, 1]]
    assert model.output.beats.tolist() == [[0, 2, 0], [0, 0, -1], [0, 0, 0]]


def test_load_text_reads_a_file_and_names_it_in_errors(tmp_path: Path) -> None:
    good = tmp_path / "tiny.bnn"
    good.write_text(TINY, encoding="utf-8")
    assert_identical(load_text(good), parse_bnn(TINY))
    bad = tmp_path / "bad.bnn"
    bad.write_text(TINY.replace("+0+", "+0"), encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        load_text(str(bad))
    assert str(caught.value).startswith(f"{bad}:8:5: ")


@pytest.mark.parametrize("kind", ["missing", "directory", "not utf-8"])
def test_load_text_unreadable_file_is_a_model_error_naming_the_path(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "model.bnn"
    if kind == "directory":
        path.mkdir()
    elif kind == "not utf-8":
        path.write_bytes(b"network \xff\n")
    with pytest.raises(ModelError) as caught:
        load_text(path)
    assert str(path) in str(caught.value)
    assert "cannot read" in str(caught.value)


# --------------------------------------------------------------------------- errors

# (id, source, line, column, a fragment of the message)
ERROR_CASES = [
    (
        "syntax error mid-file",
        TINY.replace("batchnorm {", "batchnrom {"),
        12,
        3,
        "expected a number, 'batchnorm' or '}', got 'batchnrom'",
    ),
    (
        "missing closing brace",
        TINY.replace("    ---------\n  }\n", "    ---------\n"),
        10,
        3,
        "expected a weight row like +-0+ or '}', got 'bias'; is a '}' missing?",
    ),
    ("wrong row length", TINY.replace("---------", "--------"), 9, 5, "has 8 weights, expected 9"),
    (
        "later layer's row length",
        TINY.replace("    -+\n", "    -+-\n"),
        24,
        5,
        "expected 2 (one per neuron of block 'h1')",
    ),
    ("bad weight character", TINY.replace("-+- +0+", "-+- +x+"), 8, 14, "'x' is not a weight"),
    ("number as weight", TINY.replace("    -+\n", "    -1\n"), 24, 6, "'1' is not a weight"),
    ("wrong bias count", TINY.replace("bias 0.5 -1", "bias 0.5"), 11, 3, "1 bias value for 2"),
    ("wrong output bias count", TINY.replace("0 0.5 -0.25", "0 0.5"), 27, 3, "for 3 classes"),
    ("duplicate names", TINY.replace("output out", "output h1"), 21, 8, "already a block called"),
    ("class count mismatch", TINY.replace(" bird", ""), 4, 1, "2 class names for 3 classes"),
    ("duplicate class name", TINY.replace("bird", "cat"), 4, 17, "'cat' is given twice"),
    ("var + eps <= 0", TINY.replace("var   1 2", "var 1 -1e-5"), 16, 11, "var + eps = 0.0"),
    ("negative eps", TINY.replace("1e-5", "-1e-5"), 17, 11, "eps must be ≥ 0"),
    ("eps count", TINY.replace("1e-5", "1e-5 1e-5"), 17, 5, "eps takes one number"),
    ("missing batch norm field", TINY.replace("    mean  0.1 0\n", ""), 12, 3, "lacks mean"),
    ("repeated batch norm field", TINY.replace("beta ", "gamma"), 14, 5, "gamma is given twice"),
    ("wrong gamma count", TINY.replace("1.0 -0.5", "1.0"), 13, 5, "1 gamma value for 2"),
    ("inf", TINY.replace("0.5 -1", "0.5 -inf"), 11, 12, "-inf is not allowed"),
    ("nan", TINY.replace("0.1 0", "0.1 NaN"), 15, 15, "NaN is not allowed"),
    ("overflow", TINY.replace("0.5 -1", "0.5 1e999"), 11, 12, "too large"),
    ("stray character", TINY.replace("0.5 -1", "0.5 @"), 11, 12, "got the character '@'"),
    ("end of file inside a block", TINY[: TINY.rindex("}")], 27, 19, "got the end of the file"),
    ("empty file", "", 1, 1, "the model is empty"),
    ("comments only", "# nothing here\n\n   # at all\n", 1, 1, "the model is empty"),
    ("misspelt first keyword", "netwrok tiny\n", 1, 1, "expected 'network', got 'netwrok'"),
    ("zero input size", TINY.replace("3x3", "3x0"), 3, 7, "input sizes must be positive"),
    (
        "mixed forms",
        TINY.replace("output out", "argmax out").replace("bias 0 0.5 -0.25", "beats 0 1 >= 0"),
        21,
        1,
        "'argmax' cannot be mixed with 'block' (line 6)",
    ),
    (
        "block after the output",
        TINY + "block late {\n weights {\n +-\n }\n}\n",
        29,
        1,
        "the output block on line 21 must be the last",
    ),
    ("no output block", TINY.replace("output out", "block out"), 28, 2, "no output block"),
    (
        "batch norm in output",
        TINY.replace("0.5 -0.25\n", "0.5 -0.25\n  batchnorm { }\n"),
        28,
        3,
        "an output block has no batch norm",
    ),
    ("empty weights", TINY.replace("+-\n    -+\n    00\n", ""), 22, 3, "weights block is empty"),
    ("missing beats pair", TINY_ILP.replace("  beats 0 2 >= 0\n", ""), 10, 1, "lacks 'beats 0 2"),
    ("duplicate beats pair", TINY_ILP.replace("0 2 >= 0", "0 1 >= 0"), 17, 3, "already given"),
    ("reversed beats pair", TINY_ILP.replace("0 2 >= 0", "2 0 >= 0"), 17, 9, "lower class first"),
    ("class out of range", TINY_ILP.replace("1 2 >= -1", "1 3 >= -1"), 18, 11, "class 3 does not"),
    ("real threshold", TINY_ILP.replace(">= 3", ">= 2.5"), 5, 16, "must be an integer, got 2.5"),
    ("huge threshold", TINY_ILP.replace(">= 3", ">= " + "9" * 20), 5, 16, "64-bit integer"),
    (
        "empty threshold block",
        "network n\ninput 1\nthreshold t {\n}\nargmax a {\n weights {\n  +\n }\n}\n",
        3,
        1,
        "threshold block is empty",
    ),
    (
        "arithmetic in the lowered form",
        TINY_ILP.replace("input 3x3", "input 3x3\narithmetic float32"),
        3,
        1,
        "only applies to trained models",
    ),
]


@pytest.mark.parametrize(
    ("source", "line", "column", "fragment"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_errors_point_at_the_problem(source: str, line: int, column: int, fragment: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_text(source, "m.bnn")
    error = caught.value
    assert fragment in error.message
    assert (error.span.file, error.span.line, error.span.column) == ("m.bnn", line, column)


def test_error_text_has_the_place_the_source_line_and_a_caret() -> None:
    with pytest.raises(ParseError) as caught:
        parse_text(TINY.replace("-+- +0+", "-+- +x+"), "tiny.bnn")
    assert str(caught.value) == (
        "tiny.bnn:8:14: 'x' is not a weight: write '+' for +1, '-' for -1 and '0' for 0\n"
        "      +-+ -+- +x+\n"
        "               ^"
    )


def test_syntax_errors_do_not_chain_lark_exceptions() -> None:
    with pytest.raises(ParseError) as caught:
        parse_text(TINY.replace("bias 0.5", "bias 0.5 }"))
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@settings(max_examples=300, deadline=None)
@given(
    position=st.integers(0, len(TINY)),
    cut=st.integers(0, 12),
    insert=st.text(alphabet='{}+-0 #\n\t@x"1.e>=', max_size=3),
)
def test_mangled_sources_raise_only_parse_errors(position: int, cut: int, insert: str) -> None:
    source = TINY[:position] + insert + TINY[position + cut :]
    try:
        model = parse_text(source)
    except ParseError as error:
        n_lines = source.count("\n") + 1
        assert 1 <= error.span.line <= n_lines
        assert error.span.column >= 1
    else:
        model.verify()


# --------------------------------------------------------------------------- printing


def test_print_bnn_of_the_example() -> None:
    printed = print_bnn(parse_bnn(TINY))
    assert printed.startswith("network tiny\ninput 3x3\nclasses cat dog bird\n\nblock h1 {\n")
    assert "    +-+ -+- +0+\n" in printed  # first-layer rows are grouped by the input's rows
    assert "  bias 0.5 -1.0\n" in printed
    assert "    eps 1e-05\n" in printed
    assert print_bnn(parse_bnn(printed)) == printed


def test_print_ilp_starts_with_the_lowered_form_comment_and_round_trips() -> None:
    printed = print_ilp(parse_ilp(TINY_ILP))
    first_line = printed.splitlines()[0]
    assert first_line.startswith("#") and "bnnc lowered form" in first_line
    assert "  +-+ -+- +0+ >= 3\n" in printed
    assert "  beats 1 2 >= -1\n" in printed
    assert print_ilp(parse_ilp(printed)) == printed
    assert_identical(parse_ilp(printed), parse_ilp(TINY_ILP))


def test_lowered_tiny_model_round_trips() -> None:
    ilp = lower_milp_to_ilp(lower_bnn_to_milp(parse_bnn(TINY)))
    printed = print_ilp(ilp)
    assert_identical(parse_ilp(printed), ilp)
    assert print_ilp(parse_ilp(printed)) == printed


def test_every_keyword_is_known_to_the_printer() -> None:
    """Names spelled like keywords are quoted; KEYWORDS must list all the grammar's words."""
    grammar_words = set()
    for terminal in syntax._parser().terminals:
        pattern = terminal.pattern
        if pattern.type == "str" and pattern.value.isalpha():
            grammar_words.add(pattern.value)
    grammar_words |= {"gamma", "beta", "mean", "var", "eps", "float32", "float64"}
    # The words of the convolution terminals POOL, GEOMETRY_KEY and LAYOUT (regular expressions).
    grammar_words |= {"maxpool", "minpool", "kernel", "stride", "padding", "dilation", "groups"}
    grammar_words |= {"nchw", "nhwc"}
    assert grammar_words == KEYWORDS
    names = tuple(sorted(KEYWORDS))
    model = BnnModel(
        "classes",
        (1,),
        (),
        OutputBlock(
            "block", ternary(np.ones((len(names), 1))), frozen(np.zeros(len(names)), float)
        ),
        names,
    )
    assert_identical(parse_bnn(print_bnn(model)), model)


# --------------------------------------------------------------------------- round trips

names = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True),
    st.sampled_from(sorted(KEYWORDS)),
    # quoted when printed; names with control characters are refused (bnnc.ir.names)
    st.text(
        st.characters(exclude_categories=["Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"]), max_size=6
    ),
)
special_reals = st.sampled_from(
    [0.0, -0.0, 1e-300, -1e-300, 5e-324, 1.0000000000000002, 0.1, 1.7976931348623157e308]
)
reals = st.one_of(special_reals, st.floats(allow_nan=False, allow_infinity=False))


def real_arrays(size: int) -> st.SearchStrategy[np.ndarray[Any, Any]]:
    return hnp.arrays(np.float64, size, elements=reals)


def weight_matrices(n_out: int, n_in: int) -> st.SearchStrategy[np.ndarray[Any, Any]]:
    return hnp.arrays(np.int8, (n_out, n_in), elements=st.integers(-1, 1))


@st.composite
def shapes_and_widths(draw: st.DrawFn) -> tuple[tuple[int, ...], list[int], int]:
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    widths = [math.prod(shape), *draw(st.lists(st.integers(1, 5), max_size=3))]
    return shape, widths, draw(st.integers(1, 4))


@st.composite
def batchnorms(draw: st.DrawFn, n: int) -> BatchNorm:
    eps = draw(st.sampled_from([0.0, 1e-5, 1e-300, 5e-324, 1.0]))
    # var + eps must be > 0: with eps = 0 the variances must be positive.
    var_elements = st.floats(min_value=5e-324 if eps == 0 else 0.0, allow_infinity=False)
    return BatchNorm(
        gamma=frozen(draw(real_arrays(n)), np.float64),  # includes zero and negative gammas
        beta=frozen(draw(real_arrays(n)), np.float64),
        mean=frozen(draw(real_arrays(n)), np.float64),
        var=frozen(draw(hnp.arrays(np.float64, n, elements=var_elements)), np.float64),
        eps=eps,
    )


@st.composite
def random_bnns(draw: st.DrawFn) -> BnnModel:
    shape, widths, n_classes = draw(shapes_and_widths())
    layer_names = draw(st.lists(names, min_size=len(widths), max_size=len(widths), unique=True))
    blocks = []
    for name, n_in, n_out in zip(layer_names, widths, widths[1:], strict=False):
        batchnorm = draw(st.none() | batchnorms(n_out))
        weights = ternary(draw(weight_matrices(n_out, n_in)))
        bias = frozen(draw(real_arrays(n_out)), np.float64)
        blocks.append(InnerBlock(name, weights, bias, batchnorm))
    output = OutputBlock(
        layer_names[-1],
        ternary(draw(weight_matrices(n_classes, widths[-1]))),
        frozen(draw(real_arrays(n_classes)), np.float64),
    )
    class_names = draw(
        st.none() | st.lists(names, min_size=n_classes, max_size=n_classes, unique=True)
    )
    model = BnnModel(
        name=draw(names),
        input_shape=shape,
        blocks=tuple(blocks),
        output=output,
        class_names=None if class_names is None else tuple(class_names),
        arithmetic=draw(st.sampled_from(["float64", "float32"])),
    )
    model.verify()
    return model


@st.composite
def random_ilps(draw: st.DrawFn) -> IlpModel:
    shape, widths, n_classes = draw(shapes_and_widths())
    layer_names = draw(st.lists(names, min_size=len(widths), max_size=len(widths), unique=True))
    int64s = st.integers(-(2**63), 2**63 - 1)
    layers = []
    for name, n_in, n_out in zip(layer_names, widths, widths[1:], strict=False):
        thresholds = draw(hnp.arrays(np.int64, n_out, elements=int64s))
        weights = ternary(draw(weight_matrices(n_out, n_in)))
        layers.append(ThresholdLayer(name, weights, frozen(thresholds, np.int64)))
    beats = np.triu(draw(hnp.arrays(np.int64, (n_classes, n_classes), elements=int64s)), k=1)
    output = ArgmaxLayer(
        layer_names[-1],
        ternary(draw(weight_matrices(n_classes, widths[-1]))),
        frozen(beats, np.int64),
    )
    class_names = draw(
        st.none() | st.lists(names, min_size=n_classes, max_size=n_classes, unique=True)
    )
    model = IlpModel(
        name=draw(names),
        input_shape=shape,
        layers=tuple(layers),
        output=output,
        class_names=None if class_names is None else tuple(class_names),
    )
    model.verify()
    return model


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_bnns())
def test_bnn_round_trip(model: BnnModel) -> None:
    printed = print_bnn(model)
    parsed = parse_bnn(printed)
    assert_identical(parsed, model)
    assert print_bnn(parsed) == printed


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_ilps())
def test_ilp_round_trip(model: IlpModel) -> None:
    printed = print_ilp(model)
    parsed = parse_ilp(printed)
    assert_identical(parsed, model)
    assert print_ilp(parsed) == printed


# --------------------------------------------------------------------------- engineering


def test_the_examples_in_the_language_reference_parse() -> None:
    doc = (REPO / "docs" / "language.md").read_text(encoding="utf-8")
    examples = re.findall(r"```bnn\n(.*?)```", doc, flags=re.DOTALL)
    assert len(examples) == 3
    trained, lowered, convolutional = (parse_text(example) for example in examples)
    assert_identical(trained, parse_bnn(TINY))
    assert_identical(lowered, parse_ilp(TINY_ILP))
    assert isinstance(convolutional, BnnModel)  # "Convolutions"; tests/ir/test_conv.py
    assert [type(b.structure).__name__ for b in convolutional.blocks] == ["Conv2d", "Pool2d"]


def test_grammar_lives_in_the_repository_grammars_directory() -> None:
    assert syntax._grammar_path() == REPO / "grammars" / "bnn.lark"


def test_importing_the_frontend_does_not_import_lark() -> None:
    code = "import sys, bnnc.frontend.text, bnnc.backend.text; print('lark' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.strip() == "False"


def test_a_784_64_64_64_10_model_round_trips() -> None:
    """Large models print and parse back exactly (parse speed is measured in bench/)."""
    rng = np.random.default_rng(0)
    widths = [784, 64, 64, 64]

    def reals(n: int) -> np.ndarray[Any, Any]:
        return frozen(rng.normal(size=n), np.float64)

    blocks = tuple(
        InnerBlock(
            f"h{i}",
            ternary(rng.integers(-1, 2, (n_out, n_in))),
            reals(n_out),
            BatchNorm(reals(n_out), reals(n_out), reals(n_out), reals(n_out) ** 2 + 0.1, 1e-5),
        )
        for i, (n_in, n_out) in enumerate(itertools.pairwise(widths))
    )
    output = OutputBlock("out", ternary(rng.integers(-1, 2, (10, 64))), reals(10))
    model = BnnModel("mnist", (28, 28), blocks, output)
    printed = print_bnn(model)
    assert_identical(parse_text(printed), model)
