"""The inventory YAML loader: libyaml's C composer and the pure one give the same values,
positions and refusals; hostile input is refused with a place, never a crash."""

from __future__ import annotations

import pytest

from plugtone.inventory import yaml_source
from plugtone.inventory.yaml_source import MAX_DEPTH, SourceError, load_located
from tests.conftest import EXAMPLE

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
