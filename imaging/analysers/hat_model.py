"""A learned second opinion on hard hats: a logistic regression over the measurements of a person's head.

The colour rules in ``ppe`` and ``neural`` were set on a dozen seed scenes. This model reads the same dome and
blob measurements (``features``) but was fitted on thousands of people in other people's labelled photos
(``manage.py fit_hat_model``; the file it writes, ``hat_model.json``, says on what), so it has seen far more
heads, hats, cameras and light. Neither alone was as good on both the seed scenes and outside photos as the two
together: the analyser adds the model's log-odds to the rules' (``combine``), each counted as one piece of
evidence, when the model is itself sure (``neural.MODEL_SURE``), and abstains when the sum is not sure enough.

The fit is plain Newton-Raphson on a weighted log-likelihood with a small ridge (numpy only): about fifty
weights, a file of a few kilobytes, no runtime beyond numpy.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from imaging.analysers.ppe import HUE_BANDS, SHELL_COLOURS

WEIGHTS_FILE = Path(__file__).with_name("hat_model.json")
COLOURS = tuple(SHELL_COLOURS)
MEASURES = len(COLOURS) + 3 + 1 + 1 + HUE_BANDS + 2  # see ``ppe.dome_measures``
DOME_FEATURES = 3 + MEASURES + 1
FEATURES = 2 * DOME_FEATURES + 2 + len(COLOURS)


def _dome(hat: dict | None) -> list[float]:
    """A dome's rule scores (coloured shell, white shell, bare) and its measures; all zero and a last 1 when there
    is no dome to measure (no pose, or too few pixels)."""
    if hat is None or hat.get("measures") is None:
        return [0.0] * (DOME_FEATURES - 1) + [1.0]
    white = hat["colour"] == "white"
    return [0.0 if white else hat["score"], hat["score"] if white else 0.0, hat["bare"], *hat["measures"], 0.0]


def features(posed: dict | None, box: dict, blob: dict) -> np.ndarray:
    """The model's input: the pose's dome (or none), the box's crown and the most helmet-like blob, as the
    rules measured them (before any rule adjusted a score)."""
    colour = [1.0 if blob["colour"] == name else 0.0 for name in COLOURS]
    return np.array([*_dome(posed), *_dome(box), blob["score"], blob.get("on_person", 0.0), *colour], np.float64)


@lru_cache(maxsize=1)
def _weights() -> np.ndarray:
    weights = np.array(json.loads(WEIGHTS_FILE.read_text())["weights"], np.float64)
    if weights.shape != (FEATURES + 1,):  # the features changed since the fit: refit, never guess
        raise ValueError(
            f"{WEIGHTS_FILE.name} has {len(weights)} weights, the features need {FEATURES + 1}: rerun manage.py fit_hat_model"
        )
    return weights


def probability(x: np.ndarray) -> float:
    """The model's probability that this head wears a hard hat (one row of ``features``, the committed weights)."""
    return float(predict(x[None, :], _weights())[0])


def combine(p_rules: float, p_model: float) -> float:
    """The rules' probability and the model's, each as evidence: their log-odds add."""
    return _sigmoid(_logit(p_rules) + _logit(p_model))


def fit(x: np.ndarray, y: np.ndarray, *, ridge: float = 0.01, steps: int = 50) -> np.ndarray:
    """Logistic-regression weights (the last one the intercept) for rows ``x`` and labels ``y`` (1: hard hat).
    The two classes weigh the same in total, so a training set of mostly helmets does not teach "always yes"."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    share = float(y.mean()) if len(y) else 0.0
    if share in (0.0, 1.0):
        raise ValueError("the labels need both helmets and bare heads")
    weight = np.where(y == 1, 0.5 / share, 0.5 / (1 - share))
    w = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xb @ w)))
        gradient = xb.T @ (weight * (p - y)) + ridge * w
        hessian = (xb * (weight * p * (1 - p))[:, None]).T @ xb + ridge * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return w


def predict(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Probabilities for the rows ``x`` under ``weights`` (a fit's result, not necessarily the committed one)."""
    z = np.clip(np.hstack([x, np.ones((len(x), 1))]) @ weights, -50, 50)
    return 1 / (1 + np.exp(-z))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))
