"""The ``temporary_kind`` fixture leaves the registry as it found it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from syncing.kinds import Kind, TierSpec, UnknownKind, get_kind
from syncing.probe import PROBE_KIND
from tests.support.kinds import registered_kind


def test_a_test_kind_is_gone_and_a_replaced_kind_is_back_afterwards():
    extra = Kind(
        name="tests.temporary",
        model="syncing.Probe",
        sync=lambda item, ctx: None,
        tiers=(TierSpec("5m", timedelta(minutes=5)),),
        default_tier="5m",
    )
    original = get_kind(PROBE_KIND.name)
    with registered_kind(extra), registered_kind(replace(original, chunk_size=3)):
        assert get_kind("tests.temporary") is extra
        assert get_kind(PROBE_KIND.name).chunk_size == 3
    with pytest.raises(UnknownKind):
        get_kind("tests.temporary")
    assert get_kind(PROBE_KIND.name) is original
