"""The shield's learned second opinion: a linear model over words and letters.

Rules and cues catch what they were written for and miss new phrasings ("i
wrote my note", "theres a rope in my closet"). This model was fitted offline
(``scripts/train_shield_model.py``, scikit-learn's logistic regression) on the
labelled training messages and is applied to the text the rules saw, with the
spans benign guards masked, so a guard's judgement ("the bombing of Dresden")
holds for the model too. It decides only where the rules let a message pass or
ask for an acknowledgement, and only above per-verdict thresholds chosen on
held-out folds of the training data so that benign messages are seldom
stopped. At run time it is a dictionary lookup per feature: no numerical
library, no state.

Features (``features``) are binary: each word, each pair of neighbouring words
and each 3-5 letter slice of a word (padded with spaces), scaled to unit
length. Training and serving share this one function.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from novaos.errors import PolicyError

FEATURE_VERSION = 1
MODEL_FILE = "shield_model.json"
# The output check's reading of answers for self-harm (scripts/train_output_model.py):
# the same features and file format, two classes.
OUTPUT_MODEL_FILE = "output_model.json"
_GRAMS = (3, 4, 5)
_MASK = "|"


def features(text: str) -> dict[str, float]:
    """The model's features of one canonical (masked) view."""
    keys = _keys(text)
    return dict.fromkeys(keys, 1 / math.sqrt(len(keys))) if keys else {}


def _keys(text: str) -> set[str]:
    keys: set[str] = set()
    for segment in text.split(_MASK):  # never a pair across a guarded span
        words = segment.split()
        for i, word in enumerate(words):
            keys.update(_word_keys(word))
            if i:
                keys.add(f"b:{words[i - 1]} {word}")
    return keys


@lru_cache(maxsize=16384)
def _word_keys(word: str) -> tuple[str, ...]:
    """A word and its letter slices (a pure function: words repeat across messages)."""
    padded = f" {word} "
    grams = {padded[j : j + n] for n in _GRAMS for j in range(len(padded) - n + 1)}
    return ("w:" + word, *grams)


@dataclass(frozen=True, slots=True)
class ModelHit:
    category: str
    probability: float


class ShieldModel:
    """Softmax over ``classes`` ("benign" and policy categories)."""

    def __init__(
        self,
        classes: Sequence[str],
        intercept: Sequence[float],
        weights: Mapping[str, Sequence[float]],
        thresholds: Mapping[str, float],
        verdicts: Mapping[str, str],
        version: str,
    ) -> None:
        self.classes = tuple(classes)
        self.version = version
        self.thresholds = dict(thresholds)  # the share each verdict needs
        self._intercept = np.asarray(intercept, dtype=np.float64)
        self._index = {key: row for row, key in enumerate(weights)}
        self._matrix = np.asarray(list(weights.values()), dtype=np.float64).reshape(
            len(self._index), len(self.classes)
        )
        # (a verdict's threshold, the indexes of the classes whose shares it sums)
        self._decisions = tuple(
            (threshold, [i for i, c in enumerate(self.classes) if verdicts.get(c) == group])
            for group, threshold in thresholds.items()
        )

    @property
    def words(self) -> frozenset[str]:
        """The words it has a weight for (its ``w:`` features)."""
        return frozenset(key[2:] for key in self._index if key.startswith("w:"))

    def probabilities(self, text: str) -> list[float]:
        found = _keys(text)
        rows = [row for row in map(self._index.get, found) if row is not None]
        scores = self._intercept
        if rows:  # every feature has the same value, 1 / sqrt(len(found))
            summed = self._matrix.take(rows, axis=0).sum(axis=0)  # take: half a fancy index
            scores = scores + summed / math.sqrt(len(found))
        values = scores.tolist()
        top = max(values)
        exps = [math.exp(v - top) for v in values]
        total = sum(exps)
        return [e / total for e in exps]

    def decide(self, text: str, suppressed: Iterable[str] = ()) -> ModelHit | None:
        """The most likely stopping category if its verdict's share passes its
        threshold (categories a guard switched off excluded), else None."""
        probs = self.probabilities(text)
        off = frozenset(suppressed)
        best: ModelHit | None = None
        for threshold, every in self._decisions:
            members = [i for i in every if self.classes[i] not in off] if off else every
            share = sum(probs[i] for i in members)
            if not members or share < threshold:
                continue
            top = max(members, key=probs.__getitem__)
            if best is None or share > best.probability:
                best = ModelHit(self.classes[top], share)
        return best


def model_from_dict(data: Mapping[str, Any], name: str = MODEL_FILE) -> ShieldModel:
    """Build from the exported file's content (raises ``PolicyError``)."""
    try:
        if data["feature_version"] != FEATURE_VERSION:
            raise PolicyError(
                f"{name}: feature_version {data['feature_version']} is not "
                f"{FEATURE_VERSION}; retrain it (make shield-model / make output-model)"
            )
        classes = list(data["classes"])
        width = len(classes)
        weights = data["weights"]
        if len(data["intercept"]) != width or any(len(w) != width for w in weights.values()):
            raise PolicyError(f"{name}: every weight row needs {width} values")
        return ShieldModel(
            classes,
            data["intercept"],
            weights,
            data["thresholds"],
            data["verdicts"],
            str(data["version"]),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise PolicyError(f"{name}: malformed ({exc!r})") from exc


def training_digest(files: Iterable[Path]) -> str:
    """SHA-256 over the training files' bytes (in the order given) and the
    feature version: the model file records it, so a stale model is noticed."""
    digest = hashlib.sha256(f"features {FEATURE_VERSION}\n".encode())
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def fitted_digest(data: Mapping[str, Any]) -> str:
    """SHA-256 over what a fit produced (classes, verdicts, thresholds,
    intercept, weights): the model's version names its first 12 digits, so two
    files that decide differently never share a version."""
    fitted = {
        key: data[key] for key in ("classes", "verdicts", "thresholds", "intercept", "weights")
    }
    canonical = json.dumps(fitted, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@cache
def default_model() -> ShieldModel:
    """The packaged model, loaded once per process (immutable)."""
    return _packaged(MODEL_FILE)


@cache
def default_output_model() -> ShieldModel:
    """The packaged output model (self-harm in answers), loaded once per process."""
    return _packaged(OUTPUT_MODEL_FILE)


def _packaged(name: str) -> ShieldModel:
    text = resources.files("novaos.pipeline.policy").joinpath(name).read_text("utf-8")
    return model_from_dict(json.loads(text), name)
