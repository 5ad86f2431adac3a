"""Settings: defaults, merged with the user's TOML file.

The file is optional; a path that does not exist means defaults. A broken file is
an error naming the file and the cause. ``config set`` rewrites the file with
tomli-w, which does not keep comments (the command says so).
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dealctl.errors import ConfigError, InvalidInput

CONFIG_ENV = "DEALCTL_CONFIG"

STAGE_KINDS = ("open", "won")

DEFAULTS: dict[str, Any] = {
    "currency": "JPY",
    "timezone": "",
    "owner": "",
    "date_order": "",
    "pipeline": "b2b",
    "pipelines": {
        "b2b": {
            "name": "B2B",
            "stages": [
                {"key": "approach", "name": "アプローチ", "probability": 10, "rot_days": 14},
                {"key": "hearing", "name": "ヒアリング", "probability": 20, "rot_days": 14},
                {"key": "proposal", "name": "提案", "probability": 40, "rot_days": 21},
                {"key": "negotiation", "name": "交渉", "probability": 70, "rot_days": 21},
                {"key": "contract", "name": "契約", "probability": 100, "kind": "won"},
            ],
        },
        "b2c": {
            "name": "B2C",
            "stages": [
                {"key": "lead", "name": "リード", "probability": 10, "rot_days": 3},
                {"key": "contacted", "name": "接触", "probability": 30, "rot_days": 3},
                {"key": "offer", "name": "提示", "probability": 60, "rot_days": 7},
                {"key": "purchase", "name": "購入", "probability": 100, "kind": "won"},
            ],
        },
    },
    "lost_reasons": {
        "price": "価格",
        "competitor": "競合",
        "timing": "時期",
        "no-budget": "予算なし",
        "no-decision": "決裁者不在",
        "no-response": "音信不通",
        "other": "その他",
    },
    # `dealctl next`: score = Σ coefficient × term (docs/analytics.md#priority). The due
    # term ramps from 0 when due `due_far_days` or more ahead to 1 at `due_overdue_days` late.
    "priority": {
        "due": 12.0,
        "probability": 4.0,
        "size": 3.0,
        "stale": 5.0,
        "no_next_action": 6.0,
        "qualification": 2.0,
        "hot": 4.0,
        "due_far_days": 14,
        "due_overdue_days": 7,
    },
    # `dealctl revisit`: months after which a deal lost for each reason is worth another try
    # (掘り起こし); a reason left out is never suggested.
    "revisit": {
        "price": 6,
        "competitor": 12,
        "timing": 3,
        "no-budget": 12,
        "no-decision": 6,
        "no-response": 6,
        "other": 12,
    },
    # The buying committee: roles a contact can hold on a deal (key = display name), which
    # role decides, and the stage from which a deal without a decision maker is flagged.
    "stakeholders": {
        "decision_maker_from": "proposal",
        "decision_role": "decision-maker",
        "roles": {
            "information-gatherer": "情報収集者",
            "key-person": "キーパーソン",
            "decision-maker": "決裁者",
            "approver": "承認者",
            "influencer": "影響者",
            "user": "利用者",
        },
    },
    # Approval route (稟議) templates: `dealctl route set 12 --template ringi`.
    "routes": {
        "ringi": ["現場承認", "課長決裁", "本部長承認", "稟議書", "契約"],
    },
    # `dealctl digest`: how many days ahead "due soon" looks (--days overrides it).
    "digest": {"days": 7},
    # New open deals with no activity this many hours after they were added are listed by
    # the digest (fast-moving B2C leads go cold within a day); 0 turns the check off.
    "sla": {"first_response_hours": 24},
}

# Keys `config set` may write, with the type their value takes.
SCALAR_KEYS: dict[str, type] = {
    "currency": str,
    "timezone": str,
    "owner": str,
    "date_order": str,
    "pipeline": str,
}


@dataclass(frozen=True)
class StageDef:
    """One stage of a pipeline, as configured."""

    key: str
    name: str
    probability: int
    rot_days: int | None
    kind: str


@dataclass(frozen=True)
class PipelineDef:
    """A named, ordered list of stages; exactly one stage is the won stage."""

    key: str
    name: str
    stages: tuple[StageDef, ...]


@dataclass(frozen=True)
class Config:
    """The settings in force for one run."""

    path: Path
    data: dict[str, Any] = field(repr=False)
    pipelines: dict[str, PipelineDef]

    @property
    def currency(self) -> str:
        return str(self.data["currency"]).upper()

    @property
    def timezone(self) -> str | None:
        return str(self.data["timezone"]) or None

    @property
    def owner(self) -> str | None:
        return str(self.data["owner"]) or None

    @property
    def date_order(self) -> str | None:
        return str(self.data["date_order"]).upper() or None

    @property
    def default_pipeline(self) -> str:
        return str(self.data["pipeline"])

    @property
    def lost_reasons(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.data["lost_reasons"].items()}

    @property
    def priority(self) -> dict[str, float]:
        """``[priority]``: term coefficients and the due ramp's ends (checked by :func:`load`)."""
        return {str(k): float(v) for k, v in self.data["priority"].items()}

    @property
    def revisit_months(self) -> dict[str, int]:
        """``[revisit]``: months after a loss, per lost reason, before a deal is worth a retry."""
        return {str(k): int(v) for k, v in self.data["revisit"].items()}


def config_path(environ: Mapping[str, str]) -> Path:
    """``$DEALCTL_CONFIG``, else ``$XDG_CONFIG_HOME/dealctl/config.toml`` (or ``~/.config``)."""
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]).expanduser()
    config_home = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "dealctl" / "config.toml"


def read_file(path: Path) -> dict[str, Any]:
    """The user's file as a dict; {} when it does not exist. A BOM is tolerated."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"config {path} is not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path} is not valid TOML: {exc}") from None


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if key == "pipelines" and isinstance(value, Mapping):
            merged[key].update(copy.deepcopy(dict(value)))
        elif isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _pipeline(path: Path, key: str, spec: Any) -> PipelineDef:
    where = f"config {path}: pipeline {key!r}"
    if not isinstance(spec, Mapping) or not isinstance(spec.get("stages"), list):
        raise ConfigError(f"{where} needs a list of stages")
    stages = []
    for index, stage in enumerate(spec["stages"], start=1):
        if not isinstance(stage, Mapping) or not stage.get("key"):
            raise ConfigError(f"{where}: stage {index} needs a key")
        kind = str(stage.get("kind", "open"))
        probability = stage.get("probability", 100 if kind == "won" else 0)
        rot = stage.get("rot_days")
        if kind not in STAGE_KINDS:
            raise ConfigError(f"{where}: stage {stage['key']!r} kind must be open or won")
        if not isinstance(probability, int) or not 0 <= probability <= 100:
            raise ConfigError(f"{where}: stage {stage['key']!r} probability must be 0-100")
        if rot is not None and (not isinstance(rot, int) or rot < 0):
            raise ConfigError(f"{where}: stage {stage['key']!r} rot_days must be a whole number")
        stages.append(
            StageDef(
                key=str(stage["key"]),
                name=str(stage.get("name") or stage["key"]),
                probability=probability,
                rot_days=rot,
                kind=kind,
            )
        )
    keys = [s.key for s in stages]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{where} repeats a stage key")
    won = [s for s in stages if s.kind == "won"]
    if len(won) != 1 or len(stages) < 2 or stages[-1].kind != "won":
        raise ConfigError(
            f"{where} needs open stages followed by exactly one last stage of kind 'won'"
        )
    return PipelineDef(key=key, name=str(spec.get("name") or key), stages=tuple(stages))


def load(environ: Mapping[str, str] | None = None) -> Config:
    """Defaults merged with the user's file (which may be absent)."""
    env = os.environ if environ is None else environ
    path = config_path(env)
    data = _merge(DEFAULTS, read_file(path))
    for key, kind in SCALAR_KEYS.items():
        if not isinstance(data.get(key), kind):
            raise ConfigError(f"config {path}: {key} must be text")
    if not isinstance(data.get("lost_reasons"), Mapping) or not data["lost_reasons"]:
        raise ConfigError(f"config {path}: lost_reasons must be a table of key = display name")
    if not isinstance(data.get("pipelines"), Mapping):
        raise ConfigError(f"config {path}: pipelines must be a table")
    pipelines = {str(k): _pipeline(path, str(k), v) for k, v in data["pipelines"].items()}
    if data["pipeline"] not in pipelines:
        raise ConfigError(f"config {path}: default pipeline {data['pipeline']!r} is not defined")
    _check_priority(path, data.get("priority"))
    _check_revisit(path, data.get("revisit"), data["lost_reasons"])
    return Config(path=path, data=data, pipelines=pipelines)


def _check_priority(path: Path, table: Any) -> None:
    """``[priority]``: known keys only (a typo would silently weigh nothing), numbers only."""
    known = DEFAULTS["priority"]
    if not isinstance(table, Mapping):
        raise ConfigError(f"config {path}: priority must be a table of coefficients")
    for key, value in table.items():
        if key not in known:
            raise ConfigError(
                f"config {path}: unknown priority key {key!r}: use {', '.join(known)}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"config {path}: priority.{key} must be a number")
        if key.endswith("_days") and (not isinstance(value, int) or value < 0):
            raise ConfigError(f"config {path}: priority.{key} must be a whole number of days")


def _check_revisit(path: Path, table: Any, reasons: Mapping[str, Any]) -> None:
    """``[revisit]``: whole months (0 or more) for configured lost reasons."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"config {path}: revisit must be a table of lost reason = months")
    for key, value in table.items():
        if key not in reasons:
            raise ConfigError(
                f"config {path}: revisit.{key} is not a lost reason: use {', '.join(reasons)}"
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"config {path}: revisit.{key} must be a whole number of months")


def get_value(config: Config, key: str) -> Any:
    """A setting by dotted key (``currency``, ``lost_reasons.price``, ``pipelines.b2b``)."""
    node: Any = config.data
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise InvalidInput(f"unknown config key {key!r}")
        node = node[part]
    return node


def _coerce(key: str, value: str) -> Any:
    """Typed value for ``config set``: known text keys stay text; others are read as TOML."""
    if key in SCALAR_KEYS:
        return value
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def _check(key: str, value: Any) -> Any:
    """Values of the plain settings, checked and normalised before they are written."""
    from dealctl.money import currency_code

    if key == "currency":
        return currency_code(str(value))
    if key == "date_order":
        order = str(value).upper()
        if order not in ("", "DMY", "MDY", "YMD"):
            raise InvalidInput(f"invalid date_order {value!r}: use DMY, MDY or YMD")
        return order
    return value


def set_value(path: Path, key: str, value: str) -> None:
    """Write one setting to the user's file, creating it; the result must still load."""
    import tomli_w

    parts = key.split(".")
    if not all(parts):
        raise InvalidInput(f"invalid config key {key!r}")
    if path.exists() and not path.is_file():
        raise InvalidInput(f"cannot write settings to {path}: not a regular file")
    data = read_file(path)
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise InvalidInput(f"config key {key!r}: {part!r} is not a table")
        node = child
    if parts[0] not in DEFAULTS:
        raise InvalidInput(f"unknown config key {key!r}: known are {', '.join(DEFAULTS)}")
    node[parts[-1]] = _check(key, _coerce(key, value))
    text = tomli_w.dumps(data)
    trial = dict(os.environ, **{CONFIG_ENV: str(path)})
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(text, encoding="utf-8")
    try:
        trial[CONFIG_ENV] = str(tmp)
        load(trial)
    except ConfigError as exc:
        tmp.unlink()
        reason = str(exc).replace(str(tmp), str(path))
        raise InvalidInput(f"config {key} = {value!r} refused: {reason}") from None
    tmp.replace(path)
