"""meshkit.workers: how many workers a service runs (WORKERS, one per CPU by default, within the
container's CPU limit), which one a process is, and how it is told."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshkit.config import ConfigError
from meshkit.workers import (
    INDEX_VARIABLE,
    SUPERVISOR_VARIABLE,
    WORKERS_VARIABLE,
    WorkerIdentity,
    cgroup_cpu_limit,
    configured_workers,
    default_workers,
    identity_from,
    shared_secret,
)


def test_workers_is_read_from_the_environment() -> None:
    """WORKERS=3 is three processes behind the port."""
    assert configured_workers({WORKERS_VARIABLE: "3"}) == 3


def test_without_workers_a_service_runs_one_worker_per_cpu_it_may_use() -> None:
    """The default is the CPUs of the process's affinity, within its cgroup's CPU limit."""
    assert configured_workers({}) == default_workers() >= 1


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5", "257"])
def test_a_workers_value_that_is_not_1_to_256_is_a_configuration_error(raw: str) -> None:
    """Bad configuration: exit 2 naming the variable, never a guess."""
    with pytest.raises(ConfigError, match="WORKERS is invalid"):
        configured_workers({WORKERS_VARIABLE: raw})


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_cgroup_v2_cpu_limit_caps_the_default_rounded_up(tmp_path: Path) -> None:
    """A container limited to 1.5 CPUs (cpu.max "150000 100000") on a bigger node gets 2
    workers, not one per CPU of the node; the tightest limit on the way to the root counts."""
    membership = write(tmp_path / "cgroup", "0::/kubepods/pod1/container\n")
    write(tmp_path / "fs/kubepods/pod1/container/cpu.max", "150000 100000\n")
    write(tmp_path / "fs/kubepods/pod1/cpu.max", "400000 100000\n")
    write(tmp_path / "fs/kubepods/cpu.max", "max 100000\n")
    assert cgroup_cpu_limit(tmp_path / "fs", membership) == 2


def test_a_cgroup_v1_cfs_quota_caps_the_default(tmp_path: Path) -> None:
    """cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us, -1 meaning no limit."""
    membership = write(tmp_path / "cgroup", "3:cpuset:/\n2:cpu,cpuacct:/docker/abc\n")
    write(tmp_path / "fs/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "100000\n")
    write(tmp_path / "fs/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_limit(tmp_path / "fs", membership) == 1
    write(tmp_path / "fs/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n")
    assert cgroup_cpu_limit(tmp_path / "fs", membership) is None


def test_a_process_no_supervisor_started_is_worker_0_of_1() -> None:
    """WORKERS=1, or a process started by hand: today's single process, no worker index in its
    logs, no shared port."""
    identity = identity_from({WORKERS_VARIABLE: "4", INDEX_VARIABLE: "2"})
    assert (identity.index, identity.count, identity.supervised) == (0, 1, False)
    assert identity.runs_background_jobs


def test_a_supervised_worker_knows_its_index_count_and_group() -> None:
    """The supervisor's variables: only worker 0 runs the periodic jobs."""
    identity = identity_from(
        {SUPERVISOR_VARIABLE: "4242", WORKERS_VARIABLE: "4", INDEX_VARIABLE: "2"}
    )
    assert (identity.index, identity.count, identity.supervised) == (2, 4, True)
    assert identity.group.endswith("-4242")
    assert identity.instance_id == f"{identity.group}/2"
    assert not identity.runs_background_jobs


def test_the_identity_a_health_check_carries_reads_back_the_same() -> None:
    """The health answer's metadata value (meshkit.server) parses into the identity it came
    from; anything else is no identity at all."""
    identity = WorkerIdentity(1, 3, "pod-7-99")
    assert WorkerIdentity.parse(identity.header()) == identity
    for value in ("", "1/3", "3/3 pod", "x/2 pod", "1/300 pod"):
        assert WorkerIdentity.parse(value) is None, value


def test_a_process_that_runs_alone_has_no_shared_secret() -> None:
    """Without a supervisor there is nobody to agree with: callers make their own key."""
    assert shared_secret("anything") is None
