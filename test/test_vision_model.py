"""The lite0 split at the GC layer: stage A + stage B reproduce the original network."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")
from gc_perception.training import vision_model as vm  # noqa: E402


@pytest.fixture(scope="module")
def lite0():
    return vm.load_lite0()


def test_split_with_open_mask_equals_the_original_dog_score(lite0):
    image = torch.randn(2, 3, 160, 160)
    channels = vm.trunk_channels(lite0, 12)
    stage_a = vm.StageA(vm.Trunk(lite0, 12), vm.GateHead(channels), vm.ChannelMask(channels))
    stage_b = vm.StageB(vm.Tail(lite0, 12), vm.DogHead(lite0))
    with torch.no_grad():
        original = torch.softmax(lite0(image), dim=1)[:, 151:269].sum(dim=1)
        gate, handoff = stage_a(image)
        split = stage_b(handoff)[:, 0]
    assert handoff.shape == (2, channels, 5, 5)
    assert torch.allclose(split, original, atol=1e-5)
    assert gate.shape == (2, 1) and bool(((gate >= 0) & (gate <= 1)).all())


def test_mask_prune_zeroes_small_channels_exactly():
    mask = vm.ChannelMask(4)
    with torch.no_grad():
        mask.scale.copy_(torch.tensor([1.0, 0.01, -0.5, 0.04]))
    assert mask.prune(0.05) == 2
    out = mask(torch.ones(1, 4, 2, 2))
    assert out[0, 1].abs().sum() == 0 and out[0, 3].abs().sum() == 0
