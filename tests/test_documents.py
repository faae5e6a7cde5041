"""Experiment and training documents (dsnbench/documents.py): YAML files and --set overrides."""
from __future__ import annotations

import pytest

from dsnbench.documents import apply_override, load_document, parse_override
from dsnbench.errors import UserError


def test_overrides_address_keys_and_list_items():
    doc = {"models": ["a", {"name": "b"}], "limit": 3}
    for text in ("limit=5", "models.0.label=x", "models.1.operating_points=[0, 1]", "new.key=on"):
        apply_override(doc, *parse_override(text), text)
    assert doc == {"models": [{"name": "a", "label": "x"}, {"name": "b", "operating_points": [0, 1]}],
                   "limit": 5, "new": {"key": True}}
    with pytest.raises(UserError, match="key=value"):
        parse_override("limit")
    with pytest.raises(UserError, match="not an index"):
        apply_override(doc, *parse_override("models.7=z"), "models.7=z")


def test_documents_are_mappings_read_with_one_line_errors(tmp_path):
    good = tmp_path / "e.yaml"
    good.write_text("models: [oracle-mixture]\n")
    assert load_document(good) == {"models": ["oracle-mixture"]}
    with pytest.raises(UserError, match="experiment file not found"):
        load_document(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("a: [1,\n")
    with pytest.raises(UserError, match="line 2: not valid YAML"):
        load_document(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(UserError, match="training config is a mapping"):
        load_document(tmp_path / "list.yaml", kind="training config")


def test_an_alias_bomb_is_refused_at_once_and_a_fifo_is_not_read(tmp_path):
    """Nested YAML aliases: 324 bytes that expand to 9^9 values are refused in milliseconds,
    before anything downstream (hashing, sweeps) expands them; so is --set with one."""
    import os
    import time
    from dsnbench.documents import MAX_VALUES, expanded_size, load_document, parse_override
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefg", "bcdefgh"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines + ["models: [*h]", "datasets: [mini-2mix]"]) + "\n")
    t = time.perf_counter()
    with pytest.raises(UserError, match=f"bomb.yaml: expands to more than {MAX_VALUES} values"):
        load_document(bomb)
    assert time.perf_counter() - t < 5
    with pytest.raises(UserError, match="--set models: expands to more than"):
        levels = ["&a [1,1,1,1,1,1,1,1,1]"] + [f"&{n} [" + ",".join([f"*{p}"] * 9) + "]"
                                                for p, n in zip("abcdefg", "bcdefgh")]
        parse_override("models=[" + ", ".join(levels) + "]")
    # an honest document with anchors is counted as written out, and read
    ok = tmp_path / "ok.yaml"
    ok.write_text("base: &b {workers: 2}\nmodels: [oracle-mixture]\ndatasets: [mini-2mix]\nextra: [*b, *b]\n")
    assert load_document(ok)["extra"] == [{"workers": 2}, {"workers": 2}]
    shared = [1, 2]
    assert expanded_size({"a": shared, "b": shared}) == 1 + 2 * (1 + 2) + 2
    fifo = tmp_path / "exp.yaml"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file"):
        load_document(fifo)


def test_a_sweep_of_billions_of_entries_is_refused_before_it_is_expanded(tmp_path):
    from dsnbench.run.config import build_config
    from dsnbench.run.sweep import MAX_ITEMS
    doc = {"models": [{"name": "m{i}", "sweep": {"i": {"range": [0, 99999, 1]}},
                       "operating_points": {"range": [0, 9999, 1]}}], "datasets": ["mini-2mix"]}
    with pytest.raises(UserError, match=f"more than {MAX_ITEMS}"):
        build_config(doc)
    doc = {"models": ["oracle-mixture"] * 0 + [{"name": "m{i}", "sweep": {"i": {"range": [0, 999, 1]}}}],
           "datasets": [{"name": "d{j}", "sweep": {"j": {"range": [0, 999, 1]}}}]}
    with pytest.raises(UserError, match="entries, more than"):
        build_config(doc)
