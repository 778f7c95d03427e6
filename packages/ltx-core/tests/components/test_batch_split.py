import pytest
import torch

from ltx_core.batch_split import BatchSplitAdapter
from ltx_core.guidance.perturbations import (
    BatchedPerturbationConfig,
    Perturbation,
    PerturbationConfig,
    PerturbationType,
)
from ltx_core.model.transformer.modality import Modality


class RowwiseModel:
    """A fake x0 model whose output per row depends only on that row (and its perturbation)."""

    def __init__(self):
        self.batch_sizes = []
        self.attr = "proxied"

    def __call__(self, video, audio, perturbations):
        self.batch_sizes.append(video.latent.shape[0])
        keep = perturbations.keep_mask(PerturbationType.SKIP_VIDEO_SELF_ATTN, 0, video.latent.device, torch.float32)
        v = video.latent * video.timesteps + video.context.mean(1, keepdim=True) * keep + video.sigma.view(-1, 1, 1)
        a = None if audio is None else audio.latent * 2 - audio.sigma.view(-1, 1, 1)
        return v, a


def _modality(b, t, c, seed):
    g = torch.Generator().manual_seed(seed)
    return Modality(
        latent=torch.randn(b, t, c, generator=g),
        sigma=torch.rand(b, generator=g),
        timesteps=torch.rand(b, t, 1, generator=g),
        positions=torch.rand(b, 3, t, 2, generator=g),
        context=torch.randn(b, 4, c, generator=g),
        attention_mask=torch.rand(b, t, t, generator=g),
    )


@pytest.mark.parametrize("max_batch", [1, 2, 3, 4, 7])
def test_batch_split_changes_nothing(max_batch):
    video, audio = _modality(5, 6, 3, 0), _modality(5, 2, 3, 1)
    ptb = BatchedPerturbationConfig.of(
        [
            PerturbationConfig((Perturbation(PerturbationType.SKIP_VIDEO_SELF_ATTN, (0,)),))
            if i % 2
            else PerturbationConfig()
            for i in range(5)
        ]
    )
    reference = RowwiseModel()(video, audio, ptb)
    model = RowwiseModel()
    got = BatchSplitAdapter(model, max_batch)(video, audio, ptb)
    assert torch.equal(got[0], reference[0]) and torch.equal(got[1], reference[1])
    expected = [max_batch] * (5 // max_batch) + ([5 % max_batch] if 5 % max_batch else []) if max_batch < 5 else [5]
    assert model.batch_sizes == expected


def test_batch_split_audio_absent_and_proxy():
    adapter = BatchSplitAdapter(RowwiseModel(), 2)
    video = _modality(3, 4, 2, 2)
    v, a = adapter(video, None, BatchedPerturbationConfig.empty(3))
    assert a is None and v.shape == (3, 4, 2)
    assert adapter.attr == "proxied"


def test_batch_split_rejects_bad_size():
    with pytest.raises(ValueError):
        BatchSplitAdapter(RowwiseModel(), 0)
