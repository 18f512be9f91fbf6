"""The JSON Schemas document exactly the forms the loader accepts (for what a schema can express)."""

import json
from pathlib import Path

import jsonschema
import pytest

from idealssl.errors import InputError
from idealssl.inputs import load_orbits, load_task

SCHEMAS = Path(__file__).resolve().parents[2] / "idealssl" / "schemas"
ORBITS = json.loads((SCHEMAS / "orbits.schema.json").read_text())
TASK = json.loads((SCHEMAS / "task.schema.json").read_text())
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    "obj",
    [
        {"orbits": [[0, 1, 2], [3, 4]]},
        {"labels": [0, 0, 0, 1, 1]},
        {"labels": ["a", "a", "a", "b", "b"], "p": [0.2, 0.2, 0.2, 0.2, 0.2]},
        {"pairs": [[0, 1], [1, 2], [3, 4]], "n": 5},
        {"pairs": [], "n": 5},
    ],
)
def test_valid_forms_validate_and_load(obj):
    jsonschema.validate(obj, ORBITS)
    assert load_orbits(obj, n=5).n == 5


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"orbits": []},
        {"orbits": [[]]},
        {"labels": [0, "a"]},
        {"pairs": [[0, 1]]},
        {"pairs": [[0, 1, 2]], "n": 3},
        {"labels": [0], "extra": 1},
        {"labels": [0], "orbits": [[0]]},
        {"labels": [0], "p": [-1]},
    ],
)
def test_schema_invalid_is_rejected_by_both(obj):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(obj, ORBITS)
    with pytest.raises(InputError):
        load_orbits(obj)


def test_examples_follow_the_schemas():
    for name in ("simplex_orbits.json", "span_orbits.json"):
        jsonschema.validate(json.loads((EXAMPLES / name).read_text()), ORBITS)
    task = json.loads((EXAMPLES / "task.json").read_text())
    jsonschema.validate(task, TASK)
    assert len(load_task(task, load_orbits(EXAMPLES / "simplex_orbits.json")).classes) == 3
