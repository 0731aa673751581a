#!/usr/bin/env python3
"""Offline validator for PGXN META.json files (PGXN Meta Spec 1.0.0).

Usage: validate_meta.py [META.json ...]      (default: META.json in the current directory)

Prints "<file>: valid" and exits 0, or prints every problem found, one per line as
"<file>: <json path>: <message>", and exits 1.

The structure is checked with a JSON Schema (Draft 2020-12) written from the spec
(https://pgxn.org/meta/spec.txt): required keys, SemVer versions, license forms, provides
entries, prereq phases/relationships with version ranges, resources, no_index, tags,
release_status, meta-spec, and the rule that any other key must start with "x_" or "X_".
Beyond the schema, the files named by provides (file, docfile) must exist relative to the
directory that holds the META.json.

Python API: validate(path) -> list of error strings (empty when valid), and
validate_data(meta, base_dir=None) for an already parsed document.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker

# SemVer 2.0.0, as required for every "version" in the spec.
_SEMVER = (
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?"
    r"(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?"
)
# A version range: "0", a version, or operator + version, AND-ed together with commas.
_RANGE_ITEM = rf"((==|!=|<=|>=|<|>)\s*)?{_SEMVER}"
_VERSION_RANGE = rf"^\s*(0|{_RANGE_ITEM}(\s*,\s*{_RANGE_ITEM})*)\s*$"

# The license keys listed by the spec ("license" section).
LICENSE_KEYS = (
    "agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd", "freebsd",
    "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit",
    "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5", "postgresql", "qpl_1_0", "ssleay",
    "sun", "zlib", "open_source", "restricted", "unrestricted", "unknown",
)

_CUSTOM = {"^[xX]_.": {}}  # custom keys are allowed anywhere an object is defined by the spec

_TERM = {  # at least two characters, no slash, backslash, whitespace or control character
    "type": "string",
    "pattern": r"^[^/\\\s\x00-\x1f\x7f]{2,}$",
}
_PATH = {"type": "string", "minLength": 1, "format": "unix-relative-path"}
_URI = {"type": "string", "format": "uri"}
_VERSION = {"type": "string", "pattern": f"^{_SEMVER}$"}
_RANGE = {"oneOf": [{"const": 0}, {"type": "string", "pattern": _VERSION_RANGE}]}
_LICENSE_KEY = {"enum": list(LICENSE_KEYS)}

_RELATIONSHIP = {
    "type": "object",
    "minProperties": 1,
    "propertyNames": _TERM,
    "additionalProperties": _RANGE,
}
_PHASE = {
    "type": "object",
    "minProperties": 1,
    "properties": {
        rel: _RELATIONSHIP for rel in ("requires", "recommends", "suggests", "conflicts")
    },
    "patternProperties": _CUSTOM,
    "additionalProperties": False,
}
_PATH_LIST = {
    "oneOf": [
        _PATH,
        {"type": "array", "minItems": 1, "uniqueItems": True, "items": _PATH},
    ]
}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "PGXN Meta Spec 1.0.0",
    "type": "object",
    "required": [
        "name", "abstract", "version", "maintainer", "license", "provides", "meta-spec",
    ],
    "properties": {
        "name": _TERM,
        "abstract": {"type": "string", "minLength": 1},
        "description": {"type": "string", "minLength": 1},
        "version": _VERSION,
        "maintainer": {
            "oneOf": [
                {"type": "string", "minLength": 1},
                {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
            ]
        },
        "license": {
            "oneOf": [
                _LICENSE_KEY,
                {"type": "array", "minItems": 1, "items": _LICENSE_KEY},
                {"type": "object", "minProperties": 1, "additionalProperties": _URI},
            ]
        },
        "provides": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": _TERM,
            "additionalProperties": {
                "type": "object",
                "required": ["file", "version"],
                "properties": {
                    "file": _PATH,
                    "version": _VERSION,
                    "abstract": {"type": "string", "minLength": 1},
                    "docfile": _PATH,
                },
                "patternProperties": _CUSTOM,
                "additionalProperties": False,
            },
        },
        "meta-spec": {
            "type": "object",
            "required": ["version"],
            "properties": {
                "version": {"const": "1.0.0"},
                "url": {"enum": ["https://pgxn.org/meta/spec.txt", "http://pgxn.org/meta/spec.txt"]},
            },
            "patternProperties": _CUSTOM,
            "additionalProperties": False,
        },
        "generated_by": {"type": "string", "minLength": 1},
        "tags": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "maxLength": 255, "pattern": r"^[^/\\\x00-\x1f\x7f]{2,}$"},
        },
        "no_index": {
            "type": "object",
            "minProperties": 1,
            "properties": {"file": _PATH_LIST, "directory": _PATH_LIST},
            "patternProperties": _CUSTOM,
            "additionalProperties": False,
        },
        "prereqs": {
            "type": "object",
            "minProperties": 1,
            "properties": {
                phase: _PHASE for phase in ("configure", "build", "test", "runtime", "develop")
            },
            "patternProperties": _CUSTOM,
            "additionalProperties": False,
        },
        "release_status": {"enum": ["stable", "testing", "unstable"]},
        "resources": {
            "type": "object",
            "minProperties": 1,
            "properties": {
                "homepage": _URI,
                "bugtracker": {
                    "type": "object",
                    "minProperties": 1,
                    "properties": {"web": _URI, "mailto": {"type": "string", "format": "email"}},
                    "patternProperties": _CUSTOM,
                    "additionalProperties": False,
                },
                "repository": {
                    "type": "object",
                    "minProperties": 1,
                    "properties": {
                        "url": _URI,
                        "web": _URI,
                        "type": {"type": "string", "pattern": "^[a-z]+$"},
                    },
                    "dependentRequired": {"url": ["type"]},
                    "patternProperties": _CUSTOM,
                    "additionalProperties": False,
                },
            },
            "patternProperties": _CUSTOM,
            "additionalProperties": False,
        },
    },
    "patternProperties": _CUSTOM,
    "additionalProperties": False,
}

_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(re.fullmatch(r"[a-zA-Z][a-zA-Z0-9+.-]*", parts.scheme or "")) and bool(
        parts.netloc or parts.path
    ) and not re.search(r"\s", value)


@_FORMATS.checks("email")
def _is_email(value: object) -> bool:
    return not isinstance(value, str) or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value) is not None


@_FORMATS.checks("unix-relative-path")
def _is_unix_relative_path(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return not (
        value.startswith("/")
        or "\\" in value
        or re.match(r"^[A-Za-z]:", value)
        or ".." in value.split("/")
    )


_VALIDATOR = Draft202012Validator(SCHEMA, format_checker=_FORMATS)

# Messages in the spec's terms, used where jsonschema's generic ones would be vague.
_FRIENDLY = {
    "version": "must be a SemVer version such as 1.2.3 (see https://semver.org)",
    "license": "must be a license key from the spec (lower case, e.g. \"postgresql\"), "
    "a list of such keys, or an object mapping license names to URLs; valid keys: "
    + ", ".join(LICENSE_KEYS),
    "range": "must be a version range: 0, a SemVer version, or operators "
    "(==, !=, <, <=, >, >=) with versions, AND-ed with commas, e.g. \">= 1.2.0, < 2.0.0\"",
    "path": "must be a relative path in Unix form (no leading /, no backslash, no ..)",
    "term": "must be at least 2 characters with no slash, backslash, space or control character",
}


def _json_path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _describe(error) -> str:
    """One line for one schema error, in the spec's vocabulary where jsonschema's is vague."""
    path = list(error.absolute_path)
    where = _json_path(path)
    schema = error.schema
    inst = json.dumps(error.instance) if not isinstance(error.instance, (dict, list)) else None

    if error.validator == "additionalProperties" and schema.get("additionalProperties") is False:
        known = sorted(schema.get("properties", {}))
        extra = sorted(
            k for k in error.instance
            if k not in known and not re.match(r"^[xX]_.", k)
        )
        hint = f"; known keys: {', '.join(known)}" if known else ""
        return (
            f"{where}: unknown key(s) {', '.join(map(repr, extra))}: custom keys must start "
            f"with \"x_\" or \"X_\"{hint}"
        )
    if error.validator == "required":
        missing = [k for k in schema["required"] if k not in error.instance]
        return f"{where}: missing required key(s): {', '.join(map(repr, missing))}"
    if error.validator == "oneOf" and error.context:
        # Report the alternative that came closest: skip branches of the wrong JSON type,
        # then take the deepest remaining sub-error.
        candidates = [e for e in error.context if e.validator != "type"] or list(error.context)
        best = max(candidates, key=lambda e: len(e.absolute_path))
        if path and path[0] == "license" and best.validator in ("enum", "const", "type"):
            where = _json_path(best.absolute_path)
            return f"{where}: {json.dumps(best.instance)} is not valid: {_FRIENDLY['license']}"
        if schema.get("oneOf") != _RANGE["oneOf"]:
            return _describe(best)
    if schema is _VERSION or (schema.get("pattern") == _VERSION["pattern"]):
        return f"{where}: {inst} is not valid: {_FRIENDLY['version']}"
    if error.validator == "oneOf" and schema.get("oneOf") == _RANGE["oneOf"]:
        return f"{where}: {inst or 'value'} is not valid: {_FRIENDLY['range']}"
    if schema.get("pattern") == _TERM["pattern"]:
        return f"{where}: {inst} is not valid: {_FRIENDLY['term']}"
    if error.validator == "format" and schema.get("format") == "unix-relative-path":
        return f"{where}: {inst} is not valid: {_FRIENDLY['path']}"
    if error.validator == "propertyNames":
        return f"{where}: key {json.dumps(error.instance)} is not valid: {_FRIENDLY['term']}"
    if where == "meta-spec.version" and error.validator == "const":
        return f"{where}: {inst} is not valid: this validator implements meta-spec version \"1.0.0\""
    if error.validator == "enum":
        return f"{where}: {inst or 'value'} is not one of {', '.join(map(json.dumps, schema['enum']))}"
    if error.validator == "format" and schema.get("format") in ("uri", "email"):
        what = "URL" if schema["format"] == "uri" else "e-mail address"
        return f"{where}: {inst} is not a valid {what}"
    if path and path[0] == "tags" and error.validator in ("pattern", "maxLength"):
        return f"{where}: {inst} is not valid: a tag has 2 to 255 characters and no slash, backslash or control character"
    return f"{where}: {error.message}"


def _file_errors(meta: dict, base_dir: Path) -> list[str]:
    """provides.*.file and .docfile must name files that exist in the distribution."""
    errors = []
    provides = meta.get("provides")
    if not isinstance(provides, dict):
        return errors
    for ext, entry in provides.items():
        if not isinstance(entry, dict):
            continue
        for key in ("file", "docfile"):
            rel = entry.get(key)
            if isinstance(rel, str) and _is_unix_relative_path(rel) and rel:
                if not (base_dir / rel).is_file():
                    errors.append(
                        f"provides.{ext}.{key}: {json.dumps(rel)} does not exist "
                        f"(paths are relative to {base_dir})"
                    )
    return errors


def validate_data(meta: object, base_dir: Path | str | None = None) -> list[str]:
    """All problems found in a parsed META.json document; [] when it is valid.

    base_dir, when given, is the directory that the provides paths are relative to.
    """
    errors = []
    for error in sorted(_VALIDATOR.iter_errors(meta), key=lambda e: list(map(str, e.absolute_path))):
        line = _describe(error)
        if line not in errors:
            errors.append(line)
    if base_dir is not None and isinstance(meta, dict):
        errors.extend(_file_errors(meta, Path(base_dir)))
    return errors


def validate(path: Path | str) -> list[str]:
    """All problems found in the META.json file at path; [] when it is valid."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return [f"cannot read: {exc.strerror}"]
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        return [f"not valid JSON: {exc}"]
    return validate_data(meta, path.resolve().parent)


def main(argv: list[str]) -> int:
    paths = argv or ["META.json"]
    status = 0
    for name in paths:
        errors = validate(name)
        if errors:
            status = 1
            for line in errors:
                print(f"{name}: {line}")
            print(f"{name}: {len(errors)} error(s)")
        else:
            print(f"{name}: valid")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
