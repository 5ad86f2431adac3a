"""Pipelines and stages: configured in TOML, stored in the database.

Stages live in the database too, so a copied file describes itself and history
keeps pointing at the same stage (by UUID) when a stage is renamed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from dealctl.config import Config
from dealctl.errors import InvalidInput
from dealctl.storage import Store, new_id
from dealctl.text import norm


@dataclass(frozen=True)
class Stage:
    """A stage as stored, with its pipeline."""

    id: str
    pipeline_id: str
    pipeline_key: str
    key: str
    name: str
    position: int
    kind: str
    probability: int
    rot_days: int | None

    @property
    def label(self) -> str:
        """``key`` with its display name when that differs: ``proposal (提案)``."""
        return self.key if self.name == self.key else f"{self.key} ({self.name})"


class Catalogue:
    """Every stored stage, in pipeline order."""

    def __init__(
        self, stages: list[Stage], pipelines: dict[str, str], retired: list[Stage]
    ) -> None:
        self.stages = stages  # in use, in order
        self.pipelines = pipelines  # key -> id
        # Retired stages (removed from the config) still name the history that used them.
        self.by_id = {s.id: s for s in (*stages, *retired)}

    @classmethod
    def load(cls, store: Store) -> Catalogue:
        rows = store.query(
            "SELECT s.id, s.pipeline_id, p.key AS pipeline_key, s.key, s.name, s.position,"
            " s.kind, s.probability, s.rot_days, s.deleted_at IS NULL AS active FROM stages s"
            " JOIN pipelines p ON p.id = s.pipeline_id"
            " WHERE p.deleted_at IS NULL ORDER BY p.position, s.position"
        )
        pipelines = {
            r["key"]: r["id"]
            for r in store.query("SELECT id, key FROM pipelines WHERE deleted_at IS NULL")
        }
        names = [f.name for f in fields(Stage)]
        stages = [Stage(**{name: r[name] for name in names}) for r in rows]
        active = [s for s, r in zip(stages, rows, strict=True) if r["active"]]
        retired = [s for s, r in zip(stages, rows, strict=True) if not r["active"]]
        return cls(active, pipelines, retired)

    def pipeline_id(self, key: str) -> str:
        wanted = norm(key)
        for pkey, pid in self.pipelines.items():
            if norm(pkey) == wanted:
                return pid
        known = ", ".join(self.pipelines) or "none"
        raise InvalidInput(f"unknown pipeline {key!r}: known pipelines are {known}")

    def in_pipeline(self, pipeline_id: str) -> list[Stage]:
        return [s for s in self.stages if s.pipeline_id == pipeline_id]

    def find(self, pipeline_id: str, text: str) -> Stage:
        """A stage of the pipeline by key or display name (NFKC, case-insensitive)."""
        wanted = norm(text)
        stages = self.in_pipeline(pipeline_id)
        for stage in stages:
            if wanted in (norm(stage.key), norm(stage.name)):
                return stage
        known = ", ".join(s.label for s in stages)
        raise InvalidInput(f"unknown stage {text!r}: this pipeline's stages are {known}")

    def first(self, pipeline_id: str) -> Stage:
        return self.in_pipeline(pipeline_id)[0]

    def won(self, pipeline_id: str) -> Stage:
        return next(s for s in self.in_pipeline(pipeline_id) if s.kind == "won")

    def following(self, stage: Stage) -> Stage | None:
        """The next stage in order, or None at the end."""
        later = [s for s in self.in_pipeline(stage.pipeline_id) if s.position > stage.position]
        return later[0] if later else None


def sync(store: Store, config: Config, at: str) -> None:
    """Bring stored pipelines and stages in line with the config (inside a transaction).

    Matching is by key; a stage missing from the config stays stored so history
    keeps its meaning. Every difference is written to the change log.
    """
    pipelines = {
        r["key"]: dict(r) for r in store.query("SELECT * FROM pipelines WHERE deleted_at IS NULL")
    }
    for position, (pkey, pdef) in enumerate(config.pipelines.items()):
        row = pipelines.get(pkey)
        if row is None:
            pid = new_id()
            store.execute(
                "INSERT INTO pipelines (id, key, name, position, created_at) VALUES (?,?,?,?,?)",
                (pid, pkey, pdef.name, position, at),
            )
            store.log_change("pipeline", pid, "created", None, pkey, at)
        else:
            pid = row["id"]
            _update(store, "pipelines", row, {"name": pdef.name, "position": position}, at)
        stages = {
            r["key"]: dict(r)
            for r in store.query(
                # Active rows come last, so they win over a retired row with the same key.
                "SELECT * FROM stages WHERE pipeline_id = ? ORDER BY deleted_at IS NULL",
                (pid,),
            )
        }
        for spos, sdef in enumerate(pdef.stages):
            values = {
                "name": sdef.name,
                "position": spos,
                "kind": sdef.kind,
                "probability": sdef.probability,
                "rot_days": sdef.rot_days,
                "deleted_at": None,  # a stage configured again comes back with its history
            }
            srow = stages.pop(sdef.key, None)
            if srow is None:
                sid = new_id()
                store.execute(
                    "INSERT INTO stages (id, pipeline_id, key, name, position, kind, probability,"
                    " rot_days, deleted_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (sid, pid, sdef.key, *values.values(), at),
                )
                store.log_change("stage", sid, "created", None, f"{pkey}.{sdef.key}", at)
            else:
                _update(store, "stages", srow, values, at)
        # Stages no longer configured retire: kept for history, out of the pipeline's order.
        for retired in stages.values():
            if retired["deleted_at"] is not None:
                continue
            store.execute("UPDATE stages SET deleted_at = ? WHERE id = ?", (at, retired["id"]))
            store.log_change("stage", retired["id"], "deleted_at", None, at, at)


_SYNCED_COLUMNS = {"name", "position", "kind", "probability", "rot_days", "deleted_at"}


def _update(
    store: Store, table: str, row: dict[str, object], values: dict[str, object], at: str
) -> None:
    entity = table.rstrip("s")
    for column, value in values.items():
        assert column in _SYNCED_COLUMNS
        if row[column] != value:
            store.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", (value, row["id"]))
            store.log_change(entity, str(row["id"]), column, row[column], value, at)
