"""Localhost-only DDS set-up that every entry point runs before rclpy is imported.

Fast DDS otherwise multicasts discovery on every interface. This module points Fast DDS at
`config/fastdds_localhost.xml` (loopback UDP + shared memory only), sets the ROS 2 discovery
range to LOCALHOST and gives ROS logs a folder. It touches nothing else; ROS_DOMAIN_ID and
RMW_IMPLEMENTATION stay the user's.

Users on a real robot network switch it off with one setting:
    GC_PERCEPTION_NETWORK=system   (use the ROS 2 / Fast DDS defaults of the environment)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

from gc_perception.resources import find_config

NETWORK_VARIABLE = "GC_PERCEPTION_NETWORK"
PROFILE_NAME = "fastdds_localhost.xml"


class NetworkSettingError(ValueError):
    """GC_PERCEPTION_NETWORK holds a value we do not know."""


def default_log_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"gc_perception-{os.getuid()}" / "ros_log"


def localhost_settings(env: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """The variables to set for localhost-only DDS (empty when the user chose 'system')."""
    env = os.environ if env is None else env
    mode = env.get(NETWORK_VARIABLE, "localhost").strip().lower()
    if mode == "system":
        return {}
    if mode != "localhost":
        raise NetworkSettingError(
            f"{NETWORK_VARIABLE}={mode!r}: expected 'localhost' (default) or 'system'"
        )
    settings = {
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
        "FASTDDS_DEFAULT_PROFILES_FILE": str(find_config(PROFILE_NAME)),
    }
    if not env.get("ROS_LOG_DIR"):
        settings["ROS_LOG_DIR"] = str(default_log_dir())
    return settings


def configure(env: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Apply `localhost_settings` to `env` (default: this process). Call before importing rclpy."""
    env = os.environ if env is None else env
    settings = localhost_settings(env)
    env.update(settings)
    if "ROS_LOG_DIR" in settings:
        Path(settings["ROS_LOG_DIR"]).mkdir(parents=True, exist_ok=True)
    return settings
