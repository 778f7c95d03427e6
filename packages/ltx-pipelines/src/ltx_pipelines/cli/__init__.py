"""The command-line layer shared by every pipeline module: options, parsing, errors, checks, the run, progress.

A pipeline module stays short; it declares only its own options, picks a preset of the shared ones, and hands its
checks and its generation to the shared runtime::

    from ltx_pipelines.cli.app import create_app, pipeline_command
    from ltx_pipelines.cli.options import DISTILLED_TWO_STAGE, CommonArgs
    from ltx_pipelines.cli.preflight import GENERATION, components, preflight
    from ltx_pipelines.cli.runtime import cli_images, run_pipeline_cli, transformer_runtime

    app = create_app("Distilled two-stage text/image-to-video with sound.")

    @pipeline_command(app, DISTILLED_TWO_STAGE, two_stage=True)
    def run(args: CommonArgs, skip_stage_2: bool = typer.Option(False, help="...")) -> None:
        def checks() -> None:  # headers and small files only; an LTXError here exits with 2
            preflight(args, args.distilled_checkpoint_path, components(*GENERATION), images=args.images)

        def generate(progress) -> PipelineResult:  # progress(phase, done, total)
            pipeline = MyPipeline(..., runtime=transformer_runtime(args))
            return pipeline(args.prompt, ..., images=cli_images(args), progress=progress)

        run_pipeline_cli(args, checks, generate)  # progress bars, atomic MP4, summary table

    def main() -> None:
        app()

    if __name__ == "__main__":
        main()

Run it as `python -m ltx_pipelines.<name>`. `ltx_pipelines/__init__.py` imports no pipeline module, so runpy does not
warn about the module being imported twice; keep it that way. `pipeline_command` adds the shared options (flag
names as in the official CLI), validates sizes/frame counts/files at the boundary (exit 2 with a one-line message
suggesting valid values; `command.LTXCommand` prints every usage error as one `error: ...` line), runs the body
under `torch.inference_mode()` and turns any `LTXError` into one red line on stderr with exit code 1 (Ctrl-C: exit
130). Multi-value options (`--image PATH FRAME_IDX STRENGTH [CRF]`,
`--lora PATH [STRENGTH]`) are parsed by `command.LTXCommand`; a module's own ones use `app.multi_value_option`.
"""
