"""The epoch explorer: a slider over the epochs of a real run, with the histogram of ``p`` at each."""

from __future__ import annotations

import numpy as np

from lossacc.cifar.record import CifarRecord
from lossacc.explorers.base import Explorer, explorer_module
from lossacc.metrics import worst_share
from lossacc.run_analysis import HISTOGRAM_BINS, epoch_histograms, lr_drops


class EpochExplorer(Explorer):
    """An epoch slider; readouts follow :func:`lossacc.run_analysis.epoch_readouts`.

    The page gets, per epoch, the histogram of true-class probabilities (counts and summed
    losses of right and wrong examples in each bin, losses to 3 decimals) and the per-epoch
    scalars; the JavaScript derives accuracy, mean loss and the loss share of wrong answers
    from the histogram, for the slider's epoch and for the curves.
    """

    _esm = explorer_module("epochs.js")

    @classmethod
    def from_record(cls, record: CifarRecord, start_epoch: int | None = None, bins: int = HISTOGRAM_BINS) -> EpochExplorer:
        """Ship ``record``'s per-epoch histograms (a few kilobytes per epoch); the slider starts at
        ``start_epoch`` (default: the last epoch)."""
        histograms = epoch_histograms(record, bins)
        h = record.history
        return cls(
            data={
                "n": len(record.val_labels),
                "bins": bins,
                "start": start_epoch or record.epochs_recorded,
                "lr": h.lr.tolist(),
                "drops": lr_drops(h.lr).tolist(),
                "right_count": histograms.right_count.tolist(),
                "wrong_count": histograms.wrong_count.tolist(),
                "right_loss": np.round(histograms.right_loss, 3).tolist(),
                "wrong_loss": np.round(histograms.wrong_loss, 3).tolist(),
                "worst_share": [round(worst_share(loss, 0.01), 6) for loss in record.val_loss],
                "temperature": np.round(h.temperature, 4).tolist(),
                "heldout_loss": np.round(h.val_heldout_loss, 6).tolist(),
                "heldout_loss_scaled": np.round(h.val_heldout_loss_scaled, 6).tolist(),
            }
        )
