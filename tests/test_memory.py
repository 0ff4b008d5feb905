"""fastembed._memory: refusing an allocation the machine cannot hold, with a message that names
what asked for it."""

from __future__ import annotations

import pytest

from fastembed import _memory
from fastembed._memory import GB, available_bytes, check_allocation, format_bytes


def test_refuses_more_than_available(monkeypatch):
    monkeypatch.setattr(_memory, "available_bytes", lambda: int(11.2 * GB))
    with pytest.raises(ValueError, match=r"^thing=7 needs 23\.8 GB, this machine has 11\.2 GB available; lower thing$"):
        check_allocation(int(23.8 * GB), "thing=7", hint="lower thing")
    check_allocation(int(11.2 * GB), "thing=7")  # exactly what is available: allowed


def test_unknown_availability_checks_nothing(monkeypatch):
    monkeypatch.setattr(_memory, "available_bytes", lambda: None)
    check_allocation(10**18, "anything")


def test_cgroup_limit_lowers_the_available_memory(monkeypatch):
    monkeypatch.setattr(_memory, "_meminfo_available", lambda: 20 * GB)
    monkeypatch.setattr(_memory, "_cgroup_headroom", lambda: 3 * GB)
    assert available_bytes() == 3 * GB
    monkeypatch.setattr(_memory, "_cgroup_headroom", lambda: None)
    assert available_bytes() == 20 * GB
    monkeypatch.setattr(_memory, "_meminfo_available", lambda: None)
    monkeypatch.setattr(_memory, "_sysconf_available", lambda: 5 * GB)
    assert available_bytes() == 5 * GB


def test_this_machine_reports_a_plausible_amount():
    n = available_bytes()
    assert n is not None and 0 < n < 2**50  # Linux: /proc/meminfo is always there


@pytest.mark.parametrize("n,text", [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KB"), (5 * 1024**2, "5.0 MB"),
                                    (int(2.25 * GB), "2.2 GB"), (3 * 1024**4, "3.0 TB")])
def test_format_bytes(n, text):
    assert format_bytes(n) == text
