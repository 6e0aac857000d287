"""``vllm-infra`` command line. Commands import their heavy dependencies lazily so that
``vllm-infra --help`` starts fast; Pulumi is never imported here."""

from __future__ import annotations

import gc
from typing import Annotated

import typer

from vllm_infra.cli.check import check, rules, validate
from vllm_infra.cli.diff import diff
from vllm_infra.cli.plan import models, plan
from vllm_infra.cli.promote import promote
from vllm_infra.cli.simulate import simulate
from vllm_infra.cli.smoke import smoke
from vllm_infra.cli.synth import synth
from vllm_infra.cli.upgrade import upgrade_check

app = typer.Typer(
    name="vllm-infra",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rendering it with rich costs more than the rest of start-up
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"vllm-infra {version('vllm-infra')}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                               help="Print the version and exit.")] = False,
) -> None:
    """Render vLLM model servers into policy-checked Kubernetes manifests, per environment.

    Exit codes: 0 success, 1 findings or drift, 2 bad input (invalid stacks, YAML errors, usage).
    """


app.command()(synth)
app.command()(validate)
app.command()(check)
app.command()(rules)
app.command()(plan)
app.command()(models)
app.command()(smoke)
app.command("upgrade-check")(upgrade_check)
app.command()(simulate)
app.command()(diff)
app.command()(promote)


def tune_collector() -> None:
    """A command builds one large graph of dicts and lists with few reference cycles, which the
    default collector re-scans over and over (up to a fifth of a large run, and more the larger
    the tree): freeze what the imports created and collect young objects less often."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def main() -> None:
    """Console-script entry point."""
    tune_collector()
    app()
