from pathlib import Path

import pytest

from gc_perception import ros_env


def test_localhost_settings_point_at_the_shipped_profile():
    env = {}
    settings = ros_env.configure(env)
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    profile = Path(env["FASTDDS_DEFAULT_PROFILES_FILE"])
    assert profile.name == "fastdds_localhost.xml" and profile.is_file()
    text = profile.read_text()
    assert "<useBuiltinTransports>false</useBuiltinTransports>" in text
    assert "<address>127.0.0.1</address>" in text
    assert set(settings) == {"ROS_AUTOMATIC_DISCOVERY_RANGE", "FASTDDS_DEFAULT_PROFILES_FILE",
                             "ROS_LOG_DIR"}


def test_user_log_dir_and_domain_are_kept():
    env = {"ROS_LOG_DIR": "/somewhere/logs", "ROS_DOMAIN_ID": "42"}
    ros_env.configure(env)
    assert env["ROS_LOG_DIR"] == "/somewhere/logs"
    assert env["ROS_DOMAIN_ID"] == "42"


def test_system_network_switches_everything_off():
    env = {"GC_PERCEPTION_NETWORK": "system"}
    assert ros_env.configure(env) == {}
    assert env == {"GC_PERCEPTION_NETWORK": "system"}


def test_unknown_network_value_is_a_clear_error():
    with pytest.raises(ros_env.NetworkSettingError, match="'localhost'"):
        ros_env.configure({"GC_PERCEPTION_NETWORK": "lan"})
