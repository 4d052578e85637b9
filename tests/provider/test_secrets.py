"""The provider is pickled into the Pulumi state by reference: it must carry no
connection details, before or after it has been used."""

from __future__ import annotations

import base64

import pytest
from pulumi.dynamic.dynamic import serialize_provider

import script_tracking.provider as provider_module
from script_tracking.db import ProviderError
from scripts.localpg import DEV_PASSWORD

from .support import ObjectProvider, connection


def _pickled() -> bytes:
    return base64.b64decode(serialize_provider(provider_module._PROVIDER))


def test_pickled_provider_holds_no_credentials_even_after_use(pg, db):
    p = ObjectProvider()
    p.sets = provider_module._PROVIDER
    conn = connection(pg, db)
    outs = p.create({"kind": "function", "identity": "public.f()", "connection": conn, "statements": [
        "CREATE FUNCTION public.f() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$"]}).outs
    p.read("public.f()", outs)
    with pytest.raises(ProviderError):
        p.create({"kind": "function", "identity": "public.g()", "statements": ["SELECT 1"],
                  "connection": {**conn, "password": "wrong"}})
    blob = _pickled()
    for needle in (pg.password, DEV_PASSWORD, "127.0.0.1", "localhost", db, conn["username"], "password"):
        assert needle.encode() not in blob, needle
    assert vars(provider_module._PROVIDER) == {}
    # by reference: the class is imported by the provider host, not embedded
    assert b"script_tracking.provider" in blob and b"ObjectSetProvider" in blob and len(blob) < 200


def test_provider_is_not_serialized_as_a_secret():
    assert provider_module.ObjectSetProvider.serialize_as_secret_always is False
