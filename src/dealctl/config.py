"""Settings: defaults, merged with the user's TOML file.

The file is optional; a path that does not exist means defaults. A broken file is
an error naming the file and the cause. ``config set`` rewrites the file with
tomli-w, which does not keep comments (the command says so).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dealctl import dates
from dealctl.errors import ConfigError, InvalidInput
from dealctl.money import currency_code
from dealctl.text import norm

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

# The ranges :func:`load` accepts: wide enough for any real use, narrow enough that date
# arithmetic and scores never overflow.
MAX_DAYS = 3650
MAX_HOURS = 8760
MAX_MONTHS = 600
MAX_COEFFICIENT = 1000
DATE_ORDERS = ("DMY", "MDY", "YMD")


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
    """The settings in force for one run, every one checked by :func:`load`."""

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
        return str(self.data["date_order"]) or None  # upper case since load

    @property
    def default_pipeline(self) -> str:
        return str(self.data["pipeline"])

    @property
    def lost_reasons(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.data["lost_reasons"].items()}

    @property
    def priority(self) -> dict[str, float]:
        """``[priority]``: term coefficients and the due ramp's ends."""
        return {str(k): float(v) for k, v in self.data["priority"].items()}

    @property
    def revisit_months(self) -> dict[str, int]:
        """``[revisit]``: months after a loss, per lost reason, before a deal is worth a retry."""
        return {str(k): int(v) for k, v in self.data["revisit"].items()}

    @property
    def digest_days(self) -> int:
        """``digest.days``: how many days ahead the digest's "due soon" looks."""
        return int(self.data["digest"]["days"])

    @property
    def first_response_hours(self) -> int:
        """``sla.first_response_hours``: 0 turns the first-response check off."""
        return int(self.data["sla"]["first_response_hours"])

    @property
    def roles(self) -> dict[str, str]:
        """``[stakeholders.roles]``: role key -> display name, in configured order."""
        return {str(k): str(v) for k, v in self.data["stakeholders"]["roles"].items()}

    @property
    def decision_role(self) -> str:
        """``stakeholders.decision_role``: the role key whose holder decides."""
        return str(self.data["stakeholders"]["decision_role"])

    @property
    def decision_maker_from(self) -> str:
        """``stakeholders.decision_maker_from``: a stage (key or name) of a configured pipeline."""
        return str(self.data["stakeholders"]["decision_maker_from"])

    @property
    def routes(self) -> dict[str, list[str]]:
        """``[routes]``: approval route templates, name -> steps."""
        return {str(k): [str(s) for s in v] for k, v in self.data["routes"].items()}


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
    import tomllib  # only when there is a file: start-up without one stays lighter

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


def load(environ: Mapping[str, str] | None = None) -> Config:
    """Defaults merged with the user's file (which may be absent), every setting checked.

    A bad value is a :class:`ConfigError` naming the file, the key and what is wrong.
    """
    env = os.environ if environ is None else environ
    path = config_path(env)
    data = _merge(DEFAULTS, read_file(path))
    try:
        pipelines = _validate(data)
    except _Invalid as exc:
        raise ConfigError(f"config {path}: {exc}") from None
    return Config(path=path, data=data, pipelines=pipelines)


# --- checking the settings ------------------------------------------------------------------
#
# Every known setting is checked here, once, when the configuration is loaded: the modules
# that use a setting read it through :class:`Config` and trust it. `config set` writes a
# trial copy and loads it, so a value refused here is never written.


class _Invalid(Exception):
    """A bad setting; the message names the key (``load`` adds the file)."""


def _shown(value: Any) -> str:
    """A value as a message shows it: repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{key} must be text, not {_shown(value)}")
    return value


def _name(key: str, value: Any) -> str:
    """A display name: text that is not blank."""
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(f"{key} must be a name (text that is not blank), not {_shown(value)}")
    return value


def _whole(key: str, value: Any, high: int, unit: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Invalid(
            f"{key} must be a whole number of {unit} from {low} to {high}, not {_shown(value)}"
        )
    return value


def _coefficient(key: str, value: Any) -> float:
    # Comparisons are False for nan, so the range test refuses nan and the infinities too.
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not -MAX_COEFFICIENT <= value <= MAX_COEFFICIENT
    ):
        raise _Invalid(
            f"{key} must be a number from -{MAX_COEFFICIENT} to {MAX_COEFFICIENT},"
            f" not {_shown(value)}"
        )
    return value


def _table(key: str, value: Any, known: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A table; with ``known``, one holding only those keys (a typo would be ignored)."""
    if not isinstance(value, Mapping):
        raise _Invalid(f"{key} must be a table, not {_shown(value)}")
    for name in value:
        if known is not None and name not in known:
            raise _Invalid(f"unknown key {key}.{name}: use {', '.join(known)}")
    return value


def _check_timezone(value: str) -> str:
    """The timezone setting: empty (the system's zone) or an IANA zone name."""
    if value:
        dates.local_zone(value)
    return value


def _check_date_order(value: str) -> str:
    """The date_order setting, upper case: empty, DMY, MDY or YMD."""
    order = value.upper()
    if order not in ("", *DATE_ORDERS):
        raise InvalidInput(f"invalid date_order {value!r}: use DMY, MDY or YMD")
    return order


# Text settings whose check also normalises the value (an InvalidInput when it is bad);
# `config set` applies them before writing, so it refuses with their own message.
PLAIN_CHECKS: dict[str, Callable[[str], str]] = {
    "currency": currency_code,  # an upper-case ISO 4217 code (``¥`` and ``usd`` included)
    "timezone": _check_timezone,
    "date_order": _check_date_order,
}


def _validate(data: dict[str, Any]) -> dict[str, PipelineDef]:
    """Check (and normalise in place) every known setting; the pipelines, built."""
    for key in SCALAR_KEYS:
        _text(key, data.get(key))
    for key, check in PLAIN_CHECKS.items():
        try:
            data[key] = check(data[key])
        except InvalidInput as exc:
            raise _Invalid(f"{key}: {exc}") from None
    reasons = _table("lost_reasons", data.get("lost_reasons"))
    if not reasons:
        raise _Invalid("lost_reasons must name at least one reason")
    for key, value in reasons.items():
        _name(f"lost_reasons.{key}", value)
    pipelines_table = _table("pipelines", data.get("pipelines"))
    pipelines = {str(k): _pipeline(str(k), v) for k, v in pipelines_table.items()}
    if data["pipeline"] not in pipelines:
        raise _Invalid(f"default pipeline {data['pipeline']!r} is not defined")
    _check_priority(data.get("priority"))
    _check_revisit(data.get("revisit"), reasons)
    _check_stakeholders(data.get("stakeholders"), pipelines)
    _check_routes(data.get("routes"))
    digest = _table("digest", data.get("digest"), DEFAULTS["digest"])
    _whole("digest.days", digest.get("days"), MAX_DAYS, "days")
    sla = _table("sla", data.get("sla"), DEFAULTS["sla"])
    _whole("sla.first_response_hours", sla.get("first_response_hours"), MAX_HOURS, "hours")
    return pipelines


def _pipeline(key: str, spec: Any) -> PipelineDef:
    where = f"pipeline {key!r}"
    if not isinstance(spec, Mapping) or not isinstance(spec.get("stages"), list):
        raise _Invalid(f"{where} needs a list of stages")
    stages = []
    for index, stage in enumerate(spec["stages"], start=1):
        if not isinstance(stage, Mapping) or not stage.get("key"):
            raise _Invalid(f"{where}: stage {index} needs a key")
        kind = str(stage.get("kind", "open"))
        probability = stage.get("probability", 100 if kind == "won" else 0)
        rot = stage.get("rot_days")
        if kind not in STAGE_KINDS:
            raise _Invalid(f"{where}: stage {stage['key']!r} kind must be open or won")
        if (
            isinstance(probability, bool)
            or not isinstance(probability, int)
            or not 0 <= probability <= 100
        ):
            raise _Invalid(f"{where}: stage {stage['key']!r} probability must be 0-100")
        if rot is not None:
            _whole(f"{where}: stage {stage['key']!r} rot_days", rot, MAX_DAYS, "days")
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
        raise _Invalid(f"{where} repeats a stage key")
    won = [s for s in stages if s.kind == "won"]
    if len(won) != 1 or len(stages) < 2 or stages[-1].kind != "won":
        raise _Invalid(
            f"{where} needs open stages followed by exactly one last stage of kind 'won'"
        )
    return PipelineDef(key=key, name=str(spec.get("name") or key), stages=tuple(stages))


def _check_priority(value: Any) -> None:
    """``[priority]``: known keys only (a typo would silently weigh nothing); finite
    coefficients within ±1000; the due ramp's ends in whole days."""
    for key, number in _table("priority", value, DEFAULTS["priority"]).items():
        if key.endswith("_days"):
            _whole(f"priority.{key}", number, MAX_DAYS, "days")
        else:
            _coefficient(f"priority.{key}", number)


def _check_revisit(value: Any, reasons: Mapping[str, Any]) -> None:
    """``[revisit]``: whole months for configured lost reasons."""
    for key, months in _table("revisit", value).items():
        if key not in reasons:
            raise _Invalid(f"revisit.{key} is not a lost reason: use {', '.join(reasons)}")
        _whole(f"revisit.{key}", months, MAX_MONTHS, "months")


def _check_stakeholders(value: Any, pipelines: Mapping[str, PipelineDef]) -> None:
    """``[stakeholders]``: named roles, a decision role among them, and a configured stage."""
    section = _table("stakeholders", value, DEFAULTS["stakeholders"])
    roles = _table("stakeholders.roles", section.get("roles"))
    if not roles:
        raise _Invalid("stakeholders.roles must name at least one role")
    for key, name in roles.items():
        _name(f"stakeholders.roles.{key}", name)
    role = section.get("decision_role")
    if role not in roles:
        raise _Invalid(
            f"stakeholders.decision_role {_shown(role)} is not one of stakeholders.roles:"
            f" use {', '.join(roles)}"
        )
    stage = section.get("decision_maker_from")
    stages = [s for p in pipelines.values() for s in p.stages]
    if not isinstance(stage, str) or norm(stage) not in {
        norm(text) for s in stages for text in (s.key, s.name)
    }:
        keys = ", ".join(dict.fromkeys(s.key for s in stages))
        raise _Invalid(
            f"stakeholders.decision_maker_from {_shown(stage)} is not a stage of any"
            f" configured pipeline: use one of {keys}"
        )


def _check_routes(value: Any) -> None:
    """``[routes]``: each template a non-empty list of distinct, non-blank step names."""
    for name, steps in _table("routes", value).items():
        where = f"routes.{name}"
        if not isinstance(steps, list):
            raise _Invalid(f"{where} must be a list of steps, not {_shown(steps)}")
        if not steps:
            raise _Invalid(f"{where} needs at least one step")
        seen: set[str] = set()
        for index, step in enumerate(steps, start=1):
            if not isinstance(step, str) or not step.strip():
                raise _Invalid(
                    f"{where}: step {index} must be a name (text that is not blank),"
                    f" not {_shown(step)}"
                )
            if norm(step) in seen:
                raise _Invalid(f"{where} repeats the step {step!r}: give each step once")
            seen.add(norm(step))


# --- `config get` and `config set` ------------------------------------------------------------


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
    import tomllib

    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def set_value(path: Path, key: str, value: str) -> None:
    """Write one setting to the user's file, creating it; the result must still load.

    A value :func:`load` would refuse is an :class:`InvalidInput` giving the reason, and the
    file is left as it was.
    """
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
    typed = _coerce(key, value)
    node[parts[-1]] = PLAIN_CHECKS[key](typed) if key in PLAIN_CHECKS else typed
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
