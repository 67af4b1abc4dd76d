"""The inventory YAML loader: libyaml's C composer and the pure one give the same values,
positions and refusals; hostile input is refused with a place, never a crash."""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import pytest
import yaml

from plugtone.inventory import yaml_source
from plugtone.inventory.yaml_source import MAX_DEPTH, SourceError, load_located
from tests.conftest import EXAMPLE

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
import fleet  # bench/fleet.py: the benchmarks' inventory

COMPOSERS = ["c", "pure"]


def test_libyaml_is_there_to_be_used():
    assert yaml_source._CLoader is not None  # else every apply of a big file is 10x slower


def test_both_composers_give_the_same_values_and_positions():
    text = EXAMPLE.read_text() + "\nextra:\n  - {n: 0x1F, f: 1.5, b: yes, z: ~, d: 2026-12-01}\n"
    text += "  - &anchored 'Tom & Jerry'\n  - [a, 'b', \"c\"]\n"
    c, pure = (load_located(text, "inv.yaml", composer=kind) for kind in COMPOSERS)
    assert c.data == pure.data
    assert c.positions == pure.positions
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "00:04:f2:00:06:07" in row)
    assert c.where(("phones", 2, "mac")) == f"inv.yaml:{line}:5"
    assert c.data["extra"][0] == {
        "n": 31,
        "f": 1.5,
        "b": True,
        "z": None,
        "d": c.data["extra"][0]["d"],
    }


@pytest.mark.parametrize("composer", COMPOSERS)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: &x [1]\nb: *x\n", "inv.yaml:2:4: YAML syntax error: YAML aliases (*name) are not allowed"),
        ("a: &x 1\nb: [*x]\n", "inv.yaml:2:5: YAML syntax error: YAML aliases"),
        ("base: &b {x: 1}\nsite:\n  <<: *b\n", "YAML aliases"),
        ("site:\n  <<: {x: 1}\n", "inv.yaml:2:3: YAML merge keys (<<) are not allowed"),
        ("a: 1\nb: 2\na: 3\n", "inv.yaml:3:1: duplicate key 'a'"),
        ("a: [1, 2\n", "inv.yaml:2:1: YAML syntax error"),
        ("? [a]\n: 1\n", "inv.yaml:1:1: mapping keys must be plain values"),
        ("a: !python/object x\n", "inv.yaml:1:1: bad value"),
        ("[" * 100_000 + "]" * 100_000, f"inv.yaml:1:{MAX_DEPTH + 1}: values nested more than"),
        ("a:\n" + "".join(f"{'  ' * n}- \n" for n in range(1, 80)), "nested more than"),
    ],
    ids=["alias", "alias-in-list", "merge-by-alias", "merge", "duplicate", "syntax",
         "complex-key", "python-tag", "deep-flow", "deep-block"],
)  # fmt: skip
def test_bad_yaml_is_refused_the_same_way_by_both(composer, text, expected):
    with pytest.raises(SourceError) as error:
        load_located(text, "inv.yaml", composer=composer)
    assert expected in str(error.value)


def test_a_billion_laughs_costs_nothing_on_the_c_path():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(20)
    )
    with pytest.raises(SourceError) as error:
        load_located(bomb, "inv.yaml", composer="c")
    assert "inv.yaml:2:" in str(error.value) and "aliases" in str(error.value)


def test_the_caps_hold(monkeypatch):
    monkeypatch.setattr(yaml_source, "MAX_NODES", 10)
    with pytest.raises(SourceError, match="more than 10 values"):
        load_located("a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]\n", "inv.yaml")
    monkeypatch.setattr(yaml_source, "MAX_BYTES", 10)
    with pytest.raises(SourceError, match="larger than"):
        load_located("a: 12345678901\n", "inv.yaml")


def test_without_libyaml_the_pure_composer_does_the_work(monkeypatch):
    monkeypatch.setattr(yaml_source, "_CLoader", None)
    located = load_located("sites:\n  - {name: hq}\n", "inv.yaml")
    assert located.data == {"sites": [{"name": "hq"}]}
    assert located.where(("sites", 0, "name")) == "inv.yaml:2:6"


def nested(depth: int) -> list[str]:
    """Texts nested ``depth`` levels around the cap: collections, scalars, blocks."""
    return [
        "[" * depth + "]" * depth,
        "[" * depth + "1" + "]" * depth,
        "[" * depth + "{}" + "]" * depth,
        "{a: " * depth + "1" + "}" * depth,
        "{a: " * (depth - 1) + "{}" + "}" * (depth - 1),
        "a:\n" + "".join(f"{'  ' * n}- \n" for n in range(1, depth)),
    ]


VARIED = [
    "",
    "# only a comment\n",
    "---\n",
    "plain\n",
    "[1, 2]\n",
    "---\na: 1\n---\nb: 2\n",
    "a: !!str 1\nb: !!int '3'\nc: 1.5\nd: ~\ne: yes\nf: 2026-12-01\n1: x\ntrue: y\n",
    "'1': a\n1: b\n",
    "null: 1\n",
    "? [a]\n: 1\n",
    "{a: 1}: 2\n",
    "a: &x 1\n",
    "a: &x 1\nb: *x\n",
    "- &x [1]\n- *x\n",
    "<<: {a: 1}\n",
    "a: 1\na: 2\n",
    "a: !python/object x\n",
    "a: !!binary aGVsbG8=\n",
    "a: !foo {b: 1}\n",
    "a: !!set {b, c}\n",
    "a: !!omap [b: 1]\n",
    "a: [[], {}, [[]], '', \"\", 'x: y', \"\\t\"]\n",
    "- ! 12\n- !!null ''\n- 0o17\n- .inf\n- -.NaN\n",
    "a: [1, 2\n",
] + [text for depth in range(MAX_DEPTH - 2, MAX_DEPTH + 3) for text in nested(depth)]


@pytest.mark.parametrize("text", VARIED, ids=range(len(VARIED)))
def test_the_c_path_builds_from_events_what_it_built_from_the_node_tree(text):
    """The C path reads libyaml's events, not its node tree: the same values and
    positions as building from the C composer's nodes, or a refusal for the same texts
    (aliases, merge keys, duplicates, tags, a second document, nesting one level past
    the cap; the pure path then words it)."""

    def outcome(load):
        try:
            located = load()
        except (yaml.YAMLError, SourceError, yaml_source._TooDeep, yaml_source._FoundAlias):
            return "refused"
        return located.data, located.positions

    nodes = outcome(
        lambda: yaml_source._load(text, "inv.yaml", yaml_source._CLoader, aliases_possible=True)
    )
    assert outcome(lambda: yaml_source._load_events(text, "inv.yaml")) == nodes
    assert outcome(lambda: load_located(text, "inv.yaml", composer="pure")) == nodes


@pytest.mark.parametrize("which", ["example", "fleet"])
def test_the_c_path_matches_the_node_tree_on_a_fleet_and_the_example(which):
    text = EXAMPLE.read_text() if which == "example" else fleet.fleet_yaml(600, changed=0.1)
    built = yaml_source._load(text, "inv.yaml", yaml_source._CLoader, aliases_possible=True)
    events = load_located(text, "inv.yaml", composer="c")
    assert (events.data, events.positions) == (built.data, built.positions)
    assert len(events.positions) > 100


def test_loading_holds_little_more_than_what_it_returns():
    """Events are read and dropped one at a time: the peak of loading 1,000 phones is
    close to what the values and positions keep (building from the node tree held the
    whole tree, with two marks a node, at once: 2.7 times as much)."""
    text = fleet.fleet_yaml(1000)
    tracemalloc.start()
    try:
        located = load_located(text, "inv.yaml", composer="c")
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert located.data["phones"][998]["model"] == "6731i"
    assert peak < 1.3 * kept, (peak, kept)
