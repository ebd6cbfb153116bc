"""A schema's field tree as the console shows it, and finding records by identity."""

from __future__ import annotations

from wayfare.model.records import carries_identity
from wayfare.model.schema_paths import field_tree


def test_the_tree_nests_fields_with_their_type_required_enum_and_format() -> None:
    schema = {
        "type": "object",
        "required": ["person"],
        "properties": {
            "person": {
                "type": "object",
                "required": ["email"],
                "properties": {
                    "email": {"type": "string", "format": "email"},
                    "tier": {"type": "string", "enum": ["gold", "silver"]},
                },
            },
            "tags": {"type": "array", "items": {"type": "string"}},
            "orders": {
                "type": "array",
                "items": {"type": "object", "properties": {"sku": {"type": "string"}}},
            },
        },
    }
    person, tags, orders = field_tree(schema)
    assert (person.path, person.type, person.required) == ("person", "object", True)
    email, tier = person.children
    assert (email.path, email.format, email.required) == ("person.email", "email", True)
    assert (tier.enum, tier.required) == (("gold", "silver"), False)
    assert (tags.type, tags.children) == ("array of string", ())
    assert orders.type == "array of object"
    assert [c.path for c in orders.children] == ["orders.sku"]


def test_a_record_carries_an_identity_by_its_id_or_its_namespace_and_id() -> None:
    message = {"body": {"xdmEntity": {"identityMap": {"Email": [{"id": "ada@example.com"}]}}}}
    assert carries_identity(message, "ada@example.com")
    assert carries_identity(message, "Email:ada@example.com")
    assert not carries_identity(message, "ECID:ada@example.com")
    assert not carries_identity(message, "bob@example.com")
    assert not carries_identity({"body": {"xdmEntity": {}}}, "ada@example.com")
    assert not carries_identity("not a message", "ada@example.com")
