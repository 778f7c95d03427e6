"""LTX-2.5 diffusion video decoder: the official goldens (both pathways, tiled, one-step x0), the load-time key
operations, the attention backends against the neighbourhood definition, tiling rules and the recommendation."""

from __future__ import annotations

import json
from itertools import product
from pathlib import Path

import pytest
import torch

from ltx_core.errors import CheckpointError, ConfigError, InputError
from ltx_core.loader import open_checkpoint
from ltx_core.model.video_vae import decode_video, load_video_decoder
from ltx_core.model.video_vae.diffusion.attention import (
    blocked_attention,
    gather_attention,
    official_attention,
    window_starts,
)
from ltx_core.model.video_vae.diffusion.config import DiffusionDecoderConfig
from ltx_core.model.video_vae.diffusion.loading import (
    diffusion_decoder_checkpoint_state_dict,
    load_diffusion_video_decoder,
)
from ltx_core.model.video_vae.diffusion.model import MODES, DiffusionVideoDecoder
from ltx_core.model.video_vae.diffusion.tiling import (
    plan_tiles,
    recommend_tiling,
    tiled_diffusion_decode,
)
from ltx_core.model.video_vae.tiling import TileSizeConfig
from ltx_core.testing.golden import cases_120, golden_dir, load_case, report

CASES = cases_120("diffvae_decode_*")
TOL = 1e-5
pytestmark = pytest.mark.skipif(not CASES, reason="no LTX-2.5 diffusion decoder cases in this fixture set")


def _mode(case):
    return MODES[case.params["mode"].removesuffix("_eager")]


def _tiling(params) -> TileSizeConfig | None:
    t = params.get("tiling")
    if t is None:
        return None
    return TileSizeConfig(*((t[a]["tile_size"], t[a]["overlap"]) for a in ("frames", "height", "width")))


def _noise(case) -> torch.Tensor | None:
    if "noise" in case.inputs:
        return case.inputs["noise"]
    ref = case.params.get("noise_from")
    return load_case(golden_dir() / ref).inputs["noise"] if ref else None


def _generator(case) -> torch.Generator:
    return torch.Generator().manual_seed(case.params["generator_seed"])


@pytest.mark.parametrize("path", CASES, ids=lambda p: Path(p).stem)
def test_golden_decode(path):
    case = load_case(path)
    decoder = load_diffusion_video_decoder(case.file(case.params["checkpoint"]), mode=_mode(case))
    latent, expected = case.inputs["latent"], case.outputs["video"]
    tiling = _tiling(case.params)
    if decoder.draws_per_tile():  # one-step x0: draws from the generator per tile
        got = decoder(latent, generator=_generator(case))
    elif tiling is None:
        got = decoder(latent, noise=_noise(case))
    else:
        chunks = list(tiled_diffusion_decode(decoder, latent, tiling, noise=_noise(case)))
        assert [c.shape[2] for c in chunks] == case.params["chunk_frames"]
        got = torch.cat(chunks, dim=2)
    report(Path(path).stem, got, expected, TOL)


def test_noise_is_one_draw_at_the_padded_work_shape():
    case = load_case(cases_120("diffvae_decode_chunked_eager")[0])
    decoder = load_diffusion_video_decoder(case.file(case.params["checkpoint"]))
    padded, _ = decoder.pad_latent(case.inputs["latent"])
    s4 = decoder.s4_shape(tuple(padded.shape))
    noise = decoder.work_noise(1, s4, torch.float32, _generator(case), torch.device("cpu"))
    assert torch.equal(noise, case.inputs["noise"])


def test_decode_video_takes_the_file_decoder_and_maps_to_frames():
    """The pipelines' path: `load_video_decoder` picks the diffusion decoder from the file; `decode_video` yields
    ((x + 1) / 2).clamp(0, 1) FHWC frames of batch item 0."""
    case = load_case(cases_120("diffvae_decode_chunked_eager")[0])
    decoder = load_video_decoder(case.file(case.params["checkpoint"]))
    assert isinstance(decoder, DiffusionVideoDecoder) and decoder.mode == _mode(case)
    (frames,) = decode_video(decoder, case.inputs["latent"], None, _generator(case))
    expected = ((case.outputs["video"][0] + 1) / 2).clamp(0, 1).permute(1, 2, 3, 0)
    report("decode_video frames", frames, expected, TOL)


def test_decode_video_tiled_through_the_common_entry():
    case = load_case(cases_120("diffvae_decode_tiled_temporal_chunked_eager")[0])
    decoder = load_video_decoder(case.file(case.params["checkpoint"]))
    chunks = list(decode_video(decoder, case.inputs["latent"], _tiling(case.params), _generator(case)))
    assert [c.shape[0] for c in chunks] == case.params["chunk_frames"]
    expected = ((case.outputs["video"][0] + 1) / 2).clamp(0, 1).permute(1, 2, 3, 0)
    report("decode_video tiled frames", torch.cat(chunks), expected, TOL)


def test_one_piece_tiling_is_the_untiled_decode_bitwise():
    case = load_case(cases_120("diffvae_decode_chunked_eager")[0])
    decoder = load_diffusion_video_decoder(case.file(case.params["checkpoint"]))
    latent, noise = case.inputs["latent"], case.inputs["noise"]
    _, _, frames, height, width = noise.shape  # tiles as large as the padded work volume: one piece per axis
    overlap_t, overlap_px = decoder.config.min_overlaps()
    whole = TileSizeConfig((frames + 1, overlap_t), (height, overlap_px), (width, overlap_px))
    tiled = torch.cat(list(tiled_diffusion_decode(decoder, latent, whole, noise=noise)), dim=2)
    assert torch.equal(tiled, decoder(latent, noise=noise))


def test_attention_backends_give_the_same_decode():
    case = load_case(cases_120("diffvae_decode_combined_eager")[0])
    path = case.file(case.params["checkpoint"])
    gather = load_diffusion_video_decoder(path, mode=_mode(case), attention="gather")
    blocked = load_diffusion_video_decoder(path, mode=_mode(case), attention="blocked")
    latent, noise = case.inputs["latent"], case.inputs["noise"]
    report("blocked vs gather decode", blocked(latent, noise=noise), gather(latent, noise=noise), TOL)


def _na_by_definition(q, k, v, kernel):
    """Neighbourhood attention query by query, windows from the clamped-start rule (§3.6)."""
    _, _, t, h, w, _ = q.shape
    starts = [window_starts(n, kk).tolist() for n, kk in zip((t, h, w), kernel, strict=True)]
    sizes = [min(n, kk) for n, kk in zip((t, h, w), kernel, strict=True)]
    out = torch.empty_like(q, dtype=torch.float64)
    for i, j, m in product(range(t), range(h), range(w)):
        win = tuple(slice(s[x], s[x] + n) for s, x, n in zip(starts, (i, j, m), sizes, strict=True))
        keys = k[:, :, win[0], win[1], win[2]].flatten(2, 4).double()
        vals = v[:, :, win[0], win[1], win[2]].flatten(2, 4).double()
        probs = torch.einsum("bnd,bnkd->bnk", q[:, :, i, j, m].double(), keys).softmax(-1)
        out[:, :, i, j, m] = torch.einsum("bnk,bnkd->bnd", probs, vals)
    return out


@pytest.mark.parametrize("shape", [(3, 4, 9), (5, 2, 7), (4, 6, 6)])
def test_attention_backends_match_the_definition(shape):
    """Windows shifted inward at every border, axes shorter than the kernel, blocks that do not divide the axis."""
    config = DiffusionDecoderConfig.from_config(open_checkpoint(_ltx25_file()).config)
    kernel = config.stage5_kernel
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, *shape, config.head_dim, generator=gen) for _ in range(3))
    expected = _na_by_definition(q, k, v, kernel)
    report("gather vs definition", gather_attention(q, k, v, kernel), expected, TOL)
    for block in ((1, 1, 1), (2, 3, 4), None):
        report(f"blocked {block} vs definition", blocked_attention(q, k, v, kernel, block), expected, TOL)
    for limit in (1 << 25, 2000):  # one query tile; several, each over its own key region
        report(
            f"official (mask limit {limit}) vs definition", official_attention(q, k, v, kernel, limit), expected, TOL
        )


def _ltx25_file() -> Path:
    return golden_dir() / load_case(cases_120("diffvae_decode_chunked_eager")[0]).params["checkpoint"]


def test_load_splits_qkv_and_folds_gates_in_float32():
    path = golden_dir() / "ltx25_tiny_bf16.safetensors"
    if not path.is_file():
        path = _ltx25_file()
    ckpt = open_checkpoint(path)
    decoder = load_diffusion_video_decoder(ckpt, dtype=torch.float32)
    state = decoder.state_dict()
    qkv = ckpt.read("vae.decoder.diff_blocks.0.attn.qkv.weight")
    third = qkv.shape[0] // 3
    assert torch.equal(state["diff_blocks.0.attn.qkv.to_k.weight"], qkv[third : 2 * third].float())
    for leaf, gate in (("attn.proj", "gate_msa"), ("mlp.w_down", "gate_mlp"), ("context_proj", "gate_ctx")):
        for n in range(decoder.config.diffusion_depth):
            w = ckpt.read(f"vae.decoder.diff_blocks.{n}.{leaf}.weight")
            g = ckpt.read(f"vae.decoder.diff_blocks.{n}.{gate}")
            folded = (g.float()[:, None] * w.float()).to(w.dtype).float()
            assert torch.equal(state[f"diff_blocks.{n}.{leaf}.weight"], folded)
    lin = ckpt.read("vae.decoder.t_embedder.mlp.2.weight").float()
    assert torch.equal(state["t_embedder.timestep_embedder.linear_2.weight"], lin)


@pytest.mark.parametrize("prefix", ["vae.", ""])  # a single file; a decoder-only file with unprefixed keys
def test_inverse_state_dict_round_trips(tmp_path, prefix):
    from safetensors.torch import save_file

    ckpt = open_checkpoint(_ltx25_file())
    decoder = load_diffusion_video_decoder(ckpt)
    layout = {prefix + k.removeprefix("vae."): v for k, v in diffusion_decoder_checkpoint_state_dict(decoder).items()}
    file = tmp_path / "dvae.safetensors"
    save_file(layout, file, metadata={"config": json.dumps({"vae": ckpt.config["vae"]})})
    again = load_video_decoder(file)
    assert isinstance(again, DiffusionVideoDecoder)
    for name, tensor in decoder.state_dict().items():
        assert torch.equal(again.state_dict()[name], tensor), name


def test_a_file_that_does_not_fit_is_one_line(tmp_path):
    from safetensors.torch import save_file

    ckpt = open_checkpoint(_ltx25_file())
    layout = diffusion_decoder_checkpoint_state_dict(load_diffusion_video_decoder(ckpt))
    dropped = sorted(k for k in layout if k.endswith("norm_out.weight"))[0]
    del layout[dropped]
    file = tmp_path / "broken.safetensors"
    save_file(layout, file, metadata={"config": json.dumps({"vae": ckpt.config["vae"]})})
    with pytest.raises(CheckpointError, match=r"broken\.safetensors.*missing: norm_out\.weight") as err:
        load_diffusion_video_decoder(file)
    assert "\n" not in str(err.value)


def test_default_architecture_sizes():
    """Spec §1.4: the class defaults build 407 tensors, 104,751,792 elements, heads 16 / 8 / 4 / 4 and 2."""
    with torch.device("meta"):
        decoder = DiffusionVideoDecoder(DiffusionDecoderConfig())
    state = decoder.state_dict()
    assert (len(state), sum(t.numel() for t in state.values())) == (407, 104_751_792)
    heads = [stage[0].attn.heads for stage in decoder.det_stages] + [decoder.diff_blocks[0].attn.heads]
    assert heads == [16, 8, 4, 4, 2]


def test_bad_config_is_one_line():
    vae = dict(open_checkpoint(_ltx25_file()).config["vae"])
    vae["decoder"] = {**vae["decoder"], "head_dim": 8}
    with pytest.raises(ConfigError, match="head_dim"):
        DiffusionDecoderConfig.from_config({"vae": vae}, "f.safetensors")


def test_tiling_below_the_minimum_overlap_is_refused():
    case = load_case(cases_120("diffvae_decode_tiled_spatial_chunked_eager")[0])
    decoder = load_diffusion_video_decoder(case.file(case.params["checkpoint"]))
    size, overlap = _tiling(case.params).height
    factor = case.params["tiling_info"]["stage4_to_pixel_scale"][1]
    too_small = TileSizeConfig(height=(size, overlap - factor))
    with pytest.raises(InputError, match=f"overlap {overlap - factor} px is below the required {overlap}"):
        next(tiled_diffusion_decode(decoder, case.inputs["latent"], too_small, _generator(case)))


def test_short_tiles_make_the_blend_divide():
    """Tiles shorter than their two ramps do not sum to one (§6.3): the blend then divides by the weights."""
    case = load_case(cases_120("diffvae_decode_tiled_spatial_chunked_eager")[0])
    decoder = load_diffusion_video_decoder(case.file(case.params["checkpoint"]))
    size, overlap = _tiling(case.params).width
    padded, _ = decoder.pad_latent(case.inputs["latent"])
    s4 = decoder.s4_shape(tuple(padded.shape))
    assert plan_tiles(decoder, s4, TileSizeConfig(width=(size, overlap))).complementary
    factor = case.params["tiling_info"]["stage4_to_pixel_scale"][2]
    assert not plan_tiles(decoder, s4, TileSizeConfig(width=(2 * overlap - factor, overlap))).complementary


@pytest.mark.parametrize(
    ("video", "gib", "expected"),
    [  # spec §7.3, the official recommendation run on the default architecture (model_bytes 209,503,584)
        ((121, 1088, 1920), 60, ((128, 8), (1088, 96), (1920, 96))),
        ((121, 1088, 1920), 20, ((128, 8), (1088, 96), (1024, 96))),
        ((121, 1088, 1920), 8, ((48, 8), (1088, 96), (704, 96))),
        ((121, 512, 768), 20, ((128, 8), (512, 96), (768, 96))),
    ],
)
def test_recommendation_matches_the_official_examples(video, gib, expected):
    got = recommend_tiling(DiffusionDecoderConfig(), video, gib << 30, 2 * 104_751_792)
    assert got == TileSizeConfig(*expected)


def test_recommendation_with_no_memory_is_none_not_an_error():
    assert recommend_tiling(DiffusionDecoderConfig(), (121, 512, 768), 0, 2 * 104_751_792) is None


def test_automatic_tiling_works_on_any_memory():
    """AUTO_TILING plans from the decoding device's free memory (host RAM on the CPU, where the official one raises);
    with none free it falls back to the smallest valid tiles instead of failing."""
    from ltx_core.model.video_vae import AUTO_TILING
    from ltx_core.model.video_vae.diffusion.tiling import auto_diffusion_tiling, check_tiling, smallest_tiling

    case = load_case(cases_120("diffvae_decode_chunked_eager")[0])
    decoder = load_diffusion_video_decoder(case.file(case.params["checkpoint"]))
    latent = case.inputs["latent"]
    starved = auto_diffusion_tiling(decoder, tuple(latent.shape), free_bytes=0)
    assert starved == smallest_tiling(decoder.config)
    check_tiling(decoder.config, starved)
    planned = auto_diffusion_tiling(decoder, tuple(latent.shape))  # this machine's free memory
    check_tiling(decoder.config, planned)
    auto = torch.cat(list(decode_video(decoder, latent, AUTO_TILING, _generator(case))))
    assert auto.shape == case.outputs["video"][0].permute(1, 2, 3, 0).shape
    assert torch.equal(auto, torch.cat(list(decode_video(decoder, latent, planned, _generator(case)))))
