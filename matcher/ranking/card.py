"""The algorithm published (算法公示): the ranking's card, generated from the model in use.

China's 2022 provisions on algorithmic recommendation (《互联网信息服务算法推荐管理规定》,
articles 16 and 17) ask a service to tell its users the basic principles, purpose and main
workings of a recommender and to let them switch it off.  :func:`model_card` writes that down
from what orders offers right now — the registry's current ordering model
(:meth:`~matcher.ranking.registry.ModelRegistry.load_for_ordering`) and the schema's
sensitivities — so the card cannot drift from the model: its version, training time, checksum,
metrics and fairness figures are the registry's, the inputs it lists are the model's own
feature columns, and the inputs it never uses are every schema field that may not be cited
(protected, sensitive, identifiers) and the service items that reveal one.

With no model that may order offers (or personalisation off), the card says offers are ordered
by the rules alone, which is true then.

>>> from profiles.schema import load_schema
>>> card = model_card(None, None, load_schema(), personalised=False)
>>> card.version is None, card.in_use_en.startswith("Rules only")
(True, True)
>>> any(i.en == "Gender" for i in card.never_uses)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from matcher.ranking.citable import ITEM_SENSITIVITY, is_citable
from matcher.ranking.evaluate import METRIC_ROWS
from matcher.ranking.features import FeatureSpec
from matcher.ranking.registry import ModelInfo, ModelRegistry
from profiles.schema import Schema

__all__ = ["RULES_ONLY", "CardInput", "ModelCard", "card_for", "card_lines", "model_card"]


@dataclass(frozen=True)
class CardInput:
    """One kind of input, in plain words, with what it is (a sensitivity or an input kind)."""

    zh: str
    en: str
    kind_zh: str
    kind_en: str


PURPOSE = (
    "本系统在您符合条件的多项服务中决定先告诉您哪一项。免申即享（无需申请、自动发放）的待遇"
    "总是最先通知、从不排序；对需要办理的服务（服务找人、直达快享），排序依据“通知您之后您更可能去办理"
    "的程度”（推送带来的办理提升），让有限的推送先用在最能帮到您的地方。排序不决定您是否符合条件，"
    "也不会减少您应得的任何待遇。",
    "When you qualify for several services, ranking decides which you are told about first. "
    "Benefits granted without applying (免申即享) are always told first and never ranked; services "
    "you must apply for (服务找人, 直达快享) are ordered by how much more likely you are to take "
    "them up because you were told (the uplift of telling), so a limited number of messages goes "
    "where it helps most. Ranking never decides whether you qualify and never reduces a benefit.",
)
SWITCH_OFF = (
    "关闭方法：登录服务中心（/console），在“接收方式”的“个性化排序”一栏取消勾选“按我的个人特征"
    "排序推荐”并保存；之后您的服务只按政策规则排序（确定符合的在前，待遇金额大的在前）。管理员也可"
    "设置 ZHIDA_PERSONALISATION=off 为所有人关闭。关闭后您不会少收到任何应得的通知。",
    "To switch it off: log in to the service centre (/console), and under 'How to reach you', "
    "'Personalised ranking', untick 'Rank offers by my personal characteristics' and save. Your "
    "offers are then ordered by the rules alone (certain before maybe, the larger benefit "
    "first). An administrator can switch it off for everyone with ZHIDA_PERSONALISATION=off. "
    "You are not told about anything less.",
)
_RULE = ("规则判断结果", "the rule's result")
RULES_ONLY = (
    CardInput("免申即享或需办理", "granted without applying, or to apply for", "政策本身",
              "the policy itself"),
    CardInput("确定符合或可能符合", "eligible for certain, or maybe", *_RULE),
    CardInput("待遇金额（按年折算）", "the benefit, a year", *_RULE),
    CardInput("政策编号（最后比较）", "the policy id (last tie-break)", "政策本身",
              "the policy itself"),
)  # fmt: skip
_KINDS = {
    "profile": ("您的档案中可公开说明的信息", "ordinary profile fields"),
    "onehot": ("您的档案中可公开说明的信息", "ordinary profile fields"),
    "tag": ("您近期办理过的事项（生命周期标签）", "your recent service history (life-cycle tags)"),
    "policy": ("政策本身", "the policy itself"),
    "pair": ("规则判断结果", "the rule's result"),
    "history": ("您对以往通知的反应", "how you responded to earlier messages"),
}
_LEVELS = {
    "protected": ("受保护特征", "protected characteristic"),
    "sensitive": ("敏感信息", "sensitive information"),
    "identifier": ("身份标识", "identifier"),
    "quasi_identifier": ("可间接识别身份的信息", "quasi-identifier"),
}
_ITEMS = {
    "disability_certification": ("残疾评定办件", "disability certification applications"),
    "medical_insurance_claim": ("医保报销办件", "medical insurance claims"),
    "elderly_care_application": ("养老服务申请", "elderly care applications"),
    "subsistence_application": ("社会救助申请", "social assistance applications"),
}
_METRIC_TEXT = {
    "ndcg@5": ("排序质量 NDCG@5（按实际办理）", "order quality, NDCG@5 (by actual take-up)"),
    "ndcg@5 redrawn": (
        "排序质量 NDCG@5（按办理结果，重抽取 100 次的平均）",
        "order quality, NDCG@5 by take-up, mean of 100 redrawn outcomes",
    ),
    "ndcg@5 expected": ("排序质量 NDCG@5（按真实概率）", "order quality, NDCG@5 (true odds)"),
    "ndcg@5 uplift expected": ("按提升排序的质量 NDCG@5", "NDCG@5 of the uplift order"),
    "qini": ("Qini 系数（推送带来的增益）", "Qini coefficient (gain caused by pushing)"),
    "uplift@20%": ("前 20% 推送带来的办理提升", "take-up gained by the top 20 % of pushes"),
    "uplift@20% expected": ("前 20% 推送的期望提升", "expected gain of the top 20 % of pushes"),
}


@dataclass(frozen=True)
class ModelCard:
    """What the published card states; every figure is the registry's."""

    version: str | None  # None: no model orders offers (rules only)
    trained: str | None
    seed: int | None
    model_sha256: str | None
    data_hash: str | None
    rows: int | None
    personalised: bool
    in_use_zh: str
    in_use_en: str
    uses: tuple[CardInput, ...]
    never_uses: tuple[CardInput, ...]
    metrics: tuple[tuple[str, str, str, tuple[tuple[str, float], ...]], ...]  # name, zh, en, …
    fairness: dict[str, Any]
    purpose: tuple[str, str] = PURPOSE
    switch_off: tuple[str, str] = SWITCH_OFF

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON-ready data (``zhida rank card --json``)."""
        return {
            "version": self.version, "trained": self.trained, "seed": self.seed,
            "model_sha256": self.model_sha256, "training_data_hash": self.data_hash,
            "training_rows": self.rows, "personalised": self.personalised,
            "in_use": {"zh": self.in_use_zh, "en": self.in_use_en},
            "purpose": {"zh": self.purpose[0], "en": self.purpose[1]},
            "switch_off": {"zh": self.switch_off[0], "en": self.switch_off[1]},
            "uses": [vars(i) for i in self.uses],
            "never_uses": [vars(i) for i in self.never_uses],
            "metrics": {name: dict(values) for name, _, _, values in self.metrics},
            "fairness": self.fairness,
        }  # fmt: skip


def _uses(spec: FeatureSpec) -> tuple[CardInput, ...]:
    seen: dict[tuple[str, str], CardInput] = {}
    for f in spec.features:
        kind_zh, kind_en = _KINDS[f.source]
        seen.setdefault((f.zh, kind_en), CardInput(f.zh, f.en, kind_zh, kind_en))
    return tuple(seen.values())


def _never_uses(schema: Schema) -> tuple[CardInput, ...]:
    out: dict[str, CardInput] = {}
    for entity in (schema.resident, schema.enterprise):
        for field in entity.fields:
            if is_citable(field.sensitivity) or field.sensitivity not in _LEVELS:
                continue
            zh, en = _LEVELS[field.sensitivity]
            name = field.name_zh or field.zh
            out.setdefault(name, CardInput(name, field.en, zh, en))
    for item, level in ITEM_SENSITIVITY.items():
        zh, en = _LEVELS[level]
        item_zh, item_en = _ITEMS.get(item, (item, item.replace("_", " ")))
        out.setdefault(item_zh, CardInput(item_zh, item_en, zh, en))
    return tuple(out.values())


def model_card(
    spec: FeatureSpec | None, info: ModelInfo | None, schema: Schema, *, personalised: bool
) -> ModelCard:
    """The card for the model that orders offers (``spec``, ``info``), or for rules only.

    Refuses (``ValueError``) a spec that reads an input the card would say is never used: a
    model for audits only must never be published as the one in use.
    """
    never = _never_uses(schema)
    if spec is None or info is None or not personalised:
        zh = "仅按政策规则排序（未启用个性化模型）" + ("" if personalised else "：个性化已关闭")
        en = "Rules only (no personalised model in use)" + (
            "" if personalised else ": personalisation is switched off"
        )
        return ModelCard(None, None, None, None, None, None, personalised, zh, en, RULES_ONLY,
                         never, (), {})  # fmt: skip
    if spec.audit:
        raise ValueError(
            f"model {info.version} reads {', '.join(spec.uncitable)}: for audits only, it is "
            "never the model in use; train one without --audit-features"
        )
    metrics = tuple(
        (name, *_METRIC_TEXT.get(name, (name, name)),
         tuple((k, float(info.metrics[name][k])) for k in order if k in info.metrics[name]))
        for name, order in METRIC_ROWS
        if name in info.metrics
    )  # fmt: skip
    return ModelCard(
        version=info.version, trained=info.created, seed=info.seed,
        model_sha256=str(info.extra.get("model_sha256") or ""), data_hash=info.data_hash,
        rows=int(info.extra["rows"]) if "rows" in info.extra else None, personalised=True,
        in_use_zh=f"个性化排序模型 {info.version}（训练于 {info.created}）",
        in_use_en=f"Personalised ranking model {info.version} (trained {info.created})",
        uses=_uses(spec), never_uses=never, metrics=metrics,
        fairness=dict(info.extra.get("fairness") or {}),
    )  # fmt: skip


def card_for(
    registry: ModelRegistry, schema: Schema, *, personalised: bool, version: str | None = None
) -> ModelCard:
    """The card of the model that orders offers now: ``registry.load_for_ordering`` — the same
    call the push planner (:mod:`notifier.priority`) orders by — or of ``version``.

    No model that may order offers gives the rules-only card (a named ``version`` that is
    missing or for audits only is an error, as it is for ordering).
    """
    from core.errors import NotFoundError

    try:
        model, info = registry.load_for_ordering(version)
    except NotFoundError:
        if version is not None:
            raise
        return model_card(None, None, schema, personalised=personalised)
    return model_card(model.spec, info, schema, personalised=personalised)


def card_lines(card: ModelCard) -> list[str]:
    """The card as plain text, Chinese then English for each part (``zhida rank card``)."""
    lines = ["算法公示 · Algorithm disclosure", f"在用 In use: {card.in_use_zh} / {card.in_use_en}"]
    if card.version is not None:
        lines.append(
            f"版本 version {card.version} · 训练时间 trained {card.trained} · seed {card.seed} · "
            f"样本 rows {card.rows if card.rows is not None else '-'} · "
            f"模型校验 model sha256 {(card.model_sha256 or '-')[:16]} · "
            f"训练数据 data {(card.data_hash or '-')[:12]}"
        )
    lines += ["", "用途 What it is for:", f"  {card.purpose[0]}", f"  {card.purpose[1]}", ""]
    lines.append("使用的信息 Inputs it uses:")
    if not card.uses:
        lines.append(
            "  仅政策规则：是否确定符合、待遇金额 / the rules only: certain or maybe, benefit"
        )
    lines += [f"  {i.zh} ({i.en}) — {i.kind_zh} / {i.kind_en}" for i in card.uses]
    lines += ["", "从不使用的信息 Inputs it never uses (never read, never cited as a reason):"]
    lines += [f"  {i.zh} ({i.en}) — {i.kind_zh} / {i.kind_en}" for i in card.never_uses]
    lines += ["", "如何关闭 How to switch it off:", f"  {card.switch_off[0]}",
              f"  {card.switch_off[1]}"]  # fmt: skip
    if card.metrics:
        lines += ["", "效果指标（留出样本）Metrics on held-out residents and firms:"]
        for _, zh, en, values in card.metrics:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in values)
            lines.append(f"  {zh} / {en}: {shown}")
    if card.fairness:
        lines += ["", _fairness_title(card.fairness)]
        for row in card.fairness.get("dimensions", []):
            flag = "  [低于 4/5 below four fifths]" if row["flagged"] else ""
            lines.append(
                f"  {row['subjects']} {row['dimension']}: 最低 lowest {row['lowest']} "
                f"exposure {row['exposure']:.2f}{flag}"
            )
    return lines


def _fairness_title(fairness: dict[str, Any]) -> str:
    share = float(fairness.get("top_share", 0.2))
    return (
        f"公平性：各群体在前 {share:.0%} 推送中的曝光度（占前 k 的比例 ÷ 占全部待排序服务的"
        f"比例，1 为均等）Fairness: each group's exposure in the top {share:.0%} pushes (its "
        "share of the top-k over its share of the ranked offers; 1 is parity), on held-out "
        "subjects"
    )
