"""The JSON Schemas in ``schemas/`` are the one source of truth for every message on every topic.

The runtime validates incoming messages with these files, and tests validate outgoing messages with them,
so producers in other languages and this service cannot drift apart.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from rfc3339_validator import validate_rfc3339

SCHEMA_NAMES = ("survey_response", "review", "theme_assignment", "theme_event", "alert", "dead_letter")


def schemas_dir() -> Path:
    """Where the schema files are: ``$INSIGHTS_SCHEMAS_DIR`` or the ``schemas/`` folder of this checkout."""
    override = os.environ.get("INSIGHTS_SCHEMAS_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "schemas"


@cache
def load_schema(name: str, version: int = 1) -> dict[str, Any]:
    path = schemas_dir() / f"{name}.v{version}.json"
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


@cache
def validator(name: str, version: int = 1) -> Draft202012Validator:
    schema = load_schema(name, version)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _is_rfc3339(value: str) -> bool:
    """The date-time check jsonschema applies (rfc3339-validator on the upper-cased string)."""
    return validate_rfc3339(value.upper())


@cache
def compiled_check(name: str, version: int = 1) -> Callable[[Any], Any]:
    """The schema compiled to Python by fastjsonschema: raises on an invalid document.

    Every incoming message is validated, so this is per-item cost: 27 us against 407 us for jsonschema's
    validator on the simulator's survey responses (benchmarks/hot_path.py, which also checks both give the same
    verdict on each). jsonschema stays the reference: it explains every rejection and decides wherever
    fastjsonschema rejects, and a property test (tests/test_fuzz_parsers.py) checks that both verdicts agree.
    """
    return fastjsonschema.compile(load_schema(name, version), formats={"date-time": _is_rfc3339})


def first_error(name: str, document: Any, version: int = 1) -> str | None:
    """A one-line description of the most relevant schema violation, or None when the document is valid."""
    try:
        compiled_check(name, version)(document)
        return None
    except fastjsonschema.JsonSchemaException:
        pass  # invalid (or only fastjsonschema says so): jsonschema decides and says why
    error: ValidationError | None = best_match(validator(name, version).iter_errors(document))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(message)"
    message = error.message
    if len(message) > 300:
        message = message[:300] + "..."
    return f"{where}: {message}"


def assert_valid(name: str, document: Any, version: int = 1) -> None:
    """Raise ValueError when an outgoing message does not match its schema (a bug in this service)."""
    problem = first_error(name, document, version)
    if problem is not None:
        raise ValueError(f"{name} v{version} message does not match its schema: {problem}")
