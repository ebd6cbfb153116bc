"""Identities of the tests' people, by namespace."""

from __future__ import annotations

from wayfare.model.identities import Identity


def email(x: str) -> Identity:
    return Identity("Email", x)


def ecid(x: str) -> Identity:
    return Identity("ECID", x)


def crm(x: str) -> Identity:
    return Identity("CRMID", x)
