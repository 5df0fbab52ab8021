"""Versioned models on disk: ``$ZHIDA_DATA_DIR/models/<version>/``.

Each version is a directory with ``model.npz`` (the trees as plain numpy arrays — loading runs
no pickle) and ``metadata.json``: version, created, seed, feature list, training-data hash,
parameters, metrics, the SHA-256 of ``model.npz`` and ``audit``: whether the model reads
protected or sensitive fields (``zhida rank train --audit-features``) — such a version is for
audits only, and :meth:`ModelRegistry.load_for_ordering` never returns it.  A version is
written to a temporary directory and renamed into place, so a crash leaves nothing
half-written; versions are numbered ``v1``, ``v2``, ... and never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import NotFoundError, ValidationError
from matcher.ranking.features import FeatureSpec
from matcher.ranking.model import RankingModel
from matcher.ranking.trees import TreeEnsemble

__all__ = ["ModelInfo", "ModelRegistry", "ModelStoreError"]

_VERSION = re.compile(r"^v(\d+)$")


class ModelStoreError(ValidationError):
    """A stored model is missing a file, corrupt, or from an incompatible layout."""


@dataclass(frozen=True)
class ModelInfo:
    """What ``metadata.json`` says about one version."""

    version: str
    created: str
    seed: int
    data_hash: str
    features: int
    metrics: dict[str, Any]
    path: Path
    extra: dict[str, Any]

    @property
    def audit(self) -> bool:
        """Trained on protected or sensitive fields, for audits only (never orders offers)."""
        return bool(self.extra.get("audit", True))  # a version that does not say: assume so


class ModelRegistry:
    """The model versions under ``root`` (normally ``$ZHIDA_DATA_DIR/models``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _versions(self) -> list[tuple[int, str]]:
        if not self.root.is_dir():
            return []
        found = []
        for child in self.root.iterdir():
            m = _VERSION.match(child.name)
            if m and child.is_dir():
                found.append((int(m.group(1)), child.name))
        return sorted(found)

    def save(
        self,
        model: RankingModel,
        *,
        seed: int,
        data_hash: str,
        metrics: dict[str, Any],
        extra: dict[str, Any] | None = None,
        created: datetime | None = None,
    ) -> ModelInfo:
        """Write ``model`` as the next version and return its metadata."""
        self.root.mkdir(parents=True, exist_ok=True)
        arrays = {f"response.{k}": v for k, v in model.response.to_arrays().items()}
        if model.control is not None:
            arrays |= {f"control.{k}": v for k, v in model.control.to_arrays().items()}
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        try:
            np.savez(staging / "model.npz", **arrays)  # type: ignore[arg-type]
            digest = hashlib.sha256((staging / "model.npz").read_bytes()).hexdigest()
            while True:
                number = (self._versions()[-1][0] + 1) if self._versions() else 1
                version = f"v{number}"
                meta = {
                    "version": version,
                    "created": (created or datetime.now(UTC)).isoformat(timespec="seconds"),
                    "seed": seed,
                    "training_data_hash": data_hash,
                    "model_sha256": digest,
                    "features": model.spec.to_dict(),
                    "uplift": model.control is not None,
                    "metrics": metrics,
                    **(extra or {}),
                    "audit": model.spec.audit,
                }
                (staging / "metadata.json").write_text(
                    json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8"
                )
                try:
                    os.rename(staging, self.root / version)
                except OSError:  # another process took this number first
                    if (self.root / version).exists():
                        continue
                    raise
                return self._info(self.root / version, meta)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def _info(self, path: Path, meta: dict[str, Any]) -> ModelInfo:
        known = {"version", "created", "seed", "training_data_hash", "features", "metrics"}
        return ModelInfo(
            version=str(meta["version"]),
            created=str(meta["created"]),
            seed=int(meta["seed"]),
            data_hash=str(meta["training_data_hash"]),
            features=len(meta["features"]),
            metrics=dict(meta["metrics"]),
            path=path,
            extra={k: v for k, v in meta.items() if k not in known},
        )

    def _metadata(self, path: Path) -> dict[str, Any]:
        file = path / "metadata.json"
        try:
            meta = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelStoreError(
                f"model {path.name} has no metadata.json ({file}); retrain with `zhida rank train`"
            ) from None
        except (OSError, ValueError) as exc:
            raise ModelStoreError(
                f"model {path.name}: metadata.json is unreadable or not JSON ({exc}); "
                "retrain with `zhida rank train`"
            ) from exc
        needed = ("version", "created", "seed", "training_data_hash", "features", "metrics")
        if not isinstance(meta, dict) or any(k not in meta for k in needed):
            raise ModelStoreError(
                f"model {path.name}: metadata.json lacks some of {', '.join(needed)}; "
                "retrain with `zhida rank train`"
            )
        return meta

    def list(self) -> list[ModelInfo]:
        """Every readable version, oldest first (unreadable ones are reported on load)."""
        out = []
        for _, name in self._versions():
            try:
                out.append(self._info(self.root / name, self._metadata(self.root / name)))
            except ModelStoreError:
                continue
        return out

    def _path(self, version: str | None) -> Path:
        versions = self._versions()
        if version is None:
            if not versions:
                raise NotFoundError(
                    f"no trained model under {self.root}; train one with `zhida rank train`"
                )
            return self.root / versions[-1][1]
        if not _VERSION.match(version) or not (self.root / version).is_dir():
            names = ", ".join(n for _, n in versions) or "none"
            raise NotFoundError(
                f"no model version {version!r} under {self.root} (versions: {names}); "
                "see `zhida rank list`"
            )
        return self.root / version

    def load(self, version: str | None = None) -> tuple[RankingModel, ModelInfo]:
        """The model ``version`` (default: the latest) and its metadata, checked for damage."""
        path = self._path(version)
        meta = self._metadata(path)
        file = path / "model.npz"
        try:
            blob = file.read_bytes()
        except OSError:
            raise ModelStoreError(
                f"model {path.name} has no readable model.npz; retrain with `zhida rank train`"
            ) from None
        if hashlib.sha256(blob).hexdigest() != meta.get("model_sha256"):
            raise ModelStoreError(
                f"model {path.name}: model.npz does not match the checksum in metadata.json "
                "(damaged or edited); retrain with `zhida rank train`"
            )
        try:
            with np.load(file, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            spec = FeatureSpec.from_dict(meta["features"])
            response = TreeEnsemble.from_arrays(_part(arrays, "response"))
            control = (
                TreeEnsemble.from_arrays(_part(arrays, "control"))
                if any(k.startswith("control.") for k in arrays)
                else None
            )
        except (KeyError, ValueError, OSError) as exc:
            raise ModelStoreError(
                f"model {path.name} is corrupt ({exc}); retrain with `zhida rank train`"
            ) from exc
        if response.n_features != len(spec.features):
            raise ModelStoreError(
                f"model {path.name}: the trees expect {response.n_features} features but the "
                f"metadata lists {len(spec.features)}; retrain with `zhida rank train`"
            )
        return RankingModel(spec, response, control), self._info(path, meta)

    def load_for_ordering(self, version: str | None = None) -> tuple[RankingModel, ModelInfo]:
        """A model that may order offers: ``version``, or the latest that is not for audits.

        A version trained with ``--audit-features`` is refused (:class:`AuditModelError`) when
        named, and skipped when not; with none but audit versions, :class:`NotFoundError`.
        """
        if version is not None:
            model, info = self.load(version)
            model.refuse_if_audit(info.version)
            return model, info
        for _, name in reversed(self._versions()):
            try:
                meta = self._metadata(self.root / name)
            except ModelStoreError:
                continue
            if meta.get("audit") is False:
                model, info = self.load(name)
                model.refuse_if_audit(info.version)  # the metadata and the features agree
                return model, info
        raise NotFoundError(
            f"no model under {self.root} may order offers (only audit versions, which read "
            "protected or sensitive fields — trained with --audit-features or before they were "
            "left out — or none); train one with `zhida rank train`"
        )


def _part(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith(prefix + ".")}
