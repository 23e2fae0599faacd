import pytest

from gc_perception.adascale import energy


def test_shipped_device_config_has_both_core_classes():
    table = energy.load_power_table(energy.default_device_config())
    assert set(table) == {"efficiency", "performance"}
    assert table["efficiency"].busy < table["performance"].busy


def test_energy_is_cpu_time_times_busy_power():
    table = {"efficiency": energy.CorePower(0.5, 0.1), "performance": energy.CorePower(2.0, 0.1)}
    assert energy.stage_energy_joules(0.01, "performance", table) == pytest.approx(0.02)
    total = energy.inference_energy_joules({"efficiency": 0.002, "performance": 0.01}, table)
    assert total == pytest.approx(0.001 + 0.02)
    with pytest.raises(KeyError, match="known"):
        energy.stage_energy_joules(1.0, "gpu", table)


def test_bad_power_tables_are_refused(tmp_path):
    path = tmp_path / "device.yaml"
    path.write_text("core_classes: {}\n")
    with pytest.raises(ValueError, match="power_watts"):
        energy.load_power_table(path)
    with pytest.raises(ValueError, match=">= 0"):
        energy.CorePower(-1.0, 0.0)
