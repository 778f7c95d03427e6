"""Multi-value option regrouping, value parsers and the nearest-valid-value suggestions, by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from ltx_core.errors import InputError
from ltx_core.loader.lora import LoraSpec
from ltx_pipelines.cli.command import regroup
from ltx_pipelines.cli.values import (
    IMAGE,
    INT_LIST,
    LORA,
    SEPARATOR,
    ImageConditioningArg,
    check_images,
    output_file,
)

ARITY = {"--image": (3, 4, IMAGE.metavar), "--lora": (1, 2, LORA.metavar), "--blocks": (0, None, INT_LIST.metavar)}
COUNTS = {"--image": 1, "--lora": 1, "--blocks": 1, "--prompt": 1, "--seed": 1, "--quiet": 0}


def test_regroup_joins_values_up_to_the_maximum() -> None:
    args = ["--image", "a.png", "0", "1.0", "--lora", "l.safetensors", "--seed", "3"]
    assert regroup(args, ARITY, COUNTS) == [
        "--image",
        SEPARATOR.join(["a.png", "0", "1.0"]),
        "--lora",
        "l.safetensors",
        "--seed",
        "3",
    ]
    four = regroup(["--image", "a.png", "8", "0.5", "20", "--quiet"], ARITY, COUNTS)
    assert four == ["--image", SEPARATOR.join(["a.png", "8", "0.5", "20"]), "--quiet"]
    # At the maximum the list ends even without a following flag.
    assert regroup(["--lora", "x", "0.5", "--lora", "y"], ARITY, COUNTS) == [
        "--lora",
        f"x{SEPARATOR}0.5",
        "--lora",
        "y",
    ]


def test_regroup_keeps_other_option_values_verbatim() -> None:
    # A prompt that reads like a flag is the value of --prompt, not a new option.
    args = ["--prompt", "--image", "--lora", "w.safetensors", "-0.5"]
    assert regroup(args, ARITY, COUNTS) == ["--prompt", "--image", "--lora", f"w.safetensors{SEPARATOR}-0.5"]


def test_regroup_inline_equals_and_unbounded_lists() -> None:
    assert regroup(["--lora=a", "0.7"], ARITY, COUNTS) == ["--lora", f"a{SEPARATOR}0.7"]
    assert regroup(["--blocks", "1", "2", "3", "--quiet"], ARITY, COUNTS) == [
        "--blocks",
        f"1{SEPARATOR}2{SEPARATOR}3",
        "--quiet",
    ]
    assert regroup(["--blocks", "--quiet"], ARITY, COUNTS) == ["--blocks", "", "--quiet"]
    assert regroup(["--blocks"], ARITY, COUNTS) == ["--blocks", ""]


def test_regroup_too_few_values_names_the_flag_and_the_form() -> None:
    with pytest.raises(typer.BadParameter, match=r"PATH FRAME_IDX STRENGTH \[CRF\].*got 2: a.png 0"):
        regroup(["--image", "a.png", "0", "--seed", "1"], ARITY, COUNTS)
    with pytest.raises(typer.BadParameter, match="got none"):
        regroup(["--lora"], ARITY, COUNTS)


def test_image_and_lora_parsers(tmp_path: Path) -> None:
    img = tmp_path / "a.png"
    img.write_bytes(b"x")
    assert IMAGE(SEPARATOR.join([str(img), "8", "0.5"])) == ImageConditioningArg(img.resolve(), 8, 0.5, None)
    assert IMAGE(SEPARATOR.join([str(img), "0", "1", "0"])).crf == 0
    assert LORA(str(img)) == LoraSpec(img.resolve(), 1.0)
    assert LORA(f"{img}{SEPARATOR}-0.25") == LoraSpec(img.resolve(), -0.25)
    assert INT_LIST("") == () and INT_LIST(f"28{SEPARATOR}29") == (28, 29)
    with pytest.raises(typer.BadParameter, match="FRAME_IDX 'x' is not an integer"):
        IMAGE(SEPARATOR.join([str(img), "x", "1"]))
    with pytest.raises(typer.BadParameter, match="STRENGTH 'strong' is not a number"):
        LORA(f"{img}{SEPARATOR}strong")
    with pytest.raises(typer.BadParameter, match=r"file not found: 'missing\.safetensors'"):
        LORA("missing.safetensors")


def test_checks_raise_one_line_input_errors(tmp_path: Path) -> None:
    image = ImageConditioningArg(tmp_path / "a.png", 121, 1.0)
    with pytest.raises(InputError, match="FRAME_IDX 121 is outside the clip; valid: 0 to 120"):
        check_images([image], 121)
    with pytest.raises(InputError, match=r"STRENGTH 1\.5"):
        check_images([ImageConditioningArg(tmp_path / "a.png", 0, 1.5)], 121)


def test_output_file_is_a_writable_mp4_path(tmp_path: Path) -> None:
    assert output_file(tmp_path / "new" / "deeper" / "Out.MP4") == (tmp_path / "new" / "deeper" / "Out.MP4").resolve()
    with pytest.raises(typer.BadParameter, match=r"'.*out\.avi' does not end in \.mp4; .* e\.g\. '.*out\.mp4'"):
        output_file(tmp_path / "out.avi")
    with pytest.raises(typer.BadParameter, match=r"does not end in \.mp4"):
        output_file(tmp_path / "out")
    with pytest.raises(typer.BadParameter, match="is a folder"):
        output_file(tmp_path)
    (tmp_path / "a_file").write_text("")
    with pytest.raises(typer.BadParameter, match=r"cannot create the folder '.*a_file/sub': '.*a_file' is a file"):
        output_file(tmp_path / "a_file" / "sub" / "out.mp4")
    assert not (tmp_path / "new").exists()  # checked, not created


def test_float_values_must_be_finite(tmp_path: Path) -> None:
    image = tmp_path / "i.png"
    image.write_bytes(b"")
    for bad in ("nan", "inf", "-inf"):
        with pytest.raises(typer.BadParameter, match=f"STRENGTH '{bad}' is not a finite number"):
            LORA(SEPARATOR.join([str(image), bad]))
        with pytest.raises(typer.BadParameter, match=f"STRENGTH '{bad}' is not a finite number"):
            IMAGE(SEPARATOR.join([str(image), "0", bad]))
