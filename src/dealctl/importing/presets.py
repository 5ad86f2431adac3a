"""Layouts dealctl reads: which header means which field, and which stage value means what.

A preset is a table of header synonyms plus default stage and status values. Headers are
compared after :func:`header_key` (NFKC, case-folded, ``_`` as a space, spaces collapsed),
so ``close_date``, ``Close Date`` and ``ＣＬＯＳＥ　ＤＡＴＥ`` are one header. ``--map`` and
``--stage-map`` override any of it. docs/import.md lists every synonym.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from dealctl.errors import InvalidInput
from dealctl.importing.report import clip

# Fields a column can feed (``--map "Column=field"``); ``entered:STAGE`` is a stage-entry
# date and ``ignore`` drops a column.
FIELDS = (
    "id", "number", "title", "account", "contact", "contact_email", "contact_phone",
    "contact_title", "pipeline", "stage", "status", "amount", "currency", "probability",
    "close_date", "next_action", "next_due", "owner", "source", "tags", "purpose", "proposal",
    "notes", "lost_reason", "lost_note", "created_at", "updated_at", "closed_at", "won_at",
    "lost_at", "last_contact_at", "external_source", "external_id", "account_ref", "is_won",
    "is_closed", "is_deleted", "ignore",
)  # fmt: skip
DATE_FIELDS = frozenset({"close_date"})
DUE_FIELDS = frozenset({"next_due"})
MOMENT_FIELDS = frozenset(
    {"created_at", "updated_at", "closed_at", "won_at", "lost_at", "last_contact_at"}
)
ENTERED = "entered:"


def header_key(header: str) -> str:
    """A header as compared with synonyms: NFKC, case-folded, ``_`` as space, collapsed."""
    text = unicodedata.normalize("NFKC", header).replace("\ufeff", "").casefold()
    return " ".join(text.replace("_", " ").split())


def _table(spec: dict[str, Iterable[str]]) -> dict[str, str]:
    return {header_key(h): name for name, headers in spec.items() for h in headers}


_ENGLISH = _table(
    {
        "title": ["title", "deal", "deal name", "deal title", "name", "opportunity",
                  "opportunity name", "subject", "project", "project name"],
        "account": ["account", "account name", "company", "company name", "organization",
                    "organisation", "organization name", "customer", "customer name",
                    "client"],
        "contact": ["contact", "contact name", "contact person", "person", "full name"],
        "contact_email": ["email", "e-mail", "email address", "e-mail address",
                          "contact email"],
        "contact_phone": ["phone", "phone number", "telephone", "tel", "contact phone",
                          "mobile"],
        "contact_title": ["job title", "contact title", "position"],
        "amount": ["amount", "value", "deal value", "deal amount", "price", "total",
                   "revenue"],
        "currency": ["currency", "currency code"],
        "pipeline": ["pipeline"],
        "stage": ["stage", "deal stage", "phase", "pipeline stage"],
        "status": ["status", "deal status", "state"],
        "probability": ["probability", "probability (%)", "probability %", "win probability"],
        "close_date": ["close date", "expected close date", "expected close", "closing date",
                       "target close date"],
        "next_action": ["next action", "next step", "next steps"],
        "next_due": ["next due", "due", "due date", "next action date", "next activity date",
                     "next action due"],
        "owner": ["owner", "deal owner", "sales rep", "salesperson", "sales person",
                  "sales agent", "assigned to", "account manager"],
        "source": ["source", "lead source", "channel", "origin"],
        "tags": ["tags", "tag", "labels", "label"],
        "purpose": ["purpose", "need", "needs"],
        "proposal": ["proposal"],
        "notes": ["notes", "note", "description", "comments", "comment", "memo", "remarks"],
        "lost_reason": ["lost reason", "loss reason", "reason lost", "closed lost reason"],
        "lost_note": ["lost note"],
        "created_at": ["created", "created at", "create date", "created date", "creation date",
                       "date created", "created on"],
        "updated_at": ["updated", "updated at", "last modified", "last modified date",
                       "last updated"],
        "closed_at": ["closed at", "closed date", "date closed", "closed on"],
        "won_at": ["won at", "won date", "date won", "won time", "won on"],
        "lost_at": ["lost at", "lost date", "date lost", "lost time", "lost on"],
        "last_contact_at": ["last contact", "last contacted", "last contact at",
                            "last activity", "last activity date"],
        "external_id": ["external id", "deal id", "opportunity id", "record id", "id"],
        "external_source": ["external source"],
    }
)  # fmt: skip

_JAPANESE = _table(
    {
        "title": ["商談名", "案件名", "件名", "商談", "案件", "案件タイトル", "商談タイトル",
                  "タイトル"],
        "account": ["取引先", "取引先名", "顧客名", "顧客", "会社名", "企業名", "会社", "法人名",
                    "得意先", "得意先名", "顧客企業名"],
        "contact": ["氏名", "名前", "先方担当者", "顧客担当者", "先方担当者名", "窓口",
                    "お客様名"],
        "contact_email": ["メール", "メールアドレス", "eメール", "電子メール"],
        "contact_phone": ["電話番号", "電話", "携帯", "携帯番号", "連絡先電話番号"],
        "contact_title": ["役職", "肩書"],
        "amount": ["金額", "受注金額", "見込金額", "予定金額", "見積金額", "売上", "売上金額",
                   "契約金額", "商談金額", "金額(税抜)", "金額(税込)"],
        "currency": ["通貨"],
        "pipeline": ["パイプライン"],
        "stage": ["ステージ", "フェーズ", "進捗", "商談ステージ", "段階"],
        "status": ["ステータス", "状況", "状態", "受注状況"],
        "probability": ["確度", "受注確度", "確率", "受注確率"],
        "close_date": ["受注予定日", "完了予定日", "成約予定日", "クローズ予定日", "契約予定日",
                       "締結予定日"],
        "next_action": ["次回アクション", "ネクストアクション", "次のアクション", "次回対応"],
        "next_due": ["期日", "次回アクション日", "次回アクション日時", "次回予定日", "対応期限",
                     "次回期日", "期限"],
        "owner": ["担当者", "担当者名", "営業担当", "営業担当者", "担当営業", "担当",
                  "担当者コード"],
        "source": ["流入元", "流入経路", "リードソース", "獲得経路", "媒体", "紹介元"],
        "tags": ["タグ"],
        "purpose": ["目的", "ニーズ", "課題"],
        "proposal": ["提案内容"],
        "notes": ["メモ", "備考", "詳細", "内容", "商談メモ", "特記事項"],
        "lost_reason": ["失注理由"],
        "lost_note": ["失注メモ", "失注詳細"],
        "created_at": ["作成日", "作成日時", "登録日", "登録日時", "商談開始日", "案件発生日"],
        "updated_at": ["更新日", "更新日時", "最終更新日"],
        "won_at": ["受注日", "成約日"],
        "lost_at": ["失注日"],
        "last_contact_at": ["最終接触日", "最終対応日", "最終コンタクト日"],
        "external_id": ["案件id", "商談id", "案件番号", "商談番号", "管理番号", "案件no",
                        "商談no"],
    }
)  # fmt: skip

_SALESFORCE = _table(
    {
        "external_id": ["id", "opportunity id"],
        "title": ["name", "opportunity name"],
        "account_ref": ["accountid"],
        "account": ["account name", "account"],
        "stage": ["stagename", "stage"],
        "amount": ["amount"],
        "currency": ["currencyisocode", "opportunity currency", "currency"],
        "close_date": ["closedate", "close date"],
        "probability": ["probability", "probability (%)"],
        "next_action": ["nextstep", "next step"],
        "source": ["leadsource", "lead source"],
        "notes": ["description"],
        "owner": ["opportunity owner", "owner name", "owner"],
        "created_at": ["createddate", "created date"],
        "updated_at": ["lastmodifieddate", "last modified date"],
        "last_contact_at": ["lastactivitydate", "last activity"],
        "lost_reason": ["loss reason", "reason lost"],
        "is_won": ["iswon", "won"],
        "is_closed": ["isclosed", "closed"],
        "is_deleted": ["isdeleted"],
    }
)

_HUBSPOT = _table(
    {
        "external_id": ["record id", "deal id"],
        "title": ["deal name"],
        "stage": ["deal stage"],
        "close_date": ["close date"],
        "created_at": ["create date"],
        "owner": ["deal owner"],
        "amount": ["amount"],
        "currency": ["currency"],
        "ignore": ["pipeline", "deal probability"],
        "account": ["associated company", "associated company (primary)", "company name"],
        "contact": ["associated contact"],
        "lost_reason": ["closed lost reason"],
        "notes": ["deal description", "closed won reason"],
        "next_due": ["next activity date"],
        "last_contact_at": ["last activity date"],
        "updated_at": ["last modified date"],
        "source": ["original source type", "original traffic source"],
    }
)

_PIPEDRIVE = _table(
    {
        "external_id": ["deal - id"],
        "title": ["deal - title"],
        "amount": ["deal - value"],
        "currency": ["deal - currency"],
        "stage": ["deal - stage"],
        "status": ["deal - status"],
        "account": ["deal - organization", "organization - name"],
        "contact": ["deal - contact person", "person - name"],
        "contact_email": ["person - email"],
        "contact_phone": ["person - phone"],
        "close_date": ["deal - expected close date"],
        "lost_reason": ["deal - lost reason"],
        "won_at": ["deal - won time"],
        "lost_at": ["deal - lost time"],
        "closed_at": ["deal - close time", "deal - closed on"],
        "next_due": ["deal - next activity date"],
        "owner": ["deal - owner", "deal - owner name"],
        "created_at": ["deal - deal created", "deal - add time"],
        "updated_at": ["deal - update time", "deal - last updated"],
        "probability": ["deal - probability"],
        "tags": ["deal - label", "deal - labels"],
        "source": ["deal - source origin", "deal - source channel"],
        "last_contact_at": ["deal - last activity date"],
        "ignore": ["deal - pipeline"],
    }
)

MAVEN_HEADERS = (
    "opportunity_id", "sales_agent", "product", "account", "deal_stage", "engage_date",
    "close_date", "close_value",
)  # fmt: skip

# Stage values -> a stage key of the default b2b pipeline, ``won``, ``lost`` (lost where
# the file does not say) or ``lost:KEY``. Keys and display names of the configured
# pipeline always map to themselves.
_SALESFORCE_STAGES = {
    "Prospecting": "approach",
    "Discovery": "hearing",
    "Qualification": "hearing",
    "Needs Analysis": "hearing",
    "Value Proposition": "proposal",
    "Id. Decision Makers": "proposal",
    "Perception Analysis": "proposal",
    "Proposal/Price Quote": "proposal",
    "Proposal/Quote": "proposal",
    "Negotiation/Review": "negotiation",
    "Negotiation": "negotiation",
    "Closed Won": "won",
    "Closed Lost": "lost",
}
_HUBSPOT_STAGES = {
    "appointmentscheduled": "approach",
    "Appointment Scheduled": "approach",
    "qualifiedtobuy": "hearing",
    "Qualified To Buy": "hearing",
    "presentationscheduled": "proposal",
    "Presentation Scheduled": "proposal",
    "decisionmakerboughtin": "negotiation",
    "Decision Maker Bought-In": "negotiation",
    "contractsent": "negotiation",
    "Contract Sent": "negotiation",
    "closedwon": "won",
    "Closed Won": "won",
    "closedlost": "lost",
    "Closed Lost": "lost",
}
_PIPEDRIVE_STAGES = {
    "Lead In": "approach",
    "Qualified": "hearing",
    "Contact Made": "hearing",
    "Needs Defined": "hearing",
    "Demo Scheduled": "proposal",
    "Proposal Made": "proposal",
    "Negotiations Started": "negotiation",
}
_JAPANESE_STAGES = {"受注": "won", "成約": "won", "失注": "lost"}
_MAVEN_STAGES = {
    "Prospecting": "approach",
    "Engaging": "hearing",
    "Won": "won",
    "Lost": "lost:hearing",
}

_STATUSES = {
    "open": "open", "opened": "open", "active": "open", "in progress": "open",
    "進行中": "open", "商談中": "open", "対応中": "open", "オープン": "open",
    "won": "won", "closed won": "won", "受注": "won", "受注済": "won", "受注済み": "won",
    "成約": "won",
    "lost": "lost", "closed lost": "lost", "失注": "lost", "失注済": "lost",
    "deleted": "deleted",
}  # fmt: skip


def stage_key(value: str) -> str:
    """A stage value as compared with the stage tables: NFKC, case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


@dataclass(frozen=True)
class Preset:
    """One layout: header synonyms, stage and status values, and how values are written."""

    name: str
    headers: dict[str, str]
    stages: dict[str, str] = field(default_factory=dict)
    strict: bool = False  # dealctl's own layout: ISO dates, amounts in minor units
    source: str | None = None  # external_source of its deals
    won_from: str | None = None  # the stage a won deal came from, when the file has none

    def stage_targets(self) -> dict[str, str]:
        return {stage_key(k): v for k, v in self.stages.items()}

    @staticmethod
    def status(value: str) -> str | None:
        return _STATUSES.get(stage_key(value))


PRESETS: dict[str, Preset] = {
    "dealctl": Preset("dealctl", {}, strict=True),
    "maven": Preset("maven", {}, _MAVEN_STAGES, source="maven", won_from="hearing"),
    "salesforce": Preset("salesforce", _SALESFORCE, _SALESFORCE_STAGES, source="salesforce"),
    "hubspot": Preset("hubspot", _HUBSPOT, _HUBSPOT_STAGES, source="hubspot"),
    "pipedrive": Preset("pipedrive", _PIPEDRIVE, _PIPEDRIVE_STAGES, source="pipedrive"),
    "japanese": Preset("japanese", {**_ENGLISH, **_JAPANESE}, _JAPANESE_STAGES, source="japanese"),
    "spreadsheet": Preset("spreadsheet", _ENGLISH, _JAPANESE_STAGES, source="spreadsheet"),
}
PRESET_NAMES = tuple(PRESETS)

# HubSpot writes one column per stage: Date entered "Closed Won (Sales Pipeline)".
_DATE_ENTERED = re.compile(r'date entered\s+"?(?P<stage>.+?)(?:\s+\([^()]*\))?"?')


def entered_stage(key: str) -> str | None:
    """The stage value of a ``Date entered "…"`` header (already :func:`header_key`-ed)."""
    match = _DATE_ENTERED.fullmatch(key)
    return match["stage"] if match else None


def detect(headers: list[str], own_fields: Iterable[str]) -> str:
    """The preset a header row belongs to; an error listing the known presets otherwise."""
    raw = set(headers)
    keys = {header_key(h) for h in headers}
    if set(MAVEN_HEADERS) <= raw:
        return "maven"
    if {"title", "stage", "status"} <= raw and raw <= set(own_fields):
        return "dealctl"
    if any(k.startswith(("deal - ", "person - ", "organization - ")) for k in keys):
        return "pipedrive"
    if keys & {"stagename", "opportunity name", "accountid"}:
        return "salesforce"
    if "deal stage" in keys or {"record id", "deal name"} <= keys:
        return "hubspot"
    if keys & set(_JAPANESE):
        return "japanese"
    if {"title", "stage", "status"} <= raw:
        return "dealctl"
    if keys & set(_ENGLISH):
        return "spreadsheet"
    shown = ", ".join(repr(clip(h)) for h in headers[:6]) + (" …" if len(headers) > 6 else "")
    raise InvalidInput(
        f"cannot tell the layout from the headers ({shown}): give --preset"
        f" ({', '.join(PRESET_NAMES)}) or --map 'COLUMN=FIELD'"
    )


def parse_map(items: Iterable[str], headers: list[str]) -> dict[str, str]:
    """``--map "CSV column=field"`` options as {header as written: field}."""
    by_key = {header_key(h): h for h in headers}
    mapping: dict[str, str] = {}
    for item in items:
        column, sep, target = item.rpartition("=")
        column, target = column.strip(), target.strip()
        if not sep or not column or not target:
            raise InvalidInput(f"invalid --map {item!r}: use --map 'CSV column=field'")
        header = column if column in headers else by_key.get(header_key(column))
        if header is None:
            raise InvalidInput(f"--map {item!r}: the file has no column {column!r}")
        if target == "-":
            target = "ignore"
        if target not in FIELDS and not target.startswith(ENTERED):
            raise InvalidInput(
                f"--map {item!r}: unknown field {target!r}; fields are {', '.join(FIELDS)}"
                f" and {ENTERED}STAGE"
            )
        mapping[header] = target
    return mapping


def parse_stage_map(items: Iterable[str]) -> dict[str, str]:
    """``--stage-map "Engaging=hearing"`` options as {stage value key: target}."""
    mapping: dict[str, str] = {}
    for item in items:
        value, sep, target = item.rpartition("=")
        if not sep or not value.strip() or not target.strip():
            raise InvalidInput(
                f"invalid --stage-map {item!r}: use --stage-map 'VALUE=STAGE' (STAGE may be"
                " won, lost or lost:STAGE)"
            )
        mapping[stage_key(value)] = target.strip()
    return mapping
