"""A supervisor that stops on a configuration error before any worker ran leaves
nothing behind (a pod restarting on it would leave a directory per start)."""

from __future__ import annotations

import os

import pytest

from novaos.config import Settings
from novaos.errors import ConfigError
from novaos.supervisor import Supervisor


def test_a_configuration_error_at_start_removes_the_metrics_directory() -> None:
    settings = Settings(require_auth=False, workers=2, preferred_provider="openai")  # type: ignore[call-arg]
    supervisor = Supervisor(settings, {})
    assert os.path.isdir(supervisor.metrics_dir)
    with pytest.raises(ConfigError, match="PREFERRED_PROVIDER"):
        supervisor.run()
    assert not os.path.exists(supervisor.metrics_dir)
