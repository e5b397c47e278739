"""LSTM+: AttRec with its self-attention module replaced by an LSTM.

Reference: the "LSTM+" baseline of Zhang et al. 2018 (the AttRec paper, Table 2), described
only as AttRec's framework with an LSTM in place of self-attention; the LSTM is Hochreiter &
Schmidhuber 1997.

Short-term intent: an LSTM (input and hidden size d, one layer) reads the same L embeddings
X_t (Eq. 1) and ``m`` is its **last hidden state** (``lstm_output="last"``; ``"mean"``
averages the hidden states of the non-padded positions). Everything else is AttRec's
(attrec.py): the score of Eq. 10, ``-(omega ||U_u - V_i||^2 + (1 - omega) ||m - X_i||^2)``,
the hinge loss of Eq. 11 with margin 0.5, L2 on the embeddings, Adagrad lr 0.05.
``reg_weights`` applies to the LSTM weight matrices (in place of W_Q).

Deviations / choices of ours (the paper gives no details):

* No time embedding (the LSTM is order-aware); AttRec's attention fields (mask, shared_qk,
  qk_dropout, time_embedding, aggregation, self_attention) are ignored.
* Left-padded positions (only for users shorter than L + T) are fed to the LSTM as zero vectors.
* LSTM weights keep PyTorch's default initialisation (uniform +-1/sqrt(d)).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .distributions import Choice, LogUniform
from . import attrec
from .base import check_choice


@dataclass(frozen=True)
class LSTMPlusConfig(attrec.AttRecConfig):
    lstm_output: str = "last"  # m = the "last" hidden state, or the "mean" of the hidden states

    def validate(self):
        super().validate()
        check_choice("lstm_output", self.lstm_output, {"last", "mean"})
        return self


PRESETS = {"paper": LSTMPlusConfig()}

SEARCH_SPACE = {  # learning rate (Adagrad, as AttRec) and the paper's lambda grid; d stays 100
    "train.lr": LogUniform(0.01, 0.2),
    ("reg_embeddings", "reg_weights"): Choice((0.1, 0.01, 0.001, 0.0001)),
}


class LSTMPlus(attrec.AttRec):
    config_class, presets = LSTMPlusConfig, PRESETS
    search_space = SEARCH_SPACE
    preset_training = {}  # AttRec's training (Adagrad, lr 0.05) for its one preset

    def __init__(self, n_users: int, n_items: int, config: LSTMPlusConfig | None = None):
        super().__init__(n_users, n_items, config)
        del self.W_Q  # no self-attention
        if hasattr(self, "W_K"):
            del self.W_K
        d = self.config.d
        self.lstm = nn.LSTM(d, d, num_layers=1, batch_first=True)

    def short_term_intent(self, inputs: torch.Tensor) -> torch.Tensor:
        """m (B, d) from the LSTM over the L input embeddings."""
        out, _ = self.lstm(self.X[inputs])  # (B, L, d)
        if self.config.lstm_output == "last":
            return out[:, -1]
        valid = (inputs != self.n_items).unsqueeze(-1)  # (B, L, 1)
        return (out * valid).sum(1) / valid.sum(1).clamp_min(1)

    def attention(self, inputs):
        raise NotImplementedError("LSTM+ has no attention weights")

    def whole_tensor_l2(self) -> dict:
        return {}  # every L2 term stays in the loss (AttRec.regularization with weight_matrices())

    def weight_matrices(self) -> list:
        """``reg_weights`` applies to the LSTM's weight matrices (AttRec's W_Q is gone)."""
        return [w for name, w in self.lstm.named_parameters() if name.startswith("weight")]

