"""The command lines of the pipelines: options, parsing, errors, checks, the run, progress.

A pipeline module holds its class (the recipe) and a `main(argv=None)` that imports this package lazily and calls
`commands.main("<module name>", argv)`. Each pipeline's command is data, a `PipelineCli` in `commands/`: a preset of
the shared options, its own options (the keyword parameters of its `plan`), and `plan`, the pure parse of the
parsed arguments into a `Generation` (what to build, the call's keyword arguments) after its checks::

    def distilled(args: CommonArgs) -> Generation:
        \"\"\"Half-size stage 1, x2 upsampling, full-size stage 2, decode, write the MP4.\"\"\"
        with checks():  # headers and small files only; an LTXError here exits with 2 (in a batch: a bad job)
            preflight(args, args.models, components(*GENERATION, "video VAE encoder"), images=args.images)
        build = pipeline(args, DistilledPipeline, args.models, ...)  # the class, its arguments, the runtime
        return Generation(args, build, {"prompt": args.prompt, ..., "images": cli_images(args)})

    COMMANDS = {"distilled": PipelineCli("Distilled ...", DISTILLED_TWO_STAGE, distilled, two_stage=True)}

`cli.batch` runs generations: a command line's as a batch of one, or every job of a `--jobs` file (each parsed the
same way), grouped by what they build, each group through its pipeline's `run_jobs` (progress bars, atomic MP4s,
the summary table, the results file).

Run it as `python -m ltx_pipelines.<name>`. `ltx_pipelines/__init__.py` imports no pipeline module, so runpy does not
warn about the module being imported twice; keep it that way. `PipelineCli.app` builds every command the same way
(`app.pipeline_command`): it adds the shared options (flag names as in the official CLI), validates sizes/frame
counts/files at the boundary (exit 2 with a one-line message suggesting valid values; `command.LTXCommand` prints
every usage error as one `error: ...` line), runs the body under `torch.inference_mode()` and turns any `LTXError`
into one red line on stderr with exit code 1 (Ctrl-C: exit 130). Multi-value options (`--image PATH FRAME_IDX
STRENGTH [CRF]`, `--lora PATH [STRENGTH]`) are parsed by `command.LTXCommand`; a pipeline's own ones use
`app.multi_value_option`.
"""
