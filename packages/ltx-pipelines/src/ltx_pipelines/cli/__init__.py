"""The command-line layer shared by every pipeline module: options, parsing, errors, progress.

A pipeline module stays short; it declares only its own options and picks a preset of the shared ones::

    from ltx_pipelines.cli.app import create_app, pipeline_command
    from ltx_pipelines.cli.options import DISTILLED_TWO_STAGE, CommonArgs
    from ltx_pipelines.cli.progress import RunProgress, RunSummary

    app = create_app("Distilled two-stage text/image-to-video with sound.")

    @pipeline_command(app, DISTILLED_TWO_STAGE, two_stage=True)
    def run(args: CommonArgs, skip_stage_2: bool = typer.Option(False, help="...")) -> None:
        progress = RunProgress(quiet=args.quiet)
        ...

    def main() -> None:
        app()

    if __name__ == "__main__":
        main()

Run it as `python -m ltx_pipelines.<name>`. `ltx_pipelines/__init__.py` imports no pipeline module, so runpy does not
warn about the module being imported twice; keep it that way. `pipeline_command` adds the shared options (flag
names as in the official CLI), validates sizes/frame counts/files at the boundary (exit 2 with a one-line message
suggesting valid values), runs the body under `torch.inference_mode()` and turns any `LTXError` into one red line
on stderr with exit code 1 (Ctrl-C: exit 130). Multi-value options (`--image PATH FRAME_IDX STRENGTH [CRF]`,
`--lora PATH [STRENGTH]`) are parsed by `command.LTXCommand`; a module's own ones use `app.multi_value_option`.
"""
