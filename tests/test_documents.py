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
