"""The command lines of the pipelines: options, parsing, errors, checks, the run, progress.

A pipeline module holds its class (the recipe) and a `main(argv=None)` that imports this package lazily and calls
`commands.main("<module name>", argv)`. Each pipeline's command is data, a `PipelineCli` in `commands/`: a preset of
the shared options, its own options (the keyword parameters of its `run`), its checks and how the parsed arguments
map to the class's constructor and call::

    def distilled(args: CommonArgs) -> None:
        \"\"\"Half-size stage 1, x2 upsampling, full-size stage 2, decode, write the MP4.\"\"\"

        def checks() -> None:  # headers and small files only; an LTXError here exits with 2
            preflight(args, args.checkpoint, components(*GENERATION, "video VAE encoder"), images=args.images)

        def generate(progress: Progress) -> PipelineResult:  # progress(phase, done, total)
            pipeline = shared_pipeline(args, DistilledPipeline, args.checkpoint, ...)  # kept across --jobs
            return pipeline(args.prompt, ..., images=cli_images(args), progress=progress)

        run_pipeline_cli(args, checks, generate)  # progress bars, atomic MP4, summary table

    COMMANDS = {"distilled": PipelineCli("Distilled ...", DISTILLED_TWO_STAGE, distilled, two_stage=True)}

Run it as `python -m ltx_pipelines.<name>`. `ltx_pipelines/__init__.py` imports no pipeline module, so runpy does not
warn about the module being imported twice; keep it that way. `PipelineCli.app` builds every command the same way
(`app.pipeline_command`): it adds the shared options (flag names as in the official CLI), validates sizes/frame
counts/files at the boundary (exit 2 with a one-line message suggesting valid values; `command.LTXCommand` prints
every usage error as one `error: ...` line), runs the body under `torch.inference_mode()` and turns any `LTXError`
into one red line on stderr with exit code 1 (Ctrl-C: exit 130). Multi-value options (`--image PATH FRAME_IDX
STRENGTH [CRF]`, `--lora PATH [STRENGTH]`) are parsed by `command.LTXCommand`; a pipeline's own ones use
`app.multi_value_option`.
"""
