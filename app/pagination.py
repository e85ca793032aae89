"""Page-number pagination, DRF style: ``{count, next, previous, results}``."""
from marshmallow import ValidationError

from app.errors import InvalidPage
from app.urls import page_url

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# The two query parameters, as OpenAPI describes them.
PAGE_QUERY = (
    {"in": "query", "name": "page", "schema": {"type": "integer", "minimum": 1, "default": 1},
     "description": "1-based; past the end or not a positive integer: 404 `Invalid page.`"},
    {"in": "query", "name": "page_size", "schema": {"type": "integer", "minimum": 1, "default": DEFAULT_PAGE_SIZE},
     "description": f"Larger than {MAX_PAGE_SIZE} is clamped to {MAX_PAGE_SIZE}; non-numeric or < 1: 400."},
)


def page_args(args):
    """``(page, page_size)`` from query args; bad ``page`` is 404, bad ``page_size`` 400."""
    raw_page = args.get("page", "1")
    try:
        page = int(raw_page)
    except ValueError:
        raise InvalidPage() from None
    if page < 1:
        raise InvalidPage()
    raw_size = args.get("page_size")
    if raw_size in (None, ""):
        return page, DEFAULT_PAGE_SIZE
    try:
        page_size = int(raw_size)
    except ValueError:
        raise ValidationError({"page_size": ["A valid integer is required."]}) from None
    if page_size < 1:
        raise ValidationError({"page_size": ["Ensure this value is greater than or equal to 1."]})
    return page, min(page_size, MAX_PAGE_SIZE)


def check_page(page, page_size, count):
    """Page 1 always exists (empty or not); any other page must have items."""
    if page > 1 and (page - 1) * page_size >= count:
        raise InvalidPage()


def page_body(results, count, page, page_size):
    last = max(1, -(-count // page_size))
    return {
        "count": count,
        "next": page_url(page + 1) if page < last else None,
        "previous": page_url(page - 1) if page > 1 else None,
        "results": results,
    }
