"""``lossacc-train`` (also ``python -m lossacc.cifar``): train CIFAR-10 ResNet18 and record the run."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields, replace
from pathlib import Path

from lossacc.cifar.checkpoint import ResumeError
from lossacc.cifar.config import PRESETS, ConfigError, TrainConfig
from lossacc.cifar.data import DataError, load_cifar10
from lossacc.cifar.files import DiskFullError, PathError, require_folder
from lossacc.cifar.options import RunOptions, Runtime
from lossacc.cifar.record import RecordError
from lossacc.cifar.train import DivergedError, train
from lossacc.command_line import Parser

PROGRAM = "lossacc-train"

DESCRIPTION = """\
Train a ResNet18 on CIFAR-10 and record, after every epoch, what the book plots: learning
rate, training and validation loss and accuracy, calibration (ECE, temperature scaling), and
each validation image's loss and predicted class.

The default is the recipe of the question behind the book: SGD, learning rate 0.1, Nesterov
momentum 0.9, weight decay 1e-4, batch 128, learning rate x0.2 after epochs 60, 120 and 160,
200 epochs, random crop (padding 4) and horizontal flip, full-width ResNet18 (a GPU job).
--preset cpu-laptop is a small version that finishes in about 10 minutes on a 2-core laptop;
--preset rehearsal a seconds-long dress rehearsal. Any flag below overrides the preset.

A checkpoint is saved after every epoch (every 10 on a GPU, see --checkpoint-every). Run the
same command again after an interruption and training continues from the last checkpoint,
with the same result as an uninterrupted run. A record folder that holds another run is never
overwritten unless you pass --overwrite-record. A run holds its run and record folders while it
works: a second run on either is refused (a killed run holds nothing).
"""

EPILOG = """\
examples (ARCHIVE: a CIFAR-10 archive you have, e.g. cifar-10-python.tar.gz):
  lossacc-train --preset cpu-laptop --data ARCHIVE
  lossacc-train --data download --run-dir runs/recipe            (the full recipe, on a GPU, online)
  lossacc-train --data cifar10/ --epochs 30 --milestones 15 25 --width 32 --train-size 10000
  (an offline GPU machine: scripts/train_on_gpu.sh, see the README)

outputs (relative to the current folder unless given):
  data/                  the decoded dataset cache (and the official archive, with --data download)
  RUN_DIR/checkpoint.pt  the latest checkpoint (RUN_DIR defaults to runs/PRESET)
  RUN_DIR/progress.json  the latest epoch's numbers and epoch times, for watching a run
  RUN_DIR/record/        summary.json + arrays.npz, read with lossacc.cifar.load_record
"""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROGRAM, description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--preset", choices=sorted(PRESETS), default="recipe", help="starting settings (default: recipe)"
    )

    where = parser.add_argument_group("data and files")
    where.add_argument(
        "--data",
        required=True,
        metavar="PATH",
        help="CIFAR-10 as the official python release (cifar-10-python.tar.gz or its folder), an image-folder "
        "tree train/<class>/*.png|jpg + test/<class>/..., a .tar.gz of one, or 'download' for the official release",
    )
    where.add_argument(
        "--data-cache",
        type=Path,
        default=Path("data"),
        metavar="DIR",
        help="where decoded arrays and downloads go (default: data)",
    )
    where.add_argument(
        "--allow-partial-data",
        action="store_true",
        help="accept a dataset without CIFAR-10's 5,000/1,000 images per class",
    )
    where.add_argument("--run-dir", type=Path, metavar="DIR", help="checkpoint folder (default: runs/PRESET)")
    where.add_argument("--record-dir", type=Path, metavar="DIR", help="record folder (default: RUN_DIR/record)")

    schedule = parser.add_argument_group("optimisation (the recipe's values in brackets)")
    schedule.add_argument("--epochs", type=int, help="number of epochs [200]")
    schedule.add_argument("--lr", type=float, help="initial learning rate [0.1]")
    schedule.add_argument(
        "--milestones",
        type=int,
        nargs="*",
        metavar="EPOCH",
        help="multiply the learning rate by --lr-decay after these epochs [60 120 160]",
    )
    schedule.add_argument("--lr-decay", type=float, help="factor applied at each milestone [0.2]")
    schedule.add_argument("--momentum", type=float, help="SGD momentum [0.9]")
    schedule.add_argument(
        "--no-nesterov", dest="nesterov", action="store_false", default=None, help="plain instead of Nesterov momentum"
    )
    schedule.add_argument("--weight-decay", type=float, help="L2 weight decay [1e-4]")
    schedule.add_argument(
        "--label-smoothing",
        type=float,
        metavar="EPS",
        help="train on targets with 1 - EPS on the label and EPS/10 on every class [0]",
    )
    schedule.add_argument("--batch-size", type=int, help="training batch size [128]")

    model = parser.add_argument_group("model, data subsets and augmentation")
    model.add_argument("--width", type=int, help="channels of the first stage; stages have w, 2w, 4w, 8w [64]")
    model.add_argument(
        "--train-size", type=int, help="train on a class-balanced subset of this many images [all 50,000]"
    )
    model.add_argument("--val-size", type=int, help="validate on a class-balanced subset of the test set [all 10,000]")
    model.add_argument("--train-eval-size", type=int, help="training images scored in eval mode each epoch [10,000]")
    model.add_argument("--crop-padding", type=int, help="zero padding before the random 32x32 crop, 0 for none [4]")
    model.add_argument("--no-flip", dest="hflip", action="store_false", default=None, help="no random horizontal flips")
    model.add_argument("--seed", type=int, help="seed for the initial weights, data order and augmentation [0]")
    model.add_argument("--subset-seed", type=int, help="seed for choosing subsets and the calibration half [0]")

    record = parser.add_argument_group("what is recorded")
    record.add_argument("--ece-bins", type=int, help="equal-width confidence bins for ECE [15]")
    record.add_argument(
        "--logit-epochs",
        type=int,
        nargs="+",
        metavar="EPOCH",
        help="epochs whose full validation logits are kept [12 around the milestones]",
    )
    record.add_argument("--thumbnails-per-group", type=int, help="example images kept per group [16]")
    record.add_argument(
        "--record-every", type=int, default=10, metavar="N", help="also write the record every N epochs (default: 10)"
    )
    record.add_argument(
        "--overwrite-record",
        action="store_true",
        help="replace the record folder even if it holds another run (refused by default)",
    )

    run = parser.add_argument_group("running")
    run.add_argument("--device", default="auto", help="auto (GPU if there is one), cpu, cuda or cuda:N (default: auto)")
    run.add_argument(
        "--no-channels-last", dest="channels_last", action="store_false", help="keep tensors in NCHW layout"
    )
    run.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bf16 autocast (default: on for GPUs that support it)",
    )
    run.add_argument(
        "--eval-batch-size", type=int, metavar="N", help="batch size for evaluation (default: 1000 on a GPU, 125 on a CPU)"
    )
    run.add_argument(
        "--checkpoint-every",
        type=int,
        metavar="N",
        help="checkpoint every N epochs, and with every record (default: 1 on a CPU, 10 on a GPU)",
    )
    resume = run.add_mutually_exclusive_group()
    resume.add_argument(
        "--resume",
        dest="resume",
        action="store_const",
        const="require",
        default="auto",
        help="insist on continuing a checkpoint (by default one with the same settings is continued)",
    )
    resume.add_argument(
        "--restart",
        dest="resume",
        action="store_const",
        const="restart",
        help="discard an existing checkpoint and start over",
    )
    run.add_argument(
        "--stop-after-epochs",
        type=int,
        metavar="N",
        help="end this session once N epochs are done; run again to continue",
    )
    run.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="end this session before an epoch that would overrun SECONDS",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    return parser


def config_from_arguments(arguments: argparse.Namespace) -> TrainConfig:
    """The preset with every flag the user gave laid over it."""
    given = {
        f.name: getattr(arguments, f.name) for f in fields(TrainConfig) if getattr(arguments, f.name, None) is not None
    }
    for name in ("milestones", "logit_epochs"):
        if name in given:
            given[name] = tuple(given[name])
    return replace(PRESETS[arguments.preset], **given)


def options_from_arguments(arguments: argparse.Namespace) -> RunOptions:
    """The run options the flags ask for; unset flags leave the per-device defaults to :class:`Runtime`."""
    return RunOptions(
        device=arguments.device,
        channels_last=arguments.channels_last,
        bf16=arguments.bf16,
        eval_batch_size=arguments.eval_batch_size,
        progress=not arguments.quiet,
        record_every=arguments.record_every,
        checkpoint_every=arguments.checkpoint_every,
        overwrite_record=arguments.overwrite_record,
        stop_after_epochs=arguments.stop_after_epochs,
        time_budget_seconds=arguments.time_budget,
        resume=arguments.resume,
    )


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    run_dir = arguments.run_dir or Path("runs") / arguments.preset
    try:
        config = config_from_arguments(arguments)
        options = options_from_arguments(arguments)
        Runtime.resolve(options)  # a bad --device fails before the data are read
        require_folder(arguments.data_cache, "--data-cache")  # written only when a cache is made
        for folder, what in ((run_dir, "--run-dir"), (arguments.record_dir or run_dir / "record", "--record-dir")):
            require_folder(folder, what, writable=True)
        if options.progress:
            print(f"reading CIFAR-10 from {arguments.data} (decoded once, then cached in {arguments.data_cache})", flush=True)
        data = load_cifar10(
            arguments.data,
            arguments.data_cache,
            require_official_counts=not arguments.allow_partial_data,
            progress=options.progress,
        )
        result = train(config, data, run_dir, options, record_dir=arguments.record_dir)
    except (ConfigError, DataError, ResumeError, RecordError, PathError, DivergedError) as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return 2
    except DiskFullError as error:
        print(
            f"{PROGRAM}: error: {error.strerror}; free some space and run the same command to resume from the "
            f"last checkpoint in {run_dir}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(
            f"\n{PROGRAM}: interrupted; the last checkpoint in {run_dir} is kept, run the same command to continue",
            file=sys.stderr,
        )
        return 130
    status = (
        "complete"
        if result.complete
        else f"stopped; run the same command to continue from epoch {result.epochs_done + 1}"
    )
    print(f"{result.epochs_done}/{result.epochs_planned} epochs ({status}); record in {result.record_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
