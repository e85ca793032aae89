"""GET /openapi.json: a valid OpenAPI 3 document that describes every route, with
schemas that match what the endpoints really answer."""
import re

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from app.openapi import Undescribed, declarations, spec_for

# The raw WebSocket (Socket.IO is not in url_map at all) and the web client's page and files.
UNDESCRIBED = {"/ws/", "/", "/app/<version>/<name>"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}
PUBLIC = {"/auth/register", "/auth/login", "/healthz", "/readyz", "/media/{path}", "/openapi.json",
          "/asyncapi.json", "/metrics"}


@pytest.fixture
def spec(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.content_type == "application/json"
    return response.get_json()


def conforms(spec, component, instance):
    """``instance`` is valid against ``#/components/schemas/<component>`` of ``spec``."""
    schema = {"$ref": f"#/components/schemas/{component}", "components": spec["components"]}
    errors = [error.message for error in OAS30Validator(schema).iter_errors(instance)]
    assert not errors, errors


def test_the_document_is_valid_openapi(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert "docs/API.md" in spec["info"]["description"]


def test_built_once_per_app(app, client):
    client.get("/openapi.json")
    assert client.get("/openapi.json").get_json() is not None
    assert spec_for(app) is spec_for(app) is app.extensions["openapi"]


def test_every_route_and_method_is_described(app, spec):
    described = {(path, method.upper()) for path, operations in spec["paths"].items() for method in operations}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule in UNDESCRIBED or rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        routed |= {(path, method) for method in rule.methods - IGNORED_METHODS}
    assert routed - described == set(), "routes without a description"
    assert described - routed == set(), "descriptions without a route"
    assert not any(path.startswith(("/ws", "/socket.io")) for path in spec["paths"])


def test_security_and_errors(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            responses = operation["responses"]
            if path in PUBLIC:
                assert "security" not in operation, where
            else:
                assert operation["security"] == [{"bearerAuth": []}], where
                assert responses["401"] == {"$ref": "#/components/responses/Unauthorized"}, where
            assert responses["500"] == {"$ref": "#/components/responses/ServerError"}, where
            if "requestBody" in operation:
                assert responses["400"] == {"$ref": "#/components/responses/BadRequest"}, where
            for parameter in operation.get("parameters", []):
                assert parameter["in"] != "path" or "{%s}" % parameter["name"] in path, where
    assert spec["paths"]["/auth/refresh"]["post"]["security"] == [{"bearerAuth": []}]
    upload = spec["paths"]["/ventroom/posts/"]["post"]["requestBody"]["content"]
    assert set(upload) == {"application/json", "multipart/form-data"}
    form = spec["components"]["schemas"]["PostCreate"]["properties"]
    assert form["media"]["format"] == "binary"
    responses = spec["components"]["responses"]
    assert set(responses["Throttled"]["headers"]) == {"Retry-After"}
    assert set(responses["MethodNotAllowed"]["headers"]) == {"Allow"}


def test_shapes_match_real_responses(client, alice, spec):
    schemas = spec["components"]["schemas"]
    assert set(schemas["PostPage"]["properties"]) == {"count", "next", "previous", "results"}
    assert set(schemas["NotificationPage"]["properties"]) == {"count", "next", "previous", "results",
                                                              "unread_count"}
    created = client.post("/ventroom/posts/", json={"title": "Hi", "content": "there"}, headers=alice.headers)
    post_id = created.get_json()["id"]
    reaction = client.post("/ventroom/reactions/", headers=alice.headers,
                           json={"content_type": "ventpost", "object_id": post_id, "reaction_type": "love"})
    post = client.get(f"/ventroom/posts/{post_id}/", headers=alice.headers).get_json()
    assert list(schemas["Post"]["properties"]) == list(post)
    conforms(spec, "Post", post)
    conforms(spec, "Reaction", reaction.get_json())
    conforms(spec, "PostPage", client.get("/ventroom/posts/?page_size=1", headers=alice.headers).get_json())

    url = f"/ventroom/posts/{post_id}/comments/"
    parent = client.post(url, json={"text": "first"}, headers=alice.headers).get_json()
    client.post(url, json={"text": "reply", "parent": parent["id"]}, headers=alice.headers)
    tree = client.get(url, headers=alice.headers).get_json()
    assert set(schemas["Comment"]["properties"]) == set(tree[0]) and tree[0]["replies"]
    conforms(spec, "Comment", tree[0])
    conforms(spec, "CommentPage", client.get(f"{url}?page=1", headers=alice.headers).get_json())

    conforms(spec, "Me", client.get("/auth/me", headers=alice.headers).get_json())
    conforms(spec, "NotificationPage", client.get("/notifications/", headers=alice.headers).get_json())
    conforms(spec, "Preferences", client.get("/notifications/preferences", headers=alice.headers).get_json())
    conforms(spec, "Health", client.get("/healthz").get_json())
    conforms(spec, "Readiness", client.get("/readyz").get_json())
    conforms(spec, "Error", client.get("/ventroom/posts/999/", headers=alice.headers).get_json())
    conforms(spec, "ValidationError", client.post("/ventroom/posts/", json={}, headers=alice.headers).get_json())


def test_an_undeclared_endpoint_cannot_exist(app):
    """Every view is declared with @endpoint (create_app checks it): a route without a
    declaration is refused, so nothing is ever left out of the document."""
    app.add_url_rule("/undeclared", "undeclared", lambda: {})
    with pytest.raises(Undescribed, match="/undeclared"):
        declarations(app)


def test_every_response_has_a_schema(spec):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if "$ref" in response or status == "204":
                    continue
                for content in response["content"].values():
                    assert content.get("schema"), f"{method.upper()} {path} {status}"
