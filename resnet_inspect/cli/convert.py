"""The convert command: FILE in any layout the reader knows, written in torchvision's, timm's or
Hugging Face's, then proved (conversion.py)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..choices import parse_choice
from ..errors import UsageError
from .app import app, examples
from .options import FormatOpt, TracebackOpt, emit
from .output import choose_format

ConvertFileArg = Annotated[
    str,
    typer.Argument(metavar="FILE", help="A checkpoint in any layout identify reads (torchvision, "
                   "timm, Hugging Face, MMPretrain, Keras .h5, CLIP, ...); read as data.",
                   show_default=False),
]  # fmt: skip
ToOpt = Annotated[
    Optional[str],
    typer.Option("--to", metavar="LAYOUT", show_default=False,
                 help="The layout to write: torchvision, timm or hf (Hugging Face transformers)."),
]  # fmt: skip
WeightsOutOpt = Annotated[
    Optional[str],
    typer.Option("--output", "-o", metavar="OUT", show_default=False,
                 help="The file to write: .safetensors or .pth (the suffix picks the format); "
                 "written atomically, never FILE itself."),
]  # fmt: skip


@app.command(epilog=examples("convert"))
def convert(
    file: ConvertFileArg,
    to: ToOpt = None,
    output: WeightsOutOpt = None,
    format: FormatOpt = None,
    traceback: TracebackOpt = False,
) -> None:
    """Write FILE's weights in another layout: identify the variant (proved by a strict load),
    rename the tensors, write OUT, then prove OUT: read back, loaded strictly, every value
    bit-identical. Says what input the weights expect where the source's differs. Refuses,
    in one line, a variant the target cannot express. The report goes to stdout."""
    from ..conversion import Target
    from ..conversion import convert as run_convert
    from ..report.convert import convert_report

    choose_format(format, None)
    if to is None:
        raise UsageError("--to: give the layout to write: torchvision, timm or hf", subject="--to")
    target = parse_choice(Target, to, "--to")
    if output is None:
        raise UsageError("-o: give the file to write, OUT.safetensors or OUT.pth", subject="-o")
    done = run_convert(file, target, output)
    emit(convert_report(done), format, None)
    if not done.proof.proved:
        raise typer.Exit(1)
