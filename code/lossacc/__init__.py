"""lossacc: the library behind the book *Why validation loss and accuracy disagree*.

Notebooks import this package; every number the book prints comes from here.
"""

from lossacc.metrics import (
    accuracy,
    cross_entropy_from_logits,
    cross_entropy_from_probs,
    per_example_loss_from_logits,
    per_example_loss_from_probs,
    softmax,
    top_k_accuracy,
)

__all__ = [
    "accuracy",
    "cross_entropy_from_logits",
    "cross_entropy_from_probs",
    "per_example_loss_from_logits",
    "per_example_loss_from_probs",
    "softmax",
    "top_k_accuracy",
]
