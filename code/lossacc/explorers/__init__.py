"""The book's explorers: widgets that compute in the browser (see :mod:`lossacc.explorers.base`)."""

from lossacc.explorers.base import Explorer, explorer_module
from lossacc.explorers.epochs import EpochExplorer
from lossacc.explorers.exact_match import ExactMatchExplorer
from lossacc.explorers.imbalance import ImbalanceExplorer
from lossacc.explorers.live_trainer import LiveTrainerExplorer
from lossacc.explorers.population import PopulationExplorer
from lossacc.explorers.prediction import PredictionExplorer
from lossacc.explorers.significance import SignificanceExplorer
from lossacc.explorers.temperature import TemperatureExplorer

__all__ = [
    "EpochExplorer", "ExactMatchExplorer", "Explorer", "ImbalanceExplorer", "LiveTrainerExplorer", "PopulationExplorer",
    "PredictionExplorer", "SignificanceExplorer", "TemperatureExplorer", "explorer_module",
]
