def test_ltx_core_imports_without_cli_dependencies():
    import sys

    import ltx_core.loader  # noqa: F401

    assert "typer" not in sys.modules and "av" not in sys.modules
