import pytest

from gc_perception import resources


def test_config_files_are_found_in_the_source_tree():
    assert resources.find_config("fastdds_localhost.xml").is_file()


def test_missing_files_are_reported_by_name():
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        resources.find_config("nope.yaml")
    with pytest.raises(FileNotFoundError, match="no_such_model"):
        resources.find_model_manifest("no_such_model")
    with pytest.raises(FileNotFoundError, match="not found"):
        resources.find_model_manifest("/tmp/does/not/exist/manifest.json")


def test_a_manifest_is_found_by_folder_or_file(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}")
    assert resources.find_model_manifest(str(tmp_path)) == manifest
    assert resources.find_model_manifest(str(manifest)) == manifest
