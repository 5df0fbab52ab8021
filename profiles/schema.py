"""The profile schema: declared once in ``profiles/schema/core.yaml``, extended by deployments.

Everything that needs to know the fields derives it from :func:`load_schema`: polars dtypes,
the rule language's types, validation, the generator and the console.  Nothing else lists them.

>>> schema = load_schema()
>>> schema.entity("resident").field("age").type
'integer'
>>> schema.entity("resident").by_name_zh["年龄"].name
'age'
>>> schema.entity("enterprise").key
'enterprise_id'

Each field has one :data:`Sensitivity` that every masking, refusal, export and ranking decision
reads (nothing keeps a flag of its own):

>>> r = schema.resident
>>> [r.field(n).sensitivity for n in ("person_id", "birth_date", "gender", "monthly_income")]
['identifier', 'quasi_identifier', 'protected', 'sensitive']
>>> r.field("person_id").aggregate_readable, r.field("age").aggregate_readable
(False, True)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml

from core.errors import SchemaError

__all__ = [
    "CORE_SCHEMA_PATH",
    "ENTITY_NAMES",
    "LINK_SOURCES",
    "SENSITIVITIES",
    "Entity",
    "Field",
    "FieldType",
    "Schema",
    "Sensitivity",
    "load_schema",
]

CORE_SCHEMA_PATH = Path(__file__).with_name("schema") / "core.yaml"
ENTITY_NAMES = ("resident", "enterprise", "event", "household", "employment")
# What a field may be ``derived: {from: ...}`` besides another field of its entity: the links
# of a household (its members) or of an employer (its employments), computed by profiles.links.
LINK_SOURCES = frozenset(("members", "employments"))

FieldType = Literal["string", "integer", "number", "boolean", "date", "datetime", "enum", "tags"]
_FIELD_TYPES: frozenset[str] = frozenset(
    ("string", "integer", "number", "boolean", "date", "datetime", "enum", "tags")
)
# What a flat field's ``linked:`` may name: the links that derive it where they exist.
LINKED_FROM = ("household", "children", "employments")
_FIELD_KEYS = frozenset(
    (
        "name",
        "name_zh",
        "type",
        "values",
        "values_zh",
        "values_en",
        "unit",
        "min",
        "max",
        "required",
        "sensitivity",
        "sensitive",  # the older spelling of ``sensitivity: sensitive``
        "derived",
        "pattern",
        "missing",
        "guardian",
        "linked",
        "zh",
        "en",
    )
)
# What a field says about the subject it describes, from most to least identifying.
#   identifier        names one subject by itself (ids, name, phone, e-mail, address)
#   quasi_identifier  names one subject with a few other fields (birth date); aggregates read
#                     it only through a coarsened derived field (age in whole years)
#   protected         a characteristic no decision may disadvantage (gender, age, disability,
#                     ethnicity, health)
#   sensitive         income, assets, social assistance
#   ordinary          everything else
Sensitivity = Literal["identifier", "quasi_identifier", "protected", "sensitive", "ordinary"]
SENSITIVITIES: tuple[Sensitivity, ...] = (
    "identifier", "quasi_identifier", "protected", "sensitive", "ordinary",
)  # fmt: skip
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Field:
    """One field of one entity, with everything the rest of Zhida derives from it."""

    name: str
    type: FieldType
    zh: str
    en: str
    name_zh: str | None = None
    values: tuple[str, ...] = ()
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    required: bool = False
    sensitivity: Sensitivity = "ordinary"
    derived_from: str | None = None
    pattern: str | None = None
    missing: float = 0.0
    values_zh: tuple[str, ...] = ()  # labels of ``values``, in order, as people read them
    values_en: tuple[str, ...] = ()
    derived_as: str | None = None  # how: whole_years, or an aggregate over links (size, ...)
    guardian: int | None = None  # a link to a person told for this one (1 asked first, ...)
    linked: str | None = None  # typed in, but derived from these links where they exist

    def label(self, value: str, lang: str) -> str:
        """How ``value`` of this enum reads in ``lang`` (zh, en); the value itself without a label.

        >>> f = load_schema().resident.field("subsistence_status")
        >>> f.label("tekun", "zh"), f.label("tekun", "en"), f.label("other", "zh")
        ('特困', 'extreme poverty support', 'other')
        """
        labels = self.values_zh if lang == "zh" else self.values_en
        if value in self.values and labels:
            return labels[self.values.index(value)]
        return value

    def value_named(self, text: str) -> str | None:
        """The value ``text`` names: a value itself, or its Chinese or English label.

        >>> f = load_schema().resident.field("gender")
        >>> [f.value_named(text) for text in ("女", "female", "Female", "x")]
        ['female', 'female', 'female', None]
        """
        if text in self.values:
            return text
        for labels in (self.values_zh, self.values_en):
            for value, label in zip(self.values, labels, strict=False):
                if text == label or text.casefold() == label.casefold():
                    return value
        return None

    @property
    def is_derived(self) -> bool:
        return self.derived_from is not None

    @property
    def from_links(self) -> bool:
        """Whether this field is an aggregate over links (a household's members), computed by
        ``profiles.links`` rather than from another field of the same record.

        >>> h = load_schema().entity("household")
        >>> h.field("size").from_links, load_schema().resident.field("age").from_links
        (True, False)
        """
        return self.derived_from in LINK_SOURCES

    @property
    def masked(self) -> bool:
        """Whether staff see this field of a named subject masked (only the subject sees it):
        everything but ordinary fields."""
        return self.sensitivity != "ordinary"

    @property
    def aggregate_readable(self) -> bool:
        """Whether a rule run for an aggregate-only answer may read this field: not an
        identifier, and a quasi-identifier only through a coarsened derived field."""
        return self.sensitivity not in ("identifier", "quasi_identifier")

    @property
    def sensitive(self) -> bool:
        """Whether a model may use this field only when allowed (``zhida rank train
        --no-sensitive`` leaves it out): sensitive and protected fields as stored, not the
        coarsened derived ones (age in whole years)."""
        return self.sensitivity in ("sensitive", "protected") and not self.is_derived

    @functools.cached_property  # read per column of every frame ingestion builds
    def polars_dtype(self) -> pl.DataType:
        """The column type of this field in every frame and Parquet file."""
        match self.type:
            case "string":
                return pl.String()
            case "integer":
                return pl.Int64()
            case "number":
                return pl.Float64()
            case "boolean":
                return pl.Boolean()
            case "date":
                return pl.Date()
            case "datetime":
                return pl.Datetime("us")
            case "enum":
                return pl.Enum(list(self.values))
            case "tags":
                return pl.List(pl.String())


@dataclass(frozen=True)
class Entity:
    """A kind of record: ``resident``, ``enterprise`` or ``event``."""

    name: str
    key: str | None
    zh: str
    en: str
    fields: tuple[Field, ...]
    by_name: Mapping[str, Field] = field(repr=False, compare=False, default_factory=dict)
    by_name_zh: Mapping[str, Field] = field(repr=False, compare=False, default_factory=dict)

    def field(self, name: str) -> Field:
        try:
            return self.by_name[name]
        except KeyError:
            raise SchemaError(
                f"{self.name} has no field {name!r}; its fields are: " + ", ".join(self.field_names)
            ) from None

    @property
    def linked_fields(self) -> tuple[str, ...]:
        """Fields a flat file types in but links derive where they exist (``profiles.links``).

        >>> load_schema().resident.linked_fields
        ('household_size', 'children_under_3', 'household_income_per_capita')
        >>> load_schema().enterprise.linked_fields
        ('employees', 'graduate_hires')
        """
        return tuple(f.name for f in self.fields if f.linked is not None)

    @property
    def guardian_fields(self) -> tuple[str, ...]:
        """The fields naming who is told for a subject (a child's guardian, then its mother,
        then its father: ``recipient: guardian``), in the order they are asked.

        >>> load_schema().resident.guardian_fields
        ('guardian_id', 'mother_id', 'father_id')
        """
        ranked = sorted((f.guardian, f.name) for f in self.fields if f.guardian is not None)
        return tuple(name for _, name in ranked)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @functools.cached_property  # read per record and frame on every ingested event
    def stored_fields(self) -> tuple[Field, ...]:
        """Fields read from input and stored (everything but derived ones)."""
        return tuple(f for f in self.fields if not f.is_derived)

    @property
    def derived_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.is_derived)

    def polars_schema(self, *, include_derived: bool = False) -> pl.Schema:
        """The polars schema of this entity's stored (and optionally derived) columns."""
        return pl.Schema(self._all_dtypes if include_derived else self._stored_dtypes)

    @functools.cached_property
    def _stored_dtypes(self) -> dict[str, pl.DataType]:
        return {f.name: f.polars_dtype for f in self.stored_fields}

    @functools.cached_property
    def _all_dtypes(self) -> dict[str, pl.DataType]:
        return {f.name: f.polars_dtype for f in self.fields}


@dataclass(frozen=True)
class Schema:
    entities: Mapping[str, Entity]
    sources: tuple[Path, ...]

    def entity(self, name: str) -> Entity:
        try:
            return self.entities[name]
        except KeyError:
            raise SchemaError(
                f"unknown entity {name!r}; expected one of: {', '.join(self.entities)}"
            ) from None

    @property
    def resident(self) -> Entity:
        return self.entities["resident"]

    @property
    def enterprise(self) -> Entity:
        return self.entities["enterprise"]

    @property
    def event(self) -> Entity:
        return self.entities["event"]

    @property
    def household(self) -> Entity:
        return self.entities["household"]

    @property
    def employment(self) -> Entity:
        return self.entities["employment"]


def _parse_field(raw: Any, where: str) -> Field:
    if not isinstance(raw, Mapping):
        raise SchemaError(f"{where}: expected a mapping with name, type, zh and en")
    unknown = set(raw) - _FIELD_KEYS
    if unknown:
        raise SchemaError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed keys are {sorted(_FIELD_KEYS)}"
        )
    for key in ("name", "type", "zh", "en"):
        if key not in raw:
            raise SchemaError(f"{where}: field is missing {key!r}")
    name = str(raw["name"])
    if not _IDENTIFIER.match(name):
        raise SchemaError(
            f"{where}: field name {name!r} must be lowercase ASCII letters, digits and '_'"
        )
    ftype = str(raw["type"])
    if ftype not in _FIELD_TYPES:
        raise SchemaError(
            f"{where}: field {name!r} has type {ftype!r}; expected one of {sorted(_FIELD_TYPES)}"
        )
    values = tuple(str(v) for v in raw.get("values") or ())
    if ftype == "enum" and not values:
        raise SchemaError(f"{where}: enum field {name!r} needs a non-empty 'values' list")
    if ftype != "enum" and values:
        raise SchemaError(f"{where}: only enum fields take 'values' ({name!r} is {ftype})")
    labels = {lang: _labels(raw, lang, name, values, where) for lang in ("zh", "en")}
    derived = raw.get("derived")
    sensitivity = str(
        raw.get("sensitivity") or ("sensitive" if raw.get("sensitive") else "ordinary")
    )
    if sensitivity not in SENSITIVITIES:
        raise SchemaError(
            f"{where}: field {name!r} has sensitivity {sensitivity!r}; expected one of "
            f"{', '.join(SENSITIVITIES)}"
        )
    return Field(
        name=name,
        type=ftype,  # type: ignore[arg-type]  # checked against _FIELD_TYPES above
        zh=str(raw["zh"]),
        en=str(raw["en"]),
        name_zh=str(raw["name_zh"]) if raw.get("name_zh") else None,
        values=values,
        unit=raw.get("unit"),
        min=raw.get("min"),
        max=raw.get("max"),
        required=bool(raw.get("required", False)),
        sensitivity=sensitivity,
        derived_from=str(derived["from"]) if isinstance(derived, Mapping) else None,
        derived_as=str(derived["as"]) if isinstance(derived, Mapping) and "as" in derived else None,
        pattern=raw.get("pattern"),
        missing=float(raw.get("missing", 0.0)),
        values_zh=labels["zh"],
        values_en=labels["en"],
        guardian=_guardian_rank(raw.get("guardian"), name, ftype, where),
        linked=_linked(raw.get("linked"), name, where),
    )


def _linked(raw: Any, name: str, where: str) -> str | None:
    if raw is None:
        return None
    if raw not in LINKED_FROM:
        raise SchemaError(
            f"{where}: 'linked' of {name!r} is {raw!r}; expected one of {', '.join(LINKED_FROM)} "
            "(the links profiles.links derives it from)"
        )
    return str(raw)


def _guardian_rank(raw: Any, name: str, ftype: str, where: str) -> int | None:
    if raw is None:
        return None
    if ftype != "string" or isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise SchemaError(
            f"{where}: 'guardian' of {name!r} must be a whole number from 1 (asked first) on a "
            f"string field holding a person_id"
        )
    return int(raw)


def _labels(
    raw: Mapping[str, Any], lang: str, name: str, values: tuple[str, ...], where: str
) -> tuple[str, ...]:
    """``values_zh``/``values_en``: one label per value, in order, naming no other value."""
    given = raw.get(f"values_{lang}")
    if given is None:
        return ()
    labels = tuple(str(v) for v in given) if isinstance(given, list) else ()
    if len(labels) != len(values):
        raise SchemaError(
            f"{where}: values_{lang} of {name!r} must list one label per value, in the order "
            f"of values ({len(values)}: {', '.join(values)})"
        )
    for value, label in zip(values, labels, strict=True):
        if label != value and label in values:
            raise SchemaError(
                f"{where}: values_{lang} of {name!r} labels {value!r} {label!r}, which is "
                "another value; a rule could not tell them apart"
            )
    if len(set(labels)) != len(labels):
        raise SchemaError(f"{where}: values_{lang} of {name!r} repeats a label; give each its own")
    return labels


def _read(path: Path) -> Mapping[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SchemaError(f"cannot read schema file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SchemaError(f"schema file {path} is not valid YAML: {exc}") from exc
    if not isinstance(doc, Mapping) or not isinstance(doc.get("entities"), Mapping):
        raise SchemaError(f"schema file {path}: expected a top-level 'entities:' mapping")
    return doc


def _build(docs: Sequence[tuple[Path, Mapping[str, Any]]]) -> Schema:
    fields: dict[str, list[Field]] = {}
    meta: dict[str, Mapping[str, Any]] = {}
    for path, doc in docs:
        for ename, body in doc["entities"].items():
            if not isinstance(body, Mapping):
                raise SchemaError(f"{path}: entity {ename!r} must be a mapping")
            if ename not in meta:
                if path != docs[0][0]:
                    raise SchemaError(
                        f"{path}: an extension may add fields to {', '.join(ENTITY_NAMES)} "
                        f"but not a new entity {ename!r}"
                    )
                meta[ename] = body
            known = {f.name for f in fields.setdefault(ename, [])}
            for i, raw in enumerate(body.get("fields") or ()):
                f = _parse_field(raw, f"{path}: {ename}.fields[{i}]")
                if f.name in known:
                    raise SchemaError(
                        f"{path}: {ename} field {f.name!r} is declared twice; an extension "
                        "may add fields but not redefine them"
                    )
                known.add(f.name)
                fields[ename].append(f)
    entities: dict[str, Entity] = {}
    for ename, flist in fields.items():
        body = meta[ename]
        by_name = {f.name: f for f in flist}
        by_zh = {f.name_zh: f for f in flist if f.name_zh}
        for f in flist:
            if f.derived_from and f.derived_from not in (*by_name, *LINK_SOURCES):
                raise SchemaError(
                    f"{ename}.{f.name} is derived from {f.derived_from!r}, which is neither a "
                    f"field nor a link ({', '.join(sorted(LINK_SOURCES))})"
                )
        key = body.get("key")
        if key is not None and key not in by_name:
            raise SchemaError(f"{ename}: key {key!r} is not one of its fields")
        entities[ename] = Entity(
            name=ename,
            key=key,
            zh=str(body.get("zh", ename)),
            en=str(body.get("en", ename)),
            fields=tuple(flist),
            by_name=by_name,
            by_name_zh=by_zh,
        )
    missing = [e for e in ENTITY_NAMES if e not in entities]
    if missing:
        raise SchemaError(f"the schema must declare the entities {missing}")
    return Schema(entities=entities, sources=tuple(p for p, _ in docs))


@cache
def _load(paths: tuple[Path, ...]) -> Schema:
    return _build([(p, _read(p)) for p in paths])


def load_schema(extensions: Iterable[Path] | None = None) -> Schema:
    """The core schema plus ``extensions`` (default: ``ZHIDA_SCHEMA_EXTENSIONS``)."""
    if extensions is None:
        from core.settings import get_settings

        extensions = get_settings().schema_extensions
    return _load((CORE_SCHEMA_PATH, *extensions))
