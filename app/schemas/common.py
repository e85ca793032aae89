"""Shapes shared by many endpoints: the page envelope and the error bodies."""
from marshmallow import INCLUDE, Schema, fields

_pages = {}


def page_of(item, **extra):
    """The ``{count, next, previous, results}`` envelope of ``app.pagination`` around
    ``item`` (a Schema class), plus ``extra`` fields; named ``<Item>PageSchema``, one
    class per item schema."""
    if item in _pages:
        return _pages[item]
    name = item.__name__.removesuffix("Schema") + "PageSchema"
    attributes = {
        "count": fields.Integer(),
        "next": fields.String(allow_none=True, metadata={"format": "uri"}),
        "previous": fields.String(allow_none=True, metadata={"format": "uri"}),
        "results": fields.List(fields.Nested(item)),
        **extra,
    }
    _pages[item] = type(name, (Schema,), attributes)
    return _pages[item]


class ErrorSchema(Schema):
    """Every error but 400: ``{"detail": "..."}``."""

    detail = fields.String()


class ValidationErrorSchema(Schema):
    """400: field name to messages; body-level problems under ``non_field_errors``;
    malformed JSON as ``detail``."""

    class Meta:
        unknown = INCLUDE  # any field name may carry its list of messages

    non_field_errors = fields.List(fields.String())
    detail = fields.String()
