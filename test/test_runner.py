"""The runner's supervision with stand-in node scripts (no ROS): restart, back-off, stop."""

import io
import sys
import time
from pathlib import Path

import pytest

from gc_perception.suite import runner as runner_module
from gc_perception.suite.runner import SuiteRunner
from gc_perception.suite.spec import NodeSpec


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def fake_scripts(tmp_path, monkeypatch):
    """Console-script stand-ins: 'crasher' prints and exits 3, 'sleeper' runs until signalled."""
    scripts = {
        "crasher": "import sys; print('crashing', flush=True); sys.exit(3)",
        "sleeper": "import time\nprint('up', flush=True)\nwhile True: time.sleep(0.1)",
    }
    paths = {}
    for name, body in scripts.items():
        path = tmp_path / name
        path.write_text(f"#!{sys.executable}\n{body}\n")
        path.chmod(0o755)
        paths[name] = str(path)
    monkeypatch.setattr(runner_module, "executable_path", lambda name: paths[name])
    return paths


def test_dead_nodes_are_restarted_with_back_off_and_all_stop(tmp_path: Path, fake_scripts):
    specs = [NodeSpec("crasher", "flaky", "/cam_a", "vision", {"fps": 1.0}),
             NodeSpec("sleeper", "steady", "/cam_a", "monitor")]
    stream = io.StringIO()
    runner = SuiteRunner(specs, tmp_path / "run", env={}, stream=stream)
    runner.start()
    flaky, steady = runner.nodes
    wait_for(lambda: (runner.poll(), flaky.restarts >= 1)[1])
    assert [e["event"] for e in runner.events][:2] == ["died", "restarted"]
    assert "exit code 3" in runner.events[0]["detail"]
    assert steady.alive()
    runner.stop(grace=5.0)
    assert not steady.alive() and not flaky.alive()
    output = stream.getvalue()
    assert "[cam_a/flaky] crashing" in output and "[cam_a/steady] up" in output
    assert "[runner] cam_a/flaky: died" in output
    assert (tmp_path / "run" / "logs" / "cam_a__steady.log").read_text().startswith("up")
    params = (tmp_path / "run" / "params" / "cam_a__flaky.yaml").read_text()
    assert "/cam_a/flaky" in params and "fps: 1.0" in params


def test_no_restart_mode_reports_the_exit_once(tmp_path: Path, fake_scripts):
    runner = SuiteRunner([NodeSpec("crasher", "once", "", "vision")], tmp_path, env={},
                         stream=None, restart=False)
    runner.start()
    wait_for(lambda: (runner.poll(), runner.events)[1])
    for _ in range(3):
        runner.poll()
    assert [e["event"] for e in runner.events] == ["exited"]
    runner.stop()
