"""Issue 10's invariants for the JSON engine, as properties over generated documents of the
portal `settings.json` shape: nested objects, arrays of objects with an `id` key.

The model and edit scripts are test_yaml_invariants.py's (without comments: strict JSON
has none); each side is written with `json.dumps` at its own indentation, as a tool or a
person re-saving the file would. The merge is read back with Python's json module.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tests.merge.test_yaml_invariants import (
    SETTING_EDITS,
    Doc,
    disjoint,
    docs,
    expected,
    normalise,
    plain,
)
from uplevel.merge.json import merge_json

PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def write_json(doc: Doc, indent: int) -> bytes:
    return json.dumps(plain(doc, "id"), indent=indent).encode() + b"\n"


@PROPS
@given(st.data())
def test_disjoint_scripts_merge_clean_with_every_edit(data: st.DataObject) -> None:
    base = data.draw(docs(comments=False))
    ours, theirs, _ = data.draw(disjoint(base, SETTING_EDITS))
    indent = data.draw(st.sampled_from([2, 4]))
    b, o, t = write_json(base, 2), write_json(ours.doc, indent), write_json(theirs.doc, 2)
    result = merge_json(b, o, t)
    note(result.merged.decode())
    assert [c.path for c in result.conflicts] == []
    assert normalise(json.loads(result.merged), "id") == expected(base, ours.doc, theirs.doc)


@PROPS
@given(st.data())
def test_overlapping_scripts_conflict_exactly_on_shared_settings(data: st.DataObject) -> None:
    base = data.draw(docs(comments=False))
    ours, theirs, both = data.draw(disjoint(base, SETTING_EDITS, shared=3))
    b, o, t = write_json(base, 4), write_json(ours.doc, 4), write_json(theirs.doc, 4)
    result = merge_json(b, o, t)
    note(result.merged.decode())
    assert sorted(c.path for c in result.conflicts) == both.conflicts("id")
    assert normalise(json.loads(result.merged), "id") == expected(base, ours.doc, theirs.doc, both)
