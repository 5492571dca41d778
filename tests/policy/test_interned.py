"""Equal policy documents share one dict and one parsed model while anything holds them, and no longer;
policies that leave a section out share its default instance."""

from __future__ import annotations

import gc
import json
from collections.abc import Mapping
from typing import cast

import pytest
from pydantic import ValidationError

from watchdog.policy import interned
from watchdog.policy.service import EnvironmentPolicy

DOC: dict[str, object] = {
    "verification": {"duration": "10m", "interval": "30s"},
    "checks": [{"name": "healthz", "type": "http", "url": "http://127.0.0.1:1/healthz"}],
}


def copy(doc: Mapping[str, object]) -> dict[str, object]:
    return cast(dict[str, object], json.loads(json.dumps(doc)))


def test_equal_documents_share_one_dict_and_one_model_whatever_their_key_order() -> None:
    reordered = {"checks": copy(DOC)["checks"], "verification": {"interval": "30s", "duration": "10m"}}
    first, second = interned.shared_policy(copy(DOC)), interned.shared_policy(reordered)
    assert first is second
    assert first == EnvironmentPolicy.model_validate(DOC)
    a, b = interned.shared_document(copy(DOC)), interned.shared_document(reordered)
    assert a is b and a == DOC and json.loads(json.dumps(a)) == DOC


def test_a_config_document_and_the_snapshot_dumped_from_it_share_one_model() -> None:
    written = copy(DOC)
    written["dashboards"] = {"runbook": "https://grafana.example/d/dumped"}
    from_config = interned.shared_policy(written)
    snapshot = from_config.model_dump(mode="json", by_alias=True)
    assert snapshot != written  # the dump spells out every default
    assert interned.shared_policy(snapshot) is from_config


def test_different_documents_stay_apart() -> None:
    other = copy(DOC)
    other["verification"] = {"duration": "20m", "interval": "30s"}
    assert interned.shared_policy(DOC) is not interned.shared_policy(other)
    assert (
        interned.shared_policy(other).verification.duration
        != interned.shared_policy(DOC).verification.duration
    )
    assert interned.shared_document(DOC) is not interned.shared_document(other)


def test_an_entry_nobody_holds_is_let_go() -> None:
    doc = copy(DOC)
    doc["dashboards"] = {"one": "https://grafana.example/d/let-go"}
    held = interned.shared_policy(doc)
    key = interned._key(doc)
    assert interned._policies.get(key) is held
    del held
    gc.collect()
    assert interned._policies.get(key) is None
    assert interned.shared_policy(doc) == EnvironmentPolicy.model_validate(doc)  # parsed afresh


def test_an_invalid_document_raises_and_leaves_nothing_behind() -> None:
    bad = copy(DOC)
    bad["on_failure"] = "explode"
    with pytest.raises(ValidationError):
        interned.shared_policy(bad)
    assert interned._policies.get(interned._key(bad)) is None
    with pytest.raises(ValidationError):
        interned.shared_policy(bad)


def test_policies_that_leave_a_section_out_share_its_defaults_and_stay_apart_where_they_set_it() -> None:
    bare, other = EnvironmentPolicy(), EnvironmentPolicy.model_validate({"on_failure": "none"})
    assert bare.verification is other.verification and bare.rollback is other.rollback
    assert bare.gate is other.gate and bare.rollback.verification is other.rollback.verification
    assert "verification" not in other.model_fields_set  # still "not written" for the merge of layers
    longer = EnvironmentPolicy.model_validate({"verification": {"duration": "20m"}})
    assert longer.verification is not bare.verification
    assert longer.verification.duration != bare.verification.duration
